//! `aiqleads sql`: DataFusion over the analysts' Parquet lake.
//!
//! [`Lake::open`] registers what the lake holds, by name:
//! - `leads`: every processed listing (`<lake>/leads/dt=YYYY-MM-DD/state=XX/*.parquet`), with the
//!   Hive partition columns `dt` (a date) and `state` (text), so a filter on either skips whole folders;
//! - `current_leads` (view): the newest row per listing (`source`, `source_listing_id`) by `fetched_at`
//!   (ties to the record processed last), because a listing fetched again is written again;
//! - `superseded_leads`: the key, fetch time and input position of the other rows, the ones
//!   `current_leads` leaves out (kept in memory, recomputed when the `leads` files change);
//! - `market_stats` (view): per `postal_code` and `listing_kind`, the active supply and the medians of
//!   list price, price per square foot and lead price, over `current_leads`;
//! - `raw_listings`: every raw record received, as it arrived, partitioned by `dt` (receive date);
//! - `marketplace_events`: the buyers' views, cart adds and purchases (`kind`), partitioned by `dt`
//!   (the event's date), and the view `purchases` over it;
//! - `property_merges` and any other table folder of Parquet files under the lake, with its schema
//!   read from the files.
//!
//! Tables whose folder does not exist yet are not registered; `SHOW TABLES` lists what is there.
//! Queries may read and define session views but never write the lake (no `INSERT`/`COPY`): its files
//! are owned by the exactly-once writer and its manifest.
//!
//! ```no_run
//! # async fn example() -> Result<(), aiq_jobs::sql::SqlError> {
//! use aiq_jobs::sql::{Lake, OutputFormat, write_result};
//! let lake = Lake::open(std::path::Path::new("data/lake")).await?;
//! let result = lake.query("SELECT source, count(*) FROM leads GROUP BY source").await?;
//! write_result(&result, OutputFormat::Csv, None, &mut std::io::stdout())?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use aiq_schemas::{lead_arrow_schema, marketplace_event_arrow_schema, raw_listing_arrow_schema};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::config::Config;

/// Folder of the `leads` table under the lake root.
pub const LEADS_TABLE: &str = "leads";

/// Folder of the `raw_listings` archive under the lake root.
pub const RAW_LISTINGS_TABLE: &str = "raw_listings";

/// Folder of the `marketplace_events` table (views, cart adds, purchases) under the lake root.
pub const MARKETPLACE_EVENTS_TABLE: &str = "marketplace_events";

/// The purchases among the marketplace events (agents as the API's pseudonyms).
const PURCHASES_VIEW: &str = "CREATE VIEW purchases AS
SELECT property_id, h3_cell, postal_code, state_or_province, agent, at, dt
FROM marketplace_events
WHERE kind = 'purchase'";

/// Folders under the lake root that are not tables.
const NOT_TABLES: [&str; 1] = ["_manifest"];

/// Name of the in-memory table of superseded `leads` rows (see [`CURRENT_LEADS_VIEW`]).
pub const SUPERSEDED_LEADS_TABLE: &str = "superseded_leads";

/// The rows of `leads` that a newer fetch of the same listing (`source`, `source_listing_id`)
/// replaced: every row of a listing but the newest by `fetched_at`, ties going to the later input
/// position (the record processed last, as in the store). Listings fetched once, nearly all of them,
/// are left out by the `HAVING` before anything is sorted; only the few repeated ones are ranked.
const SUPERSEDED_LEADS_QUERY: &str = "
SELECT source, source_listing_id, fetched_at, input_stream, input_partition, input_offset FROM (
    SELECT l.source, l.source_listing_id, l.fetched_at,
        l.input_stream, l.input_partition, l.input_offset,
        row_number() OVER (
            PARTITION BY l.source, l.source_listing_id
            ORDER BY l.fetched_at DESC NULLS LAST, l.input_stream DESC NULLS LAST,
                l.input_partition DESC NULLS LAST, l.input_offset DESC NULLS LAST
        ) AS fetch_rank
    FROM leads l
    JOIN (
        SELECT source, source_listing_id FROM leads
        GROUP BY source, source_listing_id HAVING count(*) > 1
    ) repeated
      ON l.source = repeated.source AND l.source_listing_id = repeated.source_listing_id
) WHERE fetch_rank > 1";

