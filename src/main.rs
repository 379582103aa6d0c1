//! `aiqleads`: the one command-line entry point of the AIQLeads data platform.

// Faster than the system allocator for the API's many small per-request allocations across
// worker threads (measured with benches/api/run.sh: search +18%, lead detail +7%).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aiq_connectors::decode::decode_html;
use aiq_connectors::detect::detect_site;
use aiq_jobs::config::Config;
use aiq_jobs::demo::{DemoOptions, run_demo};
use aiq_jobs::file::run_file_pipeline;
use aiq_schemas::Source;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod streaming;

/// AIQLeads: real-estate listings in, explainable and fairly priced leads out.
///
/// Configuration is layered: built-in defaults (embedded: in-process bus, SQLite, local Parquet),
/// then the file given with --config, then AIQ__SECTION__KEY environment variables
/// (for example AIQ__STORE__URL=sqlite://data/aiqleads.db).
#[derive(Parser)]
#[command(
    name = "aiqleads",
    version,
    about,
    long_about,
    propagate_version = true
)]
struct Cli {
    /// TOML configuration file (see README: Configuration).
    #[arg(long, global = true, env = "AIQ_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log filter, e.g. `info`, `debug`, `aiq_jobs=debug`. Logs go to standard error.
    #[arg(
        long,
        global = true,
        env = "AIQ_LOG",
        default_value = "warn",
        value_name = "FILTER"
    )]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole path on this machine with no servers: serve the bundled sample pages on
    /// 127.0.0.1, crawl them with the Craigslist connector, enrich, and write SQLite and Parquet.
    Demo {
        /// Folder for the database and the Parquet lake (emptied at the start of each run).
        #[arg(long, default_value = "data/demo", value_name = "DIR")]
        data_dir: PathBuf,
        /// Most pages to fetch.
        #[arg(long, default_value_t = 500)]
        max_pages: usize,
        /// Do not draw the progress spinner.
        #[arg(long)]
        no_progress: bool,
        /// Requests per second to the bundled sample site (our own local server).
        #[arg(long, default_value = "50")]
        rate: std::num::NonZeroU32,
    },
    /// Parse a saved page and print one JSON object per listing, with normalised fields.
    Parse {
        /// Which site's parser to use; `auto` recognises the site from the page.
        /// `craigslist`, `zillow`, `realtor`, `redfin`, `trulia`, `fsbo`, `facebook`, `linkedin`, `reso`,
        /// `file`, or `auto`.
        #[arg(long, default_value = "auto", value_parser = parse_site)]
        site: SiteArg,
        /// The page's URL, used to resolve relative links (defaults to the file's path).
        #[arg(long)]
        url: Option<String>,
        /// The saved page (HTML).
        file: PathBuf,
    },
    /// Run normalise -> dedupe -> fraud -> price over a JSON-lines file of raw listings and write
    /// leads as JSON lines and Parquet, and rejected lines as dead letters.
    Pipeline {
        /// JSON-lines file, one raw listing object per line.
        #[arg(long, value_name = "FILE.jsonl")]
        input: PathBuf,
        /// Output folder: leads.jsonl, dead_letters.jsonl, lake/leads/... (must be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace the contents of a non-empty output folder.
        #[arg(long)]
        overwrite: bool,
    },
    /// Print the effective configuration (defaults, then --config, then AIQ__* variables) as TOML.
    Config,
    /// Crawl a site for real, politely ([crawl] settings: robots.txt, rate limit, retries, proxies),
    /// and send raw listings to the bus (`listings.raw`) and rejects to `listings.dlq`. With the
    /// embedded bus (memory://) the pipeline runs in this process and writes the store and the lake.
    Scrape {
        /// Which site's parser reads the pages: `craigslist`, `zillow`, `realtor`, `redfin`,
        /// `trulia`, `fsbo`, `facebook`, `linkedin`, `reso`, `file`.
        #[arg(long)]
        site: Source,
        /// First page: a search page (its results and next pages are followed) or a listing page.
        /// Only links on the same scheme, host and port are followed, so a mirror works too.
        #[arg(long, value_name = "URL")]
        start: String,
        /// Most pages to fetch in this run.
        #[arg(long, default_value_t = 100)]
        max_pages: usize,
        /// Crawl state (SQLite): run again with the same file to resume a stopped crawl, or to
        /// crawl incrementally (conditional requests, fresh listings skipped) after a finished one.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Also write the raw listings as JSON lines (input for `aiqleads pipeline --input`).
        #[arg(long, value_name = "FILE.jsonl")]
        out: Option<PathBuf>,
    },
    /// Read a brokerage feed (RESO Web API or a CSV / JSON-lines file) and send its listings to the
    /// bus, like `scrape`; rows that cannot become listings go to `listings.dlq`.
    Ingest {
        #[command(subcommand)]
        feed: IngestFeed,
    },
    /// Serve the marketplace API ([api] settings; the database is store.url, events go to bus.url):
    /// search, lead detail, cart reservations, checkout, credits, heatmap, recommendations.
    Serve {
        /// Address and port to listen on (default: api.listen, 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
    },
    /// Mint a bearer token for the marketplace API (signed with api.jwt.secret), for local use.
    Token {
        /// Who the token speaks for (the agent id credits and purchases are kept under).
        #[arg(long)]
        subject: String,
        /// `agent` or `admin` (admins also top up credits).
        #[arg(long, default_value = "agent")]
        role: String,
        /// How long the token is valid, e.g. `1h`, `30d`.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Kafka administration: `create-topics` (idempotent), `topics`.
    Kafka {
        #[command(subcommand)]
        command: streaming::KafkaCommand,
    },
    /// Run streaming jobs against Kafka (bus.url kafka://...): `partition`, `enrich`,
    /// `dead-letters`, `archive`, or `all`; several processes running the same job share its partitions. Or a
    /// batch job on the lake: `compact` (merge small files, sorted for pruning) or `backfill`
    /// (rebuild the store's tables and views from the lake).
    Run(streaming::RunArgs),
    /// Query the Parquet lake ([lake] dir) with SQL (DataFusion). Tables: `leads` (partitioned by
    /// `dt` and `state`: filter on them to skip folders), views `current_leads` and `market_stats`,
    /// and any other table folder the lake holds. With no QUERY, an interactive prompt reads
    /// statements ending in `;` from standard input until it ends.
    Sql {
        /// One SQL statement, e.g. "SELECT state, count(*) FROM leads GROUP BY state".
        query: Option<String>,
        /// `table`, `csv`, `json` (one object per line) or `parquet` (needs --out).
        #[arg(long, default_value = "table")]
        format: aiq_jobs::sql::OutputFormat,
        /// Write the answer to this file instead of standard output (required for parquet).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum IngestFeed {
    /// A RESO Web API (OData) resource, paged through `@odata.nextLink`.
    Reso {
        /// The service root, e.g. https://api.example-mls.com/reso/odata
        #[arg(long, value_name = "URL")]
        url: String,
        /// The resource to read.
        #[arg(long, default_value = "Property")]
        resource: String,
        /// Environment variable holding the bearer token (never passed on the command line, so it
        /// stays out of shell history and process lists).
        #[arg(long, default_value = "AIQ_RESO_TOKEN", value_name = "VAR")]
        token_env: String,
        /// Only records modified at or after this time (RFC 3339), for incremental pulls.
        #[arg(long, value_name = "TIME")]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Records per page (`$top`).
        #[arg(long, default_value = "200")]
        page_size: std::num::NonZeroU32,
    },
    /// A listing file: CSV with a header row (our names, RESO names or common variants), or JSON
    /// lines (`.jsonl`, `.ndjson`, `.json`) of raw listing objects.
    File {
        /// The file.
        path: PathBuf,
    },
}

#[derive(Clone, Copy, Debug)]
enum SiteArg {
    Auto,
    Site(Source),
}

fn parse_site(text: &str) -> Result<SiteArg, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(SiteArg::Auto);
    }
    text.parse::<Source>()
        .map(SiteArg::Site)
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Demo {
            data_dir,
            max_pages,
            no_progress,
            rate,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            let options = DemoOptions {
                data_dir,
                max_pages,
                show_progress: !no_progress,
                requests_per_second: rate,
            };
            let summary = runtime.block_on(run_demo(config, options))?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse { site, url, file } => parse_page(site, url, &file),
        Command::Scrape {
            site,
            start,
            max_pages,
            state,
            out,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            let options = aiq_jobs::scrape::ScrapeOptions {
                source: site,
                start,
                max_pages,
                state,
                out,
            };
            let summary = runtime.block_on(aiq_jobs::scrape::run_scrape(config, options))?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest { feed } => {
            let feed = match feed {
                IngestFeed::Reso {
                    url,
                    resource,
                    token_env,
                    since,
                    page_size,
                } => {
                    let token = std::env::var(&token_env).with_context(|| {
                        format!("the RESO bearer token is read from ${token_env}, which is not set")
                    })?;
                    let reso = aiq_connectors::reso::ResoConfig {
                        base_url: url,
                        resource,
                        token,
                        page_size,
                        ..aiq_connectors::reso::ResoConfig::default()
                    };
                    aiq_jobs::ingest::Feed::Reso {
                        config: Box::new(reso),
                        since,
                    }
                }
                IngestFeed::File { path } => aiq_jobs::ingest::Feed::File { path },
            };
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            let summary = runtime.block_on(aiq_jobs::ingest::run_ingest(config, feed))?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql { query, format, out } => {
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            let stdout = std::io::stdout();
            let mut stdout = stdout.lock();
            match query {
                Some(sql) => {
                    let rows = runtime.block_on(aiq_jobs::sql::run_query(
                        &config,
                        &sql,
                        format,
                        out.as_deref(),
                        &mut stdout,
                    ))?;
                    if let Some(file) = &out {
                        eprintln!("{rows} rows written to {}", file.display());
                    }
                }
                None => {
                    use std::io::IsTerminal;
                    let stdin = std::io::stdin();
                    let interactive = stdin.is_terminal();
                    let summary = runtime.block_on(aiq_jobs::sql::run_prompt(
                        &config,
                        format,
                        &mut stdin.lock(),
                        &mut stdout,
                        &mut std::io::stderr(),
                        interactive,
                    ))?;
                    if summary.failed > 0 && !interactive {
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen } => {
            let mut api = aiq_api::ApiConfig::from_map(&config.api)?;
            if let Some(listen) = listen {
                api.listen = listen;
            }
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            eprintln!(
                "marketplace API on http://{} (store {})",
                api.listen, config.store.url
            );
            runtime.block_on(aiq_api::serve(
                api,
                &config.store.url,
                &config.bus.url,
                &config.bus.kafka,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { subject, role, ttl } => {
            let api = aiq_api::ApiConfig::from_map(&config.api)?;
            let role = match role.as_str() {
                "agent" => aiq_api::Role::Agent,
                "admin" => aiq_api::Role::Admin,
                other => bail!("--role `{other}` must be `agent` or `admin`"),
            };
            println!("{}", aiq_api::mint_token(&api, &subject, role, ttl)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Kafka { command } => streaming::kafka(command, &config),
        Command::Run(args) => streaming::run(args, config),
        Command::Config => {
            print!("{}", config.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Pipeline {
            input,
            out,
            overwrite,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            let summary = runtime.block_on(run_file_pipeline(config, &input, &out, overwrite))?;
            let run = &summary.run;
            eprintln!(
                "{} lines: {} leads ({} duplicates merged, {} quarantined), {} dead-lettered {:?} in {:.2}s",
                run.records_in,
                run.leads_out,
                run.duplicates_merged,
                run.quarantined,
                run.dead_lettered,
                run.dead_letters_by_reason,
                summary.elapsed.as_secs_f64()
            );
            eprintln!("leads: {}", summary.leads_file.display());
            eprintln!("dead letters: {}", summary.dead_letters_file.display());
            eprintln!(
                "parquet: {} ({} files)",
                summary.lake_dir.display(),
                summary.lake_files
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_page(site: SiteArg, url: Option<String>, file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let html = decode_html(&bytes, None);
    let url = match url {
        Some(url) => url,
        None => {
            let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
            format!("file://{}", absolute.display())
        }
    };
    let source = match site {
        SiteArg::Site(source) => source,
        SiteArg::Auto => match detect_site(&html, Some(&url)) {
            Some(source) => source,
            None => bail!("{}: not a page of a site aiqleads knows", file.display()),
        },
    };
    let now = chrono::Utc::now();
    let page = match aiq_connectors::parse_page(source, &html, &url, now) {
        Ok(page) => page,
        Err(error) => {
            eprintln!("{}: {error}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut rejected = 0;
    for raw in &page.listings {
        match aiq_pipeline::normalise::normalise(raw, now) {
            Ok(listing) => {
                serde_json::to_writer(&mut out, &listing)?;
                out.write_all(b"\n")?;
            }
            Err(reason) => {
                rejected += 1;
                eprintln!(
                    "{}: listing {} rejected: {reason}",
                    file.display(),
                    raw.source_listing_id.as_deref().unwrap_or("?")
                );
            }
        }
    }
    out.flush()?;
    if page.listings.is_empty() || rejected == page.listings.len() {
        // One line: why nothing came out, naming what was deliberately left out if anything was.
        let skipped = match page.skipped.as_slice() {
            [] => String::new(),
            [only] => format!(" (1 item skipped: {} {})", only.id, only.reason),
            [first, ..] => format!(
                " ({} items skipped, e.g. {} {})",
                page.skipped.len(),
                first.id,
                first.reason
            ),
        };
        eprintln!(
            "{}: no real-estate listing could be read from this page{skipped}",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    for item in &page.skipped {
        tracing::info!(id = %item.id, reason = %item.reason, "item skipped: not a real-estate listing");
    }
    Ok(ExitCode::SUCCESS)
}
