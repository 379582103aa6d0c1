//! The relational store: per-listing rows, the per-property `leads` view the API reads, dead letters
//! and consumed offsets, all written in one transaction per batch (exactly-once by construction).
//!
//! Two backends, chosen by URL, with the same semantics (the integration tests in
//! `tests/store_backends.rs` run every scenario on both):
//! - `sqlite://` ([`SqliteStore`]), the embedded default;
//! - `postgres://` ([`PostgresStore`]), production, where each batch is streamed with binary `COPY`
//!   into a staging table and merged set-based.
//!
//! Per batch, in one transaction and in this order:
//! 1. upsert every lead into `listings` by `(source, source_listing_id)`; when a batch holds one
//!    listing twice, the later one wins;
//! 2. apply the batch's relabels in order (every listing of `from` moves to `to`, so chains and
//!    cycles end where applying them one by one would);
//! 3. rebuild the `leads` row of every touched property (each lead's property, both ends of each
//!    relabel): the survivor's values (highest `survivor_rank`), `listing_count`, the sorted distinct
//!    `sources`, `quarantined` when any listing of the property is, and no row when no listing is left;
//! 4. insert dead letters, once per `(stream, partition, offset)`;
//! 5. upsert the consumer's next offsets.
//!
//! Text is stored as given except NUL characters, which Postgres text cannot hold: both backends
//! store them as U+FFFD so that they agree.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use aiq_schemas::{FraudReason, H3Cell, Lead, MarketplaceEvent, MarketplaceEventKind, PropertyId};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Offsets, SinkBatch};
use crate::{Error, Result};

mod postgres;
mod sqlite;

pub use postgres::{PostgresStore, SurvivorRow, last_per_listing, survivor_rows};
pub use sqlite::SqliteStore;

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is: for SQL that both
/// backends read alike (numbered parameters), written once.
macro_rules! on_either_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite(s) => {
                let $pool = s.pool();
                $body
            }
            Store::Postgres(s) => {
                let $pool = s.pool();
                $body
            }
        }
    };
}

/// A store chosen by URL.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://PATH` or
    /// `postgres://...` (also `postgresql://`). Several processes may open one database at once.
    pub async fn open(url: &str, max_connections: usize) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(
                SqliteStore::open(url, max_connections).await?,
            ))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(
                PostgresStore::open(url, max_connections).await?,
            ))
        } else {
            Err(Error::Config(format!(
                "store.url `{url}` must start with sqlite:// or postgres://"
            )))
        }
    }

    /// The offsets `consumer` committed with its last stored batch: where to resume reading.
    pub async fn committed_offsets(&self, consumer: &str) -> Result<Offsets> {
        match self {
            Store::Sqlite(s) => s.committed_offsets(consumer).await,
            Store::Postgres(s) => s.committed_offsets(consumer).await,
        }
    }

    /// Stores one batch and `consumer`'s next offsets in one transaction (see the module docs).
    pub async fn write(&self, consumer: &str, batch: &SinkBatch<'_>) -> Result<()> {
        self.write_as_owner(consumer, &Generations::new(), batch)
            .await
    }

    /// [`Store::write`] for the owner of `generations` (from [`Store::claim`]): the transaction
    /// first checks that each partition is still held at that generation, and writes nothing
    /// ([`Error::Fenced`]) when another owner has claimed it since.
    pub async fn write_as_owner(
        &self,
        consumer: &str,
        generations: &Generations,
        batch: &SinkBatch<'_>,
    ) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.write(consumer, generations, batch).await,
            Store::Postgres(s) => s.write(consumer, generations, batch).await,
        }
    }

    /// Takes `consumer`'s `stream`/`partition` over: returns its next generation, which every
    /// later write of an older one is refused for.
    pub async fn claim(&self, consumer: &str, stream: &str, partition: i32) -> Result<i64> {
        const SQL: &str = "INSERT INTO sink_owners (consumer, stream, stream_partition, generation, claimed_at) \
                           VALUES ($1, $2, $3, 1, $4) \
                           ON CONFLICT (consumer, stream, stream_partition) DO UPDATE \
                           SET generation = sink_owners.generation + 1, claimed_at = excluded.claimed_at \
                           RETURNING generation";
        let now = Utc::now();
        let generation = on_either_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>(SQL)
                .bind(consumer)
                .bind(stream)
                .bind(partition)
                .bind(now)
                .fetch_one(pool)
                .await?
        });
        Ok(generation)
    }

    /// Brings the market statistics views up to date. Postgres keeps them materialised (refreshed
    /// concurrently: readers are never blocked); SQLite's are plain views, always current.
    pub async fn refresh_market_stats(&self) -> Result<()> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => {
                for view in ["market_stats_postal", "market_stats_h3"] {
                    sqlx::query(&format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {view}"))
                        .execute(s.pool())
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// Marketplace events with an id above `after_id`, at or after `since`, in id order, at most
    /// `limit`: how the embedded runner follows the demand the embedded API records. Rows of an
    /// unknown kind (written by a newer API) are skipped.
    pub async fn marketplace_events_after(
        &self,
        after_id: i64,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(i64, MarketplaceEvent)>> {
        const SQL: &str = "SELECT id, kind, property_id, h3_cell, postal_code, agent, at \
                           FROM marketplace_events WHERE id > $1 AND at >= $2 ORDER BY id LIMIT $3";
        // One decoding for both backends' row types.
        on_either_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(after_id)
                .bind(since)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                let kind: String = row.try_get(1)?;
                let Some(kind) = MarketplaceEventKind::from_name(&kind) else {
                    continue;
                };
                events.push((
                    row.try_get::<i64, _>(0)?,
                    MarketplaceEvent {
                        kind,
                        property_id: PropertyId::from_i64(row.try_get(2)?),
                        h3_cell: row.try_get::<Option<i64>, _>(3)?.map(|c| H3Cell(c as u64)),
                        postal_code: row.try_get(4)?,
                        state_or_province: None,
                        agent: row.try_get(5)?,
                        at: row.try_get(6)?,
                    },
                ));
            }
            Ok(events)
        })
    }

    /// Counts a summary needs, read back from the store.
    pub async fn counts(&self) -> Result<StoreCounts> {
        match self {
            Store::Sqlite(s) => s.counts().await,
            Store::Postgres(s) => s.counts().await,
        }
    }

    pub async fn close(&self) {
        on_either_pool!(self, pool => pool.close().await)
    }
}