/// The newest row of each listing. A listing fetched again is written again (with its new price or
/// status), so counting `leads` counts fetches; counting `current_leads` counts listings.
///
/// Defined as `leads` minus `superseded_leads` (a small in-memory table the session keeps in step
/// with the files), rather than as a window over `leads`: the anti-join probes a hash table of a few
/// thousand positions, where the window sorted every row of the lake for every query. An input
/// position identifies one row: the lake's exactly-once writer never writes a position twice.
const CURRENT_LEADS_VIEW: &str = "CREATE VIEW current_leads AS
SELECT * FROM leads l
WHERE NOT EXISTS (
    SELECT 1 FROM superseded_leads s
    WHERE s.input_stream = l.input_stream
      AND s.input_partition = l.input_partition
      AND s.input_offset = l.input_offset
)";

/// Market statistics per postal code and listing kind over the listings on sale now (not
/// quarantined, not sold). Rent and sale are never mixed: their prices are not comparable.
const MARKET_STATS_VIEW: &str = "CREATE VIEW market_stats AS
SELECT
    postal_code,
    listing_kind,
    count(*) AS active_listings,
    count(DISTINCT property_id) AS active_properties,
    median(list_price) AS median_list_price,
    median(CASE WHEN living_area_sqft > 0 THEN list_price / living_area_sqft END)
        AS median_price_per_sqft,
    median(lead_price) AS median_lead_price
FROM current_leads
WHERE status = 'active'
GROUP BY postal_code, listing_kind";

/// Why a query produced no output.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The query is wrong (syntax, unknown table or column, types) or the lake cannot be read.
    /// Shown as DataFusion's innermost message: its wrappers repeat the same text.
    #[error("{}", .0.find_root())]
    Query(DataFusionError),
    /// The result could not be written out.
    #[error(transparent)]
    Output(#[from] crate::Error),
    #[error("parquet output goes to a file: give --out FILE")]
    ParquetNeedsFile,
    #[error("parquet output to a file is for one query; the prompt prints table, csv or json")]
    ParquetInPrompt,
}

impl From<DataFusionError> for SqlError {
    fn from(error: DataFusionError) -> Self {
        SqlError::Query(error)
    }
}

impl SqlError {
    /// Whether the analyst's query is at fault (fix the query), rather than the lake or the output.
    pub fn is_bad_query(&self) -> bool {
        match self {
            SqlError::Query(error) => matches!(
                error.find_root(),
                DataFusionError::SQL(..)
                    | DataFusionError::Plan(_)
                    | DataFusionError::SchemaError(..)
                    | DataFusionError::NotImplemented(_)
            ),
            SqlError::ParquetNeedsFile | SqlError::ParquetInPrompt => true,
            SqlError::Output(_) => false,
        }
    }
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// A boxed text table for reading.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row, one per line.
    Json,
    /// A zstd Parquet file (needs a file path).
    Parquet,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(OutputFormat::Json),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(format!(
                "unknown output format {text:?}: use table, csv, json or parquet"
            )),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
            OutputFormat::Parquet => "parquet",
        })
    }
}

/// The rows a statement returned, with their schema (kept for empty results, so headers still print).
#[derive(Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Statements such as `CREATE VIEW` or `SET` return no columns: there is nothing to print.
    pub fn has_columns(&self) -> bool {
        !self.schema.fields().is_empty()
    }
}

/// A DataFusion session over one lake folder, with its tables and views registered.
pub struct Lake {
    context: SessionContext,
    tables: Vec<String>,
    superseded: Option<SupersededLeads>,
}

/// The `superseded_leads` table and the state of the `leads` files it was computed from. The table
/// object stays the same (views planned against it keep working); its rows are replaced in place.
struct SupersededLeads {
    leads_dir: PathBuf,
    table: Arc<MemTable>,
    computed_for: tokio::sync::Mutex<Option<Vec<FileStamp>>>,
}

