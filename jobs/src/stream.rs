//! The streaming jobs (`aiqleads run <job>`). Scale-out is Kafka's: start several copies with the
//! same configuration and the partitions of their input spread among them.
//!
//! - `partition`: `listings.raw` -> decode, normalise -> `listings.by-block`, keyed by the dedupe
//!   partition key so that one property's candidates meet in one partition; rejects go to
//!   `listings.dlq`; every record as received into the lake's `raw_listings`, exactly once by
//!   position. At-least-once towards the topics: it tells Kafka how far the archive has committed,
//!   which is never past what the brokers acknowledged, and every output names its origin
//!   (partition/offset in `listings.raw`), so a record sent twice after a crash is recognised
//!   downstream. (Archiving here rather than in a job of its own spares the broker a second full
//!   read of `listings.raw`.)
//! - `enrich`: `listings.by-block` -> dedupe, fraud, price -> the store (the marketplace's views),
//!   the Parquet lake and `leads.enriched` / `leads.quarantine`. Exactly-once into the store (rows
//!   and offsets in one transaction) and the lake (files named by offset range, in a manifest).
//!   Each owned partition has its own pipeline state; on assignment it is rebuilt by replaying the
//!   partition up to the resume position (processing time is the record's timestamp, so the replay
//!   reproduces the state exactly), then the job resumes where both sinks have everything.
//! - `dead-letters`: `listings.dlq` -> the store's `dead_letters` table.
//! - `events`: `marketplace.events` (the API's views, cart adds, purchases) -> the store's
//!   `marketplace_events` table (demand in the market statistics), exactly once, and on into
//!   `listings.by-block`, keyed like the event's lead, where `enrich` counts it in pricing's demand
//!   in log order (a replay prices exactly as the first run did).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aiq_kafka::kafka::RevokeHook;
use aiq_kafka::{Bus, Consumer, Origin, OriginStream, Outgoing, Rebalanced, Record, streams};
use aiq_pipeline::dedupe::{event_partition_key, partition_key};
use aiq_pipeline::normalise::normalise;
use aiq_pipeline::{Enriched, LeadPipeline, PipelineConfig};
use aiq_schemas::{
    DeadLetter, LeadStatus, Listing, MarketplaceEvent, RejectReason, SCHEMA_VERSION,
};
use chrono::{DateTime, TimeZone, Utc};
use metrics::{counter, histogram};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::runner::{
    Activity, StopWhen, archive_row, check_schema_version, dead_letter, decode, run_dead_letters,
};
use crate::sink::lake::LakeWriter;
use crate::sink::store::{Generations, Store};
use crate::sink::{Offsets, SinkBatch, StreamPosition};
use crate::{Error, Result};

/// The streaming jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Job {
    Partition,
    Enrich,
    DeadLetters,
    Events,
}

impl Job {
    pub const ALL: [Job; 4] = [Job::Partition, Job::Enrich, Job::DeadLetters, Job::Events];

    pub fn name(self) -> &'static str {
        match self {
            Job::Partition => "partition",
            Job::Enrich => "enrich",
            Job::DeadLetters => "dead-letters",
            Job::Events => "events",
        }
    }

    /// The Kafka consumer group, which is also the name the store keeps the job's offsets under.
    pub fn group(self, config: &Config) -> String {
        format!("{}.{}", config.runner.consumer_name, self.name())
    }
}

/// How a job run ends besides a shutdown signal.
#[derive(Clone, Debug)]
pub struct JobOptions {
    /// Stop once no record arrived for this long after partitions were assigned (batch runs, tests,
    /// benchmarks). `None`: run until shut down.
    pub exit_when_idle: Option<Duration>,
    /// Shared by the jobs of one process: none stops for idleness while another still has work.
    pub activity: Arc<Activity>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            exit_when_idle: None,
            activity: Activity::new(),
        }
    }
}

