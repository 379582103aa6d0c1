//! The downstream half of the embedded deployment. With the in-process `memory://` bus there is no
//! broker to hold records for another process, so whoever publishes (the demo, `scrape`, `ingest`)
//! also runs the consumers: the enrich runner (pipeline -> store and lake) and the dead-letter
//! runner, both until their streams end.

use std::path::PathBuf;

use aiq_pipeline::LeadPipeline;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bus::{Bus, streams};
use crate::config::Config;
use crate::runner::{RunStats, Sinks, StopWhen, run_dead_letters, run_enrich};
use crate::sink::lake::LakeWriter;
use crate::sink::store::{Store, StoreCounts};
use crate::{Error, Result};

/// What the in-process consumers did, read back from what they wrote.
#[derive(Debug)]
pub struct DownstreamOutcome {
    pub enrich: RunStats,
    pub dead_letters_stored: u64,
    pub stored: StoreCounts,
    pub lake_dir: PathBuf,
    pub lake_files: Vec<PathBuf>,
    pub lake_rows: usize,
}

/// The running consumers.
pub struct Downstream {
    enrich: JoinHandle<Result<(RunStats, LakeWriter)>>,
    dead_letters: JoinHandle<Result<u64>>,
    store: Store,
}

impl Downstream {
    /// Opens the store and the lake, takes the consumers of `listings.raw` and `listings.dlq` from
    /// `bus`, and starts both runners. Call it before the bus releases its own producers.
    /// `progress` sees the running totals after every batch.
    pub async fn start(
        config: &Config,
        bus: &Bus,
        progress: impl FnMut(&RunStats) + Send + 'static,
    ) -> Result<Downstream> {
        let store = Store::open(&config.store.url, config.store.max_connections.get()).await?;
        let lake = LakeWriter::open(&config.lake)?;
        let mut raw = bus.consumer(streams::LISTINGS_RAW, &config.runner.consumer_name, None)?;
        let dead_letter_group = format!("{}.dead_letters", config.runner.consumer_name);
        let mut dlq = bus.consumer(streams::LISTINGS_DLQ, &dead_letter_group, None)?;
        let dead_letter_consumer = format!("{}.dead_letters", config.runner.consumer_name);
        let (dlq_store, dlq_runner) = (store.clone(), config.runner.clone());
        let dead_letters = tokio::spawn(async move {
            let mut stop = StopWhen::stream_end();
            run_dead_letters(
                &mut dlq,
                &dlq_store,
                &dlq_runner,
                &dead_letter_consumer,
                &mut stop,
            )
            .await
        });
        let (pipeline, runner, enrich_store) = (
            config.pipeline.clone(),
            config.runner.clone(),
            store.clone(),
        );
        let enrich = tokio::spawn(async move {
            let mut stage = LeadPipeline::new(&pipeline);
            let mut sinks = Sinks {
                store: Some(enrich_store),
                lake: Some(lake),
                ..Sinks::default()
            };
            // The in-process streams end when their producers finish; that is how this run stops.
            let (_stop, never_stop) = watch::channel(false);
            let stats = run_enrich(
                &mut stage, &mut raw, &mut sinks, &runner, never_stop, progress,
            )
            .await?;
            let lake = sinks
                .lake
                .take()
                .ok_or_else(|| Error::Internal("lake writer missing".into()))?;
            Ok((stats, lake))
        });
        Ok(Downstream {
            enrich,
            dead_letters,
            store,
        })
    }

    /// Waits for both runners to drain their streams, then reads back what was written.
    pub async fn finish(self) -> Result<DownstreamOutcome> {
        let (enrich, lake) = self
            .enrich
            .await
            .map_err(|e| Error::Internal(format!("enrich runner: {e}")))??;
        let dead_letters_stored = self
            .dead_letters
            .await
            .map_err(|e| Error::Internal(format!("dead-letter runner: {e}")))??;
        let stored = self.store.counts().await?;
        self.store.close().await;
        Ok(DownstreamOutcome {
            enrich,
            dead_letters_stored,
            stored,
            lake_dir: lake.root().to_owned(),
            lake_files: lake.files_written().to_vec(),
            lake_rows: lake.rows_written(),
        })
    }
}
