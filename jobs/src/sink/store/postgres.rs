//! Postgres backend: production.
//!
//! A batch costs a handful of statements whatever its size: the listings are streamed with binary
//! `COPY` into a per-connection temporary staging table (emptied at every commit), merged into
//! `listings` by one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`, the relabels are applied by one
//! `UPDATE` over their resolved mapping, and the `leads` rows of the touched properties are rebuilt
//! by one `DELETE` and one `INSERT ... SELECT DISTINCT ON`. Binary `COPY` needs no escaping (each
//! value is sent with its length) and spares the server from parsing text.
//!
//! The staging table lives in the session, so the store needs session-level connections (a pooler
//! in transaction mode would not do).

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use aiq_pipeline::dedupe::Relabel;
use aiq_schemas::migrations::{Migration, POSTGRES};
use aiq_schemas::{Lead, PropertyId, Source};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres, Row, Transaction};
use tracing::instrument;

use super::{
    Generations, StoreCounts, check_owner_generations, fraud_reasons_json, price_breakdown_json,
    storable, storable_opt, survivor_rank, touched_properties,
};
use crate::sink::{Offsets, SinkBatch};
use crate::{Error, Result};

/// Key of the advisory lock that serialises migrations between processes ("AIQLeads" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x4149_514c_6561_6473;

/// The staging table a batch's listings are copied into.
const STAGING_TABLE: &str = "aiq_listings_staging";

/// The columns of `listings` in COPY order, with the types the binary encoding below writes (binary
/// `COPY` must match them exactly). The staging table, the `COPY` and the upsert are all generated
/// from this list so that they cannot drift apart.
const LISTING_COLUMNS: [(&str, &str); 35] = [
    ("source", "text"),
    ("source_listing_id", "text"),
    ("property_id", "int8"),
    ("url", "text"),
    ("fetched_at", "timestamptz"),
    ("listing_kind", "text"),
    ("property_type", "text"),
    ("list_price", "float8"),
    ("price_period", "text"),
    ("bedrooms_total", "int4"),
    ("bathrooms_total", "float8"),
    ("living_area_sqft", "int8"),
    ("street_address", "text"),
    ("unit_number", "text"),
    ("city", "text"),
    ("state_or_province", "text"),
    ("postal_code", "text"),
    ("latitude", "float8"),
    ("longitude", "float8"),
    ("h3_cell", "int8"),
    ("title", "text"),
    ("description", "text"),
    ("posted_at", "timestamptz"),
    ("contact_name", "text"),
    ("contact_phone", "text"),
    ("contact_email", "text"),
    ("fraud_score", "float8"),
    ("fraud_reasons", "jsonb"),
    ("quality_score", "float8"),
    ("completeness", "float8"),
    ("lead_price", "int8"),
    ("price_breakdown", "jsonb"),
    ("status", "text"),
    ("schema_version", "int4"),
    ("survivor_rank", "text"),
];

fn column_names() -> String {
    LISTING_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run on every new connection: the staging table, emptied by each commit (and rollback).
static CREATE_STAGING: LazyLock<String> = LazyLock::new(|| {
    let columns = LISTING_COLUMNS
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ({columns}) ON COMMIT DELETE ROWS"
    )
});

static COPY_INTO_STAGING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY {STAGING_TABLE} ({}) FROM STDIN (FORMAT binary)",
        column_names()
    )
});

