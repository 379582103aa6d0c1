//! `aiqleads run compact`: merges the small files of each lake folder into one file sorted for
//! pruning, without changing a row.
//!
//! The enrich job writes a file per flush and per (input partition, date, state), so a busy day
//! leaves hundreds of small files in a folder; readers pay per file. Compaction reads a folder's
//! committed files, sorts the rows (`leads` by postal code, listing kind and list price, so the
//! row-group statistics let filters on them skip most of the file; `marketplace_events` by lead and
//! kind; `property_merges` and `raw_listings` by input position), writes one file aside and then, under the manifest lock, renames it into place,
//! replaces the manifest (the new file carries the old files' offset ranges, so the writers'
//! exactly-once positions do not move) and deletes the old files. A crash leaves either the old
//! files or the new one committed; the other is an orphan that the next writer or compaction
//! removes. Writers may keep running: a folder that changed meanwhile is left for the next run.
//! A reader listing the folder at the moment of the swap may see both for a few milliseconds.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aiq_schemas::{
    lead_arrow_schema, marketplace_event_arrow_schema, property_merge_arrow_schema,
    raw_listing_arrow_schema,
};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices};
use indicatif::ProgressBar;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tracing::{info, warn};

use crate::config::LakeConfig;
use crate::sink::lake::codec::conform;
use crate::sink::lake::manifest::{ManifestLock, TABLES, remove_orphans, replace_manifest};
use crate::sink::lake::{
    LEADS, MARKETPLACE_EVENTS, ManifestEntry, RAW_LISTINGS, read_manifest, write_parquet_aside,
    writer_properties,
};
use crate::{Error, Result};

/// What to compact.
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Folders with fewer committed files are left alone.
    pub min_files: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions { min_files: 2 }
    }
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactStats {
    pub folders_compacted: usize,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: usize,
    /// Folders whose files changed while they were being compacted (left for the next run).
    pub folders_skipped: usize,
    pub orphans_removed: usize,
}

/// One folder's committed files, as the manifest lists them.
struct Folder {
    table: String,
    dir: PathBuf,
    files: Vec<String>,
    entries: Vec<ManifestEntry>,
}

/// Compacts every folder of the lake at `config.dir` that has at least `options.min_files` files.
/// `progress` counts folders.
pub fn compact(
    config: &LakeConfig,
    options: &CompactOptions,
    progress: &ProgressBar,
) -> Result<CompactStats> {
    let root = &config.dir;
    let mut stats = CompactStats::default();
    let entries = {
        let lock = ManifestLock::acquire(root)?;
        stats.orphans_removed = remove_orphans(root, &lock)?;
        read_manifest(root)?
    };
    let folders = folders(root, entries, options.min_files.max(2));
    progress.set_length(folders.len() as u64);
    for folder in folders {
        progress.set_message(folder.dir.display().to_string());
        let rows = compact_folder(root, config, &folder, &mut stats)?;
        stats.rows += rows;
        progress.inc(1);
    }
    progress.finish_and_clear();
    info!(?stats, "lake compacted");
    Ok(stats)
}

fn folders(root: &Path, entries: Vec<ManifestEntry>, min_files: usize) -> Vec<Folder> {
    let mut by_folder: BTreeMap<(String, PathBuf), Folder> = BTreeMap::new();
    for entry in entries {
        if !TABLES.contains(&entry.table.as_str()) {
            continue;
        }
        let dir = root
            .join(&entry.path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.to_path_buf());
        let folder = by_folder
            .entry((entry.table.clone(), dir.clone()))
            .or_insert_with(|| Folder {
                table: entry.table.clone(),
                dir,
                files: Vec::new(),
                entries: Vec::new(),
            });
        if !folder.files.contains(&entry.path) {
            folder.files.push(entry.path.clone());
        }
        folder.entries.push(entry);
    }
    by_folder
        .into_values()
        .filter(|folder| folder.files.len() >= min_files)
        .collect()
}

fn schema_of(table: &str) -> SchemaRef {
    match table {
        LEADS => lead_arrow_schema(),
        RAW_LISTINGS => raw_listing_arrow_schema(),
        MARKETPLACE_EVENTS => marketplace_event_arrow_schema(),
        _ => property_merge_arrow_schema(),
    }
}

/// Reads every row of `path`, conformed to `schema`.
pub(crate) fn read_file(path: &Path, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(8192)
        .build()?;
    let mut batches = Vec::new();
    for batch in reader {
        batches.push(conform(&batch?, schema)?);
    }
    Ok(batches)
}

