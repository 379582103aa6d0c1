//! The crawler against a local server serving saved Craigslist pages: pagination, retries on 429
//! (honouring Retry-After) and 500, robots.txt, block pages and a slow server.

mod common;

use std::time::{Duration, Instant};

use aiq_connectors::crawl::{CrawlConfig, Crawler};
use aiq_schemas::Source;
use common::site::{self, CraigslistSite};
use common::{Reply, TestServer, collect, fast_config};

async fn crawl(
    config: CrawlConfig,
    site: &CraigslistSite,
    max_pages: usize,
) -> (aiq_connectors::crawl::CrawlStats, common::Collected) {
    let crawler = Crawler::new(config).expect("crawler");
    let start = site.start.clone();
    collect(|events| async move {
        crawler
            .crawl(Source::Craigslist, &start, max_pages, events)
            .await
    })
    .await
}

fn answered(server: &TestServer, target: &str) -> usize {
    server
        .requests_for(target)
        .iter()
        .filter(|r| r.status.is_some())
        .count()
}

#[tokio::test]
async fn follows_every_results_page_and_every_posting_once() {
    let server = TestServer::start().await;
    let site = site::install(&server, 12, 5);
    assert_eq!(site.search_targets.len(), 3);

    let (stats, collected) = crawl(fast_config(), &site, 100).await;

    assert_eq!(stats.search_pages, 3);
    assert_eq!(stats.posting_pages, 12);
    assert_eq!(stats.pages_fetched, 15);
    assert_eq!(stats.pages_by_status.get(&200), Some(&15));
    assert_eq!(stats.listings_emitted, 12);
    assert_eq!(collected.listings.len(), 12);
    assert!(collected.rejected.is_empty(), "{:?}", collected.rejected);
    assert_eq!((stats.retries, stats.blocked, stats.unchanged), (0, 0, 0));
    assert!(stats.finished);
    for target in site.all_targets() {
        assert_eq!(answered(&server, &target), 1, "{target}");
    }
    // robots.txt is asked for once per origin; a 404 means no rules.
    assert_eq!(server.requests_for("/robots.txt").len(), 1);
    // The real posting 7936415355 was parsed from its own page.
    let own = collected
        .listings
        .iter()
        .find(|l| l.source_listing_id.as_deref() == Some("7936415355"))
        .expect("own posting");
    assert_eq!(own.list_price.as_deref(), Some("$1,325"));
    assert!(own.url.as_deref().is_some_and(|u| u.contains("7936415355")));
    // Every request carried the configured User-Agent.
    let agent = fast_config().user_agent;
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.headers.get("user-agent") == Some(&agent))
    );
}

#[tokio::test]
async fn stops_at_max_pages_and_says_the_crawl_is_unfinished() {
    let server = TestServer::start().await;
    let site = site::install(&server, 12, 5);
    let (stats, _) = crawl(fast_config(), &site, 4).await;
    assert_eq!(stats.pages_fetched, 4);
    assert!(!stats.finished);
    let page_requests = server
        .requests()
        .iter()
        .filter(|r| r.target != "/robots.txt")
        .count();
    assert_eq!(page_requests, 4);
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_retry_after() {
    let server = TestServer::start().await;
    let site = site::install(&server, 3, 5);
    let page = site::read("cl_2026_search_apa_milwaukee_wauwatosa.html")
        .replace("https://milwaukee.craigslist.org", &server.base());
    server.route_sequence(
        "/search/apa",
        vec![
            Reply::status(429, "Too Many Requests").header("retry-after", "1"),
            Reply::html(page),
        ],
    );
    let started = Instant::now();
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(stats.retries, 1);
    assert_eq!(
        stats.blocked, 0,
        "a plain 429 is a rate limit, not a block page"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        started.elapsed()
    );
    assert_eq!(server.requests_for("/search/apa").len(), 2);
    assert_eq!(stats.pages_by_status.get(&429), None);
    // The full real page links all 37 postings; only the 3 installed exist, the rest are 404s
    // that the parser rejects. What matters here is that the search page went through.
    assert_eq!(stats.search_pages, 1);
    assert!(collected.listings.len() >= 3);
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_until_it_succeeds() {
    let server = TestServer::start().await;
    let site = site::install(&server, 3, 3);
    let posting = site.posting_targets[1].clone();
    let good = site::read("cl_2022_post_apa_boston_7514890528.html");
    server.route_sequence(
        &posting,
        vec![
            Reply::status(500, "Internal Server Error"),
            Reply::status(503, "Service Unavailable"),
            Reply::html(good),
        ],
    );
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(server.requests_for(&posting).len(), 3);
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.listings_emitted, 3);
    assert!(collected.rejected.is_empty());
    assert!(
        collected
            .listings
            .iter()
            .any(|l| l.source_listing_id.as_deref() == Some("7514890528"))
    );
}

#[tokio::test]
async fn a_5xx_that_never_recovers_is_a_counted_failure() {
    let server = TestServer::start().await;
    let site = site::install(&server, 3, 3);
    let posting = site.posting_targets[0].clone();
    server.route(&posting, Reply::status(502, "Bad Gateway"));
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(
        server.requests_for(&posting).len(),
        3,
        "first try and 2 retries"
    );
    assert_eq!(stats.fetch_failures, 1);
    assert_eq!(stats.pages_by_status.get(&502), Some(&1));
    assert_eq!(stats.listings_emitted, 2);
    assert_eq!(collected.rejected.len(), 1);
    assert_eq!(collected.rejected[0].reason.code, "http_error");
}

#[tokio::test]
async fn robots_txt_disallow_means_the_page_is_never_requested() {
    let server = TestServer::start().await;
    let site = site::install(&server, 6, 6);
    server.route(
        "/robots.txt",
        Reply::status(200, "User-agent: *\nDisallow: /apa/\n").header("content-type", "text/plain"),
    );
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(stats.search_pages, 1);
    assert_eq!(stats.disallowed_by_robots, 6);
    assert_eq!(stats.pages_fetched, 1);
    assert!(collected.listings.is_empty());
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.target.starts_with("/apa/")),
        "a disallowed page was requested"
    );
    assert!(stats.finished);

    // Turned off (for a site the operator runs), the same pages are fetched.
    let mut config = fast_config();
    config.respect_robots_txt = false;
    let (stats, _) = crawl(config, &site, 100).await;
    assert_eq!(stats.posting_pages, 6);
}

