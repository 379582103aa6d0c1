//! A programmable HTTP server on 127.0.0.1 for crawler tests: routes with canned replies or sequences
//! of replies, ETag/Last-Modified handling, delays, a request log, a "hold" switch that stops
//! answering (to kill a crawl mid-way), and a forwarding proxy. Nothing here reaches beyond loopback.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part of the helper.

pub mod site;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Reply {
    pub fn html(body: impl Into<Bytes>) -> Reply {
        Reply::status(200, body).header("content-type", "text/html; charset=utf-8")
    }

    pub fn status(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// Path and query (`/search/apa?s=20`).
    pub target: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The status answered; `None` while held (never answered).
    pub status: Option<u16>,
}

enum Route {
    Always(Reply),
    /// Each request takes the next reply; the last one repeats.
    Sequence(VecDeque<Reply>),
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    log: Mutex<Vec<LoggedRequest>>,
    answered: Mutex<usize>,
    hold_after: Mutex<Option<usize>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server; dropping it stops accepting connections.
pub struct TestServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared::default());
        let served = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base())
    }

    /// Answers `target` (path and query) with `reply` every time.
    pub fn route(&self, target: &str, reply: Reply) {
        lock(&self.shared.routes).insert(target.to_owned(), Route::Always(reply));
    }

    /// Answers `target` with the replies in turn; the last one repeats.
    pub fn route_sequence(&self, target: &str, replies: Vec<Reply>) {
        lock(&self.shared.routes).insert(target.to_owned(), Route::Sequence(replies.into()));
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn requests_for(&self, target: &str) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == target)
            .collect()
    }

    /// Requests answered so far.
    pub fn answered(&self) -> usize {
        *lock(&self.shared.answered)
    }

    /// Requests held (received, never answered).
    pub fn held(&self) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.status.is_none())
            .count()
    }

    /// After `n` answers in all, every further request is held forever, as if the crawler's process
    /// died waiting for it.
    pub fn hold_after(&self, n: usize) {
        *lock(&self.shared.hold_after) = Some(n);
    }

    /// New requests are answered again (requests already held stay held).
    pub fn stop_holding(&self) {
        *lock(&self.shared.hold_after) = None;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let index = {
        let mut log = lock(&shared.log);
        log.push(LoggedRequest {
            target: target.clone(),
            headers: headers.clone(),
            status: None,
        });
        log.len() - 1
    };
    let hold = {
        let answered = lock(&shared.answered);
        lock(&shared.hold_after).is_some_and(|limit| *answered >= limit)
    };
    if hold {
        std::future::pending::<()>().await;
    }
    let reply = {
        let mut routes = lock(&shared.routes);
        match routes.get_mut(&target) {
            Some(Route::Always(reply)) => reply.clone(),
            Some(Route::Sequence(replies)) => {
                if replies.len() > 1 {
                    replies.pop_front().expect("non-empty")
                } else {
                    replies.front().cloned().unwrap_or_else(not_found)
                }
            }
            None => not_found(),
        }
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let unchanged = reply
        .header_value("etag")
        .is_some_and(|etag| headers.get("if-none-match").map(String::as_str) == Some(etag))
        || reply
            .header_value("last-modified")
            .is_some_and(|date| headers.get("if-modified-since").map(String::as_str) == Some(date));
    let status = if unchanged && reply.status == 200 {
        304
    } else {
        reply.status
    };
    let body = if status == 304 {
        Bytes::new()
    } else {
        reply.body.clone()
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    *lock(&shared.answered) += 1;
    lock(&shared.log)[index].status = Some(status);
    response
}

fn not_found() -> Reply {
    Reply::status(404, "not found")
}

/// A forwarding HTTP proxy on 127.0.0.1 that only forwards to 127.0.0.1, logging what it forwards.
pub struct TestProxy {
    pub addr: SocketAddr,
    forwarded: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TestProxy {
    pub async fn start() -> TestProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let forwarded = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&forwarded);
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (log, client) = (Arc::clone(&log), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (log, client) = (Arc::clone(&log), client.clone());
                        async move { Ok::<_, Infallible>(forward(&log, &client, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestProxy {
            addr,
            forwarded,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Absolute URLs forwarded so far.
    pub fn forwarded(&self) -> Vec<String> {
        lock(&self.forwarded).clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    log: &Mutex<Vec<String>>,
    client: &Client<HttpConnector, Incoming>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let uri = request.uri().clone();
    // Tests never leave the machine, through the proxy either.
    if uri.host() != Some("127.0.0.1") {
        return status_response(403, "this test proxy forwards to 127.0.0.1 only");
    }
    lock(log).push(uri.to_string());
    match client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(collected) => Response::from_parts(parts, Full::new(collected.to_bytes())),
                Err(_) => status_response(502, "upstream body failed"),
            }
        }
        Err(_) => status_response(502, "upstream unreachable"),
    }
}

fn status_response(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    response
}

/// The URL of a proxy that refuses every connection: a port that was just free on 127.0.0.1.
pub async fn refusing_proxy_url() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// Crawler settings for tests: fast (no real politeness needed against our own server), short
/// timeouts and backoffs.
pub fn fast_config() -> aiq_connectors::crawl::CrawlConfig {
    use std::num::{NonZeroU32, NonZeroUsize};
    aiq_connectors::crawl::CrawlConfig {
        request_timeout: Duration::from_secs(2),
        max_concurrency: NonZeroUsize::new(4).expect("non-zero"),
        max_concurrency_per_host: NonZeroUsize::new(4).expect("non-zero"),
        requests_per_second_per_host: NonZeroU32::new(10_000).expect("non-zero"),
        max_retries: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(3),
        block_cooldown: Duration::from_millis(50),
        ..aiq_connectors::crawl::CrawlConfig::default()
    }
}

/// Everything a crawl reported.
#[derive(Debug, Default)]
pub struct Collected {
    pub listings: Vec<aiq_schemas::RawListing>,
    pub rejected: Vec<aiq_schemas::DeadLetter>,
    pub pages: Vec<(String, u16)>,
}

/// Runs `crawl` with a fresh events channel and collects what it reports.
pub async fn collect<F, Fut>(crawl: F) -> (aiq_connectors::crawl::CrawlStats, Collected)
where
    F: FnOnce(tokio::sync::mpsc::Sender<aiq_connectors::crawl::CrawlEvent>) -> Fut,
    Fut: std::future::Future<
            Output = Result<aiq_connectors::crawl::CrawlStats, aiq_connectors::crawl::CrawlError>,
        >,
{
    use aiq_connectors::crawl::CrawlEvent;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let gather = tokio::spawn(async move {
        let mut collected = Collected::default();
        while let Some(event) = rx.recv().await {
            match event {
                CrawlEvent::Listing(listing) => collected.listings.push(*listing),
                CrawlEvent::Rejected(dead) => collected.rejected.push(*dead),
                CrawlEvent::PageFetched { url, status } => collected.pages.push((url, status)),
            }
        }
        collected
    });
    let stats = crawl(tx).await.expect("crawl runs");
    (stats, gather.await.expect("collector"))
}
