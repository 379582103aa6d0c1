//! SQLite backend: the embedded default.
//!
//! Speed comes from few statements per batch: listings are upserted many rows per statement (in
//! power-of-two chunks, so that a handful of SQL texts stay in sqlx's prepared-statement cache), and
//! the `leads` rows of all touched properties are rebuilt by two set-based statements.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use aiq_schemas::migrations::{Migration, SQLITE, sqlite_busy};
use aiq_schemas::{DeadLetter, Lead, PropertyId};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, Executor, Row, Sqlite, Transaction};
use tracing::instrument;

use super::{
    Generations, StoreCounts, check_owner_generations, fraud_reasons_json, price_breakdown_json,
    storable, storable_opt, survivor_rank, touched_properties,
};
use crate::sink::{Offsets, SinkBatch, StreamPosition};
use crate::{Error, Result};

/// The columns of `listings`, in the order the upsert binds them.
const LISTING_COLUMNS: [&str; 35] = [
    "source",
    "source_listing_id",
    "property_id",
    "url",
    "fetched_at",
    "listing_kind",
    "property_type",
    "list_price",
    "price_period",
    "bedrooms_total",
    "bathrooms_total",
    "living_area_sqft",
    "street_address",
    "unit_number",
    "city",
    "state_or_province",
    "postal_code",
    "latitude",
    "longitude",
    "h3_cell",
    "title",
    "description",
    "posted_at",
    "contact_name",
    "contact_phone",
    "contact_email",
    "fraud_score",
    "fraud_reasons",
    "quality_score",
    "completeness",
    "lead_price",
    "price_breakdown",
    "status",
    "schema_version",
    "survivor_rank",
];

/// The largest chunk is 2^8 = 256 rows (8,960 parameters, far below SQLite's limit of 32,766).
const LARGEST_CHUNK_POWER: u32 = 8;

/// `UPSERT_BY_POWER[k]` upserts 2^k listings in one statement.
static UPSERT_BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..=LARGEST_CHUNK_POWER)
        .map(|power| upsert_sql(1 << power))
        .collect()
});

fn upsert_sql(rows: usize) -> String {
    let row = format!("({})", vec!["?"; LISTING_COLUMNS.len()].join(", "));
    let values = vec![row.as_str(); rows].join(",\n");
    let updates = LISTING_COLUMNS[2..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO listings ({}) VALUES {values}
         ON CONFLICT (source, source_listing_id) DO UPDATE SET {updates}",
        LISTING_COLUMNS.join(", ")
    )
}

/// The columns of `leads` taken from the survivor listing as they are.
const SURVIVOR_COLUMNS: &str =
    "property_id, source, source_listing_id, url, fetched_at, listing_kind,
    property_type, list_price, price_period, bedrooms_total, bathrooms_total, living_area_sqft,
    street_address, unit_number, city, state_or_province, postal_code, latitude, longitude, h3_cell,
    title, description, posted_at, contact_name, contact_phone, contact_email, fraud_score,
    fraud_reasons, quality_score, completeness, lead_price, price_breakdown";

/// Deletes the `leads` rows of the properties in the JSON array `?1` that no listing describes any
/// more (only a relabel's `from` can end so: every other touched property holds the listing that
/// touched it).
const DELETE_EMPTIED_LEADS: &str =
    "DELETE FROM leads WHERE property_id IN (SELECT value FROM json_each(?1))
     AND NOT EXISTS (SELECT 1 FROM listings WHERE listings.property_id = leads.property_id)";

