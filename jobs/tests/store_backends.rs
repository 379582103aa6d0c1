//! The store's semantics, each scenario written once and run on SQLite and on Postgres (see
//! `tests/common/mod.rs` for where the databases come from): upserts, merges, survivorship,
//! quarantine, dead letters, offsets, awkward text, counts and concurrent migrations.

mod common;

use std::collections::HashMap;

use aiq_jobs::sink::store::{Store, StoreCounts};
use aiq_schemas::{FraudCode, FraudReason, Source};
use common::{
    Backend, Batch, applied_migrations, at, backend_of, dead_letter, lead, quarantined, snapshot,
    with_database, with_store,
};

/// Declares one test per scenario and backend: `sqlite::<scenario>` and `postgres::<scenario>`.
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::common::with_store(crate::common::Backend::Sqlite, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::common::with_store(crate::common::Backend::Postgres, crate::$scenario).await;
                }
            )*
        }
    };
}

on_every_backend!(
    the_same_batch_twice_leaves_the_same_rows,
    a_listing_twice_in_one_batch_keeps_its_last_values,
    relabels_merge_properties_and_rebuild_their_leads,
    the_survivor_does_not_depend_on_arrival_order,
    one_quarantined_listing_quarantines_its_property,
    dead_letters_are_stored_once_per_stream_position,
    offsets_round_trip_per_consumer,
    awkward_text_survives_unchanged,
    counts_report_what_was_written,
    market_statistics_follow_the_active_leads,
    marketplace_events_are_read_back_in_order_within_the_window,
    a_write_of_an_owner_that_lost_its_partition_is_refused,
);

async fn the_same_batch_twice_leaves_the_same_rows(store: Store) {
    let mut batch = Batch::of(vec![
        lead(Source::Craigslist, "a1", 10),
        lead(Source::Zillow, "a2", 10),
        lead(Source::Redfin, "b1", 20),
    ]);
    batch.dead_letters.push(dead_letter("bad_json", "{oops", 3));
    batch.next_offsets.insert(("listings.raw".into(), 0), 4);

    batch.write(&store).await;
    let first = snapshot(&store).await;
    assert_eq!(first.listings.len(), 3);
    assert_eq!(first.leads.len(), 2);
    assert_eq!(first.dead_letters.len(), 1);

    batch.write(&store).await;
    assert_eq!(
        snapshot(&store).await,
        first,
        "a replayed batch changed the rows"
    );

    // A later delivery of one listing with new values updates it (and its property's row).
    let mut changed = lead(Source::Redfin, "b1", 20);
    changed.listing.title = Some("Price cut".into());
    changed.listing.list_price = Some(1700.0);
    Batch::of(vec![changed]).write(&store).await;
    let after = snapshot(&store).await;
    assert_eq!(after.listings.len(), 3);
    assert_eq!(after.listing("b1").list_price, Some(1700.0));
    assert_eq!(
        after.lead(20).and_then(|l| l.title.clone()).as_deref(),
        Some("Price cut")
    );
}

async fn a_listing_twice_in_one_batch_keeps_its_last_values(store: Store) {
    let first = lead(Source::Craigslist, "x", 10);
    let mut second = lead(Source::Craigslist, "x", 10);
    second.listing.title = Some("second delivery".into());
    second.completeness = 0.8;
    Batch::of(vec![first, second, lead(Source::Zillow, "y", 10)])
        .write(&store)
        .await;

    let rows = snapshot(&store).await;
    assert_eq!(rows.listings.len(), 2);
    assert_eq!(rows.listing("x").title.as_deref(), Some("second delivery"));
    let property = rows.lead(10).expect("property 10 has a row");
    assert_eq!(property.listing_count, 2);
    assert_eq!(
        property.source_listing_id, "x",
        "the more complete delivery wins"
    );
}

