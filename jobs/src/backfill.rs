//! `aiqleads run backfill`: rebuilds the store's tables and views from the Parquet lake, for a new
//! or lost database, or one that fell behind the lake.
//!
//! Every lake row carries the input position it was processed at, and `property_merges` the merges
//! with theirs, so the store receives the same rows and merges in the same order as the enrich job
//! gave them, in batches through the same [`Store::write`]: the listings, the per-property `leads`
//! view and the market statistics come out as the enrich job left them (the tests compare every
//! column). Positions the store already holds (its `sink_offsets`) are skipped, so a backfill is
//! safe to repeat and only fills what is missing; afterwards the store's offsets are the lake's, and
//! the enrich job resumes after them. Dead letters are not in the lake: they stay where the
//! dead-letter job stored them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use aiq_kafka::streams;
use aiq_schemas::{Lead, lead_arrow_schema, property_merge_arrow_schema};
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use indicatif::ProgressBar;
use tracing::info;

use crate::compact::read_file;
use crate::config::Config;
use crate::sink::lake::codec::{MergeRow, record_batch_to_leads, record_batch_to_merges};
use crate::sink::lake::manifest::{ManifestLock, remove_orphans};
use crate::sink::lake::{LEADS, PROPERTY_MERGES, read_manifest};
use crate::sink::store::Store;
use crate::sink::{Offsets, SinkBatch, StreamPosition};
use crate::stream::Job;
use crate::{Error, Result};

/// What a backfill did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillStats {
    pub input_partitions: usize,
    pub leads_written: u64,
    pub merges_applied: u64,
    /// Rows below the store's offsets (already there).
    pub already_stored: u64,
    pub batches: u64,
}

/// The store consumer whose offsets cover `stream`: the enrich job's group for the repartitioned
/// topic, the embedded runner's name for raw listings read in-process.
pub fn consumer_for(stream: &str, config: &Config) -> String {
    if stream == streams::LISTINGS_BY_BLOCK {
        Job::Enrich.group(config)
    } else {
        config.runner.consumer_name.clone()
    }
}

/// Writes the lake at `config.lake.dir` into `store`, `batch_rows` leads per transaction.
/// `progress` counts lake rows.
pub async fn backfill(
    config: &Config,
    store: &Store,
    batch_rows: usize,
    progress: &ProgressBar,
) -> Result<BackfillStats> {
    let root = config.lake.dir.as_path();
    let entries = {
        let lock = ManifestLock::acquire(root)?;
        remove_orphans(root, &lock)?;
        read_manifest(root)?
    };
    // Per input partition: its files of each table and where the lake has reached.
    let mut partitions: BTreeMap<(String, i32), PartitionFiles> = BTreeMap::new();
    for entry in &entries {
        // The raw archive is not the store's input (its stream may not even be the store's).
        if entry.table != LEADS && entry.table != PROPERTY_MERGES {
            continue;
        }
        let files = partitions
            .entry((entry.stream.clone(), entry.partition))
            .or_default();
        files.lake_next = files.lake_next.max(entry.last_offset + 1);
        let list = if entry.table == LEADS {
            files.rows += entry.rows;
            &mut files.leads
        } else {
            &mut files.merges
        };
        if !list.contains(&entry.path) {
            list.push(entry.path.clone());
        }
    }
    progress.set_length(partitions.values().map(|p| p.rows as u64).sum());
    let mut stats = BackfillStats {
        input_partitions: partitions.len(),
        ..BackfillStats::default()
    };
    let mut store_offsets: HashMap<String, Offsets> = HashMap::new();
    for ((stream, partition), files) in &partitions {
        let consumer = consumer_for(stream, config);
        if !store_offsets.contains_key(&consumer) {
            let offsets = store.committed_offsets(&consumer).await?;
            store_offsets.insert(consumer.clone(), offsets);
        }
        let store_next = store_offsets[&consumer]
            .get(&(stream.clone(), *partition))
            .copied()
            .unwrap_or(0);
        let leads = read_leads(root, &files.leads, stream, *partition)?;
        let merges = read_merges(root, &files.merges, stream, *partition)?;
        let stored = PartitionBackfill {
            store,
            consumer: &consumer,
            stream: Arc::from(stream.as_str()),
            partition: *partition,
            store_next,
            lake_next: files.lake_next,
            batch_rows: batch_rows.max(1),
        }
        .run(leads, merges, progress, &mut stats)
        .await?;
        info!(stream, partition, stored, "input partition backfilled");
    }
    store.refresh_market_stats().await?;
    progress.finish_and_clear();
    Ok(stats)
}

#[derive(Default)]
struct PartitionFiles {
    leads: Vec<String>,
    merges: Vec<String>,
    rows: usize,
    lake_next: i64,
}