/// What a job run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobStats {
    pub records_in: u64,
    pub records_out: u64,
    /// Records whose origin was already processed (sent twice by the partition job).
    pub repeats_dropped: u64,
    /// Records skipped because the sinks already held them (a resumed partition).
    pub already_stored: u64,
    pub dead_lettered: u64,
    pub quarantined: u64,
    /// Records replayed to rebuild partition state.
    pub replayed: u64,
    /// Marketplace events applied to pricing (enrich), or forwarded to `listings.by-block`
    /// (events).
    pub demand_events: u64,
    pub batches: u64,
}

/// Runs `job` until the shutdown signal, the end of an in-process stream, or the idle limit.
pub async fn run_job(
    job: Job,
    bus: &Bus,
    config: &Config,
    options: &JobOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<JobStats> {
    let mut stop =
        StopWhen::new(shutdown, options.exit_when_idle).sharing(Arc::clone(&options.activity));
    info!(job = job.name(), group = %job.group(config), "job starting");
    let stats = match job {
        Job::Partition => run_partition(bus, config, &mut stop).await?,
        Job::Enrich => run_enrich(bus, config, &mut stop).await?,
        Job::DeadLetters => {
            let store = Store::open(&config.store.url, config.store.max_connections.get()).await?;
            let group = job.group(config);
            let mut consumer = bus.consumer(streams::LISTINGS_DLQ, &group, None)?;
            let stored =
                run_dead_letters(&mut consumer, &store, &config.runner, &group, &mut stop).await?;
            store.close().await;
            JobStats {
                records_in: stored,
                records_out: stored,
                ..JobStats::default()
            }
        }
        Job::Events => run_events(bus, config, &mut stop).await?,
    };
    info!(job = job.name(), ?stats, "job stopped");
    Ok(stats)
}

/// Processing time of a record: its timestamp, so that a replay sees the same time.
fn record_time(record: &Record) -> DateTime<Utc> {
    record
        .timestamp_ms
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or_else(Utc::now)
}

fn next_offsets_by_partition(records: &[Record]) -> Vec<(i32, i64)> {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for record in records {
        let entry = next.entry(record.partition).or_insert(0);
        *entry = (*entry).max(record.offset + 1);
    }
    next.into_iter().collect()
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(format!("encode JSON: {e}")))
}

