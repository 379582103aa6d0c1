//! The one generic runner: consume a batch, decode, run the stage, write every sink, commit offsets.
//! The embedded `memory://` bus, Kafka and a file all feed it the same [`Record`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiq_pipeline::{Enriched, LeadPipeline, Stage};
use aiq_schemas::{DeadLetter, Lead, MarketplaceEvent, RawListing, RejectReason, SCHEMA_VERSION};
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::Result;
use crate::bus::{Consumer, Record};
use crate::config::RunnerConfig;
use crate::sink::jsonl::{DeadLetterWriter, JsonLinesWriter};
use crate::sink::lake::{LakeWriter, RawArchiveRow};
use crate::sink::store::Store;
use crate::sink::{Offsets, SinkBatch, StreamPosition};
use aiq_kafka::Rebalanced;

/// What a run did, for progress lines and the final summary.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub records_in: u64,
    /// Records skipped because a sink had already committed them (a resumed run).
    pub already_committed: u64,
    pub leads_out: u64,
    pub duplicates_merged: u64,
    pub property_merges: u64,
    pub quarantined: u64,
    pub dead_lettered: u64,
    pub dead_letters_by_reason: BTreeMap<String, u64>,
    /// Lead prices of active (sellable) leads, for the price distribution.
    pub active_prices: Vec<u32>,
    pub batches: u64,
    /// Marketplace events counted in pricing.
    pub demand_events: u64,
}

/// The sinks a run writes; any may be absent.
#[derive(Default)]
pub struct Sinks {
    pub store: Option<Store>,
    pub lake: Option<LakeWriter>,
    pub jsonl: Option<JsonLinesWriter>,
    /// Dead letters as JSON lines (runs without a store).
    pub dead_letter_file: Option<DeadLetterWriter>,
}

/// How often the runner reads the marketplace events recorded in the store since its last look.
const DEMAND_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Events read per query.
const DEMAND_PAGE: i64 = 10_000;
/// The stream name the lake records the store's `marketplace_events` rows under (partition 0, the
/// row id as offset), so each row reaches the lake once whatever run reads it.
pub const STORE_EVENTS_STREAM: &str = "store.marketplace_events";

/// Follows the store's `marketplace_events` (what the embedded API records): into pricing, the
/// demand window's events at the start and then, before a batch and at most once per
/// [`DEMAND_POLL_INTERVAL`], the events written since; into the lake's `marketplace_events`, every
/// row the lake does not hold yet.
///
/// The embedded run keeps no state between runs (the in-process bus holds nothing after it), so
/// reading demand from the store as it goes is exact enough here. The Kafka jobs instead carry events
/// in `listings.by-block`, so that replaying a partition prices exactly as the first run did.
struct DemandFollower {
    /// The last row read; `None` before the first look.
    after_id: Option<i64>,
    polled: Option<Instant>,
}