static UPSERT_FROM_STAGING: LazyLock<String> = LazyLock::new(|| {
    let columns = column_names();
    let updates = LISTING_COLUMNS[2..]
        .iter()
        .map(|(name, _)| format!("{name} = EXCLUDED.{name}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        // In key order: concurrent writers (two jobs of one group) then lock shared rows in the
        // same order instead of deadlocking, and the primary key index is walked once.
        "INSERT INTO listings ({columns}) SELECT {columns} FROM {STAGING_TABLE}
         ORDER BY source, source_listing_id
         ON CONFLICT (source, source_listing_id) DO UPDATE SET {updates}"
    )
});

/// Moves listings by a resolved relabel mapping (`$1[i]` -> `$2[i]`, each source label once).
const APPLY_RELABELS: &str = "UPDATE listings SET property_id = moves.to_id
     FROM unnest($1::int8[], $2::int8[]) AS moves(from_id, to_id)
     WHERE listings.property_id = moves.from_id";

/// Deletes the `leads` rows of the properties in `$1` that no listing describes any more (only a
/// relabel's `from` can end so: every other touched property holds the listing that touched it).
const DELETE_EMPTIED_LEADS: &str = "DELETE FROM leads WHERE property_id = ANY($1)
     AND NOT EXISTS (SELECT 1 FROM listings WHERE listings.property_id = leads.property_id)";

/// The columns of `leads` taken from the survivor listing as they are.
const SURVIVOR_COLUMNS: &str =
    "property_id, source, source_listing_id, url, fetched_at, listing_kind,
    property_type, list_price, price_period, bedrooms_total, bathrooms_total, living_area_sqft,
    street_address, unit_number, city, state_or_province, postal_code, latitude, longitude, h3_cell,
    title, description, posted_at, contact_name, contact_phone, contact_email, fraud_score,
    fraud_reasons, quality_score, completeness, lead_price, price_breakdown";

/// Rebuilds the `leads` rows of the properties in `$1` from their listings, in one scan: per
/// property, sorted by `survivor_rank` (byte-wise, the column's "C" collation) with the survivor
/// first, window aggregates over the whole property, then the first row of each. An upsert rather
/// than delete-and-insert: a fresh property costs one index probe, not two.
static UPSERT_LEADS: LazyLock<String> = LazyLock::new(|| {
    let updates = SURVIVOR_COLUMNS
        .split(',')
        .map(str::trim)
        .skip(1)
        .chain(["status", "schema_version", "listing_count", "sources"])
        .map(|name| format!("{name} = EXCLUDED.{name}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO leads ({SURVIVOR_COLUMNS}, status, schema_version, listing_count, sources)
         SELECT {SURVIVOR_COLUMNS},
                -- One listing of a property flagged as fraud quarantines the property.
                CASE WHEN any_quarantined THEN 'quarantined' ELSE status END,
                schema_version,
                listing_count,
                -- Most properties have one listing: skip the subquery for them.
                CASE WHEN listing_count = 1 THEN source
                     ELSE (SELECT string_agg(DISTINCT each_source, ',' ORDER BY each_source)
                           FROM unnest(all_sources) AS each_source)
                END
         FROM (SELECT DISTINCT ON (property_id) *,
                      count(*) OVER property AS listing_count,
                      bool_or(status = 'quarantined') OVER property AS any_quarantined,
                      array_agg(source) OVER property AS all_sources
               FROM listings
               WHERE property_id = ANY($1)
               WINDOW property AS (PARTITION BY property_id ORDER BY survivor_rank DESC
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
               ORDER BY property_id, survivor_rank DESC) AS survivors
         ON CONFLICT (property_id) DO UPDATE SET {updates}"
    )
});

const INSERT_DEAD_LETTERS: &str = "INSERT INTO dead_letters (stage, reason_code, reason_detail, source,
        source_listing_id, reference, original, rejected_at, schema_version, stream, stream_partition,
        stream_offset)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::text[], $8::timestamptz[], $9::int4[], $10::text[], $11::int4[], $12::int8[])
     ON CONFLICT (stream, stream_partition, stream_offset) DO NOTHING";

const INSERT_MARKETPLACE_EVENTS: &str =
    "INSERT INTO marketplace_events (kind, property_id, h3_cell, postal_code, agent, at)
     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[],
        $6::timestamptz[])";

const UPSERT_OFFSETS: &str =
    "INSERT INTO sink_offsets (consumer, stream, stream_partition, next_offset, updated_at)
     SELECT $1, stream, stream_partition, next_offset, $5
     FROM unnest($2::text[], $3::int4[], $4::int8[]) AS t(stream, stream_partition, next_offset)
     ON CONFLICT (consumer, stream, stream_partition)
     DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at";