async fn relabels_merge_properties_and_rebuild_their_leads(store: Store) {
    let mut best = lead(Source::Zillow, "b1", 20);
    best.completeness = 0.9;
    Batch::of(vec![
        lead(Source::Craigslist, "a1", 10),
        best,
        lead(Source::Redfin, "b2", 20),
        lead(Source::Trulia, "c1", 30),
        lead(Source::Fsbo, "d1", 40),
        lead(Source::Reso, "e1", 50),
    ])
    .write(&store)
    .await;
    assert_eq!(snapshot(&store).await.leads.len(), 5);

    // 20 joins 10; in the same batch 40 moves to 30 and 30 (with it) to 50; a new listing of 10.
    let mut batch = Batch::of(vec![lead(Source::Realtor, "a2", 10)])
        .relabel(20, 10)
        .relabel(40, 30)
        .relabel(30, 50);
    batch.next_offsets.insert(("listings.raw".into(), 0), 7);
    batch.write(&store).await;

    let rows = snapshot(&store).await;
    let merged = rows.lead(10).expect("the merged property keeps a row");
    assert_eq!(merged.listing_count, 4);
    assert_eq!(merged.sources, "craigslist,realtor,redfin,zillow");
    assert_eq!(
        merged.source_listing_id, "b1",
        "the most complete listing survives"
    );
    let chained = rows.lead(50).expect("the end of the chain has a row");
    assert_eq!(chained.listing_count, 3);
    assert_eq!(chained.sources, "fsbo,reso,trulia");
    for gone in [20, 30, 40] {
        assert!(
            rows.lead(gone).is_none(),
            "property {gone} has no listing left"
        );
    }
    assert_eq!(rows.leads.len(), 2);
    for (id, property) in [("b2", 10), ("c1", 50), ("d1", 50)] {
        assert_eq!(rows.listing(id).property_id, property, "listing {id}");
    }
    assert_eq!(
        store.counts().await.unwrap().leads,
        2,
        "counts agree with the rows"
    );
}

async fn the_survivor_does_not_depend_on_arrival_order(store: Store) {
    // Per property: "complete" wins on completeness although older; "recent" beats "older" on fetch
    // time; "zillow" and "craigslist" tie on both and the larger (source, id) wins.
    let candidates = |property: u64| {
        let prefix = format!("p{property}-");
        let mut complete = lead(Source::Trulia, &format!("{prefix}complete"), property);
        complete.completeness = 0.9;
        complete.listing.fetched_at = at(1, 0);
        let mut recent = lead(Source::Redfin, &format!("{prefix}recent"), property);
        recent.completeness = 0.6;
        recent.listing.fetched_at = at(3, 0);
        let mut older = lead(Source::Realtor, &format!("{prefix}older"), property);
        older.completeness = 0.6;
        older.listing.fetched_at = at(2, 0);
        let mut tie_a = lead(Source::Zillow, &format!("{prefix}tie"), property + 1);
        tie_a.completeness = 0.4;
        let mut tie_b = lead(Source::Craigslist, &format!("{prefix}tie"), property + 1);
        tie_b.completeness = 0.4;
        vec![complete, recent, older, tie_a, tie_b]
    };
    let orders: [&[usize]; 4] = [
        &[0, 1, 2, 3, 4],
        &[4, 3, 2, 1, 0],
        &[2, 0, 4, 1, 3],
        &[1, 3, 0, 4, 2],
    ];
    for (index, order) in orders.iter().enumerate() {
        let property = 100 * (index as u64 + 1);
        let leads = candidates(property);
        // Even orders arrive in one batch, odd ones one listing per batch.
        if index % 2 == 0 {
            Batch::of(order.iter().map(|&i| leads[i].clone()).collect())
                .write(&store)
                .await;
        } else {
            for &i in order.iter() {
                Batch::of(vec![leads[i].clone()]).write(&store).await;
            }
        }
    }
    let rows = snapshot(&store).await;
    for index in 0..orders.len() {
        let property = 100 * (index as u64 + 1);
        let survivor = rows.lead(property).expect("a row per property");
        assert_eq!(
            survivor.source_listing_id,
            format!("p{property}-complete"),
            "order {index}"
        );
        assert_eq!(survivor.listing_count, 3);
        assert_eq!(survivor.sources, "realtor,redfin,trulia");
        let tie = rows.lead(property + 1).expect("a row for the tie");
        assert_eq!(tie.source, "zillow", "order {index}");
    }

    // Without the complete listing, the recent one wins over the older one.
    let mut recent_only = candidates(900);
    recent_only.truncate(3);
    recent_only.remove(0);
    Batch::of(recent_only).write(&store).await;
    let rows = snapshot(&store).await;
    assert_eq!(
        rows.lead(900).map(|l| l.source_listing_id.as_str()),
        Some("p900-recent")
    );
}

