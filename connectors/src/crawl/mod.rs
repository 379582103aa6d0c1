//! The polite crawler every site connector shares.
//!
//! - Politeness: robots.txt honoured by default, a per-host rate limit (`governor`), bounded
//!   concurrency per host and overall, a configurable User-Agent.
//! - Resilience: retries with exponential backoff and jitter on 429, 5xx, timeouts and connection
//!   errors, honouring `Retry-After`; block pages (captcha or "blocked" answers, also when the site
//!   parser recognises one) are a back-off signal that cools the host down, never data; an optional
//!   proxy pool rotated per request, with failing proxies benched for a while.
//! - Incremental and crash-resumable: the frontier, the seen-set and each page's validators live in
//!   a small SQLite database ([`CrawlState`]), loaded in batches. A killed crawl resumes without
//!   fetching done pages again; a later crawl sends `If-None-Match` / `If-Modified-Since`, treats
//!   304 (or an identical body) as unchanged without parsing it, and skips postings fetched within
//!   [`CrawlConfig::revisit_after`].
//!
//! The crawler hands each page to the site's parser ([`crate::page::parse_page`]); what it finds goes
//! out as [`CrawlEvent`]s on a channel, so the caller decides where listings and rejects go (the bus,
//! a file). Counters are recorded through [`metrics`](mod@metrics).

mod block;
mod fetch;
pub mod metrics;
mod proxy;
mod state;

use std::collections::{BTreeMap, HashMap, VecDeque};
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

pub use block::is_block_page;
pub use proxy::{ProxyStatus, WhenAllProxiesBenched};
pub use state::{CrawlState, FrontierCounts};

use crate::page::{Page, PageKind};
use fetch::{HostCooldowns, Outcome};
use proxy::ProxyPool;
use state::{Completion, FrontierEntry, PAGE_KIND_POSTING, PAGE_KIND_REJECTED, PAGE_KIND_SEARCH};

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
    /// Requests in flight at once to one host.
    pub max_concurrency_per_host: NonZeroUsize,
    /// Requests per second to one host.
    pub requests_per_second_per_host: NonZeroU32,
    /// Attempts after the first for 429, 5xx, block pages, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff; doubles per attempt (with jitter), unless the server sends `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest single backoff or cool-down, including a server's `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How long a host is left alone after it served a block page; doubles with each further block
    /// page in a row from the same host (up to `max_backoff`).
    #[serde(with = "humantime_serde")]
    pub block_cooldown: Duration,
    /// Honour robots.txt (on by default; turn off only for a site you operate).
    pub respect_robots_txt: bool,
    /// Proxy URLs (`http://host:port`, `socks5://...` not supported) rotated per request. Empty: requests
    /// go out directly. Environment proxy variables are ignored: only this list is used.
    pub proxies: Vec<String>,
    /// How long a proxy that failed is left out of the rotation before it is tried again.
    #[serde(with = "humantime_serde")]
    pub proxy_bench_time: Duration,
    /// `wait` (for the first benched proxy to come back) or `direct` (send without a proxy) when every
    /// proxy is benched.
    pub when_all_proxies_benched: WhenAllProxiesBenched,
    /// A listing page fetched more recently than this is not fetched again by a later crawl of the
    /// same name (search pages always are, conditionally).
    #[serde(with = "humantime_serde")]
    pub revisit_after: Duration,
    /// Frontier rows loaded into memory at a time.
    pub frontier_batch: NonZeroUsize,
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
            max_concurrency_per_host: NonZeroUsize::new(2).expect("non-zero"),
            requests_per_second_per_host: NonZeroU32::new(2).expect("non-zero"),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            block_cooldown: Duration::from_secs(30),
            respect_robots_txt: true,
            proxies: Vec::new(),
            proxy_bench_time: Duration::from_secs(300),
            when_all_proxies_benched: WhenAllProxiesBenched::Wait,
            revisit_after: Duration::from_secs(24 * 3600),
            frontier_batch: NonZeroUsize::new(256).expect("non-zero"),
        }
    }
}

/// What the crawler reports as it goes.
#[derive(Debug)]
pub enum CrawlEvent {
    /// A listing parsed from a page.
    Listing(Box<RawListing>),
    /// A page that could not become a listing (blocked, expired, unreadable, unreachable), with the
    /// reason.
    Rejected(Box<DeadLetter>),
    /// A page was answered (after any retries) with this HTTP status; 304 for an unchanged page.
    PageFetched { url: String, status: u16 },
}

