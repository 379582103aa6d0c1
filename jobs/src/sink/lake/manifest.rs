//! The lake's manifest: `<lake>/_manifest/leads.jsonl`, the list of committed files of every table.
//!
//! Each line is one commit: the files of one flush, or the result of one compaction. A file is part
//! of the lake once its line is complete; a torn last line (a crash while appending) is ignored, and
//! its files are orphans. Writers rename their files into place and append their line while holding
//! the manifest lock (`_manifest/lock`, an OS file lock), so under the lock every Parquet file that
//! is not in the manifest is an orphan of a crash and can be removed: readers that list folders
//! (DataFusion, DuckDB) then see exactly the committed rows.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{Error, Result};

/// The table of processed listings.
pub const LEADS: &str = "leads";
/// The table of property merges decided by the dedupe stage.
pub const PROPERTY_MERGES: &str = "property_merges";
/// The archive of every record read from the raw listings stream.
pub const RAW_LISTINGS: &str = "raw_listings";
/// The buyers' views, cart adds and purchases.
pub const MARKETPLACE_EVENTS: &str = "marketplace_events";
/// Tables the lake writer owns (and whose folders orphan clean-up walks).
pub const TABLES: [&str; 4] = [LEADS, PROPERTY_MERGES, RAW_LISTINGS, MARKETPLACE_EVENTS];

/// A temporary file older than this belongs to no live writer (writers rename theirs within seconds).
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

fn leads_table() -> String {
    LEADS.to_owned()
}

/// One committed file's rows of one input partition, as recorded in the manifest. A compacted file
/// holds several input partitions and has one entry for each.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    /// Relative to the lake root, with `/` separators.
    pub path: String,
    /// Absent in lines written before the lake had more than one table.
    #[serde(default = "leads_table")]
    pub table: String,
    pub stream: String,
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub rows: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ManifestLine {
    Commit {
        files: Vec<ManifestEntry>,
    },
    /// Lines of older writers: one file per line.
    File(ManifestEntry),
}

pub(crate) fn manifest_path(root: &Path) -> PathBuf {
    root.join("_manifest").join("leads.jsonl")
}

/// Every committed entry, in commit order.
pub fn read_manifest(root: &Path) -> Result<Vec<ManifestEntry>> {
    let path = manifest_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut entries = Vec::new();
    for line in text.lines() {
        match serde_json::from_str::<ManifestLine>(line) {
            Ok(ManifestLine::Commit { files }) => entries.extend(files),
            Ok(ManifestLine::File(entry)) => entries.push(entry),
            // A torn last line: its files were never committed and are rewritten after restart.
            Err(_) => {}
        }
    }
    Ok(entries)
}

/// Appends one commit (all of `entries`, or none of them after a crash).
pub(crate) fn append_commit(root: &Path, entries: &[ManifestEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let path = manifest_path(root);
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    // A crash mid-append leaves a torn last line without its newline: end it first, or this commit
    // would be glued to it and ignored with it.
    let length = file
        .metadata()
        .map_err(|e| Error::io("stat", &path, e))?
        .len();
    let mut last = [b'\n'];
    if length > 0 {
        file.read_exact_at(&mut last, length - 1)
            .map_err(|e| Error::io("read", &path, e))?;
    }
    let mut line = String::new();
    if last[0] != b'\n' {
        line.push('\n');
    }
    line.push_str(
        &serde_json::to_string(&ManifestLine::Commit {
            files: entries.to_vec(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?,
    );
    line.push('\n');
    file.write_all(line.as_bytes())
        .map_err(|e| Error::io("write", &path, e))?;
    file.sync_data().map_err(|e| Error::io("sync", &path, e))
}

/// Replaces the whole manifest with `entries` as one commit (compaction): written aside, then
/// renamed over the old one, so a crash leaves either manifest.
pub(crate) fn replace_manifest(root: &Path, entries: &[ManifestEntry]) -> Result<()> {
    let path = manifest_path(root);
    let tmp = path.with_extension("jsonl.tmp");
    let mut text = String::new();
    if !entries.is_empty() {
        text = serde_json::to_string(&ManifestLine::Commit {
            files: entries.to_vec(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        text.push('\n');
    }
    let mut file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io("write", &tmp, e))?;
    file.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &tmp, e))
}

/// The manifest lock, held while files are renamed into place and the manifest changes. Released on
/// drop (and by the OS when the process dies).
pub(crate) struct ManifestLock {
    _file: File,
}

impl ManifestLock {
    pub(crate) fn acquire(root: &Path) -> Result<ManifestLock> {
        let dir = root.join("_manifest");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        file.lock().map_err(|e| Error::io("lock", &path, e))?;
        Ok(ManifestLock { _file: file })
    }
}

/// Removes Parquet files of the lake's tables that no manifest entry names (left by a crash between
/// a rename and its commit, or by a compaction cut short) and temporary files no writer can still
/// own. Call with the manifest lock held. Returns how many files were removed.
pub(crate) fn remove_orphans(root: &Path, _lock: &ManifestLock) -> Result<usize> {
    let committed: HashSet<PathBuf> = read_manifest(root)?
        .into_iter()
        .map(|entry| root.join(entry.path))
        .collect();
    let mut removed = 0;
    for table in TABLES {
        let mut files = Vec::new();
        list_files(&root.join(table), &mut files)?;
        for path in files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let orphan = if name.ends_with(".parquet") {
                !committed.contains(&path)
            } else if name.ends_with(".parquet.tmp") {
                fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                    .is_some_and(|age| age > STALE_TEMPORARY)
            } else {
                false
            };
            if orphan {
                match fs::remove_file(&path) {
                    Ok(()) => {
                        info!(file = %path.display(), "removed a lake file no commit names");
                        removed += 1;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => warn!(file = %path.display(), error = %e, "cannot remove an orphan"),
                }
            }
        }
    }
    Ok(removed)
}

/// Every file below `dir` (none when it does not exist).
pub(crate) fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read folder", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read folder", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// `path` relative to `root`, with `/` separators, as the manifest names files.
pub(crate) fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
