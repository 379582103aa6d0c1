use aiq_benches::{shared_tables_dir, table_listings, workload};

#[test]
fn every_shared_table_row_becomes_a_raw_listing() {
    let tables = table_listings(&shared_tables_dir()).expect("shared tables are readable");
    // 2,268 Craigslist + 15,000 King County + 21,658 + 999 realtor.com + 230 FSBO rows.
    assert_eq!(tables.len(), 2_268 + 15_000 + 21_658 + 999 + 230);
    assert!(tables.iter().all(|raw| raw.source_listing_id.is_some()));
    let work = workload(&tables, 100_000);
    assert_eq!(work.len(), 100_000);
    // Table ids repeat where the data does (King County lists a house once per sale); reposts must
    // never reuse an id of the tables.
    let table_ids: std::collections::HashSet<_> = tables
        .iter()
        .map(|r| (r.source.clone(), r.source_listing_id.clone()))
        .collect();
    assert!(
        work[tables.len()..]
            .iter()
            .all(|r| !table_ids.contains(&(r.source.clone(), r.source_listing_id.clone())))
    );
    assert!(work[tables.len()..].iter().all(|r| {
        r.source_listing_id
            .as_deref()
            .is_some_and(|id| id.ends_with("-r1") || id.ends_with("-r2"))
    }));
}