/// One Parquet file as last seen: a changed size or modification time means it was replaced.
#[derive(Debug, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Lake {
    /// Registers the tables found under `root` (see the module docs). A missing or empty folder gives
    /// a session with no tables, not an error: `SHOW TABLES` then says so.
    pub async fn open(root: &Path) -> Result<Lake, SqlError> {
        let config = SessionConfig::new().with_information_schema(true);
        // DataFusion keeps folder listings forever by default, so an open prompt would never see the
        // files a writer or `compact` adds; listing a local folder costs next to nothing.
        let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
        let runtime = RuntimeEnvBuilder::new()
            .with_cache_manager(caches)
            .build_arc()?;
        let context = SessionContext::new_with_config_rt(config, runtime);
        let mut tables = Vec::new();
        let mut superseded = None;

        let leads_dir = root.join(LEADS_TABLE);
        if leads_dir.is_dir() {
            context.register_table(LEADS_TABLE, Arc::new(leads_table(&leads_dir)?))?;
            tables.push(LEADS_TABLE.to_owned());
            let schema = context
                .sql(SUPERSEDED_LEADS_QUERY)
                .await?
                .schema()
                .as_arrow()
                .clone();
            let table = Arc::new(MemTable::try_new(Arc::new(schema), vec![Vec::new()])?);
            context.register_table(SUPERSEDED_LEADS_TABLE, table.clone())?;
            tables.push(SUPERSEDED_LEADS_TABLE.to_owned());
            for (name, view) in [
                ("current_leads", CURRENT_LEADS_VIEW),
                ("market_stats", MARKET_STATS_VIEW),
            ] {
                context.sql(view).await?;
                tables.push(name.to_owned());
            }
            superseded = Some(SupersededLeads {
                leads_dir,
                table,
                computed_for: tokio::sync::Mutex::new(None),
            });
        }

        let raw_dir = root.join(RAW_LISTINGS_TABLE);
        if raw_dir.is_dir() {
            let table = partitioned_table(
                &raw_dir,
                raw_listing_arrow_schema(),
                vec![("dt".to_owned(), DataType::Date32)],
            )?;
            context.register_table(RAW_LISTINGS_TABLE, Arc::new(table))?;
            tables.push(RAW_LISTINGS_TABLE.to_owned());
        }

        let events_dir = root.join(MARKETPLACE_EVENTS_TABLE);
        if events_dir.is_dir() {
            let table = partitioned_table(
                &events_dir,
                marketplace_event_arrow_schema(),
                vec![("dt".to_owned(), DataType::Date32)],
            )?;
            context.register_table(MARKETPLACE_EVENTS_TABLE, Arc::new(table))?;
            tables.push(MARKETPLACE_EVENTS_TABLE.to_owned());
            context.sql(PURCHASES_VIEW).await?;
            tables.push("purchases".to_owned());
        }

        for (name, dir) in other_table_dirs(root)? {
            let url = directory_url(&dir);
            let options = ParquetReadOptions::default();
            context.register_parquet(&name, &url, options).await?;
            tables.push(name);
        }
        tracing::debug!(lake = %root.display(), ?tables, "lake tables registered");
        let lake = Lake {
            context,
            tables,
            superseded,
        };
        lake.refresh().await?;
        Ok(lake)
    }

    /// Brings `superseded_leads` (and so `current_leads`) up to date with the `leads` files, when
    /// they changed since it was last computed: a writer or `compact` may have run since. [`query`]
    /// calls it before every statement; callers using [`context`] directly call it themselves.
    ///
    /// [`query`]: Lake::query
    /// [`context`]: Lake::context
    pub async fn refresh(&self) -> Result<(), SqlError> {
        let Some(superseded) = &self.superseded else {
            return Ok(());
        };
        let mut computed_for = superseded.computed_for.lock().await;
        let stamps = file_stamps(&superseded.leads_dir)?;
        if computed_for.as_ref() == Some(&stamps) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let rows = self
            .context
            .sql(SUPERSEDED_LEADS_QUERY)
            .await?
            .collect()
            .await?;
        let count: usize = rows.iter().map(RecordBatch::num_rows).sum();
        *superseded.table.batches[0].write().await = rows;
        tracing::debug!(
            files = stamps.len(),
            superseded_rows = count,
            elapsed = ?started.elapsed(),
            "superseded leads recomputed"
        );
        *computed_for = Some(stamps);
        Ok(())
    }

    /// Names of the registered tables and views, in registration order.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The DataFusion session, for callers that want plans or DataFrames.
    pub fn context(&self) -> &SessionContext {
        &self.context
    }

    /// Runs one statement and collects its rows. Statements that would write (`INSERT`, `COPY`) are
    /// refused: the lake's files belong to its exactly-once writer.
    pub async fn query(&self, sql: &str) -> Result<QueryResult, SqlError> {
        self.refresh().await?;
        let read_only = SQLOptions::new().with_allow_dml(false);
        let frame = self.context.sql_with_options(sql, read_only).await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok(QueryResult { schema, batches })
    }
}