async fn one_quarantined_listing_quarantines_its_property(store: Store) {
    let mut clean = lead(Source::Zillow, "clean", 10);
    clean.completeness = 0.9;
    let scam = quarantined(lead(Source::Craigslist, "scam", 10));
    Batch::of(vec![clean.clone(), scam, lead(Source::Redfin, "other", 20)])
        .write(&store)
        .await;
    let rows = snapshot(&store).await;
    let property = rows.lead(10).unwrap();
    assert_eq!(property.status, "quarantined");
    assert_eq!(
        property.source_listing_id, "clean",
        "quarantine changes the status, not the survivor"
    );
    assert_eq!(rows.lead(20).unwrap().status, "active");
    assert_eq!(store.counts().await.unwrap().quarantined_leads, 1);

    // The scam listing is cleared: the property is active again.
    Batch::of(vec![lead(Source::Craigslist, "scam", 10)])
        .write(&store)
        .await;
    assert_eq!(snapshot(&store).await.lead(10).unwrap().status, "active");

    // A merge with a property holding a quarantined listing quarantines the merged property.
    Batch::of(vec![quarantined(lead(Source::Fsbo, "scam2", 30))])
        .write(&store)
        .await;
    Batch::default().relabel(30, 20).write(&store).await;
    let rows = snapshot(&store).await;
    assert_eq!(rows.lead(20).unwrap().status, "quarantined");
    assert_eq!(rows.lead(20).unwrap().listing_count, 2);
    assert!(rows.lead(30).is_none());
    assert_eq!(store.counts().await.unwrap().quarantined_leads, 1);
}

async fn dead_letters_are_stored_once_per_stream_position(store: Store) {
    let batch = Batch {
        dead_letters: vec![
            dead_letter("bad_json", "{not json", 5),
            dead_letter("missing_id", "{\"source\":\"zillow\"}", 6),
            // The same position again within the batch (a re-read record): kept once, first wins.
            dead_letter("bad_json", "{another try", 5),
        ],
        ..Batch::default()
    };
    batch.write(&store).await;
    batch.write(&store).await;
    let rows = snapshot(&store).await;
    assert_eq!(rows.dead_letters.len(), 2, "{:#?}", rows.dead_letters);
    assert_eq!(rows.dead_letters[0].stream_offset, 5);
    assert_eq!(rows.dead_letters[0].original, "{not json");
    assert_eq!(rows.dead_letters[0].rejected_at, at(2, 8));
    assert_eq!(rows.dead_letters[1].reason_code, "missing_id");

    // The same offset of another partition is another record.
    let mut other = Batch::default();
    let (dead, mut position) = dead_letter("bad_json", "x", 5);
    position.partition = 1;
    other.dead_letters.push((dead, position));
    other.write(&store).await;
    assert_eq!(
        store.counts().await.unwrap().dead_letters_by_reason,
        HashMap::from([("bad_json".to_owned(), 2), ("missing_id".to_owned(), 1)])
    );
}

async fn offsets_round_trip_per_consumer(store: Store) {
    assert!(store.committed_offsets("test").await.unwrap().is_empty());
    let mut batch = Batch::default();
    batch.next_offsets.insert(("listings.raw".into(), 0), 42);
    batch.next_offsets.insert(("listings.raw".into(), 3), 7);
    batch
        .next_offsets
        .insert(("leads.enriched".into(), 1), 1_000_000_000_000);
    batch.write(&store).await;
    assert_eq!(
        store.committed_offsets("test").await.unwrap(),
        batch.next_offsets
    );
    assert!(
        store.committed_offsets("another").await.unwrap().is_empty(),
        "offsets belong to their consumer"
    );

    let mut next = Batch::default();
    next.next_offsets.insert(("listings.raw".into(), 0), 50);
    next.write(&store).await;
    let mut expected = batch.next_offsets.clone();
    expected.insert(("listings.raw".into(), 0), 50);
    assert_eq!(store.committed_offsets("test").await.unwrap(), expected);
}

