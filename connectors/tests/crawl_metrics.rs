//! The crawler's counters, read back through a debugging recorder (the only recorder installed in
//! this test binary, so this file holds a single test).

mod common;

use std::collections::HashMap;

use aiq_connectors::crawl::{Crawler, metrics};
use aiq_schemas::Source;
use common::{Reply, TestServer, collect, fast_config, site};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[tokio::test]
async fn pages_retries_blocks_parse_failures_and_listings_are_counted_per_site() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("first recorder of this binary");

    let server = TestServer::start().await;
    let site = site::install(&server, 3, 3);
    let good = site::read("cl_2022_post_apa_boston_7514972380.html");
    server.route_sequence(
        &site.posting_targets[0],
        vec![Reply::html(site::blocked_page()), Reply::html(good)],
    );
    server.route(
        &site.posting_targets[1],
        Reply::status(410, "<html><body>gone</body></html>"),
    );
    let crawler = Crawler::new(fast_config()).expect("crawler");
    let start = site.start.clone();
    let (stats, collected) =
        collect(
            |events| async move { crawler.crawl(Source::Craigslist, &start, 100, events).await },
        )
        .await;
    assert_eq!(collected.rejected.len(), 1);
    let reason = collected.rejected[0].reason.code.clone();

    let mut counters: HashMap<(String, Vec<(String, String)>), u64> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let DebugValue::Counter(count) = value else {
            continue;
        };
        let key = key.key();
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        counters.insert((key.name().to_owned(), labels), count);
    }
    let counter = |name: &str, labels: &[(&str, &str)]| {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        counters.get(&(name.to_owned(), labels)).copied()
    };
    let site_label = ("site", "craigslist");
    assert_eq!(
        counter(metrics::PAGES_TOTAL, &[site_label, ("status", "200")]),
        Some(3)
    );
    assert_eq!(
        counter(metrics::PAGES_TOTAL, &[site_label, ("status", "410")]),
        Some(1)
    );
    assert_eq!(counter(metrics::RETRIES_TOTAL, &[site_label]), Some(1));
    assert_eq!(counter(metrics::BLOCKED_TOTAL, &[site_label]), Some(1));
    assert_eq!(
        counter(
            metrics::PARSE_FAILURES_TOTAL,
            &[site_label, ("reason", reason.as_str())]
        ),
        Some(1)
    );
    assert_eq!(counter(metrics::LISTINGS_TOTAL, &[site_label]), Some(2));
    // The counters and the crawl's own totals agree.
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.blocked, 1);
    assert_eq!(stats.listings_emitted, 2);
    assert_eq!(stats.parse_failures, 1);
}