/// Totals for one crawl.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrawlStats {
    /// Pages answered with an HTTP status (after retries), including unchanged ones.
    pub pages_fetched: u64,
    pub pages_by_status: BTreeMap<u16, u64>,
    pub search_pages: u64,
    pub posting_pages: u64,
    pub listings_emitted: u64,
    /// Pages dead-lettered: no listing in them, or no usable answer.
    pub rejected: u64,
    /// Fetched pages the parser could not turn into a listing (a subset of `rejected`).
    pub parse_failures: u64,
    /// Pages with no usable answer after every retry (timeouts, refused connections, HTTP errors,
    /// persistent blocks; a subset of `rejected`).
    pub fetch_failures: u64,
    pub retries: u64,
    /// Block pages met (each one a back-off; the page is retried).
    pub blocked: u64,
    /// Pages answered 304 or with the same body as last time: not parsed again.
    pub unchanged: u64,
    pub disallowed_by_robots: u64,
    /// The crawl state's run number (1 for a first crawl of this name).
    pub run: i64,
    /// Whether this crawl continued an unfinished run.
    pub resumed: bool,
    /// Whether the frontier was exhausted (false when `max_pages` stopped the crawl first).
    pub finished: bool,
}

impl CrawlStats {
    fn count_status(&mut self, status: u16) {
        self.pages_fetched += 1;
        *self.pages_by_status.entry(status).or_default() += 1;
    }
}

