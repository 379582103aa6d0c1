//! `ingest` of a listing file through the embedded bus: good rows become leads in the store and the
//! lake, a malformed row becomes a dead letter with its line, nothing is lost.

use aiq_jobs::config::Config;
use aiq_jobs::ingest::{Feed, run_ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_feed_becomes_leads_and_its_bad_row_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("brokerage.csv");
    // Real rows of ../shared/data/tables/fsbo_forsalebyowner_2023_ca.csv, plus one broken row.
    std::fs::write(
        &csv,
        "Name,URL,Address,City,Zip,State,Price,Bath,Bed,SquareFt\n\
         \"14249 Burbank Boulevard Sherman Oaks, CA 91401\",https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314,14249 Burbank Boulevard,Sherman Oaks,91401,CA,1697000,7,7,0\n\
         broken row with too few fields\n\
         \"24303 Woolsey Cyn #6, Canoga Park, CA 91304\",https://www.forsalebyowner.com/listing/_/6365ca3460ad2b37ba0f0700,\"24303 Woolsey Cyn #6, Canoga Park, CA 91304\",Canoga Park,91304,CA,159900,2,3,1142\n",
    )
    .unwrap();
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