async fn run_partition(bus: &Bus, config: &Config, stop: &mut StopWhen) -> Result<JobStats> {
    let group = Job::Partition.group(config);
    let stream = streams::LISTINGS_RAW;
    let lake = Arc::new(Mutex::new(LakeWriter::open(&config.lake)?));
    let on_revoke = flush_before_revoke(&lake, stream);
    let mut consumer = bus.consumer(stream, &group, Some(on_revoke))?;
    let by_block = bus.producer(streams::LISTINGS_BY_BLOCK)?;
    let dead_letters = bus.producer(streams::LISTINGS_DLQ)?;
    let mut stats = JobStats::default();
    let mut assigned: HashSet<i32> = HashSet::new();
    let mut read_next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut last_commit: Vec<(i32, i64)> = Vec::new();
    while let Some(records) = stop.next_batch(&mut consumer, &config.runner).await {
        let rebalances = consumer.take_rebalances();
        for change in &rebalances {
            match change {
                // Its previous owner flushed before letting go: claim, then read what it committed.
                Rebalanced::Assigned(partitions) => {
                    let mut lake = lock(&lake);
                    for &partition in partitions {
                        lake.claim(stream, partition)?;
                        assigned.insert(partition);
                    }
                    lake.reload_manifest()?;
                }
                Rebalanced::Revoked(partitions) => {
                    for partition in partitions {
                        read_next.remove(partition);
                        assigned.remove(partition);
                    }
                }
            }
        }
        stop.note_rebalances(&rebalances);
        // Records of a partition that moved away while they were in flight belong to its new owner
        // (this member's archive of them would be fenced).
        let records: Vec<Record> = records
            .into_iter()
            .filter(|record| assigned.contains(&record.partition))
            .collect();
        if !records.is_empty() {
            let mut listings = Vec::with_capacity(records.len());
            let mut rejects = Vec::new();
            let mut archive = Vec::with_capacity(records.len());
            for record in &records {
                let origin = Some(Origin::raw_listing(record.partition, record.offset));
                let now = record_time(record);
                let decoded = decode(record);
                archive.push(archive_row(record, decoded.as_ref().ok(), now));
                let normalised = decoded.and_then(|raw| {
                    normalise(&raw, now)
                        .map_err(|reason| ("normalise", reason, Some(Box::new(raw))))
                });
                match normalised {
                    Ok(listing) => listings.push(Outgoing {
                        key: partition_key(&listing).into_bytes(),
                        payload: json(&listing)?,
                        schema_version: SCHEMA_VERSION,
                        timestamp_ms: record.timestamp_ms,
                        origin,
                    }),
                    Err((stage, reason, raw)) => {
                        counter!("aiq_dead_letters_total", "job" => "partition", "reason" => reason.code.clone())
                            .increment(1);
                        let letter = dead_letter(record, stage, reason, raw.as_deref(), now);
                        rejects.push(Outgoing {
                            key: record.key.clone(),
                            payload: json(&letter)?,
                            schema_version: SCHEMA_VERSION,
                            timestamp_ms: record.timestamp_ms,
                            origin,
                        });
                    }
                }
            }
            stats.records_in += records.len() as u64;
            stats.records_out += listings.len() as u64;
            stats.dead_lettered += rejects.len() as u64;
            stats.batches += 1;
            counter!("aiq_records_in_total", "job" => "partition").increment(records.len() as u64);
            counter!("aiq_records_out_total", "job" => "partition")
                .increment(listings.len() as u64);
            by_block.send_all(listings).await?;
            dead_letters.send_all(rejects).await?;
            // Archived only once the outputs are acknowledged: whatever the lake commits (and so
            // what Kafka is told below) has its outputs on the brokers.
            let mut lake = lock(&lake);
            lake.archive(archive)?;
            lake.flush_if_full()?;
            for (partition, next) in next_offsets_by_partition(&records) {
                read_next.insert(partition, next);
            }
        }
        flush_and_commit(
            &consumer,
            &lake,
            stream,
            &read_next,
            None,
            false,
            &mut last_commit,
        )?;
    }
    flush_and_commit(
        &consumer,
        &lake,
        stream,
        &read_next,
        None,
        true,
        &mut last_commit,
    )?;
    consumer.close();
    Ok(stats)
}