/// Failures of the crawl itself (bad pages are never errors: they become dead letters).
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error("invalid start URL `{url}`: {detail}")]
    InvalidUrl { url: String, detail: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("proxy {proxy} is not usable: {detail}")]
    Proxy { proxy: String, detail: String },
    #[error("crawl state: cannot {action}: {source}")]
    State {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// Shared crawler state: the HTTP clients (direct and one per proxy), one rate limiter keyed by host,
/// per-host cool-downs, robots rules per origin.
pub struct Crawler {
    config: CrawlConfig,
    routes: ProxyPool,
    limiter: DefaultKeyedRateLimiter<String>,
    cooldowns: HostCooldowns,
    robots: Mutex<HashMap<String, Option<Arc<texting_robots::Robot>>>>,
}

impl Crawler {
    pub fn new(config: CrawlConfig) -> Result<Arc<Self>, CrawlError> {
        let build = |proxy: Option<reqwest::Proxy>| {
            let mut builder = reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .timeout(config.request_timeout)
                .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
                .pool_max_idle_per_host(config.max_concurrency.get())
                // Only the configured proxies are used, never HTTP_PROXY and friends.
                .no_proxy();
            if let Some(proxy) = proxy {
                builder = builder.proxy(proxy);
            }
            builder
                .build()
                .map_err(|e| CrawlError::Client(e.to_string()))
        };
        let routes = ProxyPool::new(
            &config.proxies,
            config.proxy_bench_time,
            config.when_all_proxies_benched,
            build,
        )?;
        let limiter = RateLimiter::keyed(Quota::per_second(config.requests_per_second_per_host));
        Ok(Arc::new(Crawler {
            routes,
            limiter,
            cooldowns: HostCooldowns::default(),
            robots: Mutex::new(HashMap::new()),
            config,
        }))
    }

    /// How each configured proxy is doing (empty without proxies).
    pub fn proxy_status(&self) -> Vec<ProxyStatus> {
        self.routes.status()
    }

    /// Crawls a site from a search page (following result pages and the listings they link) or from
    /// a single listing page, fetching at most `max_pages` pages. Listings and rejects go to `events`.
    /// The frontier lives in memory for this call only; see [`Crawler::crawl_with_state`] for a
    /// crawl that survives a restart.
    pub async fn crawl(
        self: &Arc<Self>,
        source: Source,
        start: &str,
        max_pages: usize,
        events: mpsc::Sender<CrawlEvent>,
    ) -> Result<CrawlStats, CrawlError> {
        let state = CrawlState::in_memory(source.as_str()).await?;
        let stats = self
            .crawl_with_state(source, start, max_pages, &state, events)
            .await;
        state.close().await;
        stats
    }

    /// Like [`Crawler::crawl`], keeping the frontier, seen-set and validators in `state`: an
    /// unfinished run of the same crawl name is resumed (pages done are not fetched again), a
    /// finished one starts the next, incremental run from `start`. At most `max_pages` pages are
    /// fetched by this call; the run stays unfinished when that budget ends it.
    pub async fn crawl_with_state(
        self: &Arc<Self>,
        source: Source,
        start: &str,
        max_pages: usize,
        state: &CrawlState,
        events: mpsc::Sender<CrawlEvent>,
    ) -> Result<CrawlStats, CrawlError> {
        let start = Url::parse(start).map_err(|e| CrawlError::InvalidUrl {
            url: start.to_owned(),
            detail: e.to_string(),
        })?;
        let cutoff = self.revisit_cutoff();
        let run = state.begin_run(start.as_str(), cutoff).await?;
        info!(
            crawl = state.name(),
            run = run.run,
            resumed = run.resumed,
            requeued = run.requeued_in_flight,
            start = %start,
            "crawl started"
        );
        let mut stats = CrawlStats {
            run: run.run,
            resumed: run.resumed,
            ..CrawlStats::default()
        };
        let mut crawl = CrawlLoop {
            crawler: self,
            source,
            state,
            run: run.run,
            cutoff,
            events: &events,
            stats: &mut stats,
        };
        let exhausted = crawl.drive(max_pages).await?;
        if exhausted {
            state.finish_run(run.run).await?;
        }
        stats.finished = exhausted;
        Ok(stats)
    }

    /// Pages fetched at or before this instant (Unix milliseconds) are due for a revisit.
    fn revisit_cutoff(&self) -> i64 {
        let revisit = i64::try_from(self.config.revisit_after.as_millis()).unwrap_or(i64::MAX);
        Utc::now().timestamp_millis().saturating_sub(revisit)
    }

    /// Whether robots.txt of the URL's origin lets our User-Agent fetch it. No robots.txt (a 4xx
    /// answer) means no rules. When robots.txt cannot be read at all (no answer, or a 5xx), the
    /// answer is an error and the page is not fetched (RFC 9309: assume a full disallow); that is not
    /// cached, so a later page tries again.
    async fn robots_allow(&self, url: &Url) -> Result<bool, String> {
        let Some(host) = url.host_str() else {
            return Ok(false);
        };
        let origin = format!(
            "{}://{}{}",
            url.scheme(),
            host,
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        // Held while fetching, so concurrent first requests to an origin fetch robots.txt once.
        let mut cache = self.robots.lock().await;
        if !cache.contains_key(&origin) {
            let robot = self.fetch_robots(&origin, host).await?;
            cache.insert(origin.clone(), robot);
        }
        Ok(cache
            .get(&origin)
            .and_then(|robot| robot.as_ref())
            .is_none_or(|robot| robot.allowed(url.as_str())))
    }

    async fn fetch_robots(
        &self,
        origin: &str,
        host: &str,
    ) -> Result<Option<Arc<texting_robots::Robot>>, String> {
        let robots_url = format!("{origin}/robots.txt");
        let mut last_error = String::new();
        // Each proxy may be tried once (a failing one is benched), then the error stands.
        for _ in 0..=self.config.proxies.len() {
            self.limiter.until_key_ready(&host.to_owned()).await;
            let route = self.routes.pick().await;
            match route.client().get(&robots_url).send().await {
                Ok(response) if response.status().is_success() => {
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| format!("reading {robots_url}: {e}"))?;
                    // A robots.txt that does not parse is treated as no rules, as browsers of it do.
                    return Ok(texting_robots::Robot::new(&self.config.user_agent, &body)
                        .ok()
                        .map(Arc::new));
                }
                Ok(response) if response.status().is_client_error() => return Ok(None),
                Ok(response) => {
                    return Err(format!("{robots_url} answered HTTP {}", response.status()));
                }
                Err(error) => {
                    last_error = format!("fetching {robots_url}: {error}");
                    match route {
                        proxy::Route::Proxy(index, _) if error.is_connect() => {
                            self.routes.report_failure(index, &last_error);
                        }
                        _ => break,
                    }
                }
            }
        }
        Err(last_error)
    }
}

/// One crawl call: takes frontier batches from the state, fetches with bounded concurrency, records
/// each outcome, and reports it.
struct CrawlLoop<'a> {
    crawler: &'a Arc<Crawler>,
    source: Source,
    state: &'a CrawlState,
    run: i64,
    cutoff: i64,
    events: &'a mpsc::Sender<CrawlEvent>,
    stats: &'a mut CrawlStats,
}

/// A fetch task's result.
struct Fetched {
    entry: FrontierEntry,
    url: Url,
    outcome: Outcome,
    retries: u64,
    blocked: u64,
}

