//! The relational store: per-listing rows, the per-property `leads` view the API reads, dead letters
//! and consumed offsets, all written in one transaction per batch (exactly-once by construction).

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::time::Duration;

use aiq_schemas::migrations::{Migration, SQLITE};
use aiq_schemas::{DeadLetter, Lead, PropertyId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tracing::instrument;

use super::{Offsets, SinkBatch};
use crate::{Error, Result};

/// A store chosen by URL.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    pub async fn open(url: &str, max_connections: usize) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(
                SqliteStore::open(url, max_connections).await?,
            ))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Err(Error::Config(
                "store.url postgres:// is not available in this build yet: the Postgres sink is tracked in the streaming issue; use sqlite://".into(),
            ))
        } else {
            Err(Error::Config(format!(
                "store.url `{url}` must start with sqlite:// or postgres://"
            )))
        }
    }

    pub async fn committed_offsets(&self, consumer: &str) -> Result<Offsets> {
        match self {
            Store::Sqlite(s) => s.committed_offsets(consumer).await,
        }
    }

    pub async fn write(&self, consumer: &str, batch: &SinkBatch<'_>) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.write(consumer, batch).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.pool.close().await,
        }
    }
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
            .foreign_keys(true);
        if let Some(parent) = options
            .get_filename()
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create folder", parent, e))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1) as u32)
            .connect_with(options)
            .await?;
        let store = SqliteStore { pool };
        store.migrate(SQLITE).await?;
        Ok(store)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrate(&self, migrations: &[Migration]) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            .execute(&self.pool)
            .await?;
        for migration in migrations {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                    .bind(migration.version)
                    .fetch_optional(&self.pool)
                    .await?;
            if applied.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(migration.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
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
            tx.commit().await?;
        }
        Ok(())
    }

    async fn committed_offsets(&self, consumer: &str) -> Result<Offsets> {
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
    async fn write(&self, consumer: &str, batch: &SinkBatch<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let mut touched = BTreeSet::new();
        for lead in batch.leads {
            upsert_listing(&mut tx, lead).await?;
            touched.insert(lead.property_id);
        }
        for relabel in batch.relabels {
            sqlx::query("UPDATE listings SET property_id = ? WHERE property_id = ?")
                .bind(relabel.to.as_i64())
                .bind(relabel.from.as_i64())
                .execute(&mut *tx)
                .await?;
            touched.insert(relabel.from);
            touched.insert(relabel.to);
        }
        for property_id in touched {
            refresh_lead(&mut tx, property_id).await?;
        }
        for (dead, position) in batch.dead_letters {
            insert_dead_letter(&mut tx, dead, position).await?;
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
}

/// Text that sorts like the survivorship rule (completeness, then fetch time, then ids).
fn survivor_rank(lead: &Lead) -> String {
    let (completeness, fetched_at, source, id) = lead.survivorship_key();
    format!(
        "{completeness:04}|{}|{source}|{id}",
        fetched_at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

async fn upsert_listing(tx: &mut Transaction<'_, Sqlite>, lead: &Lead) -> Result<()> {
    let l = &lead.listing;
    sqlx::query(
        "INSERT INTO listings (source, source_listing_id, property_id, url, fetched_at, listing_kind, property_type,
            list_price, price_period, bedrooms_total, bathrooms_total, living_area_sqft, street_address, unit_number,
            city, state_or_province, postal_code, latitude, longitude, h3_cell, title, description, posted_at,
            contact_name, contact_phone, contact_email, fraud_score, fraud_reasons, quality_score, completeness,
            lead_price, price_breakdown, status, schema_version, survivor_rank)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, source_listing_id) DO UPDATE SET
            property_id = excluded.property_id, url = excluded.url, fetched_at = excluded.fetched_at,
            listing_kind = excluded.listing_kind, property_type = excluded.property_type, list_price = excluded.list_price,
            price_period = excluded.price_period, bedrooms_total = excluded.bedrooms_total,
            bathrooms_total = excluded.bathrooms_total, living_area_sqft = excluded.living_area_sqft,
            street_address = excluded.street_address, unit_number = excluded.unit_number, city = excluded.city,
            state_or_province = excluded.state_or_province, postal_code = excluded.postal_code,
            latitude = excluded.latitude, longitude = excluded.longitude, h3_cell = excluded.h3_cell,
            title = excluded.title, description = excluded.description, posted_at = excluded.posted_at,
            contact_name = excluded.contact_name, contact_phone = excluded.contact_phone,
            contact_email = excluded.contact_email, fraud_score = excluded.fraud_score,
            fraud_reasons = excluded.fraud_reasons, quality_score = excluded.quality_score,
            completeness = excluded.completeness, lead_price = excluded.lead_price,
            price_breakdown = excluded.price_breakdown, status = excluded.status,
            schema_version = excluded.schema_version, survivor_rank = excluded.survivor_rank",
    )
    .bind(l.source.as_str())
    .bind(&l.source_listing_id)
    .bind(lead.property_id.as_i64())
    .bind(&l.url)
    .bind(l.fetched_at)
    .bind(l.listing_kind.map(|k| k.as_str()))
    .bind(&l.property_type)
    .bind(l.list_price)
    .bind(l.price_period.map(|p| p.as_str()))
    .bind(l.bedrooms_total.map(i64::from))
    .bind(l.bathrooms_total.map(f64::from))
    .bind(l.living_area_sqft.map(i64::from))
    .bind(&l.street_address)
    .bind(&l.unit_number)
    .bind(&l.city)
    .bind(&l.state_or_province)
    .bind(&l.postal_code)
    .bind(l.latitude)
    .bind(l.longitude)
    .bind(l.h3_cell.map(|c| c.as_i64()))
    .bind(&l.title)
    .bind(&l.description)
    .bind(l.posted_at)
    .bind(&l.contact_name)
    .bind(&l.contact_phone)
    .bind(&l.contact_email)
    .bind(f64::from(lead.fraud_score))
    .bind(serde_json::to_string(&lead.fraud_reasons).map_err(|e| Error::Internal(e.to_string()))?)
    .bind(f64::from(lead.quality_score))
    .bind(f64::from(lead.completeness))
    .bind(i64::from(lead.lead_price))
    .bind(serde_json::to_string(&lead.price_breakdown).map_err(|e| Error::Internal(e.to_string()))?)
    .bind(lead.status.as_str())
    .bind(i64::from(lead.schema_version))
    .bind(survivor_rank(lead))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rebuilds one property's row of the `leads` view from its listings: the survivor's values plus how
/// many listings and which sources describe it. A property left with no listings loses its row.
async fn refresh_lead(tx: &mut Transaction<'_, Sqlite>, property_id: PropertyId) -> Result<()> {
    let id = property_id.as_i64();
    sqlx::query("DELETE FROM leads WHERE property_id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO leads
         SELECT property_id, source, source_listing_id, url, fetched_at, listing_kind, property_type, list_price,
                price_period, bedrooms_total, bathrooms_total, living_area_sqft, street_address, unit_number, city,
                state_or_province, postal_code, latitude, longitude, h3_cell, title, description, posted_at,
                contact_name, contact_phone, contact_email, fraud_score, fraud_reasons, quality_score, completeness,
                lead_price, price_breakdown,
                -- One listing of a property flagged as fraud quarantines the property.
                CASE WHEN (SELECT COUNT(*) FROM listings q WHERE q.property_id = ?1 AND q.status = 'quarantined') > 0
                     THEN 'quarantined' ELSE status END,
                schema_version,
                (SELECT COUNT(*) FROM listings c WHERE c.property_id = ?1),
                (SELECT group_concat(source, ',') FROM (SELECT DISTINCT source FROM listings s WHERE s.property_id = ?1 ORDER BY source))
         FROM listings WHERE property_id = ?1 ORDER BY survivor_rank DESC LIMIT 1",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_dead_letter(
    tx: &mut Transaction<'_, Sqlite>,
    dead: &DeadLetter,
    position: &super::StreamPosition,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dead_letters (stage, reason_code, reason_detail, source, source_listing_id, reference, original,
            rejected_at, schema_version, stream, stream_partition, stream_offset)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (stream, stream_partition, stream_offset) DO NOTHING",
    )
    .bind(&dead.stage)
    .bind(&dead.reason.code)
    .bind(&dead.reason.detail)
    .bind(&dead.source)
    .bind(&dead.source_listing_id)
    .bind(&dead.reference)
    .bind(&dead.original)
    .bind(dead.rejected_at)
    .bind(i64::from(dead.schema_version))
    .bind(position.stream.as_ref())
    .bind(position.partition)
    .bind(position.offset)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts a summary needs, read back from the store (so the summary reports what was really written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub listings: i64,
    pub leads: i64,
    pub quarantined_leads: i64,
    pub dead_letters_by_reason: HashMap<String, i64>,
}

impl Store {
    pub async fn counts(&self) -> Result<StoreCounts> {
        match self {
            Store::Sqlite(s) => {
                let one = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&s.pool);
                let listings = one("SELECT COUNT(*) FROM listings").await?;
                let leads = one("SELECT COUNT(*) FROM leads").await?;
                let quarantined_leads =
                    one("SELECT COUNT(*) FROM leads WHERE status = 'quarantined'").await?;
                let rows = sqlx::query(
                    "SELECT reason_code, COUNT(*) FROM dead_letters GROUP BY reason_code",
                )
                .fetch_all(&s.pool)
                .await?;
                let mut dead_letters_by_reason = HashMap::new();
                for row in rows {
                    dead_letters_by_reason
                        .insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
                }
                Ok(StoreCounts {
                    listings,
                    leads,
                    quarantined_leads,
                    dead_letters_by_reason,
                })
            }
        }
    }
}