/// `events`: `marketplace.events` -> the store's `marketplace_events` (events, dead letters and
/// offsets in one transaction), the lake's `marketplace_events` (files by offset range), and
/// `listings.by-block` for pricing.
///
/// Each event that names a place is sent to `listings.by-block`, keyed like its lead's listings,
/// before the store commits it: the enrich job counts it in pricing in log order, so a replay prices
/// exactly as the first run did. Sending is at-least-once; each copy names its origin, and enrich
/// drops a copy it has seen. Kafka is told the lower of the store's and the lake's positions, so a
/// restart re-reads what the lake had not committed (the store skips it by offset).
async fn run_events(bus: &Bus, config: &Config, stop: &mut StopWhen) -> Result<JobStats> {
    let group = Job::Events.group(config);
    let stream = streams::MARKETPLACE_EVENTS;
    let store = Store::open(&config.store.url, config.store.max_connections.get()).await?;
    let lake = Arc::new(Mutex::new(LakeWriter::open(&config.lake)?));
    let on_revoke = flush_before_revoke(&lake, stream);
    let mut consumer = bus.consumer(stream, &group, Some(on_revoke))?;
    let to_pricing = bus.producer(streams::LISTINGS_BY_BLOCK)?;
    let mut stored_next = store.committed_offsets(&group).await?;
    let mut generations = Generations::new();
    let mut read_next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut last_commit: Vec<(i32, i64)> = Vec::new();
    let mut stats = JobStats::default();
    while let Some(records) = stop.next_batch(&mut consumer, &config.runner).await {
        let rebalances = consumer.take_rebalances();
        for change in &rebalances {
            match change {
                Rebalanced::Assigned(partitions) => {
                    for &partition in partitions {
                        let generation = store.claim(&group, stream, partition).await?;
                        generations.insert((stream.to_owned(), partition), generation);
                        lock(&lake).claim(stream, partition)?;
                    }
                    lock(&lake).reload_manifest()?;
                    stored_next = store.committed_offsets(&group).await?;
                }
                Rebalanced::Revoked(partitions) => {
                    for partition in partitions {
                        read_next.remove(partition);
                        generations.remove(&(stream.to_owned(), *partition));
                    }
                }
            }
        }
        stop.note_rebalances(&rebalances);
        // Records of a partition that moved away while they were in flight belong to its new owner.
        let held: HashSet<i32> = generations
            .keys()
            .map(|(_, partition)| *partition)
            .collect();
        let records: Vec<Record> = records
            .into_iter()
            .filter(|record| held.contains(&record.partition))
            .collect();
        if !records.is_empty() {
            let mut for_store = Vec::new();
            let mut for_lake = Vec::new();
            let mut forwards = Vec::new();
            let mut dead_letters = Vec::new();
            let mut next_offsets = Offsets::new();
            let now = Utc::now();
            for record in &records {
                let key = (record.stream.to_string(), record.partition);
                let stored = stored_next
                    .get(&key)
                    .is_some_and(|next| record.offset < *next);
                if !stored {
                    next_offsets.insert(key, record.offset + 1);
                }
                let position = StreamPosition {
                    stream: Arc::clone(&record.stream),
                    partition: record.partition,
                    offset: record.offset,
                };
                match decode_payload::<MarketplaceEvent>(record, "a marketplace event") {
                    Ok(event) if stored => for_lake.push((event, position)),
                    Ok(event) => {
                        if let Some(key) = event_partition_key(&event) {
                            forwards.push(Outgoing {
                                key: key.into_bytes(),
                                payload: json(&event)?,
                                schema_version: SCHEMA_VERSION,
                                timestamp_ms: record.timestamp_ms,
                                origin: Some(Origin::marketplace_event(
                                    record.partition,
                                    record.offset,
                                )),
                            });
                        }
                        for_store.push(event.clone());
                        for_lake.push((event, position));
                    }
                    Err(_) if stored => {}
                    Err(reason) => {
                        counter!("aiq_dead_letters_total", "job" => "events", "reason" => reason.code.clone())
                            .increment(1);
                        let letter =
                            dead_letter(record, "marketplace_event_decode", reason, None, now);
                        dead_letters.push((letter, position));
                    }
                }
            }
            stats.records_in += records.len() as u64;
            stats.batches += 1;
            counter!("aiq_records_in_total", "job" => "events").increment(records.len() as u64);
            lock(&lake).record_events(for_lake);
            if !next_offsets.is_empty() {
                stats.demand_events += forwards.len() as u64;
                to_pricing.send_all(forwards).await?;
                let batch_generations: Generations = next_offsets
                    .keys()
                    .filter_map(|key| Some((key.clone(), *generations.get(key)?)))
                    .collect();
                store
                    .write_as_owner(
                        &group,
                        &batch_generations,
                        &SinkBatch {
                            leads: &[],
                            lead_positions: &[],
                            relabels: &[],
                            relabel_positions: &[],
                            dead_letters: &dead_letters,
                            marketplace_events: &for_store,
                            next_offsets: &next_offsets,
                        },
                    )
                    .await?;
                stats.records_out += for_store.len() as u64;
                stats.dead_lettered += dead_letters.len() as u64;
                counter!("aiq_records_out_total", "job" => "events")
                    .increment(for_store.len() as u64);
                stored_next.extend(next_offsets);
            }
            for (partition, next) in next_offsets_by_partition(&records) {
                read_next.insert(partition, next);
            }
            lock(&lake).flush_if_full()?;
        }
        let stored = Some(&stored_next);
        flush_and_commit(
            &consumer,
            &lake,
            stream,
            &read_next,
            stored,
            false,
            &mut last_commit,
        )?;
    }
    let stored = Some(&stored_next);
    flush_and_commit(
        &consumer,
        &lake,
        stream,
        &read_next,
        stored,
        true,
        &mut last_commit,
    )?;
    consumer.close();
    store.close().await;
    Ok(stats)
}

