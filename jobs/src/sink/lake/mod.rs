//! The analysts' Parquet lake. Exactly-once by naming: each file holds the rows of one input offset
//! range, is written under a temporary name, then renamed into place and recorded in the manifest
//! in one step under the manifest lock; a range already in the manifest is never written again, and
//! a file no commit names (a crash between the two) is removed before anyone writes again.
//!
//! Layout (Hive-style partitions by fetch date and state, zstd, page statistics):
//! - `<lake>/leads/dt=YYYY-MM-DD/state=XX/part-<stream>-<partition>-<first>-<last>.parquet`: one row
//!   per processed listing, with the input position it came from;
//! - `<lake>/property_merges/part-<stream>-<partition>-<first>-<last>.parquet`: the merges the
//!   dedupe stage decided, with the input position that decided each;
//! - `<lake>/raw_listings/dt=YYYY-MM-DD/part-…`: the archive of every raw record received (by the
//!   embedded runner, or by the `archive` job on Kafka), malformed ones included;
//! - `<lake>/marketplace_events/dt=YYYY-MM-DD/part-…`: the buyers' views, cart adds and purchases
//!   (by the `events` job on Kafka, or the embedded runner from the store's table);
//! - `<lake>/_manifest/leads.jsonl`: every committed file of every table ([`manifest`]).
//!
//! `aiqleads run compact` merges small files ([`crate::compact`]); `aiqleads run backfill` rebuilds
//! the store from the lake ([`crate::backfill`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Instant;

use aiq_pipeline::dedupe::Relabel;
use aiq_schemas::{Lead, MarketplaceEvent};
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::{SinkBatch, StreamPosition};
use crate::config::LakeConfig;
use crate::{Error, Result};

pub mod codec;
pub mod manifest;

pub use codec::{
    RawArchiveRow, events_to_record_batch, leads_to_record_batch, merges_to_record_batch,
    raw_to_record_batch,
};
pub use manifest::{
    LEADS, MARKETPLACE_EVENTS, ManifestEntry, PROPERTY_MERGES, RAW_LISTINGS, read_manifest,
};
use manifest::{ManifestLock, append_commit, relative_name, remove_orphans};

/// Rows of one flush grouped by the file they go to: (stream, partition, dt, state).
type FileGroups = BTreeMap<(String, i32, String, String), Vec<(Lead, StreamPosition)>>;

/// Merges of one flush grouped by input partition: (stream, partition).
type MergeGroups = BTreeMap<(String, i32), Vec<(Relabel, StreamPosition, u32)>>;

pub struct LakeWriter {
    root: PathBuf,
    config: LakeConfig,
    buffer: Vec<(Lead, StreamPosition)>,
    /// Merges decided for buffered positions, with their order within their input record.
    merges: Vec<(Relabel, StreamPosition, u32)>,
    raw: Vec<RawArchiveRow>,
    events: Vec<(MarketplaceEvent, StreamPosition)>,
    /// Approximate heap bytes of the four buffers (see [`LakeConfig::buffer_mib`]).
    buffered_bytes: usize,
    buffered_since: Option<Instant>,
    /// Offset ranges already committed, per (stream, partition): restarts skip them.
    committed: HashMap<(String, i32), i64>,
    /// Partitions this writer claimed ([`LakeWriter::claim`]), with the generation it holds.
    generations: HashMap<(String, i32), i64>,
    files_written: Vec<PathBuf>,
    rows_written: usize,
}