impl CrawlLoop<'_> {
    /// Crawls until the frontier is exhausted (true) or `max_pages` pages were fetched (false).
    async fn drive(&mut self, max_pages: usize) -> Result<bool, CrawlError> {
        let config = &self.crawler.config;
        let mut waiting: VecDeque<FrontierEntry> = VecDeque::new();
        let mut per_host: HashMap<String, usize> = HashMap::new();
        let mut in_flight: JoinSet<Fetched> = JoinSet::new();
        let mut scheduled = 0usize;
        let mut frontier_empty = false;
        loop {
            let budget = max_pages.saturating_sub(scheduled);
            if waiting.is_empty() && budget > 0 && in_flight.len() < config.max_concurrency.get() {
                let batch = config.frontier_batch.get().min(budget);
                let claimed = self.state.claim(batch).await?;
                frontier_empty = claimed.is_empty();
                waiting.extend(claimed);
            }
            // Start what the overall and per-host limits allow, in frontier order per host.
            let mut index = 0;
            while index < waiting.len()
                && in_flight.len() < config.max_concurrency.get()
                && scheduled < max_pages
            {
                let host = host_of(&waiting[index].url);
                let busy = per_host.get(&host).copied().unwrap_or(0);
                if busy >= config.max_concurrency_per_host.get() {
                    index += 1;
                    continue;
                }
                let Some(entry) = waiting.remove(index) else {
                    break;
                };
                let url = match Url::parse(&entry.url) {
                    Ok(url) => url,
                    Err(e) => {
                        // Only parsed URLs enter the frontier; a row that does not parse was edited
                        // by hand. Drop it rather than stop the crawl.
                        warn!(url = entry.url, error = %e, "frontier row with an invalid URL dropped");
                        self.state
                            .complete(&entry, Completion::Failed, self.run, self.cutoff)
                            .await?;
                        continue;
                    }
                };
                *per_host.entry(host).or_default() += 1;
                scheduled += 1;
                let crawler = Arc::clone(self.crawler);
                let source = self.source;
                in_flight.spawn(async move {
                    let (outcome, retries, blocked) = crawler.fetch(source, &url, &entry).await;
                    Fetched {
                        entry,
                        url,
                        outcome,
                        retries,
                        blocked,
                    }
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                // Nothing in flight: done when the budget is spent or the frontier is empty (it was
                // read just above, after the last page recorded its links).
                if scheduled >= max_pages || (waiting.is_empty() && frontier_empty) {
                    break;
                }
                continue;
            };
            let fetched = match joined {
                Ok(fetched) => fetched,
                Err(e) => {
                    // A fetch task cannot panic on input; this is a bug. Its row stays in flight and
                    // is fetched again by the next run.
                    warn!(error = %e, "a fetch task failed to complete");
                    continue;
                }
            };
            if let Some(busy) = per_host.get_mut(&host_of(&fetched.entry.url)) {
                *busy = busy.saturating_sub(1);
            }
            if matches!(fetched.outcome, Outcome::Disallowed) {
                // Not fetched: it does not spend the page budget.
                scheduled = scheduled.saturating_sub(1);
            }
            self.record(fetched).await?;
        }
        // Rows taken but not started go back to the queue for the next call.
        let unstarted: Vec<FrontierEntry> = waiting.into_iter().collect();
        self.state.release(&unstarted).await?;
        Ok(!self.state.has_queued().await?)
    }

    /// Writes a page's outcome to the state first, then reports it: a crash between the two re-fetches
    /// the page rather than losing it.
    async fn record(&mut self, fetched: Fetched) -> Result<(), CrawlError> {
        let Fetched {
            entry,
            url,
            outcome,
            retries,
            blocked,
        } = fetched;
        let site = self.source.as_str();
        self.stats.retries += retries;
        self.stats.blocked += blocked;
        match outcome {
            Outcome::Disallowed => {
                info!(url = %url, "robots.txt disallows this page; skipped");
                self.stats.disallowed_by_robots += 1;
                self.state
                    .complete(&entry, Completion::Disallowed, self.run, self.cutoff)
                    .await?;
            }
            Outcome::Unchanged { status } => {
                metrics::page_answered(site, &url, status);
                self.stats.count_status(status);
                self.stats.unchanged += 1;
                self.state
                    .complete(&entry, Completion::Unchanged, self.run, self.cutoff)
                    .await?;
                self.page_fetched(&url, status).await;
            }
            Outcome::Parsed {
                status,
                page,
                validators,
            } => {
                metrics::page_answered(site, &url, status);
                self.stats.count_status(status);
                let links = self.links_to_follow(&url, &page);
                let kind = match page.kind {
                    PageKind::Search => {
                        self.stats.search_pages += 1;
                        PAGE_KIND_SEARCH
                    }
                    PageKind::Posting => {
                        self.stats.posting_pages += 1;
                        PAGE_KIND_POSTING
                    }
                };
                self.state
                    .complete(
                        &entry,
                        Completion::Fetched {
                            kind: Some(kind),
                            etag: validators.etag.as_deref(),
                            last_modified: validators.last_modified.as_deref(),
                            content_hash: validators.content_hash,
                            links: &links,
                        },
                        self.run,
                        self.cutoff,
                    )
                    .await?;
                self.page_fetched(&url, status).await;
                // Search rows only carry a summary; the crawler follows them to the posting, which
                // has everything. Only listing pages emit listings.
                if page.kind == PageKind::Posting && !page.listings.is_empty() {
                    metrics::listings_emitted(site, &url, page.listings.len());
                    for listing in page.listings {
                        self.stats.listings_emitted += 1;
                        let _ = self
                            .events
                            .send(CrawlEvent::Listing(Box::new(listing)))
                            .await;
                    }
                }
            }
            Outcome::Rejected {
                status,
                error,
                excerpt,
                validators,
            } => {
                metrics::page_answered(site, &url, status);
                self.stats.count_status(status);
                self.stats.parse_failures += 1;
                self.stats.rejected += 1;
                // Pages without a listing are reported by why (`expired`, `deleted`...), the way
                // operators speak of them; other failures by the parser's own code.
                let code = error
                    .no_listing_reason()
                    .map_or(error.code(), crate::NoListingReason::as_str);
                metrics::parse_failure(site, &url, code);
                self.state
                    .complete(
                        &entry,
                        Completion::Fetched {
                            // A search page with no results is still a search page to come back to.
                            kind: Some(
                                if error.no_listing_reason() == Some(crate::NoListingReason::Empty)
                                {
                                    PAGE_KIND_SEARCH
                                } else {
                                    PAGE_KIND_REJECTED
                                },
                            ),
                            etag: validators.etag.as_deref(),
                            last_modified: validators.last_modified.as_deref(),
                            content_hash: validators.content_hash,
                            links: &[],
                        },
                        self.run,
                        self.cutoff,
                    )
                    .await?;
                self.page_fetched(&url, status).await;
                self.reject(&url, code, &error.to_string(), &excerpt).await;
            }
            Outcome::Failed {
                status,
                code,
                detail,
                excerpt,
            } => {
                match status {
                    Some(status) => {
                        metrics::page_answered(site, &url, status);
                        self.stats.count_status(status);
                    }
                    None => metrics::page_unanswered(site, &url, &detail),
                }
                self.stats.fetch_failures += 1;
                self.stats.rejected += 1;
                self.state
                    .complete(&entry, Completion::Failed, self.run, self.cutoff)
                    .await?;
                if let Some(status) = status {
                    self.page_fetched(&url, status).await;
                }
                self.reject(&url, code, &detail, &excerpt).await;
            }
        }
        Ok(())
    }

    /// Result pages' posting links and next-page link, resolved, on the same site.
    fn links_to_follow(&self, url: &Url, page: &Page) -> Vec<String> {
        if page.kind != PageKind::Search {
            return Vec::new();
        }
        let mut links = Vec::with_capacity(page.posting_urls.len() + 1);
        for link in page.posting_urls.iter().chain(page.next_page_url.iter()) {
            match url.join(link) {
                Ok(mut next) if same_site(url, &next) => {
                    next.set_fragment(None);
                    links.push(String::from(next));
                }
                Ok(next) => debug!(url = %next, "link to another site not followed"),
                Err(e) => debug!(link, error = %e, "unusable link skipped"),
            }
        }
        links
    }

    async fn page_fetched(&self, url: &Url, status: u16) {
        let _ = self
            .events
            .send(CrawlEvent::PageFetched {
                url: url.to_string(),
                status,
            })
            .await;
    }

    async fn reject(&self, url: &Url, code: &str, detail: &str, excerpt: &str) {
        let dead = DeadLetter {
            stage: "parse".into(),
            reason: RejectReason::new(code, detail),
            source: Some(self.source.to_string()),
            source_listing_id: None,
            reference: url.to_string(),
            original: excerpt.to_owned(),
            rejected_at: Utc::now(),
            schema_version: SCHEMA_VERSION,
        };
        let _ = self.events.send(CrawlEvent::Rejected(Box::new(dead))).await;
    }
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn same_site(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}