/// Where a job that reads `stream` into the lake (and, with `stored_next`, the store) stands for
/// Kafka: what the lake has written (all of it once `flush_all`), then per partition read the lowest
/// of what was read and what every sink has committed. Commits it when it moved since
/// `last_commit`; a restart resumes there, and the sinks skip what they already hold.
fn flush_and_commit(
    consumer: &Consumer,
    lake: &Mutex<LakeWriter>,
    stream: &str,
    read_next: &BTreeMap<i32, i64>,
    stored_next: Option<&Offsets>,
    flush_all: bool,
    last_commit: &mut Vec<(i32, i64)>,
) -> Result<()> {
    let positions: Vec<(i32, i64)> = {
        let mut lake = lock(lake);
        if flush_all {
            lake.flush()?;
        } else {
            lake.flush_if_due()?;
        }
        read_next
            .iter()
            .map(|(&partition, &next)| {
                let stored = stored_next.map_or(i64::MAX, |stored| {
                    stored
                        .get(&(stream.to_owned(), partition))
                        .copied()
                        .unwrap_or(0)
                });
                let committed = lake.committed_next(stream, partition);
                (partition, next.min(stored).min(committed))
            })
            .collect()
    };
    if flush_all || positions != *last_commit {
        consumer.commit(&positions)?;
        *last_commit = positions;
    }
    Ok(())
}

/// One owned partition of `listings.by-block`: its pipeline and where it stands.
struct PartitionState {
    pipeline: LeadPipeline,
    /// Per origin partition (of `listings.raw` or `marketplace.events`), the next origin offset not
    /// yet seen.
    origin_next: HashMap<(OriginStream, i32), i64>,
    /// The next offset to process.
    next: i64,
    /// The next offset the store does not hold yet.
    store_next: i64,
    /// The offset last sought back to (a second gap there means the records are gone).
    sought: Option<i64>,
    /// The owner generation this member claimed the partition at: the sinks refuse its writes
    /// once another member has claimed it since.
    generation: i64,
}

/// What one record did to its partition's state.
enum Applied {
    /// Its origin was already processed.
    Repeat,
    Lead(Box<Enriched>),
    /// A marketplace event, counted in pricing's demand.
    Demand,
    Rejected(RejectReason),
}

impl PartitionState {
    fn new(config: &PipelineConfig) -> Self {
        PartitionState {
            pipeline: LeadPipeline::new(config),
            origin_next: HashMap::new(),
            next: 0,
            store_next: 0,
            sought: None,
            generation: 0,
        }
    }

    /// The one place state changes, live and in replay alike.
    fn apply(&mut self, record: &Record) -> Applied {
        if let Some(origin) = record.origin {
            let next = self
                .origin_next
                .entry((origin.stream, origin.partition))
                .or_insert(0);
            if origin.offset < *next {
                return Applied::Repeat;
            }
            *next = origin.offset + 1;
            if origin.stream == OriginStream::MarketplaceEvents {
                return match decode_payload::<MarketplaceEvent>(record, "a marketplace event") {
                    Ok(mut event) => {
                        // The record's time bounds the event's: an event dated in the future
                        // would slide every area's demand window past the present.
                        event.at = event.at.min(record_time(record));
                        self.pipeline.record_event(&event);
                        Applied::Demand
                    }
                    Err(reason) => Applied::Rejected(reason),
                };
            }
        }
        match decode_payload::<Listing>(record, "a normalised listing object") {
            Ok(listing) => {
                Applied::Lead(Box::new(self.pipeline.enrich(listing, record_time(record))))
            }
            Err(reason) => Applied::Rejected(reason),
        }
    }
}

