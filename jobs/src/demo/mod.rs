//! `aiqleads demo`: the whole path on one machine with no servers. A bundled sample of Craigslist
//! pages is served on 127.0.0.1, crawled with the real connector, sent over the in-process bus,
//! enriched by the same runner the Kafka jobs use, and written to SQLite and Parquet.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiq_connectors::crawl::{CrawlEvent, CrawlStats, Crawler};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::bus::{Bus, Producer, streams};
use crate::config::Config;
use crate::embedded::Downstream;
use crate::runner::RunStats;
use crate::sink::store::StoreCounts;
use crate::{Error, Result};

pub mod site;

pub use site::{SAMPLE_EXPECTED, SampleSite};

/// Options of one demo run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Folder for the SQLite database and the Parquet lake; emptied at the start of every run.
    pub data_dir: PathBuf,
    /// Most pages to fetch.
    pub max_pages: usize,
    /// Draw a progress spinner on the terminal.
    pub show_progress: bool,
    /// Requests per second to the sample site. It is our own server on 127.0.0.1, so the demo may
    /// go faster than the polite default for real sites (`crawl.requests_per_second_per_host`).
    pub requests_per_second: std::num::NonZeroU32,
}

/// What the demo did, read back from what was written.
#[derive(Debug)]
pub struct DemoSummary {
    pub crawl: CrawlStats,
    pub run: RunStats,
    pub stored: StoreCounts,
    pub database: PathBuf,
    pub lake_dir: PathBuf,
    pub lake_files: Vec<PathBuf>,
    pub lake_rows: usize,
    pub elapsed: Duration,
}

pub async fn run_demo(mut config: Config, options: DemoOptions) -> Result<DemoSummary> {
    let started = Instant::now();
    prepare_data_dir(&options.data_dir)?;
    let database = options.data_dir.join("aiqleads.db");
    config.store.url = format!("sqlite://{}", database.display());
    config.lake.dir = options.data_dir.join("lake");
    config.bus.url = "memory://".into();
    config.crawl.requests_per_second_per_host = options.requests_per_second;
    // The sample's block page is permanent by design: cooling our own server down for the
    // real-site default (30 s, doubling) would only make the demo wait.
    config.crawl.block_cooldown = Duration::from_millis(50);

    let site = SampleSite::start().await?;
    let bus = Bus::open(
        &config.bus.url,
        config.bus.channel_capacity.get(),
        &config.bus.kafka,
    )?;
    let progress = progress_bar(options.show_progress);
    let bar = progress.clone();
    let downstream = Downstream::start(&config, &bus, move |stats| {
        bar.set_message(format!(
            "{} leads, {} merged, {} quarantined",
            stats.leads_out, stats.duplicates_merged, stats.quarantined
        ));
    })
    .await?;
    let raw_producer = bus.producer(streams::LISTINGS_RAW)?;
    let dlq_producer = bus.producer(streams::LISTINGS_DLQ)?;
    // From here on only the crawler's producers keep the streams open: when it finishes, the
    // downstream jobs see the end of their streams and finish too.
    bus.release_own_producers();

    let crawler = Crawler::new(config.crawl.clone()).map_err(|e| Error::Crawl(e.to_string()))?;
    let (events_tx, events_rx) = mpsc::channel(1024);
    let start_url = site.start_url();
    let max_pages = options.max_pages;
    let crawl = tokio::spawn(async move {
        crawler
            .crawl(
                aiq_schemas::Source::Craigslist,
                &start_url,
                max_pages,
                events_tx,
            )
            .await
    });
    let forward = tokio::spawn(forward_events(
        events_rx,
        raw_producer,
        dlq_producer,
        progress.clone(),
    ));

    let crawl = crawl
        .await
        .map_err(|e| Error::Internal(format!("crawler task: {e}")))?
        .map_err(|e| Error::Crawl(e.to_string()))?;
    forward
        .await
        .map_err(|e| Error::Internal(format!("forwarder task: {e}")))??;
    let outcome = downstream.finish().await?;
    progress.finish_and_clear();
    Ok(DemoSummary {
        crawl,
        run: outcome.enrich,
        stored: outcome.stored,
        database,
        lake_dir: outcome.lake_dir,
        lake_files: outcome.lake_files,
        lake_rows: outcome.lake_rows,
        elapsed: started.elapsed(),
    })
}

/// The demo owns its folder: it starts empty every run so the figures describe this run alone.
fn prepare_data_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("empty", dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))
}

