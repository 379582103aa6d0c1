//! `aiqleads ingest`: the legitimate feeds brokerages use, into the platform. A RESO Web API
//! (OData, bearer token, incremental by `ModificationTimestamp`) or a CSV / JSON-lines listing file
//! is read with the connectors' feed readers and published to `listings.raw`; rows that cannot
//! become listings go to `listings.dlq` with their row and reason. With the embedded bus the enrich
//! and dead-letter runners run in this process, as for `scrape`.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aiq_connectors::files::{ImportOptions, RowError, read_csv, read_json_lines};
use aiq_connectors::reso::{ResoClient, ResoConfig, ResoStats};
use aiq_schemas::{DeadLetter, RawListing, RejectReason, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::bus::{Bus, Producer, streams};
use crate::config::Config;
use crate::embedded::Downstream;
use crate::runner::RunStats;
use crate::{Error, Result};

/// Where listings come from.
#[derive(Debug)]
pub enum Feed {
    /// A RESO Web API resource; `since` pulls only records modified at or after it.
    Reso {
        config: Box<ResoConfig>,
        since: Option<DateTime<Utc>>,
    },
    /// A listing file: JSON lines when the name ends in `.jsonl`/`.ndjson`/`.json`, CSV otherwise.
    File { path: PathBuf },
}

/// What an ingest did.
#[derive(Debug)]
pub struct IngestSummary {
    pub feed: String,
    pub published: u64,
    pub rejected: u64,
    pub reso: Option<ResoStats>,
    pub enrich: Option<RunStats>,
    pub dead_letters_stored: u64,
    pub elapsed: Duration,
}

pub async fn run_ingest(mut config: Config, feed: Feed) -> Result<IngestSummary> {
    let started = Instant::now();
    let embedded = config.bus.url.starts_with("memory://");
    if embedded {
        // In-process offsets restart at 0 in every process: a consumer name of this run's own keeps
        // a later ingest into the same store from skipping its records as already committed.
        config.runner.consumer_name = format!(
            "{} ingest {}",
            config.runner.consumer_name,
            Utc::now().timestamp_micros()
        );
    }
    let bus = Bus::open(
        &config.bus.url,
        config.bus.channel_capacity.get(),
        &config.bus.kafka,
    )?;
    let downstream = if embedded {
        Some(Downstream::start(&config, &bus, |_| {}).await?)
    } else {
        None
    };
    let raw = bus.producer(streams::LISTINGS_RAW)?;
    let dlq = bus.producer(streams::LISTINGS_DLQ)?;
    bus.release_own_producers();

    let (name, published, rejected, reso) = match feed {
        Feed::Reso {
            config: reso_config,
            since,
        } => {
            let name = format!("reso {}", reso_config.base_url);
            let client = ResoClient::new(*reso_config).map_err(|e| Error::Config(e.to_string()))?;
            let (tx, mut rx) = mpsc::channel::<RawListing>(1024);
            let pull = tokio::spawn(async move { client.fetch_all(since, tx).await });
            let mut published = 0;
            while let Some(listing) = rx.recv().await {
                publish_listing(&raw, &listing).await?;
                published += 1;
            }
            let stats = pull
                .await
                .map_err(|e| Error::Internal(format!("RESO pull task: {e}")))?
                .map_err(|e| Error::Crawl(format!("RESO feed: {e}")))?;
            (name, published, 0, Some(stats))
        }
        Feed::File { path } => {
            let name = format!("file {}", path.display());
            let (published, rejected) = ingest_file(&path, &raw, &dlq).await?;
            (name, published, rejected, None)
        }
    };
    drop((raw, dlq));
    let (enrich, dead_letters_stored) = match downstream {
        Some(downstream) => {
            let outcome = downstream.finish().await?;
            (Some(outcome.enrich), outcome.dead_letters_stored)
        }
        None => (None, 0),
    };
    Ok(IngestSummary {
        feed: name,
        published,
        rejected,
        reso,
        enrich,
        dead_letters_stored,
        elapsed: started.elapsed(),
    })
}

async fn publish_listing(raw: &Producer, listing: &RawListing) -> Result<()> {
    let key = format!(
        "{}:{}",
        listing.source.as_deref().unwrap_or_default(),
        listing.source_listing_id.as_deref().unwrap_or_default()
    );
    let payload = serde_json::to_vec(listing)
        .map_err(|e| Error::Internal(format!("serialise listing: {e}")))?;
    Ok(raw.send(key.into_bytes(), payload).await?)
}

/// Reads the file row by row (never whole) and publishes each row or its rejection.
async fn ingest_file(path: &std::path::Path, raw: &Producer, dlq: &Producer) -> Result<(u64, u64)> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let name = path.to_string_lossy().into_owned();
    let options = ImportOptions::for_path(&name);
    let json_lines = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson" | "json")
    );
    let rows: Box<dyn Iterator<Item = std::result::Result<RawListing, RowError>> + Send> =
        if json_lines {
            Box::new(read_json_lines(BufReader::new(file), options))
        } else {
            Box::new(read_csv(file, options))
        };
    let (mut published, mut rejected) = (0, 0);
    for row in rows {
        match row {
            Ok(listing) => {
                publish_listing(raw, &listing).await?;
                published += 1;
            }
            Err(error) => {
                rejected += 1;
                let dead = DeadLetter {
                    stage: "import".into(),
                    reason: RejectReason::new(error.code(), error.to_string()),
                    source: Some("file".into()),
                    source_listing_id: None,
                    reference: format!("{name}:{}", error.line),
                    original: String::new(),
                    rejected_at: Utc::now(),
                    schema_version: SCHEMA_VERSION,
                };
                let payload = serde_json::to_vec(&dead)
                    .map_err(|e| Error::Internal(format!("serialise dead letter: {e}")))?;
                dlq.send(dead.reference.clone().into_bytes(), payload)
                    .await?;
            }
        }
    }
    Ok((published, rejected))
}

impl fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Ingested {} in {:.1}s",
            self.feed,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  listings published   {:>8}", self.published)?;
        writeln!(f, "  rows rejected        {:>8}", self.rejected)?;
        if let Some(reso) = &self.reso {
            writeln!(
                f,
                "  RESO pages           {:>8}   ({} retries)",
                reso.pages, reso.retries
            )?;
        }
        if let Some(run) = &self.enrich {
            writeln!(
                f,
                "  leads                {:>8}   ({} duplicates merged, {} quarantined, {} dead-lettered)",
                run.leads_out, run.duplicates_merged, run.quarantined, run.dead_lettered
            )?;
        }
        write!(f, "  dead letters stored  {:>8}", self.dead_letters_stored)
    }
}
