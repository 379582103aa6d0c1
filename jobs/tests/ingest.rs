//! `ingest` of a listing file through the embedded bus: good rows become leads in the store and the
//! lake, a malformed row becomes a dead letter with its line, nothing is lost.

use aiq_jobs::config::Config;
use aiq_jobs::ingest::{Feed, run_ingest};

/// Two real rows of ../shared/data/tables/fsbo_forsalebyowner_2023_ca.csv (Sherman Oaks 91401, then
/// Canoga Park 91304), with `between` as a line between them.
fn brokerage_csv(between: Option<&str>) -> String {
    let between = between.map(|line| format!("{line}\n")).unwrap_or_default();
    format!(
        "Name,URL,Address,City,Zip,State,Price,Bath,Bed,SquareFt\n\
         \"14249 Burbank Boulevard Sherman Oaks, CA 91401\",https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314,14249 Burbank Boulevard,Sherman Oaks,91401,CA,1697000,7,7,0\n\
         {between}\
         \"24303 Woolsey Cyn #6, Canoga Park, CA 91304\",https://www.forsalebyowner.com/listing/_/6365ca3460ad2b37ba0f0700,\"24303 Woolsey Cyn #6, Canoga Park, CA 91304\",Canoga Park,91304,CA,159900,2,3,1142\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_feed_becomes_leads_and_its_bad_row_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("brokerage.csv");
    // Two real rows and one broken row.
    std::fs::write(&csv, brokerage_csv(Some("broken row with too few fields"))).unwrap();
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}", dir.path().join("aiq.db").display());
    config.lake.dir = dir.path().join("lake");
    let summary = run_ingest(config, Feed::File { path: csv })
        .await
        .expect("ingest runs");
    assert_eq!(summary.published, 2);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.dead_letters_stored, 1);
    let enrich = summary.enrich.expect("the embedded bus runs the pipeline");
    assert_eq!(enrich.leads_out, 2);
    assert_eq!(enrich.dead_lettered, 0);
}

/// The embedded runner prices with the demand the embedded API recorded in the store: a ZIP code
/// where agents bought is dearer, one where they did not is cheaper, and the breakdown says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_marketplace_demand_reaches_the_price() {
    use aiq_jobs::sink::store::Store;
    use aiq_jobs::sink::{Offsets, SinkBatch};
    use aiq_schemas::{MarketplaceEvent, MarketplaceEventKind, PropertyId};

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("brokerage.csv");
    // No coordinates: the rows' pricing area is their ZIP code.
    std::fs::write(&csv, brokerage_csv(None)).unwrap();
    let store_url = format!("sqlite://{}", dir.path().join("aiq.db").display());
    let store = Store::open(&store_url, 2).await.unwrap();
    let event = |zip: &str, kind, hours_ago| MarketplaceEvent {
        kind,
        property_id: PropertyId(1),
        h3_cell: None,
        postal_code: Some(zip.to_owned()),
        state_or_province: Some("CA".into()),
        agent: "agent".into(),
        at: chrono::Utc::now() - chrono::Duration::hours(hours_ago),
    };
    // Purchases in Sherman Oaks, a view elsewhere, and purchases older than the demand window.
    let mut events: Vec<MarketplaceEvent> = (0..20)
        .map(|i| event("91401", MarketplaceEventKind::Purchase, i))
        .collect();
    events.push(event("90210", MarketplaceEventKind::View, 1));
    events.extend((0..50).map(|_| event("91304", MarketplaceEventKind::Purchase, 24 * 30)));
    store
        .write(
            "api",
            &SinkBatch {
                leads: &[],
                lead_positions: &[],
                relabels: &[],
                relabel_positions: &[],
                dead_letters: &[],
                marketplace_events: &events,
                next_offsets: &Offsets::new(),
            },
        )
        .await
        .unwrap();
    store.close().await;

    let mut config = Config::default();
    config.store.url = store_url.clone();
    config.lake.dir = dir.path().join("lake");
    // Twice: the second run finds the events in the lake already, and prices with them all the same.
    for run in 0..2 {
        let summary = run_ingest(config.clone(), Feed::File { path: csv.clone() })
            .await
            .expect("ingest runs");
        let enrich = summary.enrich.expect("the embedded bus runs the pipeline");
        assert_eq!(
            enrich.demand_events, 21,
            "run {run}: the window's events, not the old ones"
        );
    }
    // Every event reached the lake once, old ones too.
    let lake = aiq_jobs::sql::Lake::open(&config.lake.dir).await.unwrap();
    for (query, expected) in [
        ("SELECT count(*) FROM marketplace_events", 71),
        (
            "SELECT count(DISTINCT input_offset) FROM marketplace_events",
            71,
        ),
        ("SELECT count(*) FROM purchases", 70),
        (
            "SELECT count(*) FROM purchases WHERE postal_code = '91401'",
            20,
        ),
    ] {
        let result = lake.query(query).await.unwrap();
        let count = result.batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .expect("a count")
            .value(0);
        assert_eq!(count, expected, "{query}");
    }

    let pool = sqlx::SqlitePool::connect(&store_url).await.unwrap();
    let multipliers: Vec<(String, f64)> = sqlx::query_as(
        "SELECT postal_code, CAST(json_extract(price_breakdown, '$.demand_multiplier') AS REAL) \
         FROM listings ORDER BY postal_code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(multipliers.len(), 2, "{multipliers:?}");
    let (canoga_park, sherman_oaks) = (multipliers[0].1, multipliers[1].1);
    assert!(sherman_oaks > 1.0, "{multipliers:?}");
    assert!(canoga_park < 1.0, "{multipliers:?}");
}
