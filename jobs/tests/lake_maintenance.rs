//! The lake's batch jobs and crash hygiene: files a crash left uncommitted are removed, compaction
//! keeps every row and every exactly-once position, and a backfill from the lake rebuilds the store
//! as the enrich runner left it, on both store backends.

// Shared with the store tests; this file uses only part of it.
#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use aiq_jobs::backfill::backfill;
use aiq_jobs::compact::{CompactOptions, compact, read_table};
use aiq_jobs::config::Config;
use aiq_jobs::file::run_file_pipeline;
use aiq_jobs::ingest::{Feed, run_ingest};
use aiq_jobs::sink::lake::codec::{record_batch_to_leads, record_batch_to_merges};
use aiq_jobs::sink::lake::{LEADS, LakeWriter, PROPERTY_MERGES, read_manifest};
use aiq_jobs::sink::store::Store;
use aiq_jobs::sql::Lake;
use aiq_schemas::Lead;
use common::{Backend, snapshot, with_database};
use indicatif::ProgressBar;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A lake of many small files: a file every 40 rows.
fn small_files(config: &mut Config) {
    config.lake.rows_per_file = NonZeroUsize::new(40).unwrap();
    config.lake.row_group_rows = NonZeroUsize::new(16).unwrap();
    config.runner.batch_size = NonZeroUsize::new(25).unwrap();
}

/// Every lead row of the lake, with its input position, in position order.
fn lake_leads(root: &Path) -> Vec<(String, i32, i64, Lead)> {
    let mut rows = Vec::new();
    for batch in read_table(root, LEADS).unwrap() {
        for (lead, position) in record_batch_to_leads(&batch).unwrap() {
            let position = position.expect("every row has its input position");
            rows.push((
                position.stream.to_string(),
                position.partition,
                position.offset,
                lead,
            ));
        }
    }
    rows.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    rows
}

