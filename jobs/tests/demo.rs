//! End-to-end: the embedded demo over the bundled sample, checked against the sample's ground truth
//! (`demo-sample/expected.json`): pages, parsed listings, dead letters by reason, merged duplicates,
//! quarantined scams, and the rows that really landed in SQLite and Parquet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::time::Duration;

use aiq_jobs::config::Config;
use aiq_jobs::demo::{DemoOptions, SAMPLE_EXPECTED, run_demo};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqlitePoolOptions;

fn expected() -> Value {
    serde_json::from_str(SAMPLE_EXPECTED).expect("expected.json is valid JSON")
}

fn count(expected: &Value, key: &str) -> u64 {
    expected["counts"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("expected.json counts.{key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_crawls_enriches_and_writes_exactly_the_expected_rows() {
    let expected = expected();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    // The sample serves one block page; keep its retries quick.
    config.crawl.initial_backoff = Duration::from_millis(5);
    let options = DemoOptions {
        data_dir: dir.path().join("demo"),
        max_pages: 500,
        show_progress: false,
        requests_per_second: std::num::NonZeroU32::new(1000).unwrap(),
    };
    let summary = run_demo(config, options).await.expect("demo runs");
    println!("{summary}");

    let postings = count(&expected, "posting_pages");
    let listings = count(&expected, "listings_expected");
    assert_eq!(summary.crawl.search_pages, count(&expected, "search_pages"));
    assert_eq!(
        summary.crawl.pages_fetched,
        count(&expected, "search_pages") + postings
    );
    assert_eq!(
        summary.run.leads_out, listings,
        "every good posting becomes a lead"
    );
    assert_eq!(summary.stored.listings as u64, listings);
    assert_eq!(
        summary.stored.leads as u64,
        count(&expected, "unique_properties_expected"),
        "duplicates merged into one property each"
    );
    assert_eq!(
        summary.run.duplicates_merged,
        count(&expected, "postings_in_duplicate_groups") - count(&expected, "duplicate_groups")
    );
    assert_eq!(
        summary.stored.quarantined_leads as u64,
        count(&expected, "scams")
    );

    let mut expected_dead: BTreeMap<String, i64> = BTreeMap::new();
    for dead in expected["dead_letters"].as_array().unwrap() {
        *expected_dead
            .entry(dead["reason_kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let stored_dead: BTreeMap<String, i64> = summary
        .stored
        .dead_letters_by_reason
        .clone()
        .into_iter()
        .collect();
    assert_eq!(stored_dead, expected_dead);

    // Row-level checks in SQLite: duplicate groups share one property, everything else is apart,
    // and exactly the scams are quarantined.
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", summary.database.display()))
        .await
        .unwrap();
    let rows = sqlx::query("SELECT source_listing_id, property_id, status, list_price, bedrooms_total, latitude FROM listings")
        .fetch_all(&pool)
        .await
        .unwrap();
    let property_of: HashMap<String, i64> = rows
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect();
    let mut grouped = BTreeSet::new();
    for group in expected["duplicate_groups"].as_array().unwrap() {
        let ids: Vec<&str> = group["post_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let properties: BTreeSet<i64> = ids.iter().map(|id| property_of[*id]).collect();
        assert_eq!(
            properties.len(),
            1,
            "group {} should be one property: {ids:?}",
            group["property"]
        );
        grouped.extend(ids.iter().map(|id| id.to_string()));
    }
    let distinct: BTreeSet<i64> = property_of.values().copied().collect();
    assert_eq!(
        distinct.len() as u64,
        count(&expected, "unique_properties_expected")
    );
    let scams: BTreeSet<String> = expected["scam_post_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let quarantined: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.get::<String, _>(2) == "quarantined")
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert_eq!(quarantined, scams, "exactly the scams are quarantined");

    // Field values match the ground truth for every parsed posting.
    let truth: HashMap<&str, &Value> = expected["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["post_id"].as_str().unwrap(), p))
        .collect();
    for row in &rows {
        let id: String = row.get(0);
        let posting = truth[id.as_str()];
        assert_eq!(
            row.get::<Option<f64>, _>(3),
            posting["price"].as_f64(),
            "price of {id}"
        );
        assert_eq!(
            row.get::<Option<i64>, _>(4),
            posting["bedrooms"].as_i64(),
            "bedrooms of {id}"
        );
        let latitude = row.get::<Option<f64>, _>(5).unwrap();
        assert!(
            (latitude - posting["latitude"].as_f64().unwrap()).abs() < 1e-6,
            "latitude of {id}"
        );
    }

    // The Parquet lake holds the same leads, readable by any Parquet reader.
    let mut parquet_rows = 0;
    for path in &summary.lake_files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            assert_eq!(
                batch.schema().fields(),
                aiq_schemas::lead_arrow_schema().fields()
            );
            parquet_rows += batch.num_rows();
        }
    }
    assert_eq!(parquet_rows as u64, listings);
}
