//! The crawl state: a crawl killed mid-way resumes without fetching any page twice, and a later
//! crawl asks with the page's validators, so unchanged pages cost a 304 and are not parsed again.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aiq_connectors::crawl::{CrawlEvent, CrawlState, Crawler};
use aiq_schemas::Source;
use common::{Reply, TestServer, collect, fast_config, site};

#[tokio::test]
async fn a_killed_crawl_resumes_without_fetching_any_page_twice() {
    let server = TestServer::start().await;
    let site = site::install(&server, 12, 5);
    let total = site.all_targets().len();
    assert_eq!(total, 15);
    let dir = tempfile::tempdir().expect("temp dir");
    let state_file = dir.path().join("crawl.db");
    let mut config = fast_config();
    // robots.txt is not a page, and each new process asks for it again.
    config.respect_robots_txt = false;
    config.request_timeout = Duration::from_secs(10);

    // First process: the server answers 6 pages, then stops answering; the crawl is killed once
    // those 6 are reported.
    const KILLED_AFTER: usize = 6;
    server.hold_after(KILLED_AFTER);
    let state = CrawlState::open(&state_file, "milwaukee")
        .await
        .expect("state");
    let crawler = Crawler::new(config.clone()).expect("crawler");
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let start = site.start.clone();
    let first = tokio::spawn(async move {
        crawler
            .crawl_with_state(Source::Craigslist, &start, 1000, &state, tx)
            .await
    });
    let mut first_listings = 0;
    let mut reported = 0;
    while reported < KILLED_AFTER {
        match rx.recv().await.expect("events until killed") {
            CrawlEvent::PageFetched { .. } => reported += 1,
            CrawlEvent::Listing(_) => first_listings += 1,
            CrawlEvent::Rejected(dead) => panic!("unexpected dead letter {dead:?}"),
        }
    }
    // Wait until the crawler is stuck on held requests, then kill it.
    while server.held() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    assert!(first.await.expect_err("killed").is_cancelled());
    while let Ok(event) = rx.try_recv() {
        if let CrawlEvent::Listing(_) = event {
            first_listings += 1;
        }
    }
    assert_eq!(server.answered(), KILLED_AFTER);

    // Second process, same state file.
    server.stop_holding();
    let state = CrawlState::open(&state_file, "milwaukee")
        .await
        .expect("state");
    let crawler = Crawler::new(config).expect("crawler");
    let start = site.start.clone();
    let (stats, collected) = collect(|events| {
        let state = state.clone();
        async move {
            crawler
                .crawl_with_state(Source::Craigslist, &start, 1000, &state, events)
                .await
        }
    })
    .await;
    assert!(stats.resumed);
    assert_eq!(stats.run, 1);
    assert!(stats.finished);
    assert_eq!(stats.pages_fetched as usize, total - KILLED_AFTER);
    assert_eq!(first_listings + collected.listings.len(), 12);

    // Every page was answered exactly once over both processes.
    let mut answered: HashMap<String, usize> = HashMap::new();
    for request in server.requests() {
        if request.status.is_some() {
            *answered.entry(request.target).or_default() += 1;
        }
    }
    for target in site.all_targets() {
        assert_eq!(answered.get(&target), Some(&1), "{target}");
    }
    assert_eq!(answered.len(), total);
    let counts = state.counts().await.expect("counts");
    assert_eq!(
        (counts.done as usize, counts.queued, counts.in_flight),
        (total, 0, 0)
    );
}

#[tokio::test]
async fn a_later_crawl_sends_validators_and_unchanged_pages_are_not_parsed() {
    let server = TestServer::start().await;
    let site = site::install(&server, 6, 3);
    let state = CrawlState::in_memory("conditional").await.expect("state");
    let mut config = fast_config();
    // Every posting is due again at once, so the second crawl revisits all of them.
    config.revisit_after = Duration::ZERO;
    let crawler = Crawler::new(config).expect("crawler");

    let crawl = |crawler: std::sync::Arc<Crawler>, state: CrawlState, start: String| {
        collect(move |events| async move {
            crawler
                .crawl_with_state(Source::Craigslist, &start, 100, &state, events)
                .await
        })
    };
    let (first, first_found) = crawl(crawler.clone(), state.clone(), site.start.clone()).await;
    assert_eq!(first.pages_fetched, 8);
    assert_eq!(first_found.listings.len(), 6);
    assert!(first.finished);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.headers.contains_key("if-none-match"))
    );

    let (second, second_found) = crawl(crawler, state.clone(), site.start.clone()).await;
    assert_eq!(second.run, 2);
    assert!(!second.resumed);
    assert_eq!(second.unchanged, 8);
    assert_eq!(second.pages_by_status.get(&304), Some(&8));
    assert_eq!(second.pages_by_status.get(&200), None);
    assert_eq!((second.search_pages, second.posting_pages), (0, 0));
    assert!(second_found.listings.is_empty(), "nothing is re-parsed");
    for target in site.all_targets() {
        let requests = server.requests_for(&target);
        assert_eq!(requests.len(), 2, "{target}");
        let etag = requests[1]
            .headers
            .get("if-none-match")
            .expect("validator sent");
        assert!(etag.starts_with('"'));
        assert_eq!(requests[1].status, Some(304));
    }
}

#[tokio::test]
async fn fresh_postings_are_skipped_and_identical_bodies_count_as_unchanged() {
    let server = TestServer::start().await;
    let site = site::install(&server, 4, 4);
    let state = CrawlState::in_memory("incremental").await.expect("state");
    // The default revisit_after (a day): postings from the first crawl are fresh in the second.
    let crawler = Crawler::new(fast_config()).expect("crawler");
    // The search page without validators: only its body hash tells that it did not change.
    let search = site.search_targets[0].clone();
    let body = site::read("cl_2026_search_apa_milwaukee_wauwatosa.html");
    let body = body.replace("https://milwaukee.craigslist.org", &server.base());
    server.route(&search, Reply::html(body));

    for round in 1..=2 {
        let crawler = crawler.clone();
        let state = state.clone();
        let start = site.start.clone();
        let (stats, found) = collect(|events| async move {
            crawler
                .crawl_with_state(Source::Craigslist, &start, 100, &state, events)
                .await
        })
        .await;
        if round == 1 {
            assert_eq!(stats.search_pages, 1);
            assert!(found.listings.len() >= 4);
        } else {
            // Only the search page was asked for again; it came back identical (200, same hash).
            assert_eq!(stats.pages_fetched, 1);
            assert_eq!(stats.unchanged, 1);
            assert_eq!(stats.pages_by_status.get(&200), Some(&1));
            assert!(found.listings.is_empty());
        }
    }
    assert_eq!(server.requests_for(&search).len(), 2);
    for posting in &site.posting_targets {
        assert_eq!(server.requests_for(posting).len(), 1, "{posting}");
    }
}