/// Buffers one lead read at `stream`/`partition`/`offset` in `writer` (no flush of its own).
fn write_lead(
    writer: &mut LakeWriter,
    lead: Lead,
    stream: &str,
    partition: i32,
    offset: i64,
) -> aiq_jobs::Result<()> {
    let position = aiq_jobs::sink::StreamPosition {
        stream: std::sync::Arc::from(stream),
        partition,
        offset,
    };
    writer.write(&aiq_jobs::sink::SinkBatch {
        leads: &[lead],
        lead_positions: &[position],
        relabels: &[],
        relabel_positions: &[],
        dead_letters: &[],
        marketplace_events: &[],
        next_offsets: &Default::default(),
    })
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

async fn count(lake: &Path, sql: &str) -> String {
    let lake = Lake::open(lake).await.unwrap();
    let result = lake.query(sql).await.unwrap();
    let mut out = Vec::new();
    aiq_jobs::sql::write_result(&result, aiq_jobs::sql::OutputFormat::Csv, None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lead_reads_back_from_the_lake_as_it_was_written() {
    let out = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    small_files(&mut config);
    let summary = run_file_pipeline(config, &fixture("listings.jsonl"), out.path(), false)
        .await
        .expect("pipeline runs");
    let written: Vec<Lead> = std::fs::read_to_string(&summary.leads_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let read = lake_leads(&summary.lake_dir);
    assert_eq!(read.len(), written.len());
    assert!(
        summary.lake_files > 5,
        "many small files: {}",
        summary.lake_files
    );
    // The JSON lines are in input order, as are the lake rows sorted by position. Property ids may
    // differ where a later merge relabelled a row still buffered for the lake.
    for ((_, _, _, from_lake), original) in read.iter().zip(&written) {
        let mut expected = original.clone();
        expected.property_id = from_lake.property_id;
        assert_eq!(from_lake, &expected);
    }
    let offsets: Vec<i64> = read.iter().map(|r| r.2).collect();
    let mut unique = offsets.clone();
    unique.dedup();
    assert_eq!(unique, offsets, "one row per input record");
    // The raw archive holds every line as it was read, malformed ones included.
    let lines = std::fs::read_to_string(fixture("listings.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        count(
            &summary.lake_dir,
            "SELECT count(*) AS n, count(DISTINCT input_offset) AS d FROM raw_listings"
        )
        .await,
        format!("n,d\n{lines},{lines}\n")
    );
    let first_line = std::fs::read_to_string(fixture("listings.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let stored = count(
        &summary.lake_dir,
        "SELECT payload FROM raw_listings ORDER BY input_offset LIMIT 1",
    )
    .await;
    assert!(
        stored.contains(&first_line[..40.min(first_line.len())].replace('"', "\"\"")),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_a_crash_left_uncommitted_are_removed_before_the_next_write() {
    let out = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    small_files(&mut config);
    let summary = run_file_pipeline(
        config.clone(),
        &fixture("listings.jsonl"),
        out.path(),
        false,
    )
    .await
    .unwrap();
    let root = summary.lake_dir.clone();
    let committed = parquet_files(&root.join(LEADS));
    let before = count(&root, "SELECT count(*) AS n FROM leads").await;

    // A crash after a rename but before its commit, and one in the middle of a write.
    let orphan =
        committed[0].with_file_name("part-listings.jsonl-0-000000009000-000000009010.parquet");
    std::fs::copy(&committed[0], &orphan).unwrap();
    let fresh_tmp = committed[0].with_file_name("part-x.parquet.tmp");
    std::fs::write(&fresh_tmp, b"half a file").unwrap();
    // And a torn last manifest line.
    let manifest = root.join("_manifest/leads.jsonl");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("{\"files\":[{\"path\":\"leads/dt=");
    std::fs::write(&manifest, text).unwrap();
    assert_ne!(
        count(&root, "SELECT count(*) AS n FROM leads").await,
        before
    );

    config.lake.dir = root.clone();
    let writer = LakeWriter::open(&config.lake).unwrap();
    assert!(!orphan.exists(), "the uncommitted file is gone");
    assert!(
        fresh_tmp.exists(),
        "a temporary file a live writer may own stays"
    );
    assert_eq!(parquet_files(&root.join(LEADS)), committed);
    assert_eq!(
        count(&root, "SELECT count(*) AS n FROM leads").await,
        before
    );
    let mut writer = writer;
    let next = writer.committed_next("listings.jsonl", 0);
    assert!(next > 0);

    // The next commit after the torn line is read back (not glued to the torn line).
    let (lead, _) = record_batch_to_leads(&read_table(&root, LEADS).unwrap()[0])
        .unwrap()
        .remove(0);
    write_lead(&mut writer, lead, "listings.jsonl", 0, next + 10).unwrap();
    writer.flush().unwrap();
    drop(writer);
    let reopened = LakeWriter::open(&config.lake).unwrap();
    assert_eq!(reopened.committed_next("listings.jsonl", 0), next + 11);
    let after: u64 = count(&root, "SELECT count(*) AS n FROM leads")
        .await
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let before: u64 = before.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(after, before + 1);
}

/// Ingests the fixture into a fresh store of `backend` through the embedded runner, with a lake of
/// small files; returns the lake's folder (kept by `dir`).
async fn ingest_fixture(url: &str, dir: &Path) -> Config {
    let mut config = Config::default();
    small_files(&mut config);
    config.store.url = url.to_owned();
    config.lake.dir = dir.join("lake");
    let summary = run_ingest(
        config.clone(),
        Feed::File {
            path: fixture("listings.jsonl"),
        },
    )
    .await
    .expect("ingest runs");
    let enrich = summary.enrich.expect("embedded");
    assert!(
        enrich.property_merges > 0,
        "the fixture has duplicates to merge"
    );
    config
}

async fn backfilled_snapshot(backend: Backend, config: &Config) -> common::Snapshot {
    let config = config.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    with_database(backend, move |url| async move {
        let store = Store::open(&url, 2).await.unwrap();
        let stats = backfill(&config, &store, 37, &ProgressBar::hidden())
            .await
            .expect("backfill runs");
        assert!(stats.merges_applied > 0);
        let first = snapshot(&store).await;
        // Again: everything is there already.
        let again = backfill(&config, &store, 37, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(again.leads_written, 0);
        assert_eq!(again.already_stored, stats.leads_written);
        assert_eq!(snapshot(&store).await, first);
        store.close().await;
        let _ = sender.send(first);
    })
    .await;
    receiver.await.unwrap()
}

async fn compaction_and_backfill_round_trip(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let dir_path = dir.path().to_owned();
    with_database(backend, move |url| async move {
        let config = ingest_fixture(&url, &dir_path).await;
        let store = Store::open(&url, 2).await.unwrap();
        let mut original = snapshot(&store).await;
        original.dead_letters.clear();
        store.close().await;
        let _ = sender.send((config, original));
    })
    .await;
    let (config, original) = receiver.await.unwrap();
    let root = config.lake.dir.clone();

    // Backfill from the lake as the runner wrote it.
    let mut rebuilt = backfilled_snapshot(backend, &config).await;
    assert!(
        rebuilt.dead_letters.is_empty(),
        "dead letters are not in the lake"
    );
    rebuilt.dead_letters.clear();
    assert_eq!(rebuilt, original);

    // Compact: fewer files, the same rows, the same positions.
    let rows_before = lake_leads(&root);
    let merges_before: Vec<_> = read_table(&root, PROPERTY_MERGES)
        .unwrap()
        .iter()
        .flat_map(|b| record_batch_to_merges(b).unwrap())
        .collect();
    let files_before = parquet_files(&root.join(LEADS)).len();
    let manifest_before = read_manifest(&root).unwrap();
    let sql = "SELECT source, count(*) AS n, count(DISTINCT property_id) AS p, sum(lead_price) AS s \
               FROM leads WHERE state = 'WA' GROUP BY source ORDER BY source";
    let answer_before = count(&root, sql).await;
    let stats = compact(
        &config.lake,
        &CompactOptions::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert!(stats.folders_compacted > 0);
    let files_after = parquet_files(&root.join(LEADS)).len();
    assert!(
        files_after < files_before,
        "{files_before} files became {files_after}"
    );
    assert_eq!(lake_leads(&root), rows_before);
    let mut merges_after: Vec<_> = read_table(&root, PROPERTY_MERGES)
        .unwrap()
        .iter()
        .flat_map(|b| record_batch_to_merges(b).unwrap())
        .collect();
    let mut merges_expected = merges_before.clone();
    let key = |m: &aiq_jobs::sink::lake::codec::MergeRow| (m.offset, m.seq);
    merges_after.sort_by_key(key);
    merges_expected.sort_by_key(key);
    assert_eq!(merges_after, merges_expected);
    assert_eq!(count(&root, sql).await, answer_before);
    // The writers' exactly-once positions did not move.
    let next = |entries: &[aiq_jobs::sink::lake::ManifestEntry]| {
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for e in entries {
            let n = next.entry((e.stream.clone(), e.partition)).or_default();
            *n = (*n).max(e.last_offset + 1);
        }
        next
    };
    assert_eq!(next(&read_manifest(&root).unwrap()), next(&manifest_before));
    // Compacting again has nothing to do.
    let again = compact(
        &config.lake,
        &CompactOptions::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(again.folders_compacted, 0);

    // A backfill from the compacted lake gives the same store.
    let mut rebuilt = backfilled_snapshot(backend, &config).await;
    rebuilt.dead_letters.clear();
    assert_eq!(rebuilt, original);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_compaction_keeps_every_row_and_backfill_rebuilds_the_store() {
    compaction_and_backfill_round_trip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_compaction_keeps_every_row_and_backfill_rebuilds_the_store() {
    compaction_and_backfill_round_trip(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_embedded_run_into_the_same_lake_and_store_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    small_files(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("aiq.db").display());
    config.lake.dir = dir.path().join("lake");
    let first = run_ingest(
        config.clone(),
        Feed::File {
            path: fixture("listings.jsonl"),
        },
    )
    .await
    .unwrap();
    let rows_after_first = lake_leads(&config.lake.dir).len() as u64;
    assert_eq!(rows_after_first, first.enrich.unwrap().leads_out);
    let dead_after_first = stored_dead_letters(&config.store.url).await;
    assert!(dead_after_first > 0);
    let second = run_ingest(
        config.clone(),
        Feed::File {
            path: fixture("listings.jsonl"),
        },
    )
    .await
    .unwrap();
    // The same listings fetched again: the lake keeps both fetches, the store both runs' dead letters.
    assert_eq!(
        lake_leads(&config.lake.dir).len() as u64,
        rows_after_first + second.enrich.unwrap().leads_out
    );
    assert_eq!(
        stored_dead_letters(&config.store.url).await,
        2 * dead_after_first
    );
}

/// A session opened before a writer adds files sees them in `current_leads` at its next statement:
/// the superseded rows are recomputed when the `leads` files change, not kept from the opening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_sql_session_follows_a_later_run_into_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    small_files(&mut config);
    config.store.url = format!("sqlite://{}", dir.path().join("aiq.db").display());
    config.lake.dir = dir.path().join("lake");
    let feed = || Feed::File {
        path: fixture("listings.jsonl"),
    };
    run_ingest(config.clone(), feed()).await.unwrap();
    let first_run: Vec<(String, i32, i64)> = lake_leads(&config.lake.dir)
        .into_iter()
        .map(|(stream, partition, offset, _)| (stream, partition, offset))
        .collect();

    let lake = Lake::open(&config.lake.dir).await.unwrap();
    let listings = "SELECT count(*) AS n FROM current_leads";
    let csv = |result: aiq_jobs::sql::QueryResult| {
        let mut out = Vec::new();
        aiq_jobs::sql::write_result(&result, aiq_jobs::sql::OutputFormat::Csv, None, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    };
    let before = csv(lake.query(listings).await.unwrap());

    // The same listings fetched again, later: every current row now comes from the second run.
    run_ingest(config.clone(), feed()).await.unwrap();
    assert_eq!(csv(lake.query(listings).await.unwrap()), before);
    let positions = lake
        .query("SELECT input_stream, input_partition, input_offset FROM current_leads")
        .await
        .unwrap();
    let mut from_first_run = 0;
    for batch in &positions.batches {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Int32Type, Int64Type};
        let streams = batch.column(0).as_string::<i32>();
        let partitions = batch.column(1).as_primitive::<Int32Type>();
        let offsets = batch.column(2).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let position = (
                streams.value(row).to_owned(),
                partitions.value(row),
                offsets.value(row),
            );
            from_first_run += usize::from(first_run.contains(&position));
        }
    }
    assert_eq!(from_first_run, 0, "rows of the first run are superseded");
}

async fn stored_dead_letters(url: &str) -> i64 {
    let store = Store::open(url, 2).await.unwrap();
    let counts = store.counts().await.unwrap();
    store.close().await;
    counts.dead_letters_by_reason.values().sum()
}

/// A member that lost a partition without noticing (a zombie) cannot commit files for it: the new
/// owner's claim fences the old one, whose flush fails and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_partition_was_claimed_since_cannot_commit_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.lake.dir = dir.path().to_owned();
    let stream = "listings.by-block";
    let write = |writer: &mut LakeWriter, offset: i64, id: &str| {
        let lead = common::lead(aiq_schemas::Source::Zillow, id, 7);
        write_lead(writer, lead, stream, 3, offset)?;
        writer.flush()
    };

    let mut zombie = LakeWriter::open(&config.lake).unwrap();
    assert_eq!(zombie.claim(stream, 3).unwrap(), 1);
    write(&mut zombie, 0, "a").expect("the owner writes");
    let mut owner = LakeWriter::open(&config.lake).unwrap();
    assert_eq!(owner.claim(stream, 3).unwrap(), 2);
    let error = write(&mut zombie, 1, "b").expect_err("fenced");
    assert!(
        matches!(
            error,
            aiq_jobs::Error::Fenced {
                partition: 3,
                generation: 1,
                ..
            }
        ),
        "{error}"
    );
    write(&mut owner, 1, "b").expect("the new owner writes");

    let entries = read_manifest(dir.path()).unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.first_offset, e.last_offset))
            .collect::<Vec<_>>(),
        vec![(0, 0), (1, 1)]
    );
    let files = parquet_files(&dir.path().join(LEADS));
    assert_eq!(files.len(), 2, "no file of the fenced flush: {files:?}");
    let leftovers: Vec<_> = walk_all(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_all(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Buffers are bounded by memory, not only by rows: with room for a million rows but 1 MiB, leads
/// with long descriptions are written as the buffer fills, before any explicit flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_rows_are_written_once_they_hold_the_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.lake.dir = dir.path().to_owned();
    config.lake.rows_per_file = NonZeroUsize::new(1_000_000).unwrap();
    config.lake.buffer_mib = NonZeroUsize::new(1).unwrap();
    config.lake.flush_interval = std::time::Duration::from_secs(3600);
    let mut writer = LakeWriter::open(&config.lake).unwrap();
    for offset in 0..300i64 {
        let mut lead = common::lead(aiq_schemas::Source::Zillow, &format!("z{offset}"), 7);
        lead.listing.description = Some("spacious ".repeat(1_000));
        write_lead(&mut writer, lead, "listings.by-block", 0, offset).unwrap();
    }
    // 300 leads of about 9 KB: about 2.6 MiB, so at least two files written without a flush.
    assert!(
        writer.files_written().len() >= 2,
        "{:?}",
        writer.files_written()
    );
    assert!(
        writer.rows_written() < 300,
        "the last rows are still buffered"
    );
    writer.flush().unwrap();
    assert_eq!(writer.rows_written(), 300);
}