impl DemandFollower {
    async fn catch_up(
        &mut self,
        store: &Store,
        mut lake: Option<&mut LakeWriter>,
        stage: &mut LeadPipeline,
        stats: &mut RunStats,
    ) -> Result<()> {
        if self
            .polled
            .is_some_and(|at| at.elapsed() < DEMAND_POLL_INTERVAL)
        {
            return Ok(());
        }
        self.polled = Some(Instant::now());
        let now = Utc::now();
        let window = chrono::Duration::from_std(stage.pricer().config().demand_window)
            .unwrap_or(chrono::Duration::MAX);
        let window_start = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let stream: Arc<str> = Arc::from(STORE_EVENTS_STREAM);
        let mut price = |mut event: MarketplaceEvent| {
            if event.at >= window_start {
                // A clock ahead of this one must not slide the demand windows past the present.
                event.at = event.at.min(now);
                stage.record_event(&event);
                stats.demand_events += 1;
            }
        };
        let to_lake = |lake: &mut Option<&mut LakeWriter>, id: i64, event: &MarketplaceEvent| {
            if let Some(lake) = lake.as_deref_mut() {
                let position = StreamPosition {
                    stream: Arc::clone(&stream),
                    partition: 0,
                    offset: id,
                };
                lake.record_events([(event.clone(), position)]);
            }
        };
        let after_id = match self.after_id {
            Some(after_id) => {
                read_events(store, after_id, DateTime::<Utc>::UNIX_EPOCH, |id, event| {
                    to_lake(&mut lake, id, &event);
                    price(event);
                })
                .await?
            }
            None => {
                // Pricing wants the window; the lake, every row from where it stands.
                let priced_up_to =
                    read_events(store, 0, window_start, |_, event| price(event)).await?;
                let lake_from = lake
                    .as_deref()
                    .map(|lake| lake.committed_next(STORE_EVENTS_STREAM, 0) - 1);
                match lake_from {
                    Some(from) => {
                        let last =
                            read_events(store, from, DateTime::<Utc>::UNIX_EPOCH, |id, event| {
                                to_lake(&mut lake, id, &event);
                                // Written while the window was read: not priced yet.
                                if id > priced_up_to {
                                    price(event);
                                }
                            })
                            .await?;
                        last.max(priced_up_to)
                    }
                    None => priced_up_to,
                }
            }
        };
        self.after_id = Some(after_id);
        Ok(())
    }
}

/// Hands `each` the store's events with an id above `after_id` at or after `since` (the epoch for
/// all: Postgres cannot bind chrono's minimum), in id order;
/// returns the last id read (`after_id` when there was none).
async fn read_events(
    store: &Store,
    mut after_id: i64,
    since: DateTime<Utc>,
    mut each: impl FnMut(i64, MarketplaceEvent),
) -> Result<i64> {
    loop {
        let page = store
            .marketplace_events_after(after_id, since, DEMAND_PAGE)
            .await?;
        let full = page.len() as i64 == DEMAND_PAGE;
        for (id, event) in page {
            after_id = id;
            each(id, event);
        }
        if !full {
            return Ok(after_id);
        }
    }
}

/// Consumes until the stream ends or `shutdown` turns true, then flushes every sink. With a store,
/// pricing counts the marketplace events the store records ([`DemandFollower`]).
pub async fn run_enrich(
    stage: &mut LeadPipeline,
    consumer: &mut Consumer,
    sinks: &mut Sinks,
    config: &RunnerConfig,
    mut shutdown: watch::Receiver<bool>,
    mut progress: impl FnMut(&RunStats),
) -> Result<RunStats> {
    let mut stats = RunStats::default();
    let mut committed: Offsets = match &sinks.store {
        Some(store) => store.committed_offsets(&config.consumer_name).await?,
        None => Offsets::default(),
    };
    let mut demand = DemandFollower {
        after_id: None,
        polled: None,
    };
    loop {
        if let Some(store) = &sinks.store {
            demand
                .catch_up(store, sinks.lake.as_mut(), stage, &mut stats)
                .await?;
        }
        let batch = tokio::select! {
            batch = consumer.next_batch(config.batch_size.get(), config.batch_linger) => batch,
            _ = shutdown.wait_for(|stop| *stop) => {
                info!("shutdown requested: draining and committing what was processed");
                None
            }
        };
        let Some(records) = batch else { break };
        process_batch(stage, &records, sinks, config, &mut committed, &mut stats).await?;
        progress(&stats);
    }
    if let Some(lake) = &mut sinks.lake {
        lake.flush()?;
    }
    if let Some(jsonl) = sinks.jsonl.take() {
        jsonl.finish()?;
    }
    if let Some(file) = sinks.dead_letter_file.take() {
        file.finish()?;
    }
    Ok(stats)
}

