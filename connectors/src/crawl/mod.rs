//! The polite crawler every site connector shares: per-host rate limits, bounded concurrency,
//! robots.txt, timeouts, and retries with exponential backoff that honour `Retry-After`.
//!
//! The crawler fetches and hands each page to the site's parser; what it finds goes out as
//! [`CrawlEvent`]s on a channel, so the caller decides where listings and rejects go (the bus, a file).

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use aiq_schemas::{DeadLetter, RawListing, RejectReason, SCHEMA_VERSION, Source};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};
use url::Url;

use crate::NoListingReason;
use crate::decode::decode_html;
use crate::page::PageKind;

/// Crawler settings (`[crawl]` in the config file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrawlConfig {
    /// Sent with every request; sites use it to contact the operator.
    pub user_agent: String,
    /// Whole-request timeout.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Requests in flight at once, over all hosts.
    pub max_concurrency: NonZeroUsize,
    /// Requests per second to one host.
    pub requests_per_second_per_host: NonZeroU32,
    /// Attempts after the first for 429, 5xx, block pages and connection errors.
    pub max_retries: u32,
    /// First backoff; doubles per attempt (with jitter), unless the server sends `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest single backoff, including a server's `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Honour robots.txt (on by default; turn off only for a site you operate).
    pub respect_robots_txt: bool,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            user_agent: concat!(
                "aiqleads-crawler/",
                env!("CARGO_PKG_VERSION"),
                " (+https://aiqleads.example/bot)"
            )
            .into(),
            request_timeout: Duration::from_secs(20),
            max_concurrency: NonZeroUsize::new(4).expect("non-zero"),
            requests_per_second_per_host: NonZeroU32::new(2).expect("non-zero"),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            respect_robots_txt: true,
        }
    }
}

/// What the crawler reports as it goes.
#[derive(Debug)]
pub enum CrawlEvent {
    /// A listing parsed from a posting page.
    Listing(Box<RawListing>),
    /// A page that could not become a listing (blocked, expired, unreadable), with the reason.
    Rejected(Box<DeadLetter>),
    /// A page was fetched (after any retries) with this HTTP status.
    PageFetched { url: String, status: u16 },
}