impl LakeWriter {
    /// Opens the lake at `config.dir`, removing files a crash left uncommitted.
    pub fn open(config: &LakeConfig) -> Result<Self> {
        let root = config.dir.clone();
        let mut writer = LakeWriter {
            root,
            config: config.clone(),
            buffer: Vec::new(),
            merges: Vec::new(),
            raw: Vec::new(),
            events: Vec::new(),
            buffered_bytes: 0,
            buffered_since: None,
            committed: HashMap::new(),
            generations: HashMap::new(),
            files_written: Vec::new(),
            rows_written: 0,
        };
        writer.reload_manifest()?;
        Ok(writer)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn files_written(&self) -> &[PathBuf] {
        &self.files_written
    }

    pub fn rows_written(&self) -> usize {
        self.rows_written
    }

    /// The next offset of `stream`/`partition` not yet in a committed file.
    pub fn committed_next(&self, stream: &str, partition: i32) -> i64 {
        self.committed
            .get(&(stream.to_owned(), partition))
            .copied()
            .unwrap_or(0)
    }

    /// Writes the buffered rows if the oldest has waited `flush_interval`.
    pub fn flush_if_due(&mut self) -> Result<()> {
        if self
            .buffered_since
            .is_some_and(|since| since.elapsed() >= self.config.flush_interval)
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Re-reads the manifest (another process, the partition's previous owner, may have committed
    /// files since) and removes files that no commit names.
    pub fn reload_manifest(&mut self) -> Result<()> {
        let lock = ManifestLock::acquire(&self.root)?;
        remove_orphans(&self.root, &lock)?;
        for entry in read_manifest(&self.root)? {
            let next = self
                .committed
                .entry((entry.stream, entry.partition))
                .or_insert(0);
            *next = (*next).max(entry.last_offset + 1);
        }
        Ok(())
    }

    /// Forgets buffered rows of partitions this process no longer owns (their new owner rewrites
    /// them from its resume position).
    pub fn discard_buffered(&mut self, stream: &str, partitions: &[i32]) {
        let owned_elsewhere = |position: &StreamPosition| {
            &*position.stream == stream && partitions.contains(&position.partition)
        };
        self.buffer
            .retain(|(_, position)| !owned_elsewhere(position));
        self.merges
            .retain(|(_, position, _)| !owned_elsewhere(position));
        self.events
            .retain(|(_, position)| !owned_elsewhere(position));
        self.buffered_bytes = self
            .buffer
            .iter()
            .map(|(l, _)| lead_bytes(l))
            .sum::<usize>()
            + self.raw.iter().map(raw_bytes).sum::<usize>()
            + self
                .events
                .iter()
                .map(|(e, _)| event_bytes(e))
                .sum::<usize>()
            + self.merges.len() * size_of::<(Relabel, StreamPosition, u32)>();
        if self.buffer.is_empty() {
            self.buffered_since = None;
        }
    }

    fn is_committed(&self, position: &StreamPosition) -> bool {
        self.committed
            .get(&(position.stream.to_string(), position.partition))
            .is_some_and(|next| position.offset < *next)
    }

    /// Buffers raw records for the `raw_listings` archive (skipping positions already committed);
    /// they are written with the next flush.
    pub fn archive(&mut self, rows: impl IntoIterator<Item = RawArchiveRow>) -> Result<()> {
        for row in rows {
            if !self.is_committed(&row.position) {
                self.buffered_bytes += raw_bytes(&row);
                self.raw.push(row);
            }
        }
        if self.buffered_since.is_none() && !self.raw.is_empty() {
            self.buffered_since = Some(Instant::now());
        }
        // No flush here: the batch's leads may follow (`write`), and a flush would mark their
        // positions committed before they are buffered.
        Ok(())
    }

    /// Buffers marketplace events for the `marketplace_events` table (skipping positions already
    /// committed); they are written with the next flush.
    pub fn record_events(
        &mut self,
        events: impl IntoIterator<Item = (MarketplaceEvent, StreamPosition)>,
    ) {
        for (event, position) in events {
            if !self.is_committed(&position) {
                self.buffered_bytes += event_bytes(&event);
                self.events.push((event, position));
            }
        }
        if self.buffered_since.is_none() && !self.events.is_empty() {
            self.buffered_since = Some(Instant::now());
        }
    }

    /// Writes the buffered rows once a table's buffer holds a file's worth, or all of them hold
    /// [`LakeConfig::buffer_mib`].
    pub fn flush_if_full(&mut self) -> Result<()> {
        let full = self.config.rows_per_file.get();
        if self.buffer.len() >= full
            || self.raw.len() >= full
            || self.events.len() >= full
            || self.buffered_bytes >= self.config.buffer_mib.get() << 20
        {
            self.flush()?;
        }
        Ok(())
    }

    pub fn write(&mut self, batch: &SinkBatch<'_>) -> Result<()> {
        for (lead, position) in batch.leads.iter().zip(batch.lead_positions) {
            if !self.is_committed(position) {
                self.buffered_bytes += lead_bytes(lead);
                self.buffer.push((lead.clone(), position.clone()));
            }
        }
        let mut seq = 0u32;
        let mut previous: Option<&StreamPosition> = None;
        for (relabel, position) in batch.relabels.iter().zip(batch.relabel_positions) {
            seq = if previous == Some(position) {
                seq + 1
            } else {
                0
            };
            previous = Some(position);
            if !self.is_committed(position) {
                self.buffered_bytes += size_of::<(Relabel, StreamPosition, u32)>();
                self.merges.push((*relabel, position.clone(), seq));
            }
        }
        // Merges apply after this batch's rows are in, and in the order they were decided: a lead of
        // this very batch may carry an id that a later record of the batch merged away, and merges
        // can chain (a -> b, then b -> c). Rows already written keep their id; `property_merges`
        // records the merges, and the store's views are always current.
        for relabel in batch.relabels {
            for (lead, _) in &mut self.buffer {
                if lead.property_id == relabel.from {
                    lead.property_id = relabel.to;
                }
            }
        }
        if self.buffered_since.is_none() && !self.buffer.is_empty() {
            self.buffered_since = Some(Instant::now());
        }
        let due = self
            .buffered_since
            .is_some_and(|since| since.elapsed() >= self.config.flush_interval);
        if due {
            self.flush()?;
        }
        self.flush_if_full()
    }

    /// Writes everything buffered: one `leads` file per (stream, partition, dt, state) group and one
    /// `property_merges` file per (stream, partition), committed together.
    pub fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty()
            && self.merges.is_empty()
            && self.raw.is_empty()
            && self.events.is_empty()
        {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffer);
        let merges = std::mem::take(&mut self.merges);
        let raw = std::mem::take(&mut self.raw);
        let events = std::mem::take(&mut self.events);
        self.buffered_bytes = 0;
        self.buffered_since = None;
        let mut groups: FileGroups = BTreeMap::new();
        for (lead, position) in rows {
            let dt = lead.listing.fetched_at.format("%Y-%m-%d").to_string();
            let state = lead
                .listing
                .state_or_province
                .clone()
                .unwrap_or_else(|| "unknown".to_owned());
            groups
                .entry((position.stream.to_string(), position.partition, dt, state))
                .or_default()
                .push((lead, position));
        }
        let mut merge_groups: MergeGroups = BTreeMap::new();
        for merge in merges {
            merge_groups
                .entry((merge.1.stream.to_string(), merge.1.partition))
                .or_default()
                .push(merge);
        }

        let mut raw_groups: BTreeMap<(String, i32, String), Vec<RawArchiveRow>> = BTreeMap::new();
        for row in raw {
            let dt = row.received_at.format("%Y-%m-%d").to_string();
            raw_groups
                .entry((row.position.stream.to_string(), row.position.partition, dt))
                .or_default()
                .push(row);
        }

        type EventGroups = BTreeMap<(String, i32, String), Vec<(MarketplaceEvent, StreamPosition)>>;
        let mut event_groups: EventGroups = BTreeMap::new();
        for (event, position) in events {
            let dt = event.at.format("%Y-%m-%d").to_string();
            event_groups
                .entry((position.stream.to_string(), position.partition, dt))
                .or_default()
                .push((event, position));
        }

        // Files are written aside first; the renames and the commit happen under the lock.
        let mut files: Vec<(PartFile, RecordBatch)> = Vec::new();
        for ((stream, partition, dt, state), rows) in groups {
            let dir = Path::new(LEADS)
                .join(format!("dt={dt}"))
                .join(format!("state={state}"));
            let offsets = rows.iter().map(|(_, p)| p.offset);
            let file = PartFile::new(LEADS, dir, stream, partition, offsets);
            files.push((file, leads_to_record_batch(&rows)?));
        }
        for ((stream, partition), merges) in merge_groups {
            let offsets = merges.iter().map(|(_, p, _)| p.offset);
            let file = PartFile::new(PROPERTY_MERGES, PROPERTY_MERGES, stream, partition, offsets);
            files.push((file, merges_to_record_batch(&merges)?));
        }
        for ((stream, partition, dt), rows) in raw_groups {
            let dir = Path::new(RAW_LISTINGS).join(format!("dt={dt}"));
            let offsets = rows.iter().map(|r| r.position.offset);
            let file = PartFile::new(RAW_LISTINGS, dir, stream, partition, offsets);
            files.push((file, raw_to_record_batch(&rows)?));
        }
        for ((stream, partition, dt), rows) in event_groups {
            let dir = Path::new(MARKETPLACE_EVENTS).join(format!("dt={dt}"));
            let offsets = rows.iter().map(|(_, p)| p.offset);
            let file = PartFile::new(MARKETPLACE_EVENTS, dir, stream, partition, offsets);
            files.push((file, events_to_record_batch(&rows)?));
        }
        let properties = writer_properties(self.config.row_group_rows.get())?;
        let mut pending: Vec<Staged> = Vec::with_capacity(files.len());
        for (file, batch) in files {
            pending.push(self.stage(file, &batch, &properties)?);
        }

        let _lock = ManifestLock::acquire(&self.root)?;
        if let Err(fenced) = self.check_generations(&pending) {
            for (tmp, _, _) in &pending {
                let _ = fs::remove_file(tmp);
            }
            return Err(fenced);
        }
        for (tmp, path, _) in &pending {
            fs::rename(tmp, path).map_err(|e| Error::io("rename", tmp, e))?;
        }
        let entries: Vec<ManifestEntry> = pending.iter().map(|(_, _, e)| e.clone()).collect();
        append_commit(&self.root, &entries)?;
        for (_, path, entry) in pending {
            let next = self
                .committed
                .entry((entry.stream, entry.partition))
                .or_insert(0);
            *next = (*next).max(entry.last_offset + 1);
            if entry.table == LEADS {
                self.rows_written += entry.rows;
                self.files_written.push(path);
            }
        }
        Ok(())
    }
}

/// A file written aside, where it goes, and its manifest entry.
type Staged = (PathBuf, PathBuf, ManifestEntry);

/// One file a flush writes: its table, folder (under the lake root) and input range.
struct PartFile {
    table: &'static str,
    dir: PathBuf,
    stream: String,
    partition: i32,
    range: (i64, i64),
}

impl PartFile {
    fn new(
        table: &'static str,
        dir: impl Into<PathBuf>,
        stream: String,
        partition: i32,
        offsets: impl Iterator<Item = i64>,
    ) -> PartFile {
        PartFile {
            table,
            dir: dir.into(),
            stream,
            partition,
            range: offset_range(offsets),
        }
    }
}

impl LakeWriter {
    /// Takes `stream`/`partition` over: claims the lake's next generation of it (kept in
    /// `_manifest/owners/`, apart from the store's, so either can be rebuilt alone). From then on a
    /// flush of a writer that claimed it earlier is refused, so a member that lost the partition
    /// without noticing cannot commit files for it. Returns the generation.
    pub fn claim(&mut self, stream: &str, partition: i32) -> Result<i64> {
        let _lock = ManifestLock::acquire(&self.root)?;
        let path = owner_path(&self.root, stream, partition);
        let generation = read_generation(&path)?.unwrap_or(0) + 1;
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, generation.to_string()).map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &tmp, e))?;
        self.generations
            .insert((stream.to_owned(), partition), generation);
        Ok(generation)
    }

    /// Under the manifest lock: every claimed partition among `pending` is still held at this
    /// writer's generation.
    fn check_generations(&self, pending: &[Staged]) -> Result<()> {
        for (_, _, entry) in pending {
            let key = (entry.stream.clone(), entry.partition);
            let Some(&generation) = self.generations.get(&key) else {
                continue;
            };
            let held = read_generation(&owner_path(&self.root, &entry.stream, entry.partition))?;
            if held.is_some_and(|held| held > generation) {
                return Err(Error::Fenced {
                    stream: entry.stream.clone(),
                    partition: entry.partition,
                    generation,
                });
            }
        }
        Ok(())
    }

    /// Writes `batch` aside as `file`; the flush renames and commits it.
    fn stage(
        &self,
        file: PartFile,
        batch: &RecordBatch,
        properties: &WriterProperties,
    ) -> Result<Staged> {
        let PartFile {
            table,
            dir,
            stream,
            partition,
            range: (first, last),
        } = file;
        let path = self
            .root
            .join(dir)
            .join(part_name(&stream, partition, first, last));
        let tmp = write_parquet_aside(&path, batch, properties)?;
        let entry = ManifestEntry {
            path: relative_name(&self.root, &path),
            table: table.to_owned(),
            stream,
            partition,
            first_offset: first,
            last_offset: last,
            rows: batch.num_rows(),
        };
        Ok((tmp, path, entry))
    }
}

