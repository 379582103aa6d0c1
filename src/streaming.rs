//! `aiqleads kafka ...` and `aiqleads run <job>`: the Kafka deployment's commands.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use aiq_jobs::backfill::backfill;
use aiq_jobs::compact::{CompactOptions, compact};
use aiq_jobs::config::Config;
use aiq_jobs::sink::store::Store;
use aiq_jobs::stream::{Job, JobOptions, JobStats, run_job};
use aiq_kafka::Bus;
use aiq_kafka::topics::{TopicOutcome, create_topics, topics};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tracing::{info, warn};

#[derive(Subcommand)]
pub(crate) enum KafkaCommand {
    /// Create every topic the platform uses (partitions, retention, compaction as in the code);
    /// topics that exist are left alone, so running it again is harmless.
    CreateTopics {
        /// Partitions of the listing topics (default: [bus.kafka] partitions).
        #[arg(long)]
        partitions: Option<i32>,
    },
    /// Print the topics with their partitions, retention and purpose.
    Topics {
        #[arg(long)]
        partitions: Option<i32>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum JobArg {
    /// listings.raw -> normalise -> listings.by-block (keyed for dedupe); rejects to listings.dlq.
    Partition,
    /// listings.by-block -> dedupe, fraud, price -> store, Parquet lake, leads.enriched/quarantine.
    Enrich,
    /// listings.dlq -> the store's dead_letters table.
    DeadLetters,
    /// marketplace.events (the API's views, cart adds, purchases) -> the store's marketplace_events,
    /// and on to listings.by-block for pricing's demand.
    Events,
    /// All four in this process.
    All,
    /// Batch: merge each lake folder's small files into one, sorted for pruning (safe while the
    /// streaming jobs run; a folder that changes meanwhile is left for the next run).
    Compact,
    /// Batch: rebuild the store (listings, leads, market statistics) from the lake; positions the
    /// store already holds are skipped, so it can be repeated.
    Backfill,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The job(s) to run; start several processes with the same job to share its partitions.
    #[arg(value_enum, required = true)]
    jobs: Vec<JobArg>,
    /// Stop once no new record arrived for this long (e.g. `10s`), for batch runs, at any of the jobs
    /// of this process (so `all` ends together, once the last output was consumed); a member that
    /// holds no partition waits at least 30 s (a rebalance may still hand it some). Without it a
    /// job runs until SIGTERM or Ctrl-C, then finishes its batch, flushes and commits.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    exit_when_idle: Option<Duration>,
    /// compact: leave folders with fewer committed files than this alone.
    #[arg(long, default_value_t = 2, value_name = "N")]
    min_files: usize,
    /// backfill: leads per store transaction.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    batch_rows: usize,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("start the async runtime")
}

fn kafka_brokers(config: &Config) -> anyhow::Result<&str> {
    match config.bus.url.strip_prefix("kafka://") {
        Some(brokers) => Ok(brokers.trim_end_matches('/')),
        None => bail!(
            "bus.url is `{}`: set it to kafka://HOST:PORT (AIQ__BUS__URL) to manage Kafka topics",
            config.bus.url
        ),
    }
}

pub(crate) fn kafka(command: KafkaCommand, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        KafkaCommand::Topics { partitions } => {
            for topic in topics(partitions.unwrap_or(config.bus.kafka.partitions)) {
                println!(
                    "{:<20} partitions {:>3}  {:<28} {}",
                    topic.name,
                    topic.partitions,
                    topic
                        .config()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    topic.purpose
                );
            }
        }
        KafkaCommand::CreateTopics { partitions } => {
            let brokers = kafka_brokers(config)?;
            let specs = topics(partitions.unwrap_or(config.bus.kafka.partitions));
            let outcomes =
                runtime()?.block_on(create_topics(brokers, &config.bus.kafka, &specs))?;
            for (name, outcome) in outcomes {
                let said = match outcome {
                    TopicOutcome::Created => "created",
                    TopicOutcome::AlreadyExists => "already exists",
                };
                println!("{name}: {said}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(args: RunArgs, config: Config) -> anyhow::Result<ExitCode> {
    let batch_jobs = args
        .jobs
        .iter()
        .filter(|j| matches!(j, JobArg::Compact | JobArg::Backfill))
        .count();
    if batch_jobs > 0 {
        if args.jobs.len() > 1 {
            bail!("`compact` and `backfill` are batch jobs: run each on its own");
        }
        return match args.jobs[0] {
            JobArg::Compact => run_compact(&args, &config),
            _ => run_backfill(&args, &config),
        };
    }
    let mut jobs: Vec<Job> = Vec::new();
    for arg in &args.jobs {
        let add: &[Job] = match arg {
            JobArg::Partition => &[Job::Partition],
            JobArg::Enrich => &[Job::Enrich],
            JobArg::DeadLetters => &[Job::DeadLetters],
            JobArg::Events => &[Job::Events],
            JobArg::All => &Job::ALL,
            JobArg::Compact | JobArg::Backfill => &[],
        };
        for job in add {
            if !jobs.contains(job) {
                jobs.push(*job);
            }
        }
    }
    if config.bus.url.starts_with("memory://") {
        bail!(
            "`aiqleads run` consumes a broker's topics; with bus.url memory:// nothing else can \
             publish to this process. Set bus.url to kafka://HOST:PORT, or use `demo`, `scrape` or \
             `ingest`, which run these jobs in-process on the embedded bus"
        );
    }
    let runtime = runtime()?;
    runtime.block_on(async move {
        serve_metrics(&config)?;
        let bus = Bus::open(
            &config.bus.url,
            config.bus.channel_capacity.get(),
            &config.bus.kafka,
        )?;
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(stop_on_signals(stop));
        let options = JobOptions {
            exit_when_idle: args.exit_when_idle,
            ..JobOptions::default()
        };
        let mut tasks = tokio::task::JoinSet::new();
        for job in jobs {
            let (bus, config, options, shutdown) = (
                bus.clone(),
                config.clone(),
                options.clone(),
                shutdown.clone(),
            );
            tasks
                .spawn(async move { (job, run_job(job, &bus, &config, &options, shutdown).await) });
        }
        let mut failed = false;
        while let Some(joined) = tasks.join_next().await {
            let (job, outcome) = joined.context("a job task panicked")?;
            match outcome {
                Ok(stats) => println!("{}", summary(job, &stats)),
                Err(error) => {
                    eprintln!("error: job {} failed: {error}", job.name());
                    failed = true;
                }
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// A progress bar on the terminal (hidden when standard error is not one).
fn progress_bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} ({{eta}} left) {{wide_msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

fn run_compact(args: &RunArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let options = CompactOptions {
        min_files: args.min_files,
    };
    let stats = compact(&config.lake, &options, &progress_bar("folders"))
        .with_context(|| format!("compact the lake at {}", config.lake.dir.display()))?;
    println!(
        "compact: {} folders compacted ({} files -> {}, {} rows), {} changed meanwhile and left, \
         {} orphaned files removed",
        stats.folders_compacted,
        stats.files_before,
        stats.files_after,
        stats.rows,
        stats.folders_skipped,
        stats.orphans_removed
    );
    Ok(ExitCode::SUCCESS)
}

fn run_backfill(args: &RunArgs, config: &Config) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = Store::open(&config.store.url, config.store.max_connections.get()).await?;
        let stats = backfill(config, &store, args.batch_rows, &progress_bar("rows"))
            .await
            .with_context(|| {
                format!(
                    "backfill {} from the lake at {}",
                    config.store.url,
                    config.lake.dir.display()
                )
            })?;
        store.close().await;
        println!(
            "backfill: {} input partitions, {} leads written, {} merges applied, {} rows already \
             stored, {} transactions",
            stats.input_partitions,
            stats.leads_written,
            stats.merges_applied,
            stats.already_stored,
            stats.batches
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn summary(job: Job, stats: &JobStats) -> String {
    format!(
        "{}: {} records in, {} out, {} dead-lettered, {} quarantined, {} repeats dropped, \
         {} already stored, {} replayed to rebuild state, {} batches",
        job.name(),
        stats.records_in,
        stats.records_out,
        stats.dead_lettered,
        stats.quarantined,
        stats.repeats_dropped,
        stats.already_stored,
        stats.replayed,
        stats.batches
    )
}

/// The Prometheus endpoint (`[metrics] listen`), serving `/metrics`.
fn serve_metrics(config: &Config) -> anyhow::Result<()> {
    if config.metrics.listen.is_empty() {
        return Ok(());
    }
    let address: SocketAddr = config
        .metrics
        .listen
        .parse()
        .with_context(|| format!("metrics.listen `{}`", config.metrics.listen))?;
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(address)
        .install()
        .with_context(|| format!("serve metrics on {address}"))?;
    info!(%address, "metrics at http://{address}/metrics");
    Ok(())
}

/// The first SIGTERM or Ctrl-C asks every job to finish its batch, flush and commit; a second one
/// exits at once.
async fn stop_on_signals(stop: watch::Sender<bool>) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM; Ctrl-C still works");
                return;
            }
        };
    for round in 0.. {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        if round > 0 {
            eprintln!("second signal: exiting without committing");
            std::process::exit(130);
        }
        eprintln!(
            "stopping: finishing the current batch, flushing and committing (signal again to exit now)"
        );
        let _ = stop.send(true);
    }
}