/// A `listings.by-block` payload of the current (or an older) schema version.
fn decode_payload<T: serde::de::DeserializeOwned>(
    record: &Record,
    what: &str,
) -> std::result::Result<T, RejectReason> {
    check_schema_version(record).and_then(|()| {
        serde_json::from_slice::<T>(&record.payload)
            .map_err(|e| RejectReason::new("invalid_json", format!("not {what}: {e}")))
    })
}

/// Runs inside a rebalance, before the partitions of `stream` move: everything processed for them
/// reaches the lake, so their next owner resumes after it. If the flush fails, their buffered rows
/// are dropped and the next owner writes them again.
fn flush_before_revoke(lake: &Arc<Mutex<LakeWriter>>, stream: &'static str) -> RevokeHook {
    let lake = Arc::clone(lake);
    Box::new(move |partitions| {
        let mut lake = lock(&lake);
        if let Err(error) = lake.flush() {
            error!(%error, stream, "lake flush before a rebalance failed; the next owner rewrites those rows");
            lake.discard_buffered(stream, partitions);
        }
    })
}

fn lock(lake: &Mutex<LakeWriter>) -> MutexGuard<'_, LakeWriter> {
    lake.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Rebuilds partition `partition`'s state and returns it positioned at the resume offset: the
/// lower of what the store and the lake hold, so neither misses a row.
async fn restore(
    bus: &Bus,
    store: &Store,
    lake: &Mutex<LakeWriter>,
    config: &Config,
    group: &str,
    partition: i32,
) -> Result<(PartitionState, u64)> {
    let started = Instant::now();
    let stream = streams::LISTINGS_BY_BLOCK;
    // Claim first: a previous owner that has not noticed it lost the partition can no longer commit
    // after the positions below are read.
    let generation = store.claim(group, stream, partition).await?;
    lock(lake).claim(stream, partition)?;
    let store_next = store
        .committed_offsets(group)
        .await?
        .get(&(stream.to_owned(), partition))
        .copied()
        .unwrap_or(0);
    let lake_next = {
        let mut lake = lock(lake);
        lake.reload_manifest()?;
        lake.committed_next(stream, partition)
    };
    let resume = store_next.min(lake_next);
    let mut state = PartitionState::new(&config.pipeline);
    let mut expected = 0;
    let mut gaps = 0u64;
    let replayed = bus
        .read_partition(stream, partition, resume, |record| {
            gaps += u64::from(record.offset != expected);
            expected = record.offset + 1;
            let _ = state.apply(&record);
        })
        .await?;
    if gaps > 0 || expected < resume {
        // Only retention or deletion removes records (`listings.by-block` is kept): a state rebuilt
        // without them would silently differ, so the job stops and says why.
        return Err(Error::Internal(format!(
            "{stream}/{partition}: the broker no longer holds the partition's full history \
             ({gaps} gaps before offset {resume}); its dedupe state cannot be rebuilt"
        )));
    }
    state.next = resume;
    state.store_next = store_next;
    state.generation = generation;
    histogram!("aiq_state_restore_seconds").record(started.elapsed().as_secs_f64());
    info!(
        partition,
        store_next,
        lake_next,
        replayed,
        elapsed = ?started.elapsed(),
        "partition state rebuilt"
    );
    Ok((state, replayed))
}

/// A batch's output, split by sink (the store may already hold part of what the lake needs).
#[derive(Default)]
struct EnrichOutput {
    lake_leads: Vec<aiq_schemas::Lead>,
    lake_positions: Vec<StreamPosition>,
    lake_relabels: Vec<aiq_pipeline::dedupe::Relabel>,
    lake_relabel_positions: Vec<StreamPosition>,
    store_leads: Vec<aiq_schemas::Lead>,
    store_positions: Vec<StreamPosition>,
    store_relabels: Vec<aiq_pipeline::dedupe::Relabel>,
    store_relabel_positions: Vec<StreamPosition>,
    dead_letters: Vec<(DeadLetter, StreamPosition)>,
    store_next: Offsets,
    enriched: Vec<Outgoing>,
    quarantined: Vec<Outgoing>,
}