async fn process_batch<S>(
    stage: &mut S,
    records: &[Record],
    sinks: &mut Sinks,
    config: &RunnerConfig,
    committed: &mut Offsets,
    stats: &mut RunStats,
) -> Result<()>
where
    S: Stage<In = RawListing, Out = Enriched>,
{
    let now = Utc::now();
    let mut leads: Vec<Lead> = Vec::with_capacity(records.len());
    let mut positions = Vec::with_capacity(records.len());
    let mut relabels = Vec::new();
    let mut relabel_positions = Vec::new();
    let mut archive = Vec::new();
    let mut dead_letters = Vec::new();
    let mut next_offsets = Offsets::new();
    for record in records {
        let key = (record.stream.to_string(), record.partition);
        if committed
            .get(&key)
            .is_some_and(|next| record.offset < *next)
        {
            stats.already_committed += 1;
            continue;
        }
        next_offsets.insert(key, record.offset + 1);
        stats.records_in += 1;
        let position = StreamPosition {
            stream: Arc::clone(&record.stream),
            partition: record.partition,
            offset: record.offset,
        };
        let decoded = decode(record);
        if sinks.lake.is_some() {
            archive.push(archive_row(record, decoded.as_ref().ok(), now));
        }
        match decoded.and_then(|raw| {
            stage
                .process(&raw, now)
                .map_err(|reason| ("normalise", reason, Some(Box::new(raw))))
        }) {
            Ok(enriched) => {
                stats.leads_out += 1;
                stats.duplicates_merged += u64::from(enriched.duplicate);
                stats.property_merges += enriched.relabels.len() as u64;
                if enriched.lead.status == aiq_schemas::LeadStatus::Quarantined {
                    stats.quarantined += 1;
                } else {
                    stats.active_prices.push(enriched.lead.lead_price);
                }
                relabel_positions.extend(enriched.relabels.iter().map(|_| position.clone()));
                relabels.extend(enriched.relabels);
                leads.push(enriched.lead);
                positions.push(position);
            }
            Err((stage_name, reason, raw)) => {
                debug!(stream = %record.stream, offset = record.offset, reason = %reason, "record dead-lettered");
                stats.dead_lettered += 1;
                *stats
                    .dead_letters_by_reason
                    .entry(reason.code.clone())
                    .or_default() += 1;
                dead_letters.push((
                    dead_letter(record, stage_name, reason, raw.as_deref(), now),
                    position,
                ));
            }
        }
    }
    stage.on_batch_end(now);
    if next_offsets.is_empty() {
        return Ok(());
    }
    let batch = SinkBatch {
        leads: &leads,
        lead_positions: &positions,
        relabels: &relabels,
        relabel_positions: &relabel_positions,
        dead_letters: &dead_letters,
        marketplace_events: &[],
        next_offsets: &next_offsets,
    };
    // The lake and the JSON file are written before the store commits the offsets: after a crash the
    // batch is re-read, and the lake's manifest and the store's upserts make the replay a no-op.
    if let Some(lake) = &mut sinks.lake {
        lake.archive(archive)?;
        lake.write(&batch)?;
    }
    if let Some(jsonl) = &mut sinks.jsonl {
        jsonl.write(&batch)?;
    }
    if let Some(file) = &mut sinks.dead_letter_file {
        file.write(&batch)?;
    }
    if let Some(store) = &sinks.store {
        store.write(&config.consumer_name, &batch).await?;
    }
    committed.extend(next_offsets);
    stats.batches += 1;
    Ok(())
}

/// A record as the lake's raw archive keeps it: its position and bytes, its timestamp (`fallback`
/// when the bus has none), and its source and id where it decoded.
pub(crate) fn archive_row(
    record: &Record,
    raw: Option<&RawListing>,
    fallback: DateTime<Utc>,
) -> RawArchiveRow {
    RawArchiveRow {
        position: StreamPosition {
            stream: Arc::clone(&record.stream),
            partition: record.partition,
            offset: record.offset,
        },
        received_at: record
            .timestamp_ms
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(fallback)
            .trunc_subsecs(6),
        schema_version: record.schema_version,
        source: raw.and_then(|r| r.source.clone()),
        source_listing_id: raw.and_then(|r| r.source_listing_id.clone()),
        payload: String::from_utf8_lossy(&record.payload).into_owned(),
    }
}