/// The `leads` table: the file schema is the canonical one (not inferred, so an empty folder or an
/// older file cannot change it), plus the partition columns taken from the folder names.
fn leads_table(dir: &Path) -> Result<ListingTable, SqlError> {
    partitioned_table(
        dir,
        lead_arrow_schema(),
        vec![
            ("dt".to_owned(), DataType::Date32),
            ("state".to_owned(), DataType::Utf8),
        ],
    )
}

/// A table of the lake's own writer: its canonical schema and Hive partition columns.
fn partitioned_table(
    dir: &Path,
    schema: SchemaRef,
    partition_columns: Vec<(String, DataType)>,
) -> Result<ListingTable, SqlError> {
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_columns);
    let url = ListingTableUrl::parse(directory_url(dir))?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(ListingTable::try_new(config)?)
}

/// A folder path as DataFusion wants it: a trailing separator marks a folder, not a file.
fn directory_url(dir: &Path) -> String {
    let mut text = dir.to_string_lossy().into_owned();
    if !text.ends_with(std::path::MAIN_SEPARATOR) {
        text.push(std::path::MAIN_SEPARATOR);
    }
    text
}

/// Table folders under the lake other than `leads`: sub-folders whose name is a plain SQL identifier
/// and that hold at least one Parquet file somewhere below.
fn other_table_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, SqlError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(crate::Error::io("read folder", root, error).into()),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| crate::Error::io("read folder", root, e))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let plain_identifier = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if name == LEADS_TABLE
            || name == RAW_LISTINGS_TABLE
            || name == MARKETPLACE_EVENTS_TABLE
            || NOT_TABLES.contains(&name.as_str())
            || !plain_identifier
            || !path.is_dir()
            || !holds_parquet(&path)
        {
            continue;
        }
        found.push((name, path));
    }
    found.sort();
    Ok(found)
}

/// The Parquet files under `dir` (any depth), sorted by path.
fn file_stamps(dir: &Path) -> Result<Vec<FileStamp>, SqlError> {
    fn walk(dir: &Path, out: &mut Vec<FileStamp>) -> Result<(), SqlError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            // A partition folder compaction just removed.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(crate::Error::io("read folder", dir, error).into()),
        };
        for entry in entries {
            let entry = entry.map_err(|e| crate::Error::io("read folder", dir, e))?;
            let path = entry.path();
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|ext| ext == "parquet") {
                out.push(FileStamp {
                    path,
                    len: metadata.len(),
                    modified: metadata.modified().ok(),
                });
            }
        }
        Ok(())
    }
    let mut stamps = Vec::new();
    walk(dir, &mut stamps)?;
    stamps.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(stamps)
}

fn holds_parquet(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            holds_parquet(&path)
        } else {
            path.extension().is_some_and(|ext| ext == "parquet")
        }
    })
}

