//! Proxy failover: two local proxies, one refusing connections. Requests go through the other and
//! the bad one is benched.

mod common;

use std::time::Duration;

use aiq_connectors::crawl::{Crawler, WhenAllProxiesBenched};
use aiq_schemas::Source;
use common::{TestProxy, TestServer, collect, fast_config, refusing_proxy_url, site};

#[tokio::test]
async fn requests_fail_over_to_the_working_proxy_and_the_bad_one_is_benched() {
    let server = TestServer::start().await;
    let site = site::install(&server, 5, 5);
    let good = TestProxy::start().await;
    let bad = refusing_proxy_url().await;
    let mut config = fast_config();
    // The refusing proxy comes first, so the very first request meets it.
    config.proxies = vec![bad.clone(), good.url()];
    config.proxy_bench_time = Duration::from_secs(60);
    let crawler = Crawler::new(config).expect("crawler");
    let start = site.start.clone();
    let run = crawler.clone();
    let (stats, collected) =
        collect(|events| async move { run.crawl(Source::Craigslist, &start, 100, events).await })
            .await;

    assert_eq!(stats.pages_fetched, 6);
    assert_eq!(stats.listings_emitted, 5);
    assert!(collected.rejected.is_empty(), "{:?}", collected.rejected);
    // The first request (robots.txt) met the bad proxy and was sent again at once through the good
    // one; no page needed a retry after that.
    assert_eq!(stats.retries, 0);

    let status = crawler.proxy_status();
    assert_eq!(status.len(), 2);
    assert_eq!(status[0].proxy, bad);
    assert!(status[0].benched);
    assert_eq!((status[0].failures, status[0].requests), (1, 1));
    assert!(!status[1].benched);
    assert_eq!(status[1].failures, 0);

    // Everything the server answered came through the good proxy: robots.txt and every page.
    let forwarded = good.forwarded();
    assert_eq!(forwarded.len(), server.requests().len());
    for target in site.all_targets() {
        assert!(
            forwarded.contains(&server.url(&target)),
            "{target} did not go through the good proxy"
        );
    }
    assert_eq!(status[1].requests as usize, forwarded.len());
}

#[tokio::test]
async fn with_every_proxy_benched_requests_go_direct_when_configured() {
    let server = TestServer::start().await;
    let site = site::install(&server, 2, 2);
    let mut config = fast_config();
    config.proxies = vec![refusing_proxy_url().await];
    config.when_all_proxies_benched = WhenAllProxiesBenched::Direct;
    let crawler = Crawler::new(config).expect("crawler");
    let start = site.start.clone();
    let run = crawler.clone();
    let (stats, _) =
        collect(|events| async move { run.crawl(Source::Craigslist, &start, 100, events).await })
            .await;
    assert_eq!(stats.listings_emitted, 2);
    assert!(crawler.proxy_status()[0].benched);
    for target in site.all_targets() {
        assert_eq!(server.requests_for(&target).len(), 1, "{target}");
    }
}

#[tokio::test]
async fn a_benched_proxy_is_tried_again_after_its_bench_time() {
    let server = TestServer::start().await;
    let site = site::install(&server, 3, 3);
    let mut config = fast_config();
    config.proxies = vec![refusing_proxy_url().await];
    config.proxy_bench_time = Duration::from_millis(100);
    config.when_all_proxies_benched = WhenAllProxiesBenched::Wait;
    config.max_retries = 1;
    config.respect_robots_txt = false;
    let crawler = Crawler::new(config).expect("crawler");
    let start = site.start.clone();
    let run = crawler.clone();
    let (stats, collected) =
        collect(|events| async move { run.crawl(Source::Craigslist, &start, 100, events).await })
            .await;
    // The only proxy refuses: the page fetch fails, waits out the bench, fails again and becomes a
    // dead letter; nothing went out directly.
    let status = &crawler.proxy_status()[0];
    assert_eq!(status.benchings, 2, "{status:?}");
    assert_eq!(stats.fetch_failures, 1);
    assert_eq!(collected.rejected[0].reason.code, "proxy_failed");
    assert!(server.requests().is_empty());
}