fn progress_bar(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Publishes what the crawler finds: listings to `listings.raw` keyed by source and id, rejects to
/// `listings.dlq`.
async fn forward_events(
    mut events: mpsc::Receiver<CrawlEvent>,
    raw: Producer,
    dlq: Producer,
    bar: ProgressBar,
) -> Result<()> {
    let (mut pages, mut listings) = (0u64, 0u64);
    while let Some(event) = events.recv().await {
        match event {
            CrawlEvent::PageFetched { .. } => pages += 1,
            CrawlEvent::Listing(listing) => {
                listings += 1;
                let key = format!(
                    "{}:{}",
                    listing.source.as_deref().unwrap_or_default(),
                    listing.source_listing_id.as_deref().unwrap_or_default()
                );
                let payload = serde_json::to_vec(&listing)
                    .map_err(|e| Error::Internal(format!("serialise listing: {e}")))?;
                raw.send(key.into_bytes(), payload).await?;
            }
            CrawlEvent::Rejected(dead) => {
                let payload = serde_json::to_vec(&dead)
                    .map_err(|e| Error::Internal(format!("serialise dead letter: {e}")))?;
                dlq.send(dead.reference.clone().into_bytes(), payload)
                    .await?;
            }
        }
        bar.set_prefix(format!(
            "{pages} pages fetched, {listings} listings parsed;"
        ));
    }
    Ok(())
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.crawl;
        let r = &self.run;
        writeln!(
            f,
            "AIQLeads demo finished in {:.1}s",
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Crawl (Craigslist connector against the bundled sample site on 127.0.0.1)"
        )?;
        let statuses: Vec<String> = c
            .pages_by_status
            .iter()
            .map(|(status, n)| format!("{n} x HTTP {status}"))
            .collect();
        writeln!(
            f,
            "  pages fetched        {:>6}   ({})",
            c.pages_fetched,
            statuses.join(", ")
        )?;
        writeln!(f, "  search pages         {:>6}", c.search_pages)?;
        writeln!(f, "  posting pages        {:>6}", c.posting_pages)?;
        writeln!(f, "  listings parsed      {:>6}", c.listings_emitted)?;
        writeln!(
            f,
            "  retries              {:>6}   (blocked responses: {})",
            c.retries, c.blocked
        )?;
        writeln!(f)?;
        writeln!(f, "Pipeline (normalise -> dedupe -> fraud -> price)")?;
        writeln!(f, "  records in           {:>6}", r.records_in)?;
        writeln!(f, "  leads out            {:>6}", r.leads_out)?;
        writeln!(
            f,
            "  duplicates merged    {:>6}   ({} unique properties)",
            r.duplicates_merged, self.stored.leads
        )?;
        writeln!(
            f,
            "  quarantined (fraud)  {:>6}   listings; {} properties",
            r.quarantined, self.stored.quarantined_leads
        )?;
        let total_dead: i64 = self.stored.dead_letters_by_reason.values().sum();
        writeln!(f, "  dead-lettered        {total_dead:>6}")?;
        let mut reasons: Vec<_> = self.stored.dead_letters_by_reason.iter().collect();
        reasons.sort();
        for (reason, n) in reasons {
            writeln!(f, "    {reason:<20} {n:>4}")?;
        }
        writeln!(f)?;
        writeln!(f, "Lead prices of sellable leads (credits)")?;
        writeln!(f, "  {}", price_distribution(&r.active_prices))?;
        writeln!(f)?;
        writeln!(f, "Written")?;
        writeln!(
            f,
            "  SQLite   {}   ({} listings, {} leads)",
            self.database.display(),
            self.stored.listings,
            self.stored.leads
        )?;
        writeln!(
            f,
            "  Parquet  {}   ({} files, {} rows)",
            self.lake_dir.display(),
            self.lake_files.len(),
            self.lake_rows
        )?;
        write!(
            f,
            "  Try: sqlite3 {} \"SELECT city, COUNT(*), AVG(lead_price) FROM leads GROUP BY city\"",
            self.database.display()
        )
    }
}

/// `min / p25 / median / p75 / max` of a set of prices.
pub fn price_distribution(prices: &[u32]) -> String {
    if prices.is_empty() {
        return "no sellable leads".into();
    }
    let mut sorted = prices.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    format!(
        "min {}  p25 {}  median {}  p75 {}  max {}  (n = {})",
        sorted[0],
        at(0.25),
        at(0.5),
        at(0.75),
        sorted[sorted.len() - 1],
        sorted.len()
    )
}