/// Prints `result` to `out` as a table, CSV or JSON lines, or writes it to the Parquet file
/// `parquet_file` (written under a temporary name, then renamed, so a failed write leaves no half file).
pub fn write_result(
    result: &QueryResult,
    format: OutputFormat,
    parquet_file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), SqlError> {
    let to_error = |e| crate::Error::io("write", "standard output", e);
    match format {
        OutputFormat::Table => {
            let table = pretty_format_batches_with_schema(result.schema.clone(), &result.batches)
                .map_err(crate::Error::from)?;
            writeln!(out, "{table}").map_err(to_error)?;
        }
        OutputFormat::Csv => {
            let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut *out);
            if result.batches.is_empty() {
                // The header still says which columns an empty answer has.
                writer
                    .write(&RecordBatch::new_empty(result.schema.clone()))
                    .map_err(crate::Error::from)?;
            }
            for batch in &result.batches {
                writer.write(batch).map_err(crate::Error::from)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = LineDelimitedWriter::new(&mut *out);
            for batch in &result.batches {
                writer.write(batch).map_err(crate::Error::from)?;
            }
            writer.finish().map_err(crate::Error::from)?;
        }
        OutputFormat::Parquet => {
            let path = parquet_file.ok_or(SqlError::ParquetNeedsFile)?;
            write_parquet_file(result, path)?;
        }
    }
    out.flush().map_err(to_error)?;
    Ok(())
}

