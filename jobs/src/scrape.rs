//! `aiqleads scrape`: crawl a site for real and feed what it finds into the platform. Raw listings go
//! to the bus stream `listings.raw` (keyed `source:id`), pages that hold no listing to
//! `listings.dlq`. With the embedded `memory://` bus the enrich runner (normalise, dedupe, fraud,
//! price, then the store and the lake) and the dead-letter runner run in the same process. The raw
//! listings can also be written as JSON lines, which `aiqleads pipeline --input` replays.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiq_connectors::crawl::{CrawlEvent, CrawlState, CrawlStats, Crawler};
use aiq_schemas::Source;
use tokio::sync::mpsc;
use tracing::info;

use crate::bus::{Bus, Producer, streams};
use crate::config::Config;
use crate::embedded::Downstream;
use crate::runner::RunStats;
use crate::{Error, Result};

/// What to crawl and where the crawl keeps its state.
#[derive(Clone, Debug)]
pub struct ScrapeOptions {
    pub source: Source,
    /// First page (a search page or a listing page). Its scheme, host and port are the base every
    /// followed link must share, so a mirror or a test server can stand in for the site.
    pub start: String,
    /// Most pages fetched by this run.
    pub max_pages: usize,
    /// SQLite file holding the frontier, seen-set and validators; a killed scrape started again
    /// with the same file resumes, a finished one crawls incrementally. `None`: in memory only.
    pub state: Option<PathBuf>,
    /// Also write each raw listing as one JSON line here.
    pub out: Option<PathBuf>,
}

/// What a scrape did.
#[derive(Debug)]
pub struct ScrapeSummary {
    pub source: Source,
    pub crawl: CrawlStats,
    /// The enrich run, when the embedded bus ran it in this process.
    pub enrich: Option<RunStats>,
    /// Dead letters stored by the in-process dead-letter runner.
    pub dead_letters_stored: u64,
    pub published_listings: u64,
    pub published_rejects: u64,
    /// The JSON-lines file and the lines written to it.
    pub out: Option<(PathBuf, u64)>,
    pub elapsed: Duration,
}

/// The crawl name under which the state file keeps this scrape: one per site and start URL.
pub fn crawl_name(source: Source, start: &str) -> String {
    format!("{source} {start}")
}

pub async fn run_scrape(mut config: Config, options: ScrapeOptions) -> Result<ScrapeSummary> {
    let started = Instant::now();
    // The in-process bus numbers its offsets from 0 in every process, while the store keeps the
    // offsets each consumer committed: a consumer name of this process's own keeps a second scrape
    // into the same store from skipping its records as already committed.
    let process_tag = format!("{}", chrono::Utc::now().timestamp_micros());
    if config.bus.url.starts_with("memory://") {
        config.runner.consumer_name =
            format!("{} scrape {process_tag}", config.runner.consumer_name);
    }
    let crawl_error = |e: aiq_connectors::crawl::CrawlError| Error::Crawl(e.to_string());
    let crawler = Crawler::new(config.crawl.clone()).map_err(crawl_error)?;
    let name = crawl_name(options.source, &options.start);
    let state = match &options.state {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io("create folder", parent, e))?;
            }
            CrawlState::open(path, &name).await
        }
        None => CrawlState::in_memory(&name).await,
    }
    .map_err(crawl_error)?;
    let out = match &options.out {
        Some(path) => Some((
            path.clone(),
            BufWriter::new(File::create(path).map_err(|e| Error::io("create", path, e))?),
        )),
        None => None,
    };

    let bus = Bus::open(
        &config.bus.url,
        config.bus.channel_capacity.get(),
        &config.bus.kafka,
    )?;
    let downstream = if config.bus.url.starts_with("memory://") {
        Some(Downstream::start(&config, &bus, |_| {}).await?)
    } else {
        None
    };
    let raw_producer = bus.producer(streams::LISTINGS_RAW)?;
    let dlq_producer = bus.producer(streams::LISTINGS_DLQ)?;
    // From here on only the crawler's producers keep the streams open: when the crawl ends, the
    // in-process runners see the end of their streams and finish too.
    bus.release_own_producers();

    let (events_tx, events_rx) = mpsc::channel(1024);
    let crawl = {
        let state = state.clone();
        let (source, start, max_pages) = (options.source, options.start.clone(), options.max_pages);
        tokio::spawn(async move {
            crawler
                .crawl_with_state(source, &start, max_pages, &state, events_tx)
                .await
        })
    };
    let forward = tokio::spawn(publish(events_rx, raw_producer, dlq_producer, out));

    let crawl = crawl
        .await
        .map_err(|e| Error::Internal(format!("crawler task: {e}")))?
        .map_err(crawl_error)?;
    let published = forward
        .await
        .map_err(|e| Error::Internal(format!("publisher task: {e}")))??;
    state.close().await;
    let (enrich, dead_letters_stored) = match downstream {
        Some(downstream) => {
            let outcome = downstream.finish().await?;
            (Some(outcome.enrich), outcome.dead_letters_stored)
        }
        None => (None, 0),
    };
    info!(
        crawl = name,
        pages = crawl.pages_fetched,
        listings = crawl.listings_emitted,
        "scrape finished"
    );
    Ok(ScrapeSummary {
        source: options.source,
        crawl,
        enrich,
        dead_letters_stored,
        published_listings: published.listings,
        published_rejects: published.rejects,
        out: options.out.map(|path| (path, published.lines_written)),
        elapsed: started.elapsed(),
    })
}

