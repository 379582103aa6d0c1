//! The analysts' Parquet lake. Exactly-once by naming: each file holds the rows of one input offset
//! range and is written under a temporary name, renamed into place, then recorded in the table's
//! manifest; a range already in the manifest is never written again.
//!
//! Layout: `<lake>/leads/dt=YYYY-MM-DD/state=XX/part-<stream>-<partition>-<first>-<last>.parquet`
//! (Hive-style partitions by fetch date and state), zstd-compressed, with row-group statistics, plus
//! `<lake>/_manifest/leads.jsonl` listing every committed file.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use aiq_schemas::{Lead, fraud_reason_fields, lead_arrow_schema};
use arrow_array::builder::{
    Float32Builder, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
    TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use super::{SinkBatch, StreamPosition};
use crate::config::LakeConfig;
use crate::{Error, Result};

/// One committed file, as recorded in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub path: String,
    pub stream: String,
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub rows: usize,
}

/// Rows of one flush grouped by the file they go to: (stream, partition, dt, state).
type FileGroups = BTreeMap<(String, i32, String, String), Vec<(Lead, StreamPosition)>>;

pub struct LakeWriter {
    root: PathBuf,
    config: LakeConfig,
    buffer: Vec<(Lead, StreamPosition)>,
    buffered_since: Option<Instant>,
    /// Offset ranges already committed, per (stream, partition): restarts skip them.
    committed: HashMap<(String, i32), i64>,
    files_written: Vec<PathBuf>,
    rows_written: usize,
}