async fn run_enrich(bus: &Bus, config: &Config, stop: &mut StopWhen) -> Result<JobStats> {
    let group = Job::Enrich.group(config);
    let stream: Arc<str> = Arc::from(streams::LISTINGS_BY_BLOCK);
    let store = Store::open(&config.store.url, config.store.max_connections.get()).await?;
    let lake = Arc::new(Mutex::new(LakeWriter::open(&config.lake)?));
    let on_revoke = flush_before_revoke(&lake, streams::LISTINGS_BY_BLOCK);
    let mut consumer = bus.consumer(&stream, &group, Some(on_revoke))?;
    let enriched_out = bus.producer(streams::LEADS_ENRICHED)?;
    let quarantine_out = bus.producer(streams::LEADS_QUARANTINE)?;
    let mut states: HashMap<i32, PartitionState> = HashMap::new();
    let mut stats = JobStats::default();
    let mut stats_refreshed = Instant::now();
    while let Some(records) = stop.next_batch(&mut consumer, &config.runner).await {
        let rebalances = consumer.take_rebalances();
        for change in &rebalances {
            match change {
                Rebalanced::Assigned(partitions) => {
                    for &partition in partitions {
                        let (state, replayed) =
                            restore(bus, &store, &lake, config, &group, partition).await?;
                        stats.replayed += replayed;
                        states.insert(partition, state);
                    }
                }
                Rebalanced::Revoked(partitions) => {
                    for partition in partitions {
                        states.remove(partition);
                    }
                }
            }
        }
        // The quiet spell counts from when the partitions are ready: a long replay is work, not
        // idleness (counting it stopped batch runs before their records).
        stop.note_rebalances(&rebalances);
        if records.is_empty() {
            // Quiet: write rows that waited long enough.
            lock(&lake).flush_if_due()?;
            continue;
        }
        let output = process(&records, &stream, &mut states, &consumer, &mut stats)?;
        // Topics first: a crash before the store commits re-sends them, and the compacted topics keep
        // one record per key anyway. After the commit they would never be sent again.
        enriched_out.send_all(output.enriched).await?;
        quarantine_out.send_all(output.quarantined).await?;
        lock(&lake).write(&SinkBatch {
            leads: &output.lake_leads,
            lead_positions: &output.lake_positions,
            relabels: &output.lake_relabels,
            relabel_positions: &output.lake_relabel_positions,
            dead_letters: &[],
            marketplace_events: &[],
            next_offsets: &Offsets::new(),
        })?;
        if !output.store_next.is_empty() {
            let started = Instant::now();
            let generations: Generations = output
                .store_next
                .keys()
                .filter_map(|(stream, partition)| {
                    let state = states.get(partition)?;
                    Some(((stream.clone(), *partition), state.generation))
                })
                .collect();
            store
                .write_as_owner(
                    &group,
                    &generations,
                    &SinkBatch {
                        leads: &output.store_leads,
                        lead_positions: &output.store_positions,
                        relabels: &output.store_relabels,
                        relabel_positions: &output.store_relabel_positions,
                        dead_letters: &output.dead_letters,
                        marketplace_events: &[],
                        next_offsets: &output.store_next,
                    },
                )
                .await?;
            histogram!("aiq_store_commit_seconds").record(started.elapsed().as_secs_f64());
            for ((_, partition), next) in &output.store_next {
                if let Some(state) = states.get_mut(partition) {
                    state.store_next = *next;
                }
            }
        }
        stats.batches += 1;
        consumer.commit(&durable_positions(&states, &lake, &stream))?;
        if stats_refreshed.elapsed() >= config.store.market_stats_refresh {
            store.refresh_market_stats().await?;
            stats_refreshed = Instant::now();
        }
    }
    store.refresh_market_stats().await?;
    lock(&lake).flush()?;
    consumer.commit(&durable_positions(&states, &lake, &stream))?;
    consumer.close();
    store.close().await;
    Ok(stats)
}