async fn awkward_text_survives_unchanged(store: Store) {
    let awkward = "tab\there\nnew line\r\nback\\slash \\N \\\\ 'single' \"double\" , ; | \
                   émigré 東京 שלום 🏠 \u{7f}\u{1}";
    let mut listing = lead(Source::Craigslist, "id\twith\\odd \"chars\"\n", 10);
    listing.listing.title = Some(awkward.to_owned());
    listing.listing.description = Some(String::new());
    listing.listing.contact_name = Some("nul\0inside".to_owned());
    listing.listing.living_area_sqft = Some(u32::MAX);
    listing.listing.bedrooms_total = Some(u8::MAX);
    listing.lead_price = u32::MAX;
    listing.fraud_reasons = vec![FraudReason {
        code: FraudCode::DescriptionReuse,
        contribution: 0.25,
        detail: format!("{awkward} \0"),
    }];
    let mut batch = Batch::of(vec![listing]);
    batch
        .dead_letters
        .push(dead_letter("bad\tcode", awkward, 1));
    batch.write(&store).await;

    let rows = snapshot(&store).await;
    let stored = rows.listing("id\twith\\odd \"chars\"\n");
    assert_eq!(stored.title.as_deref(), Some(awkward));
    assert_eq!(
        stored.description.as_deref(),
        Some(""),
        "empty text stays empty text, not NULL"
    );
    assert_eq!(
        stored.contact_name.as_deref(),
        Some("nul\u{FFFD}inside"),
        "NUL is stored as U+FFFD on every backend"
    );
    assert_eq!(stored.living_area_sqft, Some(i64::from(u32::MAX)));
    assert_eq!(stored.bedrooms_total, Some(255));
    assert_eq!(stored.lead_price, i64::from(u32::MAX));
    assert_eq!(
        stored.fraud_reasons,
        serde_json::json!([{
            "code": "description_reuse",
            "contribution": 0.25,
            "detail": format!("{awkward} \u{FFFD}"),
        }])
    );
    assert_eq!(
        stored.price_breakdown,
        serde_json::json!({"base": 10.0, "quality_multiplier": 1.2, "demand_multiplier": 1.0,
            "supply_multiplier": 1.0, "unclamped": 12.0, "floor": 2, "ceiling": 100})
    );
    assert!(
        stored
            .url
            .ends_with("/craigslist/id\twith\\odd \"chars\"\n")
    );
    let property = rows.lead(10).unwrap();
    assert_eq!(property.title.as_deref(), Some(awkward));
    assert_eq!(property.fraud_reasons, stored.fraud_reasons);
    assert_eq!(rows.dead_letters[0].original, awkward);
    assert_eq!(rows.dead_letters[0].reason_code, "bad\tcode");
}

async fn counts_report_what_was_written(store: Store) {
    assert_eq!(store.counts().await.unwrap(), StoreCounts::default());
    let mut batch = Batch::of(vec![
        lead(Source::Craigslist, "a", 1),
        lead(Source::Zillow, "b", 1),
        quarantined(lead(Source::Redfin, "c", 2)),
        lead(Source::Trulia, "d", 3),
    ]);
    batch.dead_letters = vec![
        dead_letter("bad_json", "{", 10),
        dead_letter("bad_json", "[", 11),
        dead_letter("not_housing", "a bike", 12),
    ];
    batch.write(&store).await;
    assert_eq!(
        store.counts().await.unwrap(),
        StoreCounts {
            listings: 4,
            leads: 3,
            quarantined_leads: 1,
            dead_letters_by_reason: HashMap::from([
                ("bad_json".to_owned(), 2),
                ("not_housing".to_owned(), 1)
            ]),
        }
    );
}