fn write_parquet_file(result: &QueryResult, path: &Path) -> Result<(), SqlError> {
    let temporary = temporary_path(path);
    let file = File::create(&temporary).map_err(|e| crate::Error::io("create", &temporary, e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let written = (|| -> Result<(), crate::Error> {
        let mut writer = ArrowWriter::try_new(file, result.schema.clone(), Some(properties))?;
        for batch in &result.batches {
            writer.write(batch)?;
        }
        writer.close()?;
        Ok(())
    })();
    if let Err(error) = written {
        // Best effort: the write already failed, and that is the error worth reporting.
        let _ = fs::remove_file(&temporary);
        return Err(error.into());
    }
    fs::rename(&temporary, path).map_err(|e| crate::Error::io("rename into", path, e))?;
    Ok(())
}

/// Runs one query over the configured lake (`lake.dir`) and prints it to `out`, or writes it to
/// `out_file` when one is given (required for Parquet; written under a temporary name, then renamed).
/// Returns the number of rows. A trailing `;` is allowed.
pub async fn run_query(
    config: &Config,
    sql: &str,
    format: OutputFormat,
    out_file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<usize, SqlError> {
    if format == OutputFormat::Parquet && out_file.is_none() {
        return Err(SqlError::ParquetNeedsFile);
    }
    let lake = Lake::open(&config.lake.dir).await?;
    let result = lake.query(sql.trim().trim_end_matches(';')).await?;
    match (format, out_file) {
        (_, None) => write_result(&result, format, None, out)?,
        (OutputFormat::Parquet, Some(path)) => write_parquet_file(&result, path)?,
        (_, Some(path)) => write_text_file(&result, format, path)?,
    }
    Ok(result.rows())
}

fn write_text_file(
    result: &QueryResult,
    format: OutputFormat,
    path: &Path,
) -> Result<(), SqlError> {
    let temporary = temporary_path(path);
    let file = File::create(&temporary).map_err(|e| crate::Error::io("create", &temporary, e))?;
    let mut writer = std::io::BufWriter::new(file);
    if let Err(error) = write_result(result, format, None, &mut writer) {
        // Best effort: the write already failed, and that is the error worth reporting.
        drop(writer);
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    drop(writer);
    fs::rename(&temporary, path).map_err(|e| crate::Error::io("rename into", path, e))?;
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    PathBuf::from(temporary)
}

/// What an interactive session did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PromptSummary {
    pub statements: usize,
    pub failed: usize,
}

/// The interactive prompt: reads statements ending in `;` from `input` until it ends, runs each, and
/// prints its rows to `out`. A statement that fails prints one `error:` line to `messages` and the
/// session goes on. With `show_prompt`, a prompt and row counts go to `messages` as well (for a
/// person at a terminal, not for a pipe).
pub async fn run_prompt(
    config: &Config,
    format: OutputFormat,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    messages: &mut dyn Write,
    show_prompt: bool,
) -> Result<PromptSummary, SqlError> {
    if format == OutputFormat::Parquet {
        return Err(SqlError::ParquetInPrompt);
    }
    let lake = Lake::open(&config.lake.dir).await?;
    let message_error = |e| crate::Error::io("write", "standard error", e);
    if show_prompt {
        writeln!(
            messages,
            "lake {}: tables {}. End each statement with ';', quit with Ctrl-D.",
            config.lake.dir.display(),
            if lake.tables().is_empty() {
                "(none yet)".to_owned()
            } else {
                lake.tables().join(", ")
            }
        )
        .map_err(message_error)?;
    }
    let mut summary = PromptSummary::default();
    let mut splitter = StatementSplitter::default();
    let mut line = String::new();
    loop {
        if show_prompt {
            let prompt = if splitter.is_empty() {
                "aiqleads> "
            } else {
                "       -> "
            };
            write!(messages, "{prompt}").map_err(message_error)?;
            messages.flush().map_err(message_error)?;
        }
        line.clear();
        let read = input
            .read_line(&mut line)
            .map_err(|e| crate::Error::io("read", "standard input", e))?;
        let statements = if read == 0 {
            splitter.finish().into_iter().collect()
        } else {
            splitter.push(&line)
        };
        for statement in statements {
            summary.statements += 1;
            let outcome = match lake.query(&statement).await {
                Ok(result) if result.has_columns() => {
                    write_result(&result, format, None, out).map(|()| Some(result.rows()))
                }
                Ok(_) => Ok(None),
                Err(error) => Err(error),
            };
            match outcome {
                Ok(Some(rows)) if show_prompt => {
                    writeln!(messages, "({rows} row{})", if rows == 1 { "" } else { "s" })
                        .map_err(message_error)?;
                }
                Ok(_) => {}
                Err(error) => {
                    summary.failed += 1;
                    writeln!(messages, "error: {error}").map_err(message_error)?;
                }
            }
        }
        if read == 0 {
            if show_prompt {
                writeln!(messages).map_err(message_error)?;
            }
            return Ok(summary);
        }
    }
}

/// Splits typed text into statements at `;`, except inside quotes ('text', "name") and comments
/// (`-- …` to the end of the line), so a literal such as `'a;b'` stays whole.
#[derive(Default)]
struct StatementSplitter {
    pending: String,
    quote: Option<char>,
}

impl StatementSplitter {
    fn is_empty(&self) -> bool {
        self.pending.trim().is_empty()
    }

    fn push(&mut self, text: &str) -> Vec<String> {
        let mut statements = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match self.quote {
                Some(open) => {
                    self.pending.push(c);
                    if c == open {
                        self.quote = None;
                    }
                }
                None if c == '\'' || c == '"' => {
                    self.quote = Some(c);
                    self.pending.push(c);
                }
                None if c == '-' && chars.peek() == Some(&'-') => {
                    // A comment runs to the end of the line; it never ends a statement.
                    for rest in chars.by_ref() {
                        if rest == '\n' {
                            self.pending.push('\n');
                            break;
                        }
                    }
                }
                None if c == ';' => {
                    let statement = std::mem::take(&mut self.pending);
                    if !statement.trim().is_empty() {
                        statements.push(statement.trim().to_owned());
                    }
                }
                None => self.pending.push(c),
            }
        }
        statements
    }

    /// At end of input, a last statement without `;` still runs.
    fn finish(&mut self) -> Option<String> {
        let statement = std::mem::take(&mut self.pending);
        self.quote = None;
        let statement = statement.trim();
        (!statement.is_empty()).then(|| statement.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        let mut splitter = StatementSplitter::default();
        assert_eq!(
            splitter.push("SELECT 'a;b' AS x; SELECT 2 -- not; the end\n"),
            vec!["SELECT 'a;b' AS x".to_owned()]
        );
        assert!(!splitter.is_empty());
        assert_eq!(splitter.push(";\n"), vec!["SELECT 2".to_owned()]);
        assert!(splitter.is_empty());
        assert_eq!(splitter.push("SELECT \"odd;name\"\n"), Vec::<String>::new());
        assert_eq!(splitter.finish().as_deref(), Some("SELECT \"odd;name\""));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn output_formats_parse_by_name() {
        for format in [
            OutputFormat::Table,
            OutputFormat::Csv,
            OutputFormat::Json,
            OutputFormat::Parquet,
        ] {
            assert_eq!(format.to_string().parse::<OutputFormat>(), Ok(format));
        }
        assert!("xml".parse::<OutputFormat>().is_err());
    }
}