/// Per owned partition, the offset both sinks have reached: what Kafka is told.
fn durable_positions(
    states: &HashMap<i32, PartitionState>,
    lake: &Mutex<LakeWriter>,
    stream: &str,
) -> Vec<(i32, i64)> {
    let lake = lock(lake);
    states
        .iter()
        .map(|(partition, state)| {
            (
                *partition,
                state
                    .store_next
                    .min(lake.committed_next(stream, *partition)),
            )
        })
        .collect()
}

fn process(
    records: &[Record],
    stream: &Arc<str>,
    states: &mut HashMap<i32, PartitionState>,
    consumer: &Consumer,
    stats: &mut JobStats,
) -> Result<EnrichOutput> {
    let mut out = EnrichOutput::default();
    let mut resync: HashSet<i32> = HashSet::new();
    let mut records_in = 0u64;
    for record in records {
        let partition = record.partition;
        if resync.contains(&partition) {
            continue;
        }
        // Records of a partition that moved away while they were in flight belong to its new owner.
        let Some(state) = states.get_mut(&partition) else {
            continue;
        };
        if record.offset < state.next {
            stats.already_stored += 1;
            continue;
        }
        if record.offset > state.next {
            if state.sought == Some(state.next) {
                // Asked for them and still not there: the broker no longer has them.
                return Err(Error::Internal(format!(
                    "{stream}/{partition}: offsets {} to {} are gone from the broker (retention or \
                     deletion); the partition's state cannot be rebuilt without them",
                    state.next,
                    record.offset - 1
                )));
            }
            // The group's position was ahead of the sinks: go back rather than lose records.
            warn!(
                partition,
                expected = state.next,
                got = record.offset,
                "records missing: seeking back"
            );
            consumer.seek(partition, state.next)?;
            state.sought = Some(state.next);
            resync.insert(partition);
            continue;
        }
        state.next = record.offset + 1;
        records_in += 1;
        let for_store = record.offset >= state.store_next;
        if for_store {
            out.store_next
                .insert((stream.to_string(), partition), record.offset + 1);
        }
        let position = StreamPosition {
            stream: Arc::clone(stream),
            partition,
            offset: record.offset,
        };
        match state.apply(record) {
            Applied::Repeat => stats.repeats_dropped += 1,
            Applied::Demand => stats.demand_events += 1,
            Applied::Lead(enriched) => {
                let Enriched { lead, relabels, .. } = *enriched;
                stats.records_out += 1;
                if for_store {
                    let key = format!("{}:{}", lead.listing.source, lead.listing.source_listing_id)
                        .into_bytes();
                    let message = Outgoing {
                        key,
                        payload: json(&lead)?,
                        schema_version: SCHEMA_VERSION,
                        timestamp_ms: record.timestamp_ms,
                        origin: record.origin,
                    };
                    if lead.status == LeadStatus::Quarantined {
                        stats.quarantined += 1;
                        out.quarantined.push(message);
                    } else {
                        out.enriched.push(message);
                    }
                    out.store_relabels.extend(relabels.iter().cloned());
                    out.store_relabel_positions
                        .extend(relabels.iter().map(|_| position.clone()));
                    out.store_leads.push(lead.clone());
                    out.store_positions.push(position.clone());
                }
                out.lake_relabel_positions
                    .extend(relabels.iter().map(|_| position.clone()));
                out.lake_relabels.extend(relabels);
                out.lake_leads.push(lead);
                out.lake_positions.push(position);
            }
            Applied::Rejected(reason) => {
                stats.dead_lettered += 1;
                counter!("aiq_dead_letters_total", "job" => "enrich", "reason" => reason.code.clone())
                    .increment(1);
                if for_store {
                    let letter = dead_letter(record, "decode", reason, None, record_time(record));
                    out.dead_letters.push((letter, position));
                }
            }
        }
    }
    stats.records_in += records_in;
    counter!("aiq_records_in_total", "job" => "enrich").increment(records_in);
    counter!("aiq_records_out_total", "job" => "enrich").increment(out.lake_leads.len() as u64);
    Ok(out)
}
