//! normalise -> dedupe -> fraud -> price over 100,000 realistic raw listings built from the real
//! tables in ../shared/data/tables. Target: at least 200,000 listings per second per core, with
//! dedupe state under 300 bytes per active listing (printed before the timings).

use std::hint::black_box;

use aiq_benches::{fetched_at, shared_tables_dir, table_listings, workload};
use aiq_pipeline::normalise::normalise;
use aiq_pipeline::{LeadPipeline, PipelineConfig, Stage};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const LISTINGS: usize = 100_000;

fn pipeline(c: &mut Criterion) {
    let tables = table_listings(&shared_tables_dir())
        .expect("the shared tables are readable (is ../shared beside the repo?)");
    let raw = workload(&tables, LISTINGS);
    let now = fetched_at() + chrono::Duration::days(1);
    let config = PipelineConfig::default();
    let normalised: Vec<_> = raw.iter().filter_map(|r| normalise(r, now).ok()).collect();

    // Memory of the dedupe state after the whole workload (a figure, not a timing).
    let mut warm = LeadPipeline::new(&config);
    for r in &raw {
        let _ = warm.process(r, now);
    }
    let dedupe = warm.deduper();
    eprintln!(
        "dedupe state: {} bytes for {} active listings = {:.0} bytes per listing ({} of {} normalised)",
        dedupe.state_bytes(),
        dedupe.active_listings(),
        dedupe.state_bytes() as f64 / dedupe.active_listings().max(1) as f64,
        normalised.len(),
        raw.len()
    );

    let mut group = c.benchmark_group("pipeline_100k");
    group.throughput(Throughput::Elements(raw.len() as u64));
    group.sample_size(10);
    group.bench_function("normalise", |b| {
        b.iter(|| {
            for r in &raw {
                let _ = black_box(normalise(black_box(r), now));
            }
        })
    });
    group.bench_function("dedupe_fraud_price", |b| {
        b.iter_batched(
            || (LeadPipeline::new(&config), normalised.clone()),
            |(mut stage, listings)| {
                for listing in listings {
                    black_box(stage.enrich(listing, now));
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("normalise_dedupe_fraud_price", |b| {
        b.iter_batched(
            || LeadPipeline::new(&config),
            |mut stage| {
                for r in &raw {
                    let _ = black_box(stage.process(r, now));
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