impl LakeWriter {
    pub fn open(config: &LakeConfig) -> Result<Self> {
        let root = config.dir.clone();
        fs::create_dir_all(root.join("_manifest"))
            .map_err(|e| Error::io("create folder", root.join("_manifest"), e))?;
        let mut committed: HashMap<(String, i32), i64> = HashMap::new();
        for entry in read_manifest(&root)? {
            let next = committed
                .entry((entry.stream, entry.partition))
                .or_insert(0);
            *next = (*next).max(entry.last_offset + 1);
        }
        Ok(LakeWriter {
            root,
            config: config.clone(),
            buffer: Vec::new(),
            buffered_since: None,
            committed,
            files_written: Vec::new(),
            rows_written: 0,
        })
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

    /// Re-reads the manifest: another process (the partition's previous owner) may have committed
    /// files since this writer opened.
    pub fn reload_manifest(&mut self) -> Result<()> {
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
        self.buffer.retain(|(_, position)| {
            !(&*position.stream == stream && partitions.contains(&position.partition))
        });
        if self.buffer.is_empty() {
            self.buffered_since = None;
        }
    }

    pub fn write(&mut self, batch: &SinkBatch<'_>) -> Result<()> {
        for (lead, position) in batch.leads.iter().zip(batch.lead_positions) {
            let key = (position.stream.to_string(), position.partition);
            if self
                .committed
                .get(&key)
                .is_some_and(|next| position.offset < *next)
            {
                continue;
            }
            self.buffer.push((lead.clone(), position.clone()));
        }
        // Merges apply after this batch's rows are in, and in the order they were decided: a lead of
        // this very batch may carry an id that a later record of the batch merged away, and merges
        // can chain (a -> b, then b -> c). Rows already written keep their id (the store's views are
        // always current).
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
        if self.buffer.len() >= self.config.rows_per_file.get() || due {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes everything buffered: one file per (stream, partition, dt, state) group.
    pub fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffer);
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
        let mut entries = Vec::new();
        let mut next_committed = Vec::new();
        for ((stream, partition, dt, state), rows) in groups {
            let first = rows.iter().map(|(_, p)| p.offset).min().unwrap_or_default();
            let last = rows.iter().map(|(_, p)| p.offset).max().unwrap_or_default();
            let dir = self
                .root
                .join("leads")
                .join(format!("dt={dt}"))
                .join(format!("state={state}"));
            fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
            let name = format!(
                "part-{}-{partition}-{first:012}-{last:012}.parquet",
                sanitize(&stream)
            );
            let path = dir.join(&name);
            let leads: Vec<&Lead> = rows.iter().map(|(lead, _)| lead).collect();
            write_parquet_atomically(&path, &leads, self.config.row_group_rows.get())?;
            entries.push(ManifestEntry {
                path: path
                    .strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
                stream: stream.clone(),
                partition,
                first_offset: first,
                last_offset: last,
                rows: rows.len(),
            });
            next_committed.push(((stream, partition), last + 1));
            self.rows_written += rows.len();
            self.files_written.push(path);
        }
        append_manifest(&self.root, &entries)?;
        for (key, next) in next_committed {
            let entry = self.committed.entry(key).or_insert(0);
            *entry = (*entry).max(next);
        }
        Ok(())
    }
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

fn manifest_path(root: &Path) -> PathBuf {
    root.join("_manifest").join("leads.jsonl")
}

pub fn read_manifest(root: &Path) -> Result<Vec<ManifestEntry>> {
    let path = manifest_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    // A torn last line (crash while appending) is ignored: its file is rewritten on restart.
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

fn append_manifest(root: &Path, entries: &[ManifestEntry]) -> Result<()> {
    let path = manifest_path(root);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    let mut text = String::new();
    for entry in entries {
        text.push_str(&serde_json::to_string(entry).map_err(|e| Error::Internal(e.to_string()))?);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("sync", &path, e))
}

fn write_parquet_atomically(path: &Path, leads: &[&Lead], row_group_rows: usize) -> Result<()> {
    let batch = leads_to_record_batch(leads)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by(format!("aiqleads {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))?;
    writer.write(&batch)?;
    let file = writer.into_inner()?;
    file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io("rename", &tmp, e))
}

/// Builds the `leads` record batch in the column order of [`lead_arrow_schema`].
pub fn leads_to_record_batch(leads: &[&Lead]) -> Result<RecordBatch> {
    let n = leads.len();
    let text = |f: &dyn Fn(&Lead) -> Option<&str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for lead in leads {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let f32s = |f: &dyn Fn(&Lead) -> Option<f32>| -> ArrayRef {
        let mut b = Float32Builder::with_capacity(n);
        for lead in leads {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let f64s = |f: &dyn Fn(&Lead) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::with_capacity(n);
        for lead in leads {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let u32s = |f: &dyn Fn(&Lead) -> Option<u32>| -> ArrayRef {
        let mut b = UInt32Builder::with_capacity(n);
        for lead in leads {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let times = |f: &dyn Fn(&Lead) -> Option<i64>| -> ArrayRef {
        let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for lead in leads {
            b.append_option(f(lead));
        }
        Arc::new(b.finish())
    };
    let property_ids: Vec<String> = leads.iter().map(|l| l.property_id.to_string()).collect();
    let h3_cells: Vec<Option<String>> = leads
        .iter()
        .map(|l| l.listing.h3_cell.map(|c| c.to_string()))
        .collect();
    let mut bedrooms = UInt8Builder::with_capacity(n);
    let mut versions = UInt16Builder::with_capacity(n);
    let mut reasons = ListBuilder::new(StructBuilder::from_fields(fraud_reason_fields(), n));
    for lead in leads {
        bedrooms.append_option(lead.listing.bedrooms_total);
        versions.append_value(lead.schema_version);
        let items = reasons.values();
        for reason in &lead.fraud_reasons {
            items
                .field_builder::<StringBuilder>(0)
                .expect("code is utf8")
                .append_value(reason.code.as_str());
            items
                .field_builder::<Float32Builder>(1)
                .expect("contribution is f32")
                .append_value(reason.contribution);
            items
                .field_builder::<StringBuilder>(2)
                .expect("detail is utf8")
                .append_value(&reason.detail);
            items.append(true);
        }
        reasons.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        {
            let mut b = StringBuilder::with_capacity(n, n * 16);
            for id in &property_ids {
                b.append_value(id);
            }
            Arc::new(b.finish())
        },
        text(&|l| Some(l.listing.source.as_str())),
        text(&|l| Some(l.listing.source_listing_id.as_str())),
        text(&|l| Some(l.listing.url.as_str())),
        times(&|l| Some(l.listing.fetched_at.timestamp_micros())),
        text(&|l| l.listing.listing_kind.map(|k| k.as_str())),
        text(&|l| l.listing.property_type.as_deref()),
        f64s(&|l| l.listing.list_price),
        text(&|l| l.listing.price_period.map(|p| p.as_str())),
        Arc::new(bedrooms.finish()),
        f32s(&|l| l.listing.bathrooms_total),
        u32s(&|l| l.listing.living_area_sqft),
        text(&|l| l.listing.street_address.as_deref()),
        text(&|l| l.listing.unit_number.as_deref()),
        text(&|l| l.listing.city.as_deref()),
        text(&|l| l.listing.state_or_province.as_deref()),
        text(&|l| l.listing.postal_code.as_deref()),
        f64s(&|l| l.listing.latitude),
        f64s(&|l| l.listing.longitude),
        {
            let mut b = StringBuilder::with_capacity(n, n * 16);
            for cell in &h3_cells {
                b.append_option(cell.as_deref());
            }
            Arc::new(b.finish())
        },
        text(&|l| l.listing.title.as_deref()),
        text(&|l| l.listing.description.as_deref()),
        times(&|l| l.listing.posted_at.map(|t| t.timestamp_micros())),
        text(&|l| l.listing.contact_name.as_deref()),
        text(&|l| l.listing.contact_phone.as_deref()),
        text(&|l| l.listing.contact_email.as_deref()),
        f32s(&|l| Some(l.fraud_score)),
        Arc::new(reasons.finish()),
        f32s(&|l| Some(l.quality_score)),
        f32s(&|l| Some(l.completeness)),
        u32s(&|l| Some(l.lead_price)),
        f32s(&|l| Some(l.price_breakdown.base)),
        f32s(&|l| Some(l.price_breakdown.quality_multiplier)),
        f32s(&|l| Some(l.price_breakdown.demand_multiplier)),
        f32s(&|l| Some(l.price_breakdown.supply_multiplier)),
        f32s(&|l| Some(l.price_breakdown.unclamped)),
        text(&|l| Some(l.status.as_str())),
        Arc::new(versions.finish()),
    ];
    Ok(RecordBatch::try_new(lead_arrow_schema(), columns)?)
}