/// How much encoded COPY data is buffered before it is sent: large enough for few messages, small
/// enough that the server works while the next chunk is encoded.
const COPY_CHUNK_BYTES: usize = 1 << 20;

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    #[instrument(skip_all)]
    pub async fn open(url: &str, max_connections: usize) -> Result<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1) as u32)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(CREATE_STAGING.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = PostgresStore { pool };
        store.migrate(POSTGRES).await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, in one transaction that first
    /// takes an advisory lock: a second process starting at the same time waits for the first to
    /// commit, then finds everything applied.
    async fn migrate(&self, migrations: &[Migration]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        for migration in migrations {
            // `query` rather than `query_scalar`: the latter's future is not provably `Send` when
            // run on a transaction (a rustc limitation with higher-ranked lifetimes).
            let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
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
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn committed_offsets(&self, consumer: &str) -> Result<Offsets> {
        let rows = sqlx::query(
            "SELECT stream, stream_partition, next_offset FROM sink_offsets WHERE consumer = $1",
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

    /// The limit [`Store::write`](super::Store::write) is measured against (benchmarks): the same
    /// listing rows written by one plain binary `COPY` into `listings_copy_baseline`, a copy of
    /// `listings` with its primary key, and nothing else (no merge, no `leads`, no offsets).
    pub async fn plain_copy_baseline(&self, leads: &[&Lead]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS listings_copy_baseline (LIKE listings INCLUDING ALL)",
        )
        .execute(&mut *tx)
        .await?;
        let statement = format!(
            "COPY listings_copy_baseline ({}) FROM STDIN (FORMAT binary)",
            column_names()
        );
        copy_all(&mut tx, &statement, leads, |rows, lead| {
            encode_listing(rows, lead)
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The other limit: the end state the sink maintains, `listings` and the per-property `leads`
    /// rows (`survivors`, see [`survivor_rows`]), loaded by plain binary `COPY` into the real tables
    /// with all their indexes (and the generated full-text column), in one transaction.
    pub async fn plain_copy_of_end_state(
        &self,
        listings: &[&Lead],
        survivors: &[SurvivorRow<'_>],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let statement = format!(
            "COPY listings ({}) FROM STDIN (FORMAT binary)",
            column_names()
        );
        copy_all(&mut tx, &statement, listings, |rows, lead| {
            encode_listing(rows, lead)
        })
        .await?;
        let statement = format!(
            "COPY leads ({SURVIVOR_COLUMNS}, status, schema_version, listing_count, sources) \
             FROM STDIN (FORMAT binary)"
        );
        copy_all(&mut tx, &statement, survivors, encode_survivor).await?;
        tx.commit().await?;
        Ok(())
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
        if !batch.leads.is_empty() {
            copy_into_staging(&mut tx, batch.leads).await?;
            sqlx::query(&UPSERT_FROM_STAGING).execute(&mut *tx).await?;
        }
        let moves = resolve_relabels(batch.relabels);
        if !moves.is_empty() {
            let (from, to): (Vec<i64>, Vec<i64>) = moves
                .iter()
                .map(|(from, to)| (from.as_i64(), to.as_i64()))
                .unzip();
            sqlx::query(APPLY_RELABELS)
                .bind(&from)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            sqlx::query(DELETE_EMPTIED_LEADS)
                .bind(from)
                .execute(&mut *tx)
                .await?;
        }
        let touched: Vec<i64> = touched_properties(batch)
            .into_iter()
            .map(PropertyId::as_i64)
            .collect();
        if !touched.is_empty() {
            sqlx::query(&UPSERT_LEADS)
                .bind(&touched)
                .execute(&mut *tx)
                .await?;
        }
        if !batch.dead_letters.is_empty() {
            insert_dead_letters(&mut tx, batch).await?;
        }
        if !batch.marketplace_events.is_empty() {
            let events = batch.marketplace_events;
            sqlx::query(INSERT_MARKETPLACE_EVENTS)
                .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
                .bind(
                    events
                        .iter()
                        .map(|e| e.property_id.as_i64())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    events
                        .iter()
                        .map(|e| e.h3_cell.map(|c| c.as_i64()))
                        .collect::<Vec<_>>(),
                )
                .bind(
                    events
                        .iter()
                        .map(|e| e.postal_code.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(events.iter().map(|e| e.agent.as_str()).collect::<Vec<_>>())
                .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
        }
        if !batch.next_offsets.is_empty() {
            let mut streams = Vec::with_capacity(batch.next_offsets.len());
            let mut partitions = Vec::with_capacity(batch.next_offsets.len());
            let mut offsets = Vec::with_capacity(batch.next_offsets.len());
            for ((stream, partition), next_offset) in batch.next_offsets {
                streams.push(stream.as_str());
                partitions.push(*partition);
                offsets.push(*next_offset);
            }
            sqlx::query(UPSERT_OFFSETS)
                .bind(consumer)
                .bind(streams)
                .bind(partitions)
                .bind(offsets)
                .bind(Utc::now())
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
        let mut dead_letters_by_reason = HashMap::new();
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

/// Streams the batch's listings into the staging table, each listing once with its last values in
/// the batch (one `INSERT ... ON CONFLICT DO UPDATE` may not touch a row twice).
async fn copy_into_staging(tx: &mut Transaction<'_, Postgres>, leads: &[Lead]) -> Result<()> {
    let mut last_index: HashMap<(Source, Cow<'_, str>), usize> =
        HashMap::with_capacity(leads.len());
    for (index, lead) in leads.iter().enumerate() {
        last_index.insert(listing_key(lead), index);
    }
    let mut copy = tx.copy_in_raw(&COPY_INTO_STAGING).await?;
    let mut rows = BinaryCopy::new();
    for (index, lead) in leads.iter().enumerate() {
        if last_index.get(&listing_key(lead)) != Some(&index) {
            continue;
        }
        if let Err(error) = encode_listing(&mut rows, lead) {
            copy.abort(error.to_string()).await?;
            return Err(error);
        }
        if rows.len() >= COPY_CHUNK_BYTES {
            copy.send(rows.take()).await?;
        }
    }
    copy.send(rows.finish()).await?;
    copy.finish().await?;
    Ok(())
}

fn listing_key(lead: &Lead) -> (Source, Cow<'_, str>) {
    (
        lead.listing.source,
        storable(&lead.listing.source_listing_id),
    )
}

/// One lead's values in [`LISTING_COLUMNS`] order.
fn encode_listing(rows: &mut BinaryCopy, lead: &Lead) -> Result<()> {
    rows.start_row(LISTING_COLUMNS.len());
    rows.text(Some(lead.listing.source.as_str()))?;
    rows.text(Some(&lead.listing.source_listing_id))?;
    rows.int8(Some(lead.property_id.as_i64()));
    encode_shared_columns(rows, lead)?;
    rows.text(Some(lead.status.as_str()))?;
    rows.int4(Some(i32::from(lead.schema_version)));
    rows.text(Some(&survivor_rank(lead)))?;
    Ok(())
}

/// The columns `listings` and `leads` share, in their common order: `url` to `price_breakdown`.
fn encode_shared_columns(rows: &mut BinaryCopy, lead: &Lead) -> Result<()> {
    let l = &lead.listing;
    rows.text(Some(&l.url))?;
    rows.timestamptz(Some(l.fetched_at));
    rows.text(l.listing_kind.map(|k| k.as_str()))?;
    rows.text(l.property_type.as_deref())?;
    rows.float8(l.list_price);
    rows.text(l.price_period.map(|p| p.as_str()))?;
    rows.int4(l.bedrooms_total.map(i32::from));
    rows.float8(l.bathrooms_total.map(f64::from));
    rows.int8(l.living_area_sqft.map(i64::from));
    rows.text(l.street_address.as_deref())?;
    rows.text(l.unit_number.as_deref())?;
    rows.text(l.city.as_deref())?;
    rows.text(l.state_or_province.as_deref())?;
    rows.text(l.postal_code.as_deref())?;
    rows.float8(l.latitude);
    rows.float8(l.longitude);
    rows.int8(l.h3_cell.map(|c| c.as_i64()));
    rows.text(l.title.as_deref())?;
    rows.text(l.description.as_deref())?;
    rows.timestamptz(l.posted_at);
    rows.text(l.contact_name.as_deref())?;
    rows.text(l.contact_phone.as_deref())?;
    rows.text(l.contact_email.as_deref())?;
    rows.float8(Some(f64::from(lead.fraud_score)));
    rows.jsonb(&fraud_reasons_json(&lead.fraud_reasons)?)?;
    rows.float8(Some(f64::from(lead.quality_score)));
    rows.float8(Some(f64::from(lead.completeness)));
    rows.int8(Some(i64::from(lead.lead_price)));
    rows.jsonb(&price_breakdown_json(lead)?)?;
    Ok(())
}

/// Streams `items` through one binary `COPY` (`statement`), in chunks of [`COPY_CHUNK_BYTES`].
async fn copy_all<T>(
    tx: &mut Transaction<'_, Postgres>,
    statement: &str,
    items: &[T],
    mut encode: impl FnMut(&mut BinaryCopy, &T) -> Result<()>,
) -> Result<()> {
    let mut copy = tx.copy_in_raw(statement).await?;
    let mut rows = BinaryCopy::new();
    for item in items {
        encode(&mut rows, item)?;
        if rows.len() >= COPY_CHUNK_BYTES {
            copy.send(rows.take()).await?;
        }
    }
    copy.send(rows.finish()).await?;
    copy.finish().await?;
    Ok(())
}

/// One `leads` row as the sink derives it: the survivor listing of a property and the aggregates.
pub struct SurvivorRow<'a> {
    pub lead: &'a Lead,
    pub quarantined: bool,
    pub listing_count: i32,
    pub sources: String,
}

/// Each listing once, with its last values (what the sink keeps of a listing fetched again), in
/// first-seen order.
pub fn last_per_listing(leads: &[Lead]) -> Vec<&Lead> {
    let mut index: HashMap<(Source, &str), usize> = HashMap::new();
    let mut out: Vec<&Lead> = Vec::new();
    for lead in leads {
        let key = (lead.listing.source, lead.listing.source_listing_id.as_str());
        match index.get(&key) {
            Some(&at) => out[at] = lead,
            None => {
                index.insert(key, out.len());
                out.push(lead);
            }
        }
    }
    out
}

/// The `leads` rows the sink would hold after storing `listings` (each once, no merges): per property,
/// the listing with the highest survivor rank, the listing count, the sorted sources, quarantined
/// when any listing is. For the benchmark's baseline.
pub fn survivor_rows<'a>(listings: &[&'a Lead]) -> Vec<SurvivorRow<'a>> {
    let mut by_property: HashMap<PropertyId, Vec<&Lead>> = HashMap::new();
    for lead in listings.iter().copied() {
        by_property.entry(lead.property_id).or_default().push(lead);
    }
    by_property
        .into_values()
        .map(|listings| {
            let survivor = listings
                .iter()
                .max_by_key(|lead| survivor_rank(lead))
                .expect("a property has a listing");
            let mut sources: Vec<&str> =
                listings.iter().map(|l| l.listing.source.as_str()).collect();
            sources.sort_unstable();
            sources.dedup();
            SurvivorRow {
                lead: survivor,
                quarantined: listings
                    .iter()
                    .any(|l| l.status == aiq_schemas::LeadStatus::Quarantined),
                listing_count: listings.len() as i32,
                sources: sources.join(","),
            }
        })
        .collect()
}

fn encode_survivor(rows: &mut BinaryCopy, row: &SurvivorRow<'_>) -> Result<()> {
    let lead = row.lead;
    rows.start_row(36);
    rows.int8(Some(lead.property_id.as_i64()));
    rows.text(Some(lead.listing.source.as_str()))?;
    rows.text(Some(&lead.listing.source_listing_id))?;
    encode_shared_columns(rows, lead)?;
    let status = if row.quarantined {
        "quarantined"
    } else {
        lead.status.as_str()
    };
    rows.text(Some(status))?;
    rows.int4(Some(i32::from(lead.schema_version)));
    rows.int4(Some(row.listing_count));
    rows.text(Some(&row.sources))?;
    Ok(())
}

/// The relabels of a batch as one mapping from each label that some listings held before the batch's
/// relabels to the label they hold after applying them one by one (chains and cycles included);
/// labels that end where they started are left out.
fn resolve_relabels(relabels: &[Relabel]) -> Vec<(PropertyId, PropertyId)> {
    // Original label -> label now, and label now -> the original labels that hold it.
    let mut label_now: HashMap<PropertyId, PropertyId> = HashMap::new();
    let mut holders: HashMap<PropertyId, Vec<PropertyId>> = HashMap::new();
    for relabel in relabels {
        if relabel.from == relabel.to {
            continue;
        }
        let mut moving = holders.remove(&relabel.from).unwrap_or_default();
        // Listings that still carry their original label `from` move too.
        if !label_now.contains_key(&relabel.from) {
            moving.push(relabel.from);
        }
        for original in &moving {
            label_now.insert(*original, relabel.to);
        }
        holders.entry(relabel.to).or_default().extend(moving);
    }
    let mut moves: Vec<_> = label_now
        .into_iter()
        .filter(|(original, now)| original != now)
        .collect();
    moves.sort_unstable();
    moves
}

async fn insert_dead_letters(
    tx: &mut Transaction<'_, Postgres>,
    batch: &SinkBatch<'_>,
) -> Result<()> {
    let count = batch.dead_letters.len();
    let mut stages = Vec::with_capacity(count);
    let mut codes = Vec::with_capacity(count);
    let mut details = Vec::with_capacity(count);
    let mut sources = Vec::with_capacity(count);
    let mut listing_ids = Vec::with_capacity(count);
    let mut references = Vec::with_capacity(count);
    let mut originals = Vec::with_capacity(count);
    let mut rejected_at = Vec::with_capacity(count);
    let mut schema_versions = Vec::with_capacity(count);
    let mut streams = Vec::with_capacity(count);
    let mut partitions = Vec::with_capacity(count);
    let mut offsets = Vec::with_capacity(count);
    for (dead, position) in batch.dead_letters {
        stages.push(storable(&dead.stage));
        codes.push(storable(&dead.reason.code));
        details.push(storable(&dead.reason.detail));
        sources.push(storable_opt(&dead.source));
        listing_ids.push(storable_opt(&dead.source_listing_id));
        references.push(storable(&dead.reference));
        originals.push(storable(&dead.original));
        rejected_at.push(dead.rejected_at);
        schema_versions.push(i32::from(dead.schema_version));
        streams.push(storable(&position.stream));
        partitions.push(position.partition);
        offsets.push(position.offset);
    }
    sqlx::query(INSERT_DEAD_LETTERS)
        .bind(as_strs(&stages))
        .bind(as_strs(&codes))
        .bind(as_strs(&details))
        .bind(as_opt_strs(&sources))
        .bind(as_opt_strs(&listing_ids))
        .bind(as_strs(&references))
        .bind(as_strs(&originals))
        .bind(rejected_at)
        .bind(schema_versions)
        .bind(as_strs(&streams))
        .bind(partitions)
        .bind(offsets)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn as_strs<'a>(texts: &'a [Cow<'a, str>]) -> Vec<&'a str> {
    texts.iter().map(|t| t.as_ref()).collect()
}

fn as_opt_strs<'a>(texts: &'a [Option<Cow<'a, str>>]) -> Vec<Option<&'a str>> {
    texts.iter().map(|t| t.as_deref()).collect()
}

/// Microseconds from the Unix epoch to Postgres's (2000-01-01T00:00:00Z).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Rows in Postgres's binary `COPY` format: a header, then per row the field count and each value
/// as its length and bytes (-1 for NULL), then a trailer.
struct BinaryCopy {
    buffer: Vec<u8>,
}

impl BinaryCopy {
    fn new() -> BinaryCopy {
        let mut buffer = Vec::with_capacity(COPY_CHUNK_BYTES + 64 * 1024);
        buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buffer.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buffer.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        BinaryCopy { buffer }
    }

    fn len(&self) -> usize {
        self.buffer.len()
    }

    /// The bytes encoded so far, leaving the buffer empty (and its capacity in place).
    fn take(&mut self) -> Vec<u8> {
        let capacity = self.buffer.capacity();
        std::mem::replace(&mut self.buffer, Vec::with_capacity(capacity))
    }

    /// The remaining bytes with the trailer.
    fn finish(mut self) -> Vec<u8> {
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        self.buffer
    }

    fn start_row(&mut self, fields: usize) {
        // LISTING_COLUMNS has 35 entries: always fits.
        let fields = i16::try_from(fields).unwrap_or(i16::MAX);
        self.buffer.extend_from_slice(&fields.to_be_bytes());
    }

    fn null(&mut self) {
        self.buffer.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn fixed<const N: usize>(&mut self, bytes: Option<[u8; N]>) {
        match bytes {
            Some(bytes) => {
                self.buffer.extend_from_slice(&(N as i32).to_be_bytes());
                self.buffer.extend_from_slice(&bytes);
            }
            None => self.null(),
        }
    }

    fn int4(&mut self, value: Option<i32>) {
        self.fixed(value.map(i32::to_be_bytes));
    }

    fn int8(&mut self, value: Option<i64>) {
        self.fixed(value.map(i64::to_be_bytes));
    }

    fn float8(&mut self, value: Option<f64>) {
        self.fixed(value.map(|v| v.to_bits().to_be_bytes()));
    }

    fn timestamptz(&mut self, value: Option<DateTime<Utc>>) {
        // Whole microseconds, truncated as sqlx encodes them; chrono's range keeps this in i64.
        self.fixed(value.map(|t| (t.timestamp_micros() - POSTGRES_EPOCH_MICROS).to_be_bytes()));
    }

    fn text(&mut self, value: Option<&str>) -> Result<()> {
        match value {
            Some(text) => self.variable(None, storable(text).as_bytes()),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// JSONB's binary form: a version byte (1), then the JSON text.
    fn jsonb(&mut self, json: &str) -> Result<()> {
        self.variable(Some(1), json.as_bytes())
    }

    fn variable(&mut self, prefix: Option<u8>, bytes: &[u8]) -> Result<()> {
        let length = bytes.len() + usize::from(prefix.is_some());
        let length = i32::try_from(length).map_err(|_| {
            Error::Internal(format!(
                "a listing holds a value of {length} bytes, more than Postgres stores in one field (1 GiB)"
            ))
        })?;
        self.buffer.extend_from_slice(&length.to_be_bytes());
        if let Some(prefix) = prefix {
            self.buffer.push(prefix);
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> PropertyId {
        PropertyId(n)
    }

    /// Applies relabels one by one to a set of labelled listings, as the SQLite backend does.
    fn one_by_one(labels: &mut [PropertyId], relabels: &[Relabel]) {
        for relabel in relabels {
            for label in labels.iter_mut() {
                if *label == relabel.from {
                    *label = relabel.to;
                }
            }
        }
    }

    #[test]
    fn resolved_relabels_move_listings_where_applying_them_one_by_one_does() {
        let relabel = |from, to| Relabel {
            from: id(from),
            to: id(to),
        };
        let cases: Vec<Vec<Relabel>> = vec![
            vec![relabel(1, 2)],
            vec![relabel(1, 2), relabel(2, 3)],
            vec![relabel(2, 3), relabel(1, 2)],
            vec![relabel(1, 2), relabel(2, 1)],
            vec![relabel(1, 2), relabel(2, 1), relabel(1, 3)],
            vec![relabel(1, 2), relabel(1, 3)],
            vec![relabel(1, 1), relabel(4, 5), relabel(5, 4), relabel(3, 4)],
        ];
        for relabels in cases {
            let mut expected: Vec<PropertyId> = (1..=6).map(id).collect();
            one_by_one(&mut expected, &relabels);
            let moves: HashMap<_, _> = resolve_relabels(&relabels).into_iter().collect();
            let resolved: Vec<PropertyId> = (1..=6)
                .map(id)
                .map(|label| moves.get(&label).copied().unwrap_or(label))
                .collect();
            assert_eq!(resolved, expected, "relabels {relabels:?}");
        }
    }

    #[test]
    fn binary_copy_frames_values_with_their_lengths() {
        let mut rows = BinaryCopy::new();
        let header = rows.len();
        rows.start_row(3);
        rows.text(Some("a\tb")).unwrap();
        rows.int4(None);
        rows.jsonb("[]").unwrap();
        let bytes = rows.finish();
        assert_eq!(
            &bytes[header..],
            &[
                0, 3, // fields
                0, 0, 0, 3, b'a', b'\t', b'b', // text
                255, 255, 255, 255, // NULL
                0, 0, 0, 3, 1, b'[', b']', // jsonb version 1
                255, 255, // trailer
            ]
        );
    }
}