/// Per (stream, partition), the owner generation a write is made under.
pub type Generations = std::collections::BTreeMap<(String, i32), i64>;

/// Refuses the transaction `$tx` unless `$consumer` still holds every partition of `$generations`
/// at its generation. An UPDATE rather than a SELECT: it locks the row (Postgres) or takes the write
/// lock (SQLite) until commit, so a claim cannot slip in between the check and the commit.
macro_rules! check_owner_generations {
    ($tx:expr, $consumer:expr, $generations:expr) => {
        for ((stream, partition), generation) in $generations {
            let held = sqlx::query(
                "UPDATE sink_owners SET generation = generation \
                 WHERE consumer = $1 AND stream = $2 AND stream_partition = $3 AND generation = $4",
            )
            .bind($consumer)
            .bind(stream.as_str())
            .bind(*partition)
            .bind(*generation)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if held != 1 {
                return Err(crate::Error::Fenced {
                    stream: stream.clone(),
                    partition: *partition,
                    generation: *generation,
                });
            }
        }
    };
}
pub(crate) use check_owner_generations;

/// Counts a summary needs, read back from the store (so the summary reports what was really written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub listings: i64,
    pub leads: i64,
    pub quarantined_leads: i64,
    pub dead_letters_by_reason: HashMap<String, i64>,
}

/// Text that sorts like the survivorship rule (completeness, then fetch time, then ids).
fn survivor_rank(lead: &Lead) -> String {
    let (completeness, fetched_at, source, id) = lead.survivorship_key();
    format!(
        "{completeness:04}|{}|{source}|{id}",
        fetched_at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// Every property whose `leads` row a batch may change: each lead's property (also of a listing
/// that a later lead of the same batch moves elsewhere) and both ends of every relabel.
fn touched_properties(batch: &SinkBatch<'_>) -> BTreeSet<PropertyId> {
    let mut touched: BTreeSet<PropertyId> = batch.leads.iter().map(|l| l.property_id).collect();
    for relabel in batch.relabels {
        touched.insert(relabel.from);
        touched.insert(relabel.to);
    }
    touched
}

/// Text as the store keeps it: NUL (which Postgres text and JSONB reject) becomes U+FFFD.
fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn storable_opt(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(storable)
}

/// `fraud_reasons` as stored JSON.
fn fraud_reasons_json(reasons: &[FraudReason]) -> Result<String> {
    let json = if reasons.iter().any(|r| r.detail.contains('\0')) {
        let cleaned: Vec<FraudReason> = reasons
            .iter()
            .map(|r| FraudReason {
                detail: storable(&r.detail).into_owned(),
                ..r.clone()
            })
            .collect();
        serde_json::to_string(&cleaned)
    } else {
        serde_json::to_string(reasons)
    };
    json.map_err(|e| Error::Internal(format!("fraud reasons as JSON: {e}")))
}

fn price_breakdown_json(lead: &Lead) -> Result<String> {
    serde_json::to_string(&lead.price_breakdown)
        .map_err(|e| Error::Internal(format!("price breakdown as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character_and_other_text_is_untouched() {
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
        assert!(matches!(storable("tab\there\\"), Cow::Borrowed(_)));
    }
}