/// Totals for one crawl.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrawlStats {
    pub pages_fetched: u64,
    pub pages_by_status: std::collections::BTreeMap<u16, u64>,
    pub search_pages: u64,
    pub posting_pages: u64,
    pub listings_emitted: u64,
    pub rejected: u64,
    pub retries: u64,
    pub blocked: u64,
    pub disallowed_by_robots: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("invalid start URL `{url}`: {detail}")]
    InvalidUrl { url: String, detail: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Shared crawler state: one HTTP client, one rate limiter keyed by host, robots rules per host.
pub struct Crawler {
    client: reqwest::Client,
    config: CrawlConfig,
    limiter: DefaultKeyedRateLimiter<String>,
    robots: Mutex<HashMap<String, Option<Arc<texting_robots::Robot>>>>,
}

enum Fetched {
    Page { status: u16, body: String },
    Failed { status: Option<u16>, detail: String },
}

impl Crawler {
    pub fn new(config: CrawlConfig) -> Result<Arc<Self>, CrawlError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| CrawlError::Client(e.to_string()))?;
        let limiter = RateLimiter::keyed(Quota::per_second(config.requests_per_second_per_host));
        Ok(Arc::new(Crawler {
            client,
            config,
            limiter,
            robots: Mutex::new(HashMap::new()),
        }))
    }

    /// Crawls a site from a search page (following result pages and the listings they link) or from
    /// a single listing page, fetching at most `max_pages` pages. Listings and rejects go to `events`.
    pub async fn crawl(
        self: &Arc<Self>,
        source: Source,
        start: &str,
        max_pages: usize,
        events: mpsc::Sender<CrawlEvent>,
    ) -> Result<CrawlStats, CrawlError> {
        let start = Url::parse(start).map_err(|e| CrawlError::InvalidUrl {
            url: start.to_owned(),
            detail: e.to_string(),
        })?;
        let mut stats = CrawlStats::default();
        let mut frontier: VecDeque<Url> = VecDeque::from([start]);
        let mut seen: HashSet<String> = HashSet::new();
        let mut in_flight: JoinSet<(Url, Fetched, u64)> = JoinSet::new();
        let mut scheduled = 0usize;
        loop {
            while in_flight.len() < self.config.max_concurrency.get() && scheduled < max_pages {
                let Some(url) = frontier.pop_front() else {
                    break;
                };
                if !seen.insert(url.as_str().to_owned()) {
                    continue;
                }
                if self.config.respect_robots_txt && !self.robots_allow(&url).await {
                    info!(url = %url, "robots.txt disallows this page; skipped");
                    stats.disallowed_by_robots += 1;
                    continue;
                }
                scheduled += 1;
                let crawler = Arc::clone(self);
                in_flight.spawn(async move {
                    let (fetched, retries) = crawler.fetch_with_retries(&url).await;
                    (url, fetched, retries)
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            let Ok((url, fetched, retries)) = joined else {
                warn!("a fetch task failed to complete");
                continue;
            };
            stats.retries += retries;
            match fetched {
                Fetched::Page { status, body } => {
                    stats.pages_fetched += 1;
                    *stats.pages_by_status.entry(status).or_default() += 1;
                    let _ = events
                        .send(CrawlEvent::PageFetched {
                            url: url.to_string(),
                            status,
                        })
                        .await;
                    self.handle_page(source, &url, &body, &mut frontier, &mut stats, &events)
                        .await;
                }
                Fetched::Failed { status, detail } => {
                    if let Some(status) = status {
                        stats.pages_fetched += 1;
                        *stats.pages_by_status.entry(status).or_default() += 1;
                    }
                    stats.rejected += 1;
                    let code = if status.is_some() {
                        "http_error"
                    } else {
                        "fetch_failed"
                    };
                    reject(&events, source, &url, code, &detail, "").await;
                }
            }
        }
        Ok(stats)
    }

    async fn handle_page(
        &self,
        source: Source,
        url: &Url,
        body: &str,
        frontier: &mut VecDeque<Url>,
        stats: &mut CrawlStats,
        events: &mpsc::Sender<CrawlEvent>,
    ) {
        match crate::page::parse_page(source, body, url.as_str(), Utc::now()) {
            Ok(page) => match page.kind {
                // Search rows only carry a summary: follow them to the posting, which has everything.
                PageKind::Search => {
                    stats.search_pages += 1;
                    for link in page.posting_urls.iter().chain(page.next_page_url.iter()) {
                        match url.join(link) {
                            Ok(next) if same_site(url, &next) => frontier.push_back(next),
                            Ok(next) => debug!(url = %next, "link to another site not followed"),
                            Err(e) => debug!(link, error = %e, "unusable link skipped"),
                        }
                    }
                }
                PageKind::Posting => {
                    stats.posting_pages += 1;
                    for listing in page.listings {
                        stats.listings_emitted += 1;
                        let _ = events.send(CrawlEvent::Listing(Box::new(listing))).await;
                    }
                }
            },
            Err(error) => {
                if error.no_listing_reason() == Some(NoListingReason::Blocked) {
                    stats.blocked += 1;
                }
                stats.rejected += 1;
                // Pages without a listing are reported by why (`expired`, `blocked`...), the way
                // operators speak of them; other failures by the parser's own code.
                let code = error
                    .no_listing_reason()
                    .map_or(error.code(), NoListingReason::as_str);
                reject(events, source, url, code, &error.to_string(), body).await;
            }
        }
    }

    /// Fetches one page, retrying 429/5xx/connection errors/block pages with backoff.
    async fn fetch_with_retries(&self, url: &Url) -> (Fetched, u64) {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut attempt = 0u32;
        loop {
            self.limiter.until_key_ready(&host).await;
            let outcome = self.client.get(url.clone()).send().await;
            let (retry_after, last) = match outcome {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after =
                        parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
                    let content_type = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    if status == 429 || (500..600).contains(&status) {
                        (
                            retry_after,
                            Fetched::Failed {
                                status: Some(status),
                                detail: format!("HTTP {status} from {url}"),
                            },
                        )
                    } else {
                        match response.bytes().await {
                            Ok(bytes) => {
                                let body = decode_html(&bytes, content_type.as_deref());
                                if (200..300).contains(&status) && looks_blocked(&body) {
                                    (None, Fetched::Page { status, body })
                                } else if (200..300).contains(&status)
                                    || status == 404
                                    || status == 410
                                {
                                    // Not-found pages still go to the parser: it recognises deleted postings.
                                    return (Fetched::Page { status, body }, u64::from(attempt));
                                } else {
                                    return (
                                        Fetched::Failed {
                                            status: Some(status),
                                            detail: format!("HTTP {status} from {url}"),
                                        },
                                        u64::from(attempt),
                                    );
                                }
                            }
                            Err(e) => (
                                None,
                                Fetched::Failed {
                                    status: Some(status),
                                    detail: format!("reading {url}: {e}"),
                                },
                            ),
                        }
                    }
                }
                Err(e) => (
                    None,
                    Fetched::Failed {
                        status: None,
                        detail: format!("fetching {url}: {e}"),
                    },
                ),
            };
            if attempt >= self.config.max_retries {
                return (last, u64::from(attempt));
            }
            let backoff = retry_after
                .unwrap_or_else(|| exponential_backoff(self.config.initial_backoff, attempt))
                .min(self.config.max_backoff);
            debug!(url = %url, attempt, backoff_ms = backoff.as_millis() as u64, "retrying after backoff");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn robots_allow(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let origin = format!(
            "{}://{}{}",
            url.scheme(),
            host,
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let mut cache = self.robots.lock().await;
        if !cache.contains_key(&origin) {
            let robots_url = format!("{origin}/robots.txt");
            let robot = match self.client.get(&robots_url).send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(body) => texting_robots::Robot::new(&self.config.user_agent, &body)
                        .ok()
                        .map(Arc::new),
                    Err(_) => None,
                },
                // No robots.txt (or unreadable) means no rules.
                _ => None,
            };
            cache.insert(origin.clone(), robot);
        }
        cache
            .get(&origin)
            .and_then(|robot| robot.as_ref())
            .is_none_or(|robot| robot.allowed(url.as_str()))
    }
}

/// A block page served with 200 must be retried like a 429, not parsed as data.
fn looks_blocked(body: &str) -> bool {
    body.len() < 2048 && body.contains("<title>blocked</title>")
}

fn same_site(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn exponential_backoff(initial: Duration, attempt: u32) -> Duration {
    let base = initial.saturating_mul(1u32 << attempt.min(16));
    // Up to 25% jitter spreads retries of many workers apart; derived from the clock's nanoseconds
    // because a crawler needs no cryptographic randomness.
    let jitter_fraction = f64::from(Utc::now().timestamp_subsec_nanos() % 1000) / 4000.0;
    base + base.mul_f64(jitter_fraction)
}

fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

async fn reject(
    events: &mpsc::Sender<CrawlEvent>,
    source: Source,
    url: &Url,
    code: &str,
    detail: &str,
    body: &str,
) {
    info!(url = %url, reason = code, "page could not become a listing; dead-lettered");
    let excerpt: String = body.chars().take(2000).collect();
    let dead = DeadLetter {
        stage: "parse".into(),
        reason: RejectReason::new(code, detail),
        source: Some(source.to_string()),
        source_listing_id: None,
        reference: url.to_string(),
        original: excerpt,
        rejected_at: Utc::now(),
        schema_version: SCHEMA_VERSION,
    };
    let _ = events.send(CrawlEvent::Rejected(Box::new(dead))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let seconds = reqwest::header::HeaderValue::from_static("7");
        assert_eq!(
            parse_retry_after(Some(&seconds)),
            Some(Duration::from_secs(7))
        );
        let garbage = reqwest::header::HeaderValue::from_static("soon");
        assert_eq!(parse_retry_after(Some(&garbage)), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let initial = Duration::from_millis(100);
        for attempt in 0..4 {
            let backoff = exponential_backoff(initial, attempt);
            let base = initial * (1 << attempt);
            assert!(
                backoff >= base && backoff <= base + base / 4,
                "attempt {attempt}: {backoff:?}"
            );
        }
    }
}
