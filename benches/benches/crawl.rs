//! The crawler's own overhead: a whole crawl (frontier, seen-set and validators in SQLite, HTTP
//! over loopback, block-page checks, parsing, events) against a local server, with the rate limit
//! and robots.txt off. Target: at least 2,000 pages per second on the project's 2-core machine.
//!
//! The site is built from saved real Craigslist pages: `SEARCH_PAGES` copies of the 2026 Milwaukee
//! results page (37 rows each), their posting links made unique per copy and chained with
//! `<link rel=next>`; every posting URL is served the saved Milwaukee posting page.

use std::convert::Infallible;
use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiq_connectors::crawl::{CrawlConfig, CrawlEvent, CrawlState, Crawler};
use aiq_schemas::Source;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/craigslist/"
);
const SEARCH_PAGES: usize = 10;
const ROWS_PER_PAGE: usize = 37;
const PAGES: usize = SEARCH_PAGES * (1 + ROWS_PER_PAGE);

struct Site {
    search_pages: Vec<Bytes>,
    posting: Bytes,
}

fn build_site() -> Site {
    let read = |file: &str| {
        std::fs::read_to_string(format!("{SHARED}{file}")).expect("saved Craigslist page")
    };
    let search = read("cl_2026_search_apa_milwaukee_wauwatosa.html");
    assert_eq!(
        search
            .matches("<li class=\"cl-static-search-result\"")
            .count(),
        ROWS_PER_PAGE
    );
    let search_pages = (0..SEARCH_PAGES)
        .map(|page| {
            let mut html = search.replace(
                "https://milwaukee.craigslist.org/apa/d/",
                &format!("/apa/d/p{page}-"),
            );
            if page + 1 < SEARCH_PAGES {
                let next = format!(
                    "<link rel=\"next\" href=\"/search/apa?s={}\">\n</head>",
                    page + 1
                );
                html = html.replacen("</head>", &next, 1);
            }
            Bytes::from(html)
        })
        .collect();
    Site {
        search_pages,
        posting: Bytes::from(read("cl_2026_post_apa_milwaukee_7936415355.html")),
    }
}

fn respond(site: &Site, target: &str) -> Response<Full<Bytes>> {
    let body = if target.starts_with("/apa/") {
        Some(site.posting.clone())
    } else if target == "/search/apa" {
        Some(site.search_pages[0].clone())
    } else {
        target
            .strip_prefix("/search/apa?s=")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| site.search_pages.get(n).cloned())
    };
    match body {
        Some(body) => {
            let mut response = Response::new(Full::new(body));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        None => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
            response
        }
    }
}

async fn serve(site: Arc<Site>) -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let site = Arc::clone(&site);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let target = request
                        .uri()
                        .path_and_query()
                        .map_or("/", |pq| pq.as_str())
                        .to_owned();
                    let response = respond(&site, &target);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/search/apa")
}

fn config() -> CrawlConfig {
    CrawlConfig {
        request_timeout: Duration::from_secs(10),
        max_concurrency: NonZeroUsize::new(16).expect("non-zero"),
        max_concurrency_per_host: NonZeroUsize::new(16).expect("non-zero"),
        // Rate limit off in effect: the limiter is still consulted, as in production.
        requests_per_second_per_host: NonZeroU32::MAX,
        respect_robots_txt: false,
        ..CrawlConfig::default()
    }
}

/// One whole crawl of the site; returns the pages fetched.
async fn crawl_once(crawler: &Arc<Crawler>, start: &str, state: &CrawlState) -> u64 {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let drain = tokio::spawn(async move {
        let mut listings = 0u64;
        while let Some(event) = rx.recv().await {
            if let CrawlEvent::Listing(listing) = event {
                black_box(&listing);
                listings += 1;
            }
        }
        listings
    });
    let stats = crawler
        .crawl_with_state(Source::Craigslist, start, usize::MAX, state, tx)
        .await
        .expect("crawl");
    let listings = drain.await.expect("drain");
    assert_eq!(stats.pages_fetched as usize, PAGES, "{stats:?}");
    assert_eq!(listings as usize, SEARCH_PAGES * ROWS_PER_PAGE);
    stats.pages_fetched
}

fn crawl(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let site = Arc::new(build_site());
    let start = runtime.block_on(serve(site));
    let crawler = Crawler::new(config()).expect("crawler");
    let dir = tempfile::tempdir().expect("temp dir");

    // A figure a person can read, beside criterion's own report.
    for (label, on_disk) in [("in-memory state", false), ("SQLite file state", true)] {
        let started = Instant::now();
        let mut pages = 0;
        for round in 0..3 {
            pages += runtime.block_on(async {
                let state = if on_disk {
                    let path = dir.path().join(format!("figure-{round}.db"));
                    CrawlState::open(&path, "bench").await.expect("state")
                } else {
                    CrawlState::in_memory("bench").await.expect("state")
                };
                crawl_once(&crawler, &start, &state).await
            });
        }
        let rate = pages as f64 / started.elapsed().as_secs_f64();
        println!(
            "crawl overhead ({label}): {pages} pages in {:.2}s = {rate:.0} pages/s",
            started.elapsed().as_secs_f64()
        );
    }

    let mut group = c.benchmark_group("crawl");
    group.throughput(Throughput::Elements(PAGES as u64));
    group.sample_size(10);
    group.bench_function("local_site_in_memory_state", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let state = runtime
                    .block_on(CrawlState::in_memory("bench"))
                    .expect("state");
                let started = Instant::now();
                runtime.block_on(crawl_once(&crawler, &start, &state));
                total += started.elapsed();
            }
            total
        });
    });
    let mut round = 0usize;
    group.bench_function("local_site_sqlite_file_state", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                let path = dir.path().join(format!("bench-{round}.db"));
                let state = runtime
                    .block_on(CrawlState::open(&path, "bench"))
                    .expect("state");
                let started = Instant::now();
                runtime.block_on(crawl_once(&crawler, &start, &state));
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, crawl);
criterion_main!(benches);