/// Several processes starting at once all migrate the same database without error, and each
/// migration is recorded once.
async fn stores_opened_at_once_migrate_once(backend: Backend) {
    with_database(backend, |url| async move {
        let opened = open_concurrently(&url, 4).await;
        let expected = applied_migrations(&opened[0]).await;
        assert!(!expected.is_empty());
        for store in &opened {
            assert_eq!(backend_of(store), backend);
            assert_eq!(applied_migrations(store).await, expected);
        }
        // Reopening later applies nothing new and keeps the data.
        Batch::of(vec![lead(Source::Zillow, "kept", 1)])
            .write(&opened[0])
            .await;
        for store in &opened {
            store.close().await;
        }
        let again = Store::open(&url, 1).await.expect("reopen");
        assert_eq!(applied_migrations(&again).await, expected);
        assert_eq!(again.counts().await.unwrap().listings, 1);
        again.close().await;
    })
    .await;
}

/// Opens `count` stores on `url` concurrently (each with its own pool, as separate processes would).
async fn open_concurrently(url: &str, count: usize) -> Vec<Store> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move { Store::open(&url, 1).await })
        })
        .collect();
    let mut stores = Vec::with_capacity(count);
    for task in tasks {
        let store = task
            .await
            .expect("the open task finished")
            .unwrap_or_else(|e| panic!("open while others open too: {e}"));
        stores.push(store);
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stores_opened_at_once_migrate_once() {
    stores_opened_at_once_migrate_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_opened_at_once_migrate_once() {
    stores_opened_at_once_migrate_once(Backend::Postgres).await;
}

/// The same batches give the same rows on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_hold_the_same_rows_after_the_same_batches() {
    let (sqlite, postgres) = tokio::join!(
        rows_after_a_mixed_history(Backend::Sqlite),
        rows_after_a_mixed_history(Backend::Postgres)
    );
    assert_eq!(sqlite, postgres);
}

async fn rows_after_a_mixed_history(backend: Backend) -> common::Snapshot {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    with_store(backend, move |store| async move {
        let mut survivor = lead(Source::Redfin, "r1", 7);
        survivor.completeness = 0.95;
        survivor.listing.description = Some("Sunny\tcorner unit\nwith \\ views".into());
        let mut first = Batch::of(vec![
            lead(Source::Craigslist, "c1", 5),
            quarantined(lead(Source::Zillow, "z1", 6)),
            survivor,
            lead(Source::Craigslist, "c2", 7),
        ]);
        first.dead_letters.push(dead_letter("bad_json", "{", 9));
        first.next_offsets.insert(("listings.raw".into(), 0), 10);
        first.write(&store).await;
        let mut second = Batch::of(vec![lead(Source::Trulia, "t1", 5)])
            .relabel(6, 5)
            .relabel(7, 8);
        second.next_offsets.insert(("listings.raw".into(), 0), 12);
        second.write(&store).await;
        let rows = snapshot(&store).await;
        assert_eq!(rows.leads.len(), 2, "{:#?}", rows.leads);
        let _ = sender.send(rows);
    })
    .await;
    receiver.await.expect("the scenario sent its rows")
}

/// Per postal code and kind: supply counts active leads only, medians of an odd and an even count,
/// and the statistics follow new leads after a refresh.
async fn market_statistics_follow_the_active_leads(store: Store) {
    let priced = |id: &str, property: u64, zip: &str, price: f64, sqft: u32| {
        let mut lead = lead(Source::Craigslist, id, property);
        lead.listing.postal_code = Some(zip.into());
        lead.listing.list_price = Some(price);
        lead.listing.living_area_sqft = Some(sqft);
        lead
    };
    Batch::of(vec![
        priced("a", 1, "02139", 1000.0, 500),
        priced("b", 2, "02139", 3000.0, 1000),
        priced("c", 3, "02139", 2000.0, 1000),
        priced("d", 4, "10001", 4000.0, 1000),
        priced("e", 5, "10001", 6000.0, 1000),
        quarantined(priced("f", 6, "10001", 1.0, 1000)),
    ])
    .write(&store)
    .await;
    store.refresh_market_stats().await.unwrap();
    let read = || async {
        let sql = "SELECT postal_code, active_supply, median_price, median_price_per_sqft \
                   FROM market_stats_postal ORDER BY postal_code";
        let rows: Vec<(String, i64, f64, f64)> = match &store {
            Store::Sqlite(s) => sqlx::query_as(sql).fetch_all(s.pool()).await.unwrap(),
            Store::Postgres(s) => sqlx::query_as(sql).fetch_all(s.pool()).await.unwrap(),
        };
        rows
    };
    assert_eq!(
        read().await,
        vec![
            ("02139".to_owned(), 3, 2000.0, 2.0),
            ("10001".to_owned(), 2, 5000.0, 5.0),
        ]
    );
    Batch::of(vec![priced("g", 7, "10001", 8000.0, 1000)])
        .write(&store)
        .await;
    store.refresh_market_stats().await.unwrap();
    assert_eq!(read().await[1], ("10001".to_owned(), 3, 6000.0, 6.0));
}

/// The embedded runner follows the API's events through `marketplace_events_after`: in id order,
/// from where it left off, only those in the demand window, page by page.
async fn marketplace_events_are_read_back_in_order_within_the_window(store: Store) {
    use aiq_schemas::{H3Cell, MarketplaceEvent, MarketplaceEventKind, PropertyId};
    let kinds = [
        MarketplaceEventKind::View,
        MarketplaceEventKind::CartAdd,
        MarketplaceEventKind::Purchase,
    ];
    let events: Vec<MarketplaceEvent> = (0..10u32)
        .map(|i| MarketplaceEvent {
            kind: kinds[i as usize % 3],
            property_id: PropertyId(u64::from(100 + i)),
            h3_cell: (i % 2 == 0).then_some(H3Cell(0x0894_4c1a_ce57_ffff)),
            postal_code: Some(format!("0213{}", i % 4)),
            state_or_province: None,
            agent: format!("agent{i}"),
            // Days 1..=10 of the month, at 08:00.
            at: at(1 + i, 8),
        })
        .collect();
    let batch = Batch {
        marketplace_events: events.clone(),
        ..Batch::default()
    };
    batch.write(&store).await;

    let all = store
        .marketplace_events_after(0, at(1, 0), 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        events
    );
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "in id order");

    // From day 6 on only; then the next page after the first id returned.
    let recent = store
        .marketplace_events_after(0, at(6, 0), 2)
        .await
        .unwrap();
    assert_eq!(
        recent.iter().map(|(_, e)| e.at).collect::<Vec<_>>(),
        vec![at(6, 8), at(7, 8)]
    );
    let next = store
        .marketplace_events_after(recent[1].0, at(6, 0), 100)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|(_, e)| e.property_id).collect::<Vec<_>>(),
        (107..110).map(PropertyId).collect::<Vec<_>>()
    );
    assert!(
        store
            .marketplace_events_after(next[2].0, at(1, 0), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Fencing: once another member claimed a partition, a write of the earlier owner (a zombie) is
/// refused whole, rows and offsets alike; the new owner's writes, and unfenced writers, go through.
async fn a_write_of_an_owner_that_lost_its_partition_is_refused(store: Store) {
    use aiq_jobs::sink::store::Generations;
    let stream = "listings.by-block";
    assert_eq!(store.claim("test", stream, 2).await.unwrap(), 1);
    assert_eq!(
        store.claim("other-group", stream, 2).await.unwrap(),
        1,
        "generations are per consumer"
    );
    assert_eq!(store.claim("test", stream, 2).await.unwrap(), 2);

    let mut batch = Batch::of(vec![lead(Source::Zillow, "z1", 10)]);
    batch.next_offsets.insert((stream.into(), 2), 5);
    let write_as = |generation: i64| {
        let generations = Generations::from([((stream.to_owned(), 2), generation)]);
        let batch = batch.clone();
        let store = store.clone();
        async move { batch.write_as_owner(&store, &generations).await }
    };
    let error = write_as(1).await.expect_err("the zombie is fenced");
    assert!(
        matches!(
            error,
            aiq_jobs::Error::Fenced {
                partition: 2,
                generation: 1,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(store.counts().await.unwrap().listings, 0, "nothing written");
    assert!(store.committed_offsets("test").await.unwrap().is_empty());

    write_as(2).await.expect("the owner writes");
    assert_eq!(store.counts().await.unwrap().listings, 1);
    assert_eq!(
        store.committed_offsets("test").await.unwrap(),
        batch.next_offsets
    );
}