/// Stage name, reason, and the decoded record when there was one (boxed: rejects are the rare path).
pub(crate) type Rejected = (&'static str, RejectReason, Option<Box<RawListing>>);

/// Rejects records from a schema version newer than this build knows.
pub(crate) fn check_schema_version(record: &Record) -> Result<(), RejectReason> {
    match record.schema_version.filter(|v| *v > SCHEMA_VERSION) {
        None => Ok(()),
        Some(version) => {
            warn!(
                version,
                supported = SCHEMA_VERSION,
                "record from a newer schema version dead-lettered"
            );
            Err(RejectReason::new(
                "unsupported_schema_version",
                format!("schema version {version} is newer than the supported {SCHEMA_VERSION}"),
            ))
        }
    }
}

pub(crate) fn decode(record: &Record) -> Result<RawListing, Rejected> {
    check_schema_version(record).map_err(|reason| ("decode", reason, None))?;
    serde_json::from_slice::<RawListing>(&record.payload).map_err(|e| {
        (
            "decode",
            RejectReason::new("invalid_json", format!("not a JSON listing object: {e}")),
            None,
        )
    })
}

/// The dead letter of `record`, keeping its bytes and where it was read.
pub(crate) fn dead_letter(
    record: &Record,
    stage: &str,
    reason: RejectReason,
    raw: Option<&RawListing>,
    now: DateTime<Utc>,
) -> DeadLetter {
    DeadLetter {
        stage: stage.to_owned(),
        source: raw.and_then(|r| r.source.clone()),
        source_listing_id: raw.and_then(|r| r.source_listing_id.clone()),
        reason,
        reference: format!("{}/{}/{}", record.stream, record.partition, record.offset),
        original: String::from_utf8_lossy(&record.payload).into_owned(),
        rejected_at: now,
        schema_version: SCHEMA_VERSION,
    }
}

/// When any of the jobs sharing it last had work (a record or a rebalance). Jobs of one process that
/// feed each other share one, so that a downstream job does not call itself idle while its upstream
/// is still busy reading a backlog its output has not reached yet.
#[derive(Debug)]
pub struct Activity {
    since: Instant,
    last_ms: std::sync::atomic::AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            since: Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let now = self.since.elapsed().as_millis() as u64;
        self.last_ms
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.since
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}

/// When a consuming loop stops: at the end of an in-process stream, on shutdown, or, for batch runs,
/// tests and benchmarks, once nothing has arrived for `idle_limit` after partitions were assigned
/// (to this job, and to every job sharing its [`Activity`]).
pub struct StopWhen {
    shutdown: watch::Receiver<bool>,
    /// Keeps a never-signalled sender alive for [`StopWhen::stream_end`].
    _never: Option<watch::Sender<bool>>,
    idle_limit: Option<Duration>,
    quiet_since: Instant,
    shared: Option<Arc<Activity>>,
    /// Whether the group has answered at all (an assignment, possibly empty).
    joined: bool,
    /// The partitions held now: cooperative rebalances add and take away a few at a time.
    held: BTreeSet<i32>,
}

/// How long a member that holds no partition waits before it calls itself idle. In a cooperative
/// rebalance a newcomer is first assigned nothing while another member gives partitions up, and
/// receives them a round later, seconds after; a short idle limit must not end it in between.
const UNASSIGNED_PATIENCE: Duration = Duration::from_secs(30);

impl StopWhen {
    pub fn new(shutdown: watch::Receiver<bool>, idle_limit: Option<Duration>) -> StopWhen {
        StopWhen {
            shutdown,
            _never: None,
            idle_limit,
            quiet_since: Instant::now(),
            shared: None,
            joined: false,
            held: BTreeSet::new(),
        }
    }

    /// Only when the stream ends (the in-process bus).
    pub fn stream_end() -> StopWhen {
        let (sender, receiver) = watch::channel(false);
        StopWhen {
            _never: Some(sender),
            ..StopWhen::new(receiver, None)
        }
    }

    /// Counts the work of the other jobs sharing `activity` as this one's too (see [`Activity`]).
    pub fn sharing(mut self, activity: Arc<Activity>) -> StopWhen {
        activity.touch();
        self.shared = Some(activity);
        self
    }

    fn note_work(&mut self) {
        self.quiet_since = Instant::now();
        if let Some(shared) = &self.shared {
            shared.touch();
        }
    }

    /// How long neither this job nor one sharing its activity had work.
    fn quiet_for(&self) -> Duration {
        let own = self.quiet_since.elapsed();
        match &self.shared {
            Some(shared) => own.min(shared.quiet_for()),
            None => own,
        }
    }

    /// Notes the partitions that arrived and left. The quiet spell counts from the last change: new
    /// partitions may hold work. Jobs that restore state call this once the partitions are ready,
    /// since a long restore is work, not idleness.
    pub fn note_rebalances(&mut self, changes: &[Rebalanced]) {
        for change in changes {
            match change {
                Rebalanced::Assigned(partitions) => {
                    self.joined = true;
                    self.held.extend(partitions);
                }
                Rebalanced::Revoked(partitions) => {
                    for partition in partitions {
                        self.held.remove(partition);
                    }
                }
            }
            self.note_work();
        }
    }

    /// Whether a batch run has waited long enough with nothing to do.
    fn idle(&self) -> bool {
        let Some(limit) = self.idle_limit else {
            return false;
        };
        let patience = if self.held.is_empty() {
            limit.max(UNASSIGNED_PATIENCE)
        } else {
            limit
        };
        self.joined && self.quiet_for() >= patience
    }

    /// The next batch (possibly empty on Kafka), or `None` when the loop should stop.
    pub async fn next_batch(
        &mut self,
        consumer: &mut Consumer,
        config: &RunnerConfig,
    ) -> Option<Vec<Record>> {
        if *self.shutdown.borrow() {
            return None;
        }
        let shutdown = &mut self.shutdown;
        let batch = tokio::select! {
            batch = consumer.next_batch(config.batch_size.get(), config.batch_linger) => batch,
            _ = async {
                // A dropped sender means nobody can ask for a shutdown any more: never stop for it.
                if shutdown.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            } => {
                info!("shutdown requested: finishing the current work and committing");
                None
            }
        }?;
        if !batch.is_empty() {
            self.note_work();
        } else if self.idle() {
            info!(idle = ?self.quiet_for(), held = ?self.held, "no new records: stopping");
            return None;
        }
        Some(batch)
    }
}

/// Stores dead letters published by other jobs (the crawler's unreadable pages, the partition job's
/// rejects). A dead letter's identity is where its original was read (its `reference`), so a dead
/// letter published twice is stored once.
pub async fn run_dead_letters(
    consumer: &mut Consumer,
    store: &Store,
    config: &RunnerConfig,
    consumer_name: &str,
    stop: &mut StopWhen,
) -> Result<u64> {
    let mut committed = store.committed_offsets(consumer_name).await?;
    let mut stored = 0;
    while let Some(records) = stop.next_batch(consumer, config).await {
        let changes = consumer.take_rebalances();
        if !changes.is_empty() {
            stop.note_rebalances(&changes);
            // Another member may have stored more since this one started.
            committed = store.committed_offsets(consumer_name).await?;
        }
        let mut dead_letters = Vec::new();
        let mut next_offsets = Offsets::new();
        let now = Utc::now();
        for record in unstored(&records, &committed, &mut next_offsets) {
            // A dead letter that is itself unreadable is kept verbatim rather than lost.
            let dead = serde_json::from_slice::<DeadLetter>(&record.payload).unwrap_or_else(|e| {
                dead_letter(
                    record,
                    "dead_letter_decode",
                    RejectReason::new("invalid_json", format!("unreadable dead letter: {e}")),
                    None,
                    now,
                )
            });
            let position = reference_position(&dead.reference).unwrap_or_else(|| StreamPosition {
                stream: Arc::clone(&record.stream),
                partition: record.partition,
                offset: record.offset,
            });
            dead_letters.push((dead, position));
        }
        if next_offsets.is_empty() {
            continue;
        }
        let batch = SinkBatch {
            leads: &[],
            lead_positions: &[],
            relabels: &[],
            relabel_positions: &[],
            dead_letters: &dead_letters,
            marketplace_events: &[],
            next_offsets: &next_offsets,
        };
        store.write(consumer_name, &batch).await?;
        stored += dead_letters.len() as u64;
        consumer.commit(&partition_offsets(&next_offsets))?;
        committed.extend(next_offsets);
    }
    consumer.close();
    Ok(stored)
}

/// The records of a batch the store does not hold yet (below `committed` they were stored by an
/// earlier run or another member), noting in `next_offsets` where each partition resumes after them.
fn unstored<'r>(
    records: &'r [Record],
    committed: &'r Offsets,
    next_offsets: &'r mut Offsets,
) -> impl Iterator<Item = &'r Record> {
    records.iter().filter(move |record| {
        let key = (record.stream.to_string(), record.partition);
        if committed
            .get(&key)
            .is_some_and(|next| record.offset < *next)
        {
            return false;
        }
        next_offsets.insert(key, record.offset + 1);
        true
    })
}