#[derive(Default)]
struct Published {
    listings: u64,
    rejects: u64,
    lines_written: u64,
}

/// Publishes what the crawler finds: listings to `listings.raw` keyed `source:id` (and to the
/// JSON-lines file), rejects to `listings.dlq` keyed by the page URL.
async fn publish(
    mut events: mpsc::Receiver<CrawlEvent>,
    raw: Producer,
    dlq: Producer,
    mut out: Option<(PathBuf, BufWriter<File>)>,
) -> Result<Published> {
    let mut published = Published::default();
    while let Some(event) = events.recv().await {
        match event {
            CrawlEvent::PageFetched { .. } => {}
            CrawlEvent::Listing(listing) => {
                let payload = serde_json::to_vec(&listing)
                    .map_err(|e| Error::Internal(format!("serialise listing: {e}")))?;
                if let Some((path, file)) = out.as_mut() {
                    write_line(file, path, &payload)?;
                    published.lines_written += 1;
                }
                let key = format!(
                    "{}:{}",
                    listing.source.as_deref().unwrap_or_default(),
                    listing.source_listing_id.as_deref().unwrap_or_default()
                );
                raw.send(key.into_bytes(), payload).await?;
                published.listings += 1;
            }
            CrawlEvent::Rejected(dead) => {
                let payload = serde_json::to_vec(&dead)
                    .map_err(|e| Error::Internal(format!("serialise dead letter: {e}")))?;
                dlq.send(dead.reference.clone().into_bytes(), payload)
                    .await?;
                published.rejects += 1;
            }
        }
    }
    if let Some((path, mut file)) = out {
        file.flush().map_err(|e| Error::io("write", &path, e))?;
    }
    Ok(published)
}

fn write_line(file: &mut BufWriter<File>, path: &Path, payload: &[u8]) -> Result<()> {
    file.write_all(payload)
        .and_then(|()| file.write_all(b"\n"))
        .map_err(|e| Error::io("write", path, e))
}

impl fmt::Display for ScrapeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.crawl;
        let statuses: Vec<String> = c
            .pages_by_status
            .iter()
            .map(|(status, n)| format!("{n} x HTTP {status}"))
            .collect();
        let run = if c.resumed {
            format!("run {} (resumed)", c.run)
        } else {
            format!("run {}", c.run)
        };
        writeln!(
            f,
            "Scraped {} in {:.1}s, {run}, {}",
            self.source,
            self.elapsed.as_secs_f64(),
            if c.finished {
                "frontier exhausted"
            } else {
                "stopped at --max-pages (run again to continue)"
            }
        )?;
        writeln!(
            f,
            "  pages fetched   {:>6}   ({})",
            c.pages_fetched,
            if statuses.is_empty() {
                "none".to_owned()
            } else {
                statuses.join(", ")
            }
        )?;
        writeln!(
            f,
            "  search pages    {:>6}   posting pages {}",
            c.search_pages, c.posting_pages
        )?;
        writeln!(f, "  listings        {:>6}", c.listings_emitted)?;
        writeln!(
            f,
            "  rejects         {:>6}   ({} unreadable pages, {} fetch failures)",
            c.rejected, c.parse_failures, c.fetch_failures
        )?;
        writeln!(f, "  retries         {:>6}", c.retries)?;
        writeln!(f, "  blocked         {:>6}", c.blocked)?;
        writeln!(f, "  unchanged       {:>6}", c.unchanged)?;
        writeln!(
            f,
            "  robots.txt      {:>6}   pages disallowed",
            c.disallowed_by_robots
        )?;
        if let Some(run) = &self.enrich {
            writeln!(
                f,
                "  pipeline        {:>6}   leads ({} duplicates merged, {} quarantined, {} dead-lettered); {} crawl dead letters stored",
                run.leads_out,
                run.duplicates_merged,
                run.quarantined,
                run.dead_lettered,
                self.dead_letters_stored
            )?;
        } else {
            writeln!(
                f,
                "  published       {:>6}   listings to {}, {} rejects to {}",
                self.published_listings,
                streams::LISTINGS_RAW,
                self.published_rejects,
                streams::LISTINGS_DLQ
            )?;
        }
        if let Some((path, lines)) = &self.out {
            write!(
                f,
                "  raw listings    {lines:>6}   lines in {}",
                path.display()
            )?;
        }
        Ok(())
    }
}
