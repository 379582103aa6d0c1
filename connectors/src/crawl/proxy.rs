//! The optional proxy pool: requests rotate over the configured proxies; a proxy that cannot be
//! reached is benched for a while, then tried again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{info, warn};
use url::Url;

use super::CrawlError;

/// What to do when every proxy of the pool is benched.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenAllProxiesBenched {
    /// Wait until the first proxy's bench time is over (the default: the operator chose proxies for a
    /// reason, so traffic never leaves through the crawler's own address unasked).
    #[default]
    Wait,
    /// Send the request directly, without a proxy.
    Direct,
}

/// How one proxy of the pool is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyStatus {
    /// The proxy's address without any credentials.
    pub proxy: String,
    pub requests: u64,
    pub failures: u64,
    /// Times it was benched.
    pub benchings: u64,
    /// Whether it is benched right now.
    pub benched: bool,
}

struct PooledProxy {
    display: String,
    client: reqwest::Client,
    benched_until: Mutex<Option<Instant>>,
    requests: AtomicU64,
    failures: AtomicU64,
    benchings: AtomicU64,
}

/// Which way one request goes.
pub(crate) enum Route<'a> {
    Direct(&'a reqwest::Client),
    Proxy(usize, &'a reqwest::Client),
}

impl Route<'_> {
    pub(crate) fn client(&self) -> &reqwest::Client {
        match self {
            Route::Direct(client) | Route::Proxy(_, client) => client,
        }
    }
}

pub(crate) struct ProxyPool {
    direct: reqwest::Client,
    proxies: Vec<PooledProxy>,
    next: AtomicUsize,
    bench_time: Duration,
    when_all_benched: WhenAllProxiesBenched,
}

impl ProxyPool {
    /// `build` makes a client with the crawler's settings, through the given proxy or directly.
    pub(crate) fn new(
        proxy_urls: &[String],
        bench_time: Duration,
        when_all_benched: WhenAllProxiesBenched,
        build: impl Fn(Option<reqwest::Proxy>) -> Result<reqwest::Client, CrawlError>,
    ) -> Result<ProxyPool, CrawlError> {
        let mut proxies = Vec::with_capacity(proxy_urls.len());
        for raw in proxy_urls {
            let display = redacted(raw);
            let proxy = reqwest::Proxy::all(raw).map_err(|e| CrawlError::Proxy {
                proxy: display.clone(),
                detail: e.to_string(),
            })?;
            proxies.push(PooledProxy {
                display,
                client: build(Some(proxy))?,
                benched_until: Mutex::new(None),
                requests: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                benchings: AtomicU64::new(0),
            });
        }
        Ok(ProxyPool {
            direct: build(None)?,
            proxies,
            next: AtomicUsize::new(0),
            bench_time,
            when_all_benched,
        })
    }