/// Next offsets per partition, as the consumer commits them.
fn partition_offsets(next_offsets: &Offsets) -> Vec<(i32, i64)> {
    next_offsets
        .iter()
        .map(|((_, partition), next)| (*partition, *next))
        .collect()
}

/// `stream/partition/offset` (how dead letters name the record they reject) as a position.
fn reference_position(reference: &str) -> Option<StreamPosition> {
    let mut parts = reference.rsplitn(3, '/');
    let offset = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    let stream = parts
        .next()
        .filter(|s| !s.is_empty() && !s.contains("://"))?;
    Some(StreamPosition {
        stream: Arc::from(stream),
        partition,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_run(limit: Duration) -> StopWhen {
        let (sender, receiver) = watch::channel(false);
        // Dropping the sender never signals a shutdown; the idle limit alone decides.
        drop(sender);
        StopWhen::new(receiver, Some(limit))
    }

    #[test]
    fn a_member_is_idle_only_after_joining_and_a_quiet_spell_with_partitions() {
        let limit = Duration::from_millis(100);
        let mut stop = batch_run(limit);
        std::thread::sleep(limit * 3 / 2);
        assert!(!stop.idle(), "not idle before the group answered");
        stop.note_rebalances(&[Rebalanced::Assigned(vec![0, 1])]);
        assert!(!stop.idle(), "an assignment restarts the quiet spell");
        std::thread::sleep(limit * 3 / 2);
        assert!(stop.idle());
    }

    #[test]
    fn a_member_holding_nothing_waits_for_the_second_round_of_a_cooperative_rebalance() {
        let limit = Duration::from_millis(100);
        let mut stop = batch_run(limit);
        // Round one gives a newcomer nothing while another member lets partitions go.
        stop.note_rebalances(&[Rebalanced::Assigned(vec![])]);
        std::thread::sleep(limit * 3 / 2);
        assert!(
            !stop.idle(),
            "holding nothing, it waits {UNASSIGNED_PATIENCE:?}"
        );
        stop.note_rebalances(&[Rebalanced::Assigned(vec![2, 3])]);
        std::thread::sleep(limit * 3 / 2);
        assert!(stop.idle());
        // Everything revoked: back to waiting.
        stop.note_rebalances(&[Rebalanced::Revoked(vec![2, 3])]);
        std::thread::sleep(limit * 3 / 2);
        assert!(!stop.idle());
    }
}
