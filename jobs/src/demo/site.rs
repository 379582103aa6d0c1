//! A tiny HTTP server on 127.0.0.1 that serves the bundled sample site, so the demo crawls real
//! markup over a real socket with the real connector code, without touching the internet.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use include_dir::{Dir, include_dir};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// The sample pages, compiled into the binary so the demo needs nothing beside it.
static SAMPLE_SITE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/demo-sample/site");

/// The sample's ground truth (see `demo-sample/README.md`).
pub static SAMPLE_EXPECTED: &str = include_str!("../../demo-sample/expected.json");

/// A running sample site. Dropping it stops the server.
pub struct SampleSite {
    pub addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl SampleSite {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub async fn start() -> Result<SampleSite> {
        let pages = Arc::new(sample_pages()?);
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("bind", "127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("bind", "127.0.0.1:0", e))?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let pages = Arc::clone(&pages);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let response = respond(&pages, &request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(SampleSite {
            addr,
            requests,
            task,
        })
    }

    /// URL of the sample's first search page.
    pub fn start_url(&self) -> String {
        format!("http://{}/search/apa", self.addr)
    }

    pub fn requests_served(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for SampleSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Maps request targets (`/search/apa?s=40`) to sample files, as listed in the sample's
/// `expected.json` (`pages[].url` and `pages[].file`).
fn sample_pages() -> Result<HashMap<String, (String, &'static [u8])>> {
    #[derive(serde::Deserialize)]
    struct Page {
        url: String,
        file: String,
        content_type: String,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        pages: Vec<Page>,
    }
    let manifest: Manifest = serde_json::from_str(SAMPLE_EXPECTED)
        .map_err(|e| Error::Internal(format!("demo-sample/expected.json: {e}")))?;
    let mut pages = HashMap::new();
    for page in manifest.pages {
        let relative = page.file.strip_prefix("site/").unwrap_or(&page.file);
        let file = SAMPLE_SITE.get_file(relative).ok_or_else(|| {
            Error::Internal(format!(
                "demo-sample/expected.json names {} but the sample has no such file",
                page.file
            ))
        })?;
        pages.insert(page.url, (page.content_type, file.contents()));
    }
    Ok(pages)
}

fn respond(
    pages: &HashMap<String, (String, &'static [u8])>,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    match pages.get(target) {
        Some((content_type, body)) => Response::builder()
            .header("content-type", content_type.as_str())
            .body(Full::new(Bytes::from_static(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
        None => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"<html><body>page not found</body></html>",
            )));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}