/// Heap bytes a buffered lead holds, roughly: its struct and its texts.
fn lead_bytes(lead: &Lead) -> usize {
    let l = &lead.listing;
    let texts = [
        &l.property_type,
        &l.street_address,
        &l.unit_number,
        &l.city,
        &l.state_or_province,
        &l.postal_code,
        &l.title,
        &l.description,
        &l.contact_name,
        &l.contact_phone,
        &l.contact_email,
    ];
    size_of::<(Lead, StreamPosition)>()
        + l.source_listing_id.len()
        + l.url.len()
        + texts
            .iter()
            .map(|t| t.as_ref().map_or(0, String::len))
            .sum::<usize>()
        + lead
            .fraud_reasons
            .iter()
            .map(|r| size_of::<aiq_schemas::FraudReason>() + r.detail.len())
            .sum::<usize>()
}

fn raw_bytes(row: &RawArchiveRow) -> usize {
    size_of::<RawArchiveRow>()
        + row.payload.len()
        + row.source.as_ref().map_or(0, String::len)
        + row.source_listing_id.as_ref().map_or(0, String::len)
}

fn event_bytes(event: &MarketplaceEvent) -> usize {
    size_of::<(MarketplaceEvent, StreamPosition)>()
        + event.agent.len()
        + event.postal_code.as_ref().map_or(0, String::len)
        + event.state_or_province.as_ref().map_or(0, String::len)
}

