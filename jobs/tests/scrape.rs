//! `aiqleads scrape` end to end against the bundled sample site on 127.0.0.1: listings reach the
//! store through the in-process bus and the JSON-lines file, and a second scrape with the same state
//! file is incremental.

use aiq_jobs::config::Config;
use aiq_jobs::demo::SampleSite;
use aiq_jobs::scrape::{ScrapeOptions, run_scrape};
use aiq_schemas::Source;

#[tokio::test]
async fn scrape_feeds_the_pipeline_and_a_second_run_is_incremental() {
    let site = SampleSite::start().await.expect("sample site");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}", dir.path().join("aiq.db").display());
    config.lake.dir = dir.path().join("lake");
    config.crawl.requests_per_second_per_host = std::num::NonZeroU32::new(500).expect("non-zero");
    config.crawl.block_cooldown = std::time::Duration::from_millis(20);
    config.crawl.initial_backoff = std::time::Duration::from_millis(10);
    let out = dir.path().join("raw.jsonl");
    let options = ScrapeOptions {
        source: Source::Craigslist,
        start: site.start_url(),
        max_pages: 1000,
        state: Some(dir.path().join("state").join("crawl.db")),
        out: Some(out.clone()),
    };

    let first = run_scrape(config.clone(), options.clone())
        .await
        .expect("first scrape");
    assert!(first.crawl.finished);
    assert_eq!(first.crawl.search_pages, 2);
    assert_eq!(first.crawl.pages_fetched, 65);
    // 63 postings: 61 listings, an expired one and a blocked one (see demo-sample/README.md).
    assert_eq!(first.published_listings, 61);
    assert_eq!(first.published_rejects, 2);
    assert!(first.crawl.blocked >= 1);
    let lines = std::fs::read_to_string(&out).expect("raw listings file");
    assert_eq!(lines.lines().count(), 61);
    for line in lines.lines() {
        let raw: aiq_schemas::RawListing = serde_json::from_str(line).expect("a raw listing");
        assert_eq!(raw.source.as_deref(), Some("craigslist"));
    }
    let enrich = first.enrich.as_ref().expect("embedded runner ran");
    assert_eq!(enrich.records_in, 61);
    assert_eq!(first.dead_letters_stored, 2);

    // Same state file: the two search pages are asked for again and come back identical (not
    // parsed); fresh postings are skipped; only the page that stayed blocked is tried again.
    let second = run_scrape(
        config,
        ScrapeOptions {
            out: None,
            ..options
        },
    )
    .await
    .expect("second scrape");
    assert_eq!(second.crawl.run, 2);
    assert_eq!(second.crawl.unchanged, 2, "{:?}", second.crawl);
    assert_eq!(second.crawl.pages_fetched, 3);
    assert_eq!(
        (second.crawl.search_pages, second.crawl.posting_pages),
        (0, 0)
    );
    assert_eq!(second.crawl.fetch_failures, 1);
    assert_eq!(second.published_listings, 0);
    let summary = second.to_string();
    assert!(summary.contains("unchanged"), "{summary}");
}