    /// The route of the next request: the next proxy in turn that is not benched.
    pub(crate) async fn pick(&self) -> Route<'_> {
        if self.proxies.is_empty() {
            return Route::Direct(&self.direct);
        }
        loop {
            let now = Instant::now();
            let first = self.next.fetch_add(1, Ordering::Relaxed);
            let mut soonest_back: Option<Instant> = None;
            for offset in 0..self.proxies.len() {
                let index = (first + offset) % self.proxies.len();
                let proxy = &self.proxies[index];
                match self.benched_until(proxy) {
                    Some(until) if until > now => {
                        soonest_back = Some(soonest_back.map_or(until, |s| s.min(until)));
                    }
                    _ => {
                        proxy.requests.fetch_add(1, Ordering::Relaxed);
                        return Route::Proxy(index, &proxy.client);
                    }
                }
            }
            match (self.when_all_benched, soonest_back) {
                (WhenAllProxiesBenched::Direct, _) | (_, None) => {
                    return Route::Direct(&self.direct);
                }
                (WhenAllProxiesBenched::Wait, Some(until)) => {
                    info!(
                        wait_ms = until.saturating_duration_since(now).as_millis() as u64,
                        "every proxy is benched; waiting for the first to come back"
                    );
                    tokio::time::sleep_until(until).await;
                }
            }
        }
    }

    /// A request through proxy `index` could not reach or use the proxy: bench it.
    pub(crate) fn report_failure(&self, index: usize, detail: &str) {
        let Some(proxy) = self.proxies.get(index) else {
            return;
        };
        proxy.failures.fetch_add(1, Ordering::Relaxed);
        proxy.benchings.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + self.bench_time;
        *proxy
            .benched_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(until);
        warn!(
            proxy = %proxy.display,
            bench_ms = self.bench_time.as_millis() as u64,
            error = %detail,
            "proxy failed; benched"
        );
    }

    pub(crate) fn has_other_proxy(&self, index: usize) -> bool {
        let now = Instant::now();
        self.proxies.iter().enumerate().any(|(i, proxy)| {
            i != index && self.benched_until(proxy).is_none_or(|until| until <= now)
        })
    }

    pub(crate) fn status(&self) -> Vec<ProxyStatus> {
        let now = Instant::now();
        self.proxies
            .iter()
            .map(|proxy| ProxyStatus {
                proxy: proxy.display.clone(),
                requests: proxy.requests.load(Ordering::Relaxed),
                failures: proxy.failures.load(Ordering::Relaxed),
                benchings: proxy.benchings.load(Ordering::Relaxed),
                benched: self.benched_until(proxy).is_some_and(|until| until > now),
            })
            .collect()
    }

    fn benched_until(&self, proxy: &PooledProxy) -> Option<Instant> {
        *proxy
            .benched_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A proxy URL fit for logs: scheme, host and port, never the credentials.
fn redacted(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(url) => format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<unparsable proxy URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(urls: &[&str], when: WhenAllProxiesBenched) -> ProxyPool {
        let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
        ProxyPool::new(&urls, Duration::from_secs(60), when, |proxy| {
            let mut builder = reqwest::Client::builder().no_proxy();
            if let Some(proxy) = proxy {
                builder = builder.proxy(proxy);
            }
            builder
                .build()
                .map_err(|e| CrawlError::Client(e.to_string()))
        })
        .expect("valid pool")
    }

    fn proxy_index(route: &Route<'_>) -> Option<usize> {
        match route {
            Route::Proxy(index, _) => Some(*index),
            Route::Direct(_) => None,
        }
    }

    #[tokio::test]
    async fn requests_rotate_and_skip_a_benched_proxy() {
        let pool = pool(
            &[
                "http://127.0.0.1:1",
                "http://127.0.0.1:2",
                "http://127.0.0.1:3",
            ],
            WhenAllProxiesBenched::Wait,
        );
        let mut picked = Vec::new();
        for _ in 0..3 {
            picked.push(proxy_index(&pool.pick().await));
        }
        assert_eq!(picked, [Some(0), Some(1), Some(2)]);
        pool.report_failure(1, "connection refused");
        assert!(pool.has_other_proxy(1));
        for _ in 0..6 {
            assert_ne!(proxy_index(&pool.pick().await), Some(1));
        }
        let status = pool.status();
        assert!(status[1].benched && status[1].benchings == 1);
        assert!(!status[0].benched);
    }

    #[tokio::test]
    async fn all_benched_goes_direct_when_configured() {
        let pool = pool(&["http://127.0.0.1:1"], WhenAllProxiesBenched::Direct);
        pool.report_failure(0, "refused");
        assert!(!pool.has_other_proxy(0));
        assert_eq!(proxy_index(&pool.pick().await), None);
    }

    #[tokio::test(start_paused = true)]
    async fn all_benched_waits_for_the_bench_to_end_when_configured() {
        let pool = pool(&["http://127.0.0.1:1"], WhenAllProxiesBenched::Wait);
        pool.report_failure(0, "refused");
        let before = Instant::now();
        assert_eq!(proxy_index(&pool.pick().await), Some(0));
        assert!(before.elapsed() >= Duration::from_secs(60));
    }

    #[test]
    fn credentials_never_reach_the_logs() {
        assert_eq!(
            redacted("http://user:secret@proxy.example:3128"),
            "http://proxy.example:3128"
        );
        let bad = ["not a url".to_owned()];
        let error = ProxyPool::new(&bad, Duration::ZERO, WhenAllProxiesBenched::Wait, |_| {
            Ok(reqwest::Client::new())
        })
        .err()
        .expect("rejected");
        assert!(matches!(error, CrawlError::Proxy { .. }), "{error}");
    }
}
