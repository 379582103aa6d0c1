//! Fetching one page: robots.txt, per-host cool-downs and rate limit, the proxy route, conditional
//! headers, retries with backoff, block-page detection, and the site parser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aiq_schemas::Source;
use chrono::Utc;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use tokio::time::Instant;
use url::Url;

use super::block::is_block_page;
use super::proxy::Route;
use super::state::FrontierEntry;
use super::{Crawler, metrics};
use crate::NoListingReason;
use crate::decode::decode_html;
use crate::page::Page;
use crate::util::retry::{RetryAfter, exponential_backoff, parse_retry_after};

/// Characters of a page kept in its dead letter, enough to see what the site answered.
const EXCERPT_CHARS: usize = 2000;

/// What is remembered of a fetched page to ask "has it changed?" next time.
pub(crate) struct Validators {
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) content_hash: i64,
}

/// How fetching one page ended, after any retries.
pub(crate) enum Outcome {
    /// Parsed by the site parser.
    Parsed {
        status: u16,
        page: Page,
        validators: Validators,
    },
    /// Fetched, but the parser found no listing (expired, deleted, unrecognised).
    Rejected {
        status: u16,
        error: crate::Error,
        excerpt: String,
        validators: Validators,
    },
    /// 304, or the same body as last time: not parsed.
    Unchanged { status: u16 },
    /// No usable answer: `code` is the dead-letter reason.
    Failed {
        status: Option<u16>,
        code: &'static str,
        detail: String,
        excerpt: String,
    },
    /// robots.txt disallows the page; nothing was sent.
    Disallowed,
}

/// One attempt's verdict.
enum Step {
    Done(Outcome),
    Retry {
        /// `None`: exponential backoff. A per-host cool-down is waited for separately.
        wait: Option<Duration>,
        why: &'static str,
        /// What the page ends as if no retry is left.
        last: Outcome,
        block: bool,
    },
}

/// Per-host cool-downs: after a block page or a `Retry-After`, no request goes to the host until
/// the time is over.
#[derive(Default)]
pub(crate) struct HostCooldowns {
    hosts: Mutex<HashMap<String, Cooldown>>,
}

struct Cooldown {
    until: Instant,
    blocks_in_a_row: u32,
}

