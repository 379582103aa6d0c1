//! The Postgres sink against a plain `COPY` of the same rows (`benches/sink/run.sh`):
//! `sink_bench POSTGRES_ADMIN_URL COUNT [BATCH]` builds COUNT leads by running the pipeline over
//! listings from the shared tables, then, each into a fresh database,
//! 1. writes them with `Store::write` in batches of BATCH (upserts, the per-property `leads` view and
//!    offsets in one transaction per batch: what the enrich job does), and
//! 2. writes the same end state with plain binary `COPY`: the listing rows into `listings` and the
//!    per-property rows the sink derives into `leads`, the real tables with all their indexes (the
//!    API's, including the generated full-text column), in one transaction;
//! 3. writes only the listing rows with one plain binary `COPY` into a copy of `listings` (half the
//!    work the sink does: no `leads` at all);
//!
//! and prints the rates and the sink's ratio to each (target: the sink at least 0.7 of COPY, which
//! compares like with like against 2).

use std::time::Instant;

use aiq_benches::{fetched_at, shared_tables_dir, table_listings, workload};
use aiq_jobs::sink::store::{Store, last_per_listing, survivor_rows};
use aiq_jobs::sink::{Offsets, SinkBatch, StreamPosition};
use aiq_pipeline::{LeadPipeline, PipelineConfig, Stage};
use sqlx::{Connection, PgConnection};

async fn fresh_database(admin: &str, name: &str) -> Result<String, String> {
    let mut connection = PgConnection::connect(admin)
        .await
        .map_err(|e| e.to_string())?;
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&statement)
            .execute(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
    }
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(admin);
    Ok(format!("{base}/{name}"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (admin, count, batch_size) = match args.as_slice() {
        [admin, count] => (admin.clone(), count.clone(), "10000".to_owned()),
        [admin, count, batch] => (admin.clone(), count.clone(), batch.clone()),
        _ => return Err("usage: sink_bench POSTGRES_ADMIN_URL COUNT [BATCH]".into()),
    };
    let count: usize = count.parse().map_err(|e| format!("COUNT: {e}"))?;
    let batch_size: usize = batch_size.parse().map_err(|e| format!("BATCH: {e}"))?;

    let tables = table_listings(&shared_tables_dir())?;
    let mut pipeline = LeadPipeline::new(&PipelineConfig::default());
    let now = fetched_at();
    let leads: Vec<_> = workload(&tables, count)
        .iter()
        .filter_map(|raw| pipeline.process(raw, now).ok())
        .map(|enriched| enriched.lead)
        .collect();
    println!("{} leads built from {count} raw listings", leads.len());

    let sink_url = fresh_database(&admin, "aiq_bench_sink").await?;
    let store = Store::open(&sink_url, 4).await.map_err(|e| e.to_string())?;
    let stream: std::sync::Arc<str> = std::sync::Arc::from("listings.by-block");
    let started = Instant::now();
    for (index, chunk) in leads.chunks(batch_size).enumerate() {
        let first = (index * batch_size) as i64;
        let positions: Vec<StreamPosition> = (0..chunk.len())
            .map(|i| StreamPosition {
                stream: stream.clone(),
                partition: 0,
                offset: first + i as i64,
            })
            .collect();
        let mut next_offsets = Offsets::new();
        next_offsets.insert((stream.to_string(), 0), first + chunk.len() as i64);
        store
            .write(
                "bench",
                &SinkBatch {
                    leads: chunk,
                    lead_positions: &positions,
                    relabels: &[],
                    relabel_positions: &[],
                    dead_letters: &[],
                    marketplace_events: &[],
                    next_offsets: &next_offsets,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let sink_seconds = started.elapsed().as_secs_f64();
    store.close().await;

    let end_state_url = fresh_database(&admin, "aiq_bench_end_state").await?;
    let Store::Postgres(end_state) = Store::open(&end_state_url, 1)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("the baseline needs Postgres".into());
    };
    // Listings fetched again (repeat sales in the tables) are one row in the end state.
    let listings = last_per_listing(&leads);
    let survivors = survivor_rows(&listings);
    let started = Instant::now();
    end_state
        .plain_copy_of_end_state(&listings, &survivors)
        .await
        .map_err(|e| e.to_string())?;
    let end_state_seconds = started.elapsed().as_secs_f64();
    end_state.pool().close().await;

    let copy_url = fresh_database(&admin, "aiq_bench_copy").await?;
    let Store::Postgres(baseline) = Store::open(&copy_url, 1).await.map_err(|e| e.to_string())?
    else {
        return Err("the baseline needs Postgres".into());
    };
    let started = Instant::now();
    baseline
        .plain_copy_baseline(&listings)
        .await
        .map_err(|e| e.to_string())?;
    let copy_seconds = started.elapsed().as_secs_f64();
    baseline.pool().close().await;

    let rate = |seconds: f64| leads.len() as f64 / seconds;
    println!(
        "Postgres sink: {:.1} s, {:.0} leads/s (batches of {batch_size}, one transaction each; \
         {} listings + {} property rows + offsets)",
        sink_seconds,
        rate(sink_seconds),
        listings.len(),
        survivors.len()
    );
    println!(
        "plain COPY of the same end state (listings + leads, all indexes): {:.1} s, {:.0} rows/s",
        end_state_seconds,
        rate(end_state_seconds)
    );
    println!(
        "plain COPY of the listing rows alone (no leads): {:.1} s, {:.0} rows/s",
        copy_seconds,
        rate(copy_seconds)
    );
    println!(
        "ratio {:.2} of COPY of the same end state (target >= 0.7); {:.2} of the listings-only COPY",
        end_state_seconds / sink_seconds,
        copy_seconds / sink_seconds
    );
    for name in ["aiq_bench_sink", "aiq_bench_end_state", "aiq_bench_copy"] {
        let mut connection = PgConnection::connect(&admin)
            .await
            .map_err(|e| e.to_string())?;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
    }
    Ok(())
}