#[tokio::test]
async fn an_unreadable_robots_txt_means_no_page_is_fetched() {
    let server = TestServer::start().await;
    let site = site::install(&server, 2, 2);
    server.route("/robots.txt", Reply::status(503, "Service Unavailable"));
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(stats.pages_fetched, 0);
    assert_eq!(collected.rejected.len(), 1);
    assert_eq!(collected.rejected[0].reason.code, "robots_unavailable");
    assert!(server.requests().iter().all(|r| r.target == "/robots.txt"));
}

#[tokio::test]
async fn a_block_page_backs_off_is_retried_and_never_becomes_data() {
    let server = TestServer::start().await;
    let site = site::install(&server, 3, 3);
    let posting = site.posting_targets[2].clone();
    let good = site::read("cl_2022_post_apa_atlanta_7501755803.html");
    server.route_sequence(
        &posting,
        vec![
            // The real Craigslist block page, served with 200, then a captcha 403.
            Reply::html(site::blocked_page()),
            Reply::status(
                403,
                "<html><title>Access denied</title>Please solve the CAPTCHA</html>",
            ),
            Reply::html(good),
        ],
    );
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    assert_eq!(stats.blocked, 2);
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.listings_emitted, 3);
    assert!(collected.rejected.is_empty(), "{:?}", collected.rejected);
    assert_eq!(stats.pages_by_status.get(&403), None);
    assert!(
        collected
            .listings
            .iter()
            .all(|l| l.title.as_deref() != Some("blocked"))
    );
}

#[tokio::test]
async fn a_host_that_keeps_blocking_is_cooled_down_and_the_page_dead_lettered() {
    let server = TestServer::start().await;
    // One posting, so no good page from the host interrupts the blocks in a row.
    let site = site::install(&server, 1, 1);
    let posting = site.posting_targets[0].clone();
    server.route(&posting, Reply::html(site::blocked_page()));
    let started = Instant::now();
    let (stats, collected) = crawl(fast_config(), &site, 100).await;
    // 3 block pages in a row: cool-downs of 50 + 100 ms before the two retries.
    assert_eq!(stats.blocked, 3);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(stats.fetch_failures, 1);
    assert_eq!(stats.listings_emitted, 0);
    assert_eq!(collected.rejected.len(), 1);
    let dead = &collected.rejected[0];
    assert_eq!(dead.reason.code, "blocked");
    assert!(dead.reference.ends_with(&posting));
    assert!(dead.original.contains("Your request has been blocked"));
}

#[tokio::test]
async fn a_slow_page_times_out_and_the_crawl_goes_on() {
    let server = TestServer::start().await;
    let site = site::install(&server, 4, 4);
    let slow = site.posting_targets[1].clone();
    let page = site::read("cl_2022_post_apa_chicago_7496774171.html");
    server.route(&slow, Reply::html(page).delay(Duration::from_secs(5)));
    let mut config = fast_config();
    config.request_timeout = Duration::from_millis(300);
    config.max_retries = 1;
    let started = Instant::now();
    let (stats, collected) = crawl(config, &site, 100).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(server.requests_for(&slow).len(), 2, "tried twice");
    assert_eq!(stats.fetch_failures, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.listings_emitted, 3);
    assert_eq!(collected.rejected.len(), 1);
    assert_eq!(collected.rejected[0].reason.code, "timeout");
    assert!(stats.finished);
}