impl HostCooldowns {
    async fn wait(&self, host: &str) {
        loop {
            let until = self.lock().get(host).map(|c| c.until);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// A block page from `host`: cool down for `base`, doubled per block in a row, at most `max`.
    fn block(&self, host: &str, base: Duration, max: Duration) -> Duration {
        let mut hosts = self.lock();
        let entry = hosts.entry(host.to_owned()).or_insert(Cooldown {
            until: Instant::now(),
            blocks_in_a_row: 0,
        });
        let cooldown = base
            .saturating_mul(1u32 << entry.blocks_in_a_row.min(16))
            .min(max);
        entry.blocks_in_a_row = entry.blocks_in_a_row.saturating_add(1);
        entry.until = entry.until.max(Instant::now() + cooldown);
        cooldown
    }

    /// The host asked for a pause (`Retry-After`).
    fn hold(&self, host: &str, pause: Duration) {
        let mut hosts = self.lock();
        let until = Instant::now() + pause;
        let entry = hosts.entry(host.to_owned()).or_insert(Cooldown {
            until,
            blocks_in_a_row: 0,
        });
        entry.until = entry.until.max(until);
    }

    /// A real page from `host`: the next block starts the cool-down from its base again.
    fn served(&self, host: &str) {
        if let Some(entry) = self.lock().get_mut(host) {
            entry.blocks_in_a_row = 0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cooldown>> {
        self.hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Crawler {
    /// Fetches and parses one page, retrying what may succeed later. Returns the outcome, the number
    /// of retries and the number of block pages met.
    pub(super) async fn fetch(
        &self,
        source: Source,
        url: &Url,
        entry: &FrontierEntry,
    ) -> (Outcome, u64, u64) {
        if self.config.respect_robots_txt {
            match self.robots_allow(url).await {
                Ok(true) => {}
                Ok(false) => return (Outcome::Disallowed, 0, 0),
                Err(detail) => {
                    return (failed(None, "robots_unavailable", detail, ""), 0, 0);
                }
            }
        }
        let site = source.as_str();
        let host = url.host_str().unwrap_or_default().to_owned();
        let (mut attempt, mut blocked) = (0u32, 0u64);
        loop {
            self.cooldowns.wait(&host).await;
            self.limiter.until_key_ready(&host).await;
            let route = self.routes.pick().await;
            let mut request = route.client().get(url.clone());
            if let Some(etag) = entry.etag.as_deref().and_then(header_value) {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = entry.last_modified.as_deref().and_then(header_value) {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
            let step = match request.send().await {
                Ok(response) => self.answer(source, url, entry, &host, response).await,
                Err(error) => self.unanswered(url, &route, &error),
            };
            match step {
                Step::Done(outcome) => return (outcome, u64::from(attempt), blocked),
                Step::Retry {
                    wait,
                    why,
                    last,
                    block,
                } => {
                    if block {
                        blocked += 1;
                    }
                    if attempt >= self.config.max_retries {
                        return (last, u64::from(attempt), blocked);
                    }
                    let wait = wait
                        .unwrap_or_else(|| {
                            exponential_backoff(self.config.initial_backoff, attempt)
                        })
                        .min(self.config.max_backoff);
                    attempt += 1;
                    metrics::retry(site, url, attempt, why, wait.as_millis() as u64);
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    /// No answer came: a proxy that could not be reached is benched and the next one tried at once;
    /// timeouts and connection errors are retried after a backoff.
    fn unanswered(&self, url: &Url, route: &Route<'_>, error: &reqwest::Error) -> Step {
        let detail = format!("fetching {url}: {}", error_chain(error));
        if let Route::Proxy(index, _) = route
            && error.is_connect()
        {
            self.routes.report_failure(*index, &detail);
            let wait = self
                .routes
                .has_other_proxy(*index)
                .then_some(Duration::ZERO);
            return Step::Retry {
                wait,
                why: "proxy_failed",
                last: failed(None, "proxy_failed", detail, ""),
                block: false,
            };
        }
        let code = if error.is_timeout() {
            "timeout"
        } else {
            "fetch_failed"
        };
        Step::Retry {
            wait: None,
            why: code,
            last: failed(None, code, detail, ""),
            block: false,
        }
    }

    async fn answer(
        &self,
        source: Source,
        url: &Url,
        entry: &FrontierEntry,
        host: &str,
        response: reqwest::Response,
    ) -> Step {
        let status = response.status().as_u16();
        if status == 304 {
            self.cooldowns.served(host);
            return Step::Done(Outcome::Unchanged { status });
        }
        let headers = response.headers();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        // A date already past tells nothing about how busy the host is: back off as usual.
        let retry_after =
            parse_retry_after(headers.get(RETRY_AFTER)).and_then(|asked| match asked {
                RetryAfter::Wait(pause) => Some(pause),
                RetryAfter::DatePassed => None,
            });
        let content_type = header(CONTENT_TYPE);
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                let code = if error.is_timeout() {
                    "timeout"
                } else {
                    "fetch_failed"
                };
                return Step::Retry {
                    wait: None,
                    why: code,
                    last: failed(
                        Some(status),
                        code,
                        format!("reading {url}: {}", error_chain(&error)),
                        "",
                    ),
                    block: false,
                };
            }
        };
        let body = decode_html(&bytes, content_type.as_deref());
        if is_block_page(status, &body) {
            return self.blocked(source, url, host, status, &body);
        }
        if status == 429 || (500..600).contains(&status) {
            // The server's own pause applies to the whole host, not only to this page.
            let wait = retry_after.map(|pause| {
                self.cooldowns
                    .hold(host, pause.min(self.config.max_backoff));
                Duration::ZERO
            });
            let why = if status == 429 {
                "rate_limited"
            } else {
                "server_error"
            };
            return Step::Retry {
                wait,
                why,
                last: failed(
                    Some(status),
                    "http_error",
                    format!("HTTP {status} from {url}"),
                    &body,
                ),
                block: false,
            };
        }
        // Not-found pages still go to the parser: it recognises deleted postings.
        if !((200..300).contains(&status) || status == 404 || status == 410) {
            return Step::Done(failed(
                Some(status),
                "http_error",
                format!("HTTP {status} from {url}"),
                &body,
            ));
        }
        let content_hash = xxhash_rust::xxh3::xxh3_64(&bytes) as i64;
        if (200..300).contains(&status) && entry.content_hash == Some(content_hash) {
            self.cooldowns.served(host);
            return Step::Done(Outcome::Unchanged { status });
        }
        let validators = Validators {
            etag,
            last_modified,
            content_hash,
        };
        match crate::page::parse_page(source, &body, url.as_str(), Utc::now()) {
            Ok(page) => {
                self.cooldowns.served(host);
                Step::Done(Outcome::Parsed {
                    status,
                    page,
                    validators,
                })
            }
            Err(error) if error.no_listing_reason() == Some(NoListingReason::Blocked) => {
                self.blocked(source, url, host, status, &body)
            }
            Err(error) => Step::Done(Outcome::Rejected {
                status,
                error,
                excerpt: excerpt(&body),
                validators,
            }),
        }
    }

    /// A block page: cool the host down and try again after it; never parsed as data.
    fn blocked(&self, source: Source, url: &Url, host: &str, status: u16, body: &str) -> Step {
        let cooldown =
            self.cooldowns
                .block(host, self.config.block_cooldown, self.config.max_backoff);
        metrics::blocked(source.as_str(), url, cooldown.as_millis() as u64);
        Step::Retry {
            wait: Some(Duration::ZERO),
            why: "blocked",
            last: failed(
                Some(status),
                "blocked",
                format!("HTTP {status} from {url} is a block page"),
                body,
            ),
            block: true,
        }
    }
}

fn failed(status: Option<u16>, code: &'static str, detail: String, body: &str) -> Outcome {
    Outcome::Failed {
        status,
        code,
        detail,
        excerpt: excerpt(body),
    }
}

fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_CHARS).collect()
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

/// reqwest's Display stops at "error sending request"; the cause (refused, timed out) is below it.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn block_cooldowns_double_per_block_in_a_row_and_reset_after_a_page() {
        let cooldowns = HostCooldowns::default();
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(3);
        assert_eq!(cooldowns.block("a", base, max), Duration::from_secs(1));
        assert_eq!(cooldowns.block("a", base, max), Duration::from_secs(2));
        assert_eq!(cooldowns.block("a", base, max), max);
        let started = Instant::now();
        cooldowns.wait("a").await;
        assert!(started.elapsed() >= Duration::from_secs(3));
        // Other hosts are not held up.
        let started = Instant::now();
        cooldowns.wait("b").await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        cooldowns.served("a");
        assert_eq!(cooldowns.block("a", base, max), base);
    }
}