/// Rebuilds the `leads` rows of the properties in the JSON array `?1` from their listings, as an
/// upsert (a fresh property costs one index probe, not a delete and an insert).
static UPSERT_LEADS: LazyLock<String> = LazyLock::new(|| {
    let updates = SURVIVOR_COLUMNS
        .split(',')
        .map(str::trim)
        .skip(1)
        .chain(["status", "schema_version", "listing_count", "sources"])
        .map(|name| format!("{name} = excluded.{name}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The SELECT ends with a WHERE clause, as SQLite needs before an upsert's ON CONFLICT.
    format!(
        "INSERT INTO leads ({SURVIVOR_COLUMNS}, status, schema_version, listing_count, sources)
         SELECT {SURVIVOR_COLUMNS},
                -- One listing of a property flagged as fraud quarantines the property.
                CASE WHEN quarantined_count > 0 THEN 'quarantined' ELSE status END,
                schema_version,
                listing_count,
                -- Most properties have one listing: skip the subquery for them.
                CASE WHEN listing_count = 1 THEN source
                     ELSE (SELECT group_concat(source, ',' ORDER BY source)
                           FROM (SELECT DISTINCT source FROM listings s WHERE s.property_id = ranked.property_id))
                END
         FROM (SELECT l.*,
                      ROW_NUMBER() OVER (PARTITION BY property_id ORDER BY survivor_rank DESC) AS survivor_order,
                      COUNT(*) OVER (PARTITION BY property_id) AS listing_count,
                      SUM(status = 'quarantined') OVER (PARTITION BY property_id) AS quarantined_count
               FROM listings l
               WHERE property_id IN (SELECT value FROM json_each(?1))) AS ranked
         WHERE survivor_order = 1
         ON CONFLICT (property_id) DO UPDATE SET {updates}"
    )
});

/// `ids` as a JSON array, the form `json_each` reads.
fn json_ids(ids: impl IntoIterator<Item = PropertyId>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|id| id.as_i64().to_string()).collect();
    format!("[{}]", ids.join(","))
}

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    #[instrument(skip_all, fields(url))]
    pub async fn open(url: &str, max_connections: usize) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // The default page cache (2 MiB) thrashes once the indexes outgrow it, and upserts then
            // slow down with every batch; 64 MiB per connection keeps a few million rows' index
            // pages in memory.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        if let Some(parent) = options
            .get_filename()
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
        }
        // Processes opening a new file at the same moment can meet SQLite's "database is locked"
        // outside the busy handler (switching the journal to WAL needs the file to themselves):
        // such an open is retried for as long as the busy timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let opened = async {
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections.max(1) as u32)
                    .connect_with(options.clone())
                    .await?;
                let store = SqliteStore { pool };
                match store.migrate(SQLITE).await {
                    Ok(()) => Ok(store),
                    Err(error) => {
                        store.pool.close().await;
                        Err(error)
                    }
                }
            }
            .await;
            match opened {
                Err(Error::Store(sqlx::Error::Database(e)))
                    if sqlite_busy(e.code().as_deref()) && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, all in one transaction that
    /// takes the write lock first: a second process opening the same file at the same time waits
    /// (busy timeout), then finds them applied.
    async fn migrate(&self, migrations: &[Migration]) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        for migration in migrations {
            // `query` rather than `query_scalar`: the latter's future is not provably `Send` when
            // run on a transaction (a rustc limitation with higher-ranked lifetimes).
            let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = ?")
                .bind(migration.version)
                .fetch_optional(&mut *tx)
                .await?;
            if applied.is_some() {
                continue;
            }
            (&mut *tx).execute(migration.sql).await.map_err(|e| {
                Error::Migrate(format!("{}-{}: {e}", migration.version, migration.name))
            })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(chrono::Utc::now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn committed_offsets(&self, consumer: &str) -> Result<Offsets> {
        let rows = sqlx::query(
            "SELECT stream, stream_partition, next_offset FROM sink_offsets WHERE consumer = ?",
        )
        .bind(consumer)
        .fetch_all(&self.pool)
        .await?;
        let mut offsets = Offsets::default();
        for row in rows {
            offsets.insert(
                (row.try_get::<String, _>(0)?, row.try_get::<i32, _>(1)?),
                row.try_get::<i64, _>(2)?,
            );
        }
        Ok(offsets)
    }

    #[instrument(skip_all, fields(leads = batch.leads.len(), dead = batch.dead_letters.len()))]
    pub(super) async fn write(
        &self,
        consumer: &str,
        generations: &Generations,
        batch: &SinkBatch<'_>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        check_owner_generations!(tx, consumer, generations);
        upsert_listings(&mut tx, batch.leads).await?;
        for relabel in batch.relabels {
            sqlx::query("UPDATE listings SET property_id = ? WHERE property_id = ?")
                .bind(relabel.to.as_i64())
                .bind(relabel.from.as_i64())
                .execute(&mut *tx)
                .await?;
        }
        if !batch.relabels.is_empty() {
            sqlx::query(DELETE_EMPTIED_LEADS)
                .bind(json_ids(batch.relabels.iter().map(|r| r.from)))
                .execute(&mut *tx)
                .await?;
        }
        let touched = touched_properties(batch);
        if !touched.is_empty() {
            sqlx::query(&UPSERT_LEADS)
                .bind(json_ids(touched))
                .execute(&mut *tx)
                .await?;
        }
        for (dead, position) in batch.dead_letters {
            insert_dead_letter(&mut tx, dead, position).await?;
        }
        for event in batch.marketplace_events {
            sqlx::query(
                "INSERT INTO marketplace_events (kind, property_id, h3_cell, postal_code, agent, at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(event.kind.as_str())
            .bind(event.property_id.as_i64())
            .bind(event.h3_cell.map(|c| c.as_i64()))
            .bind(event.postal_code.as_deref())
            .bind(event.agent.as_str())
            .bind(event.at)
            .execute(&mut *tx)
            .await?;
        }
        let now = chrono::Utc::now();
        for ((stream, partition), next_offset) in batch.next_offsets {
            sqlx::query(
                "INSERT INTO sink_offsets (consumer, stream, stream_partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (consumer, stream, stream_partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at",
            )
            .bind(consumer)
            .bind(stream.as_str())
            .bind(*partition)
            .bind(*next_offset)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn counts(&self) -> Result<StoreCounts> {
        let one = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.pool);
        let listings = one("SELECT COUNT(*) FROM listings").await?;
        let leads = one("SELECT COUNT(*) FROM leads").await?;
        let quarantined_leads =
            one("SELECT COUNT(*) FROM leads WHERE status = 'quarantined'").await?;
        let rows =
            sqlx::query("SELECT reason_code, COUNT(*) FROM dead_letters GROUP BY reason_code")
                .fetch_all(&self.pool)
                .await?;
        let mut dead_letters_by_reason = std::collections::HashMap::new();
        for row in rows {
            dead_letters_by_reason.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
        }
        Ok(StoreCounts {
            listings,
            leads,
            quarantined_leads,
            dead_letters_by_reason,
        })
    }
}

/// Upserts `leads` in order, in chunks of 256, 128, ... 1 rows. Within one multi-row statement
/// SQLite applies the rows one after another, so a listing present twice ends with its last values,
/// as with one statement per row.
async fn upsert_listings(tx: &mut Transaction<'_, Sqlite>, leads: &[Lead]) -> Result<()> {
    let mut rest = leads;
    while !rest.is_empty() {
        let power = rest.len().ilog2().min(LARGEST_CHUNK_POWER);
        let (chunk, after) = rest.split_at(1 << power);
        let mut arguments = SqliteArguments::default();
        for lead in chunk {
            bind_listing(&mut arguments, lead)?;
        }
        sqlx::query_with(&UPSERT_BY_POWER[power as usize], arguments)
            .execute(&mut **tx)
            .await?;
        rest = after;
    }
    Ok(())
}

/// Binds one lead's values in [`LISTING_COLUMNS`] order.
fn bind_listing<'q>(arguments: &mut SqliteArguments<'q>, lead: &'q Lead) -> Result<()> {
    let l = &lead.listing;
    let bind_error = |e| Error::Internal(format!("binding a listing for SQLite: {e}"));
    let add = |result: Result<(), sqlx::error::BoxDynError>| result.map_err(bind_error);
    add(arguments.add(l.source.as_str()))?;
    add(arguments.add(storable(&l.source_listing_id)))?;
    add(arguments.add(lead.property_id.as_i64()))?;
    add(arguments.add(storable(&l.url)))?;
    add(arguments.add(l.fetched_at))?;
    add(arguments.add(l.listing_kind.map(|k| k.as_str())))?;
    add(arguments.add(storable_opt(&l.property_type)))?;
    add(arguments.add(l.list_price))?;
    add(arguments.add(l.price_period.map(|p| p.as_str())))?;
    add(arguments.add(l.bedrooms_total.map(i64::from)))?;
    add(arguments.add(l.bathrooms_total.map(f64::from)))?;
    add(arguments.add(l.living_area_sqft.map(i64::from)))?;
    add(arguments.add(storable_opt(&l.street_address)))?;
    add(arguments.add(storable_opt(&l.unit_number)))?;
    add(arguments.add(storable_opt(&l.city)))?;
    add(arguments.add(storable_opt(&l.state_or_province)))?;
    add(arguments.add(storable_opt(&l.postal_code)))?;
    add(arguments.add(l.latitude))?;
    add(arguments.add(l.longitude))?;
    add(arguments.add(l.h3_cell.map(|c| c.as_i64())))?;
    add(arguments.add(storable_opt(&l.title)))?;
    add(arguments.add(storable_opt(&l.description)))?;
    add(arguments.add(l.posted_at))?;
    add(arguments.add(storable_opt(&l.contact_name)))?;
    add(arguments.add(storable_opt(&l.contact_phone)))?;
    add(arguments.add(storable_opt(&l.contact_email)))?;
    add(arguments.add(f64::from(lead.fraud_score)))?;
    add(arguments.add(fraud_reasons_json(&lead.fraud_reasons)?))?;
    add(arguments.add(f64::from(lead.quality_score)))?;
    add(arguments.add(f64::from(lead.completeness)))?;
    add(arguments.add(i64::from(lead.lead_price)))?;
    add(arguments.add(price_breakdown_json(lead)?))?;
    add(arguments.add(lead.status.as_str()))?;
    add(arguments.add(i64::from(lead.schema_version)))?;
    add(arguments.add(survivor_rank(lead)))?;
    Ok(())
}

async fn insert_dead_letter(
    tx: &mut Transaction<'_, Sqlite>,
    dead: &DeadLetter,
    position: &StreamPosition,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dead_letters (stage, reason_code, reason_detail, source, source_listing_id, reference, original,
            rejected_at, schema_version, stream, stream_partition, stream_offset)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (stream, stream_partition, stream_offset) DO NOTHING",
    )
    .bind(storable(&dead.stage))
    .bind(storable(&dead.reason.code))
    .bind(storable(&dead.reason.detail))
    .bind(storable_opt(&dead.source))
    .bind(storable_opt(&dead.source_listing_id))
    .bind(storable(&dead.reference))
    .bind(storable(&dead.original))
    .bind(dead.rejected_at)
    .bind(i64::from(dead.schema_version))
    .bind(position.stream.as_ref())
    .bind(position.partition)
    .bind(position.offset)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