/// Keeps the rows of one input partition (compacted files hold several).
fn of_partition(
    batch: &arrow_array::RecordBatch,
    stream: &str,
    partition: i32,
) -> Result<arrow_array::RecordBatch> {
    let streams = batch
        .column_by_name("input_stream")
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| Error::Internal("lake batch lacks input_stream".into()))?;
    let partitions = batch
        .column_by_name("input_partition")
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
        .ok_or_else(|| Error::Internal("lake batch lacks input_partition".into()))?;
    if streams.null_count() > 0 || partitions.null_count() > 0 {
        return Err(Error::Internal(
            "a lake file predates input positions (written by an older version): its rows cannot \
             be ordered for a backfill"
                .into(),
        ));
    }
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|row| Some(streams.value(row) == stream && partitions.value(row) == partition))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}

fn read_leads(
    root: &Path,
    files: &[String],
    stream: &str,
    partition: i32,
) -> Result<Vec<(Lead, StreamPosition)>> {
    let schema = lead_arrow_schema();
    let mut rows = Vec::new();
    for file in files {
        for batch in read_file(&root.join(file), &schema)? {
            for (lead, position) in
                record_batch_to_leads(&of_partition(&batch, stream, partition)?)?
            {
                let position = position.ok_or_else(|| {
                    Error::Internal(format!("{file}: a row without its input position"))
                })?;
                rows.push((lead, position));
            }
        }
    }
    rows.sort_by_key(|(_, position)| position.offset);
    Ok(rows)
}

fn read_merges(
    root: &Path,
    files: &[String],
    stream: &str,
    partition: i32,
) -> Result<Vec<MergeRow>> {
    let schema = property_merge_arrow_schema();
    let mut rows = Vec::new();
    for file in files {
        for batch in read_file(&root.join(file), &schema)? {
            rows.extend(record_batch_to_merges(&of_partition(
                &batch, stream, partition,
            )?)?);
        }
    }
    rows.sort_by_key(|merge| (merge.offset, merge.seq));
    Ok(rows)
}

struct PartitionBackfill<'a> {
    store: &'a Store,
    consumer: &'a str,
    stream: Arc<str>,
    partition: i32,
    store_next: i64,
    lake_next: i64,
    batch_rows: usize,
}

impl PartitionBackfill<'_> {
    /// Writes the partition's rows and merges in offset order; returns the leads written.
    async fn run(
        &self,
        leads: Vec<(Lead, StreamPosition)>,
        merges: Vec<MergeRow>,
        progress: &ProgressBar,
        stats: &mut BackfillStats,
    ) -> Result<u64> {
        let mut merges = merges
            .into_iter()
            .filter(|m| m.offset >= self.store_next)
            .peekable();
        let mut written = 0u64;
        let mut batch_leads = Vec::with_capacity(self.batch_rows);
        let mut batch_positions = Vec::with_capacity(self.batch_rows);
        let mut rows = leads.into_iter().peekable();
        loop {
            batch_leads.clear();
            batch_positions.clear();
            while batch_leads.len() < self.batch_rows {
                let Some((lead, position)) = rows.next() else {
                    break;
                };
                progress.inc(1);
                if position.offset < self.store_next {
                    stats.already_stored += 1;
                    continue;
                }
                batch_leads.push(lead);
                batch_positions.push(position);
            }
            let last_batch = rows.peek().is_none();
            // A batch's merges: every merge decided at or before its last row; the last batch takes
            // what is left.
            let upto = if last_batch {
                i64::MAX
            } else {
                batch_positions.last().map_or(-1, |p| p.offset)
            };
            let mut relabels = Vec::new();
            let mut relabel_positions = Vec::new();
            while let Some(merge) = merges.next_if(|m| m.offset <= upto) {
                relabels.push(merge.relabel);
                relabel_positions.push(StreamPosition {
                    stream: Arc::clone(&self.stream),
                    partition: self.partition,
                    offset: merge.offset,
                });
            }
            let next = if last_batch {
                self.lake_next.max(self.store_next)
            } else {
                batch_positions
                    .last()
                    .map_or(self.store_next, |p| p.offset + 1)
            };
            if !batch_leads.is_empty()
                || !relabels.is_empty()
                || (last_batch && next > self.store_next)
            {
                let next_offsets =
                    Offsets::from([((self.stream.to_string(), self.partition), next)]);
                self.store
                    .write(
                        self.consumer,
                        &SinkBatch {
                            leads: &batch_leads,
                            lead_positions: &batch_positions,
                            relabels: &relabels,
                            relabel_positions: &relabel_positions,
                            dead_letters: &[],
                            marketplace_events: &[],
                            next_offsets: &next_offsets,
                        },
                    )
                    .await?;
                stats.batches += 1;
                stats.merges_applied += relabels.len() as u64;
                stats.leads_written += batch_leads.len() as u64;
                written += batch_leads.len() as u64;
            }
            if last_batch {
                return Ok(written);
            }
        }
    }
}