/// The sort that makes row-group statistics useful to the analysts' filters.
fn sort_columns(table: &str) -> &'static [&'static str] {
    if table == LEADS {
        &[
            "postal_code",
            "listing_kind",
            "list_price",
            "input_stream",
            "input_partition",
            "input_offset",
        ]
    } else if table == MARKETPLACE_EVENTS {
        // Analysts filter events by lead and kind; the position keeps the order total.
        &[
            "property_id",
            "kind",
            "input_stream",
            "input_partition",
            "input_offset",
        ]
    } else if table == RAW_LISTINGS {
        &["input_stream", "input_partition", "input_offset"]
    } else {
        &[
            "input_stream",
            "input_partition",
            "input_offset",
            "merge_seq",
        ]
    }
}

fn sorted(batch: &RecordBatch, table: &str) -> Result<RecordBatch> {
    let columns: Vec<SortColumn> = sort_columns(table)
        .iter()
        .map(|name| {
            let values = batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("lake batch lacks the column {name}")))?;
            Ok(SortColumn {
                values,
                options: Some(SortOptions {
                    descending: false,
                    nulls_first: false,
                }),
            })
        })
        .collect::<Result<_>>()?;
    let indices = lexsort_to_indices(&columns, None)?;
    Ok(take_record_batch(batch, &indices)?)
}

fn compact_folder(
    root: &Path,
    config: &LakeConfig,
    folder: &Folder,
    stats: &mut CompactStats,
) -> Result<usize> {
    let schema = schema_of(&folder.table);
    let mut batches = Vec::new();
    for file in &folder.files {
        batches.extend(read_file(&root.join(file), &schema)?);
    }
    let all = concat_batches(&schema, &batches)?;
    drop(batches);
    let rows = all.num_rows();
    let expected: usize = folder.entries.iter().map(|e| e.rows).sum();
    if rows != expected {
        return Err(Error::Internal(format!(
            "{}: the manifest says {expected} rows, the files hold {rows}; compaction stopped",
            folder.dir.display()
        )));
    }
    let sorted = sorted(&all, &folder.table)?;
    drop(all);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let path = folder.dir.join(format!("compact-{stamp}.parquet"));
    let properties = writer_properties(config.row_group_rows.get())?;
    let tmp = write_parquet_aside(&path, &sorted, &properties)?;
    let new_path = crate::sink::lake::manifest::relative_name(root, &path);

    // The new file takes over the old files' ranges, one entry per input partition.
    let mut ranges: BTreeMap<(String, i32), ManifestEntry> = BTreeMap::new();
    for entry in &folder.entries {
        let merged = ranges
            .entry((entry.stream.clone(), entry.partition))
            .or_insert_with(|| ManifestEntry {
                path: new_path.clone(),
                table: folder.table.clone(),
                stream: entry.stream.clone(),
                partition: entry.partition,
                first_offset: entry.first_offset,
                last_offset: entry.last_offset,
                rows: 0,
            });
        merged.first_offset = merged.first_offset.min(entry.first_offset);
        merged.last_offset = merged.last_offset.max(entry.last_offset);
        merged.rows += entry.rows;
    }

    let _lock = ManifestLock::acquire(root)?;
    let current = read_manifest(root)?;
    let old: HashSet<&str> = folder.files.iter().map(String::as_str).collect();
    let still_there: HashSet<&str> = current
        .iter()
        .filter(|e| old.contains(e.path.as_str()))
        .map(|e| e.path.as_str())
        .collect();
    let changed = still_there.len() != old.len()
        || current
            .iter()
            .filter(|e| old.contains(e.path.as_str()))
            .count()
            != folder.entries.len();
    if changed {
        warn!(folder = %folder.dir.display(), "files changed during compaction; left for the next run");
        let _ = fs::remove_file(&tmp);
        stats.folders_skipped += 1;
        return Ok(0);
    }
    let mut next: Vec<ManifestEntry> = current
        .into_iter()
        .filter(|e| !old.contains(e.path.as_str()))
        .collect();
    next.extend(ranges.into_values());
    fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &tmp, e))?;
    replace_manifest(root, &next)?;
    for file in &folder.files {
        let old_path = root.join(file);
        if let Err(e) = fs::remove_file(&old_path) {
            // Not in the manifest any more: the next clean-up removes it.
            warn!(file = %old_path.display(), error = %e, "cannot remove a compacted file");
        }
    }
    stats.folders_compacted += 1;
    stats.files_before += folder.files.len();
    stats.files_after += 1;
    Ok(rows)
}

/// Every committed row of `table`, file by file as the manifest lists them.
pub fn read_table(root: &Path, table: &str) -> Result<Vec<RecordBatch>> {
    let schema = schema_of(table);
    let mut seen = HashSet::new();
    let mut batches = Vec::new();
    for entry in read_manifest(root)? {
        if entry.table == table && seen.insert(entry.path.clone()) {
            batches.extend(read_file(&root.join(&entry.path), &schema)?);
        }
    }
    Ok(batches)
}
