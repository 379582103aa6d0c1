//! `aiqleads pipeline --input FILE.jsonl --out DIR`: the embedded pipeline over a JSON-lines file,
//! through the same bus and runner as the streaming jobs (each line is one record; its line number
//! is its offset).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiq_pipeline::LeadPipeline;
use tokio::sync::watch;

use crate::bus::{Bus, MemoryBus};
use crate::config::Config;
use crate::runner::{RunStats, Sinks, run_enrich};
use crate::sink::jsonl::{DeadLetterWriter, JsonLinesWriter};
use crate::sink::lake::LakeWriter;
use crate::{Error, Result};

/// What `pipeline` wrote.
#[derive(Debug)]
pub struct FileRunSummary {
    pub run: RunStats,
    pub leads_file: PathBuf,
    pub dead_letters_file: PathBuf,
    pub lake_dir: PathBuf,
    pub lake_files: usize,
    pub elapsed: Duration,
}

/// Runs the pipeline over `input`, writing `leads.jsonl`, `dead_letters.jsonl` and the Parquet lake
/// (`lake/`) under `out`. `out` must be empty or absent unless `overwrite` is set, so a result
/// folder always describes exactly one run.
pub async fn run_file_pipeline(
    mut config: Config,
    input: &Path,
    out: &Path,
    overwrite: bool,
) -> Result<FileRunSummary> {
    let started = Instant::now();
    let file = File::open(input).map_err(|e| Error::io("open", input, e))?;
    prepare_out_dir(out, overwrite)?;
    config.lake.dir = out.join("lake");
    let leads_file = out.join("leads.jsonl");
    let dead_letters_file = out.join("dead_letters.jsonl");

    let bus = Bus::Memory(MemoryBus::new(config.bus.channel_capacity.get()));
    let stream = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let mut consumer = bus.consumer(&stream, "pipeline", None)?;
    let producer = bus.producer(&stream)?;
    bus.release_own_producers();
    let input_path = input.to_owned();
    let reader = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut lines = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = lines
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io("read", &input_path, e))?;
            if read == 0 {
                return Ok(());
            }
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            block_on(producer.send(Vec::new(), trimmed.to_vec()))?;
        }
    });

    let mut stage = LeadPipeline::new(&config.pipeline);
    let mut sinks = Sinks {
        store: None,
        lake: Some(LakeWriter::open(&config.lake)?),
        jsonl: Some(JsonLinesWriter::create(&leads_file)?),
        dead_letter_file: Some(DeadLetterWriter::create(&dead_letters_file)?),
    };
    let (_stop, never_stop) = watch::channel(false);
    let run = run_enrich(
        &mut stage,
        &mut consumer,
        &mut sinks,
        &config.runner,
        never_stop,
        |_| {},
    )
    .await?;
    reader
        .await
        .map_err(|e| Error::Internal(format!("reader task: {e}")))??;
    let lake = sinks
        .lake
        .take()
        .ok_or_else(|| Error::Internal("lake writer missing".into()))?;
    Ok(FileRunSummary {
        run,
        leads_file,
        dead_letters_file,
        lake_dir: lake.root().to_owned(),
        lake_files: lake.files_written().len(),
        elapsed: started.elapsed(),
    })
}

/// Sends from the blocking reader thread into the async bus.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(future)
}

fn prepare_out_dir(out: &Path, overwrite: bool) -> Result<()> {
    if out.exists() {
        let non_empty = std::fs::read_dir(out)
            .map_err(|e| Error::io("read folder", out, e))?
            .next()
            .is_some();
        if non_empty && !overwrite {
            return Err(Error::Config(format!(
                "output folder {} is not empty; choose another or pass --overwrite to replace its contents",
                out.display()
            )));
        }
        if non_empty {
            std::fs::remove_dir_all(out).map_err(|e| Error::io("empty", out, e))?;
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io("create folder", out, e))
}