/// `_manifest/owners/<stream>-<partition>`: the highest generation claimed for the partition.
fn owner_path(root: &Path, stream: &str, partition: i32) -> PathBuf {
    root.join("_manifest")
        .join("owners")
        .join(format!("{}-{partition}", sanitize(stream)))
}

fn read_generation(path: &Path) -> Result<Option<i64>> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| Error::Internal(format!("{}: not a generation: {e}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::io("read", path, error)),
    }
}

fn offset_range(offsets: impl Iterator<Item = i64>) -> (i64, i64) {
    offsets.fold((i64::MAX, i64::MIN), |(first, last), offset| {
        (first.min(offset), last.max(offset))
    })
}

fn part_name(stream: &str, partition: i32, first: i64, last: i64) -> String {
    format!(
        "part-{}-{partition}-{first:012}-{last:012}.parquet",
        sanitize(stream)
    )
}

fn sanitize(stream: &str) -> String {
    stream
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// zstd, page statistics, bounded row groups: what every lake file is written with.
pub(crate) fn writer_properties(row_group_rows: usize) -> Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by(format!("aiqleads {}", env!("CARGO_PKG_VERSION")))
        .build())
}

/// Writes `batch` to `<path>.tmp` (which no reader lists), synced; the caller renames it.
pub(crate) fn write_parquet_aside(
    path: &Path,
    batch: &RecordBatch,
    properties: &WriterProperties,
) -> Result<PathBuf> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("{} has no folder", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties.clone()))?;
    writer.write(batch)?;
    let file = writer.into_inner()?;
    file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
    Ok(tmp)
}
