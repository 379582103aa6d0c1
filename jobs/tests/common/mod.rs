//! Shared by the store integration tests: a fresh database per test on each backend, builders for
//! leads and batches, and a backend-neutral snapshot of everything a store holds.
//!
//! Postgres comes from `AIQ_TEST_POSTGRES_URL` (an admin URL; default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test creates `aiq_test_<unique>` there and
//! drops it afterwards. `scripts/test.sh` makes sure Postgres answers. A test that cannot reach it
//! fails and says so; it never skips.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aiq_jobs::sink::store::Store;
use aiq_jobs::sink::{Offsets, SinkBatch, StreamPosition};
use aiq_pipeline::dedupe::Relabel;
use aiq_schemas::{
    DeadLetter, FraudCode, FraudReason, Lead, LeadStatus, Listing, PriceBreakdown, PropertyId,
    RejectReason, Source,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub(crate) const POSTGRES_URL_VARIABLE: &str = "AIQ_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `test` with the URL of a fresh, empty database of `backend`, then removes the database,
/// also when the test panics (the panic is raised again afterwards).
pub(crate) async fn with_database<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary folder for the SQLite file");
            let url = format!("sqlite://{}", dir.path().join("store.db").display());
            let outcome = tokio::spawn(test(url)).await;
            drop(dir);
            resume(outcome);
        }
        Backend::Postgres => {
            let admin_url = std::env::var(POSTGRES_URL_VARIABLE)
                .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_owned());
            let options = admin_url.parse::<PgConnectOptions>().unwrap_or_else(|e| {
                panic!("{POSTGRES_URL_VARIABLE}=`{admin_url}` is not a Postgres URL: {e}")
            });
            let unreachable = |why: String| -> ! {
                panic!(
                    "cannot reach Postgres at {admin_url}: {why}. These tests need a running \
                     Postgres: run scripts/test.sh (which starts it), or start one and set \
                     {POSTGRES_URL_VARIABLE} to an admin URL"
                )
            };
            let mut admin =
                match tokio::time::timeout(Duration::from_secs(10), options.connect()).await {
                    Ok(Ok(connection)) => connection,
                    Ok(Err(e)) => unreachable(e.to_string()),
                    Err(_) => unreachable("no answer within 10 s".into()),
                };
            let name = unique_database_name();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("create test database {name} at {admin_url}: {e}"));
            let mut url = url::Url::parse(&admin_url).expect("the admin URL parsed above");
            url.set_path(&format!("/{name}"));
            let outcome = tokio::spawn(test(url.to_string())).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("drop test database {name}: {e}"));
            let _ = admin.close().await;
            resume(outcome);
        }
    }
}

/// Runs `scenario` on a store freshly opened on a fresh database of `backend`.
pub(crate) async fn with_store<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_database(backend, move |url| async move {
        let store = Store::open(&url, 2)
            .await
            .unwrap_or_else(|e| panic!("open the store at {url}: {e}"));
        scenario(store.clone()).await;
        store.close().await;
    })
    .await;
}

fn resume(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("the test task did not finish: {error}"),
        }
    }
}

fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "aiq_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn backend_of(store: &Store) -> Backend {
    match store {
        Store::Sqlite(_) => Backend::Sqlite,
        Store::Postgres(_) => Backend::Postgres,
    }
}

/// A point in time with whole microseconds (what both backends keep).
pub(crate) fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0)
        .single()
        .expect("a valid test date")
}

/// An active lead of `property` with middling values; tests change what they check.
pub(crate) fn lead(source: Source, id: &str, property: u64) -> Lead {
    let mut listing = Listing::new(
        source,
        id,
        format!("https://example.test/{source}/{id}"),
        at(1, 12),
    );
    listing.title = Some(format!("Listing {id}"));
    listing.list_price = Some(1850.0);
    listing.living_area_sqft = Some(900);
    listing.postal_code = Some("02139".into());
    Lead {
        listing,
        property_id: PropertyId(property),
        fraud_score: 0.0,
        fraud_reasons: Vec::new(),
        quality_score: 0.5,
        completeness: 0.5,
        lead_price: 12,
        price_breakdown: PriceBreakdown {
            base: 10.0,
            quality_multiplier: 1.2,
            demand_multiplier: 1.0,
            supply_multiplier: 1.0,
            unclamped: 12.0,
            floor: 2,
            ceiling: 100,
        },
        status: LeadStatus::Active,
        schema_version: 1,
    }
}

/// `lead` flagged as a scam and quarantined.
pub(crate) fn quarantined(mut lead: Lead) -> Lead {
    lead.fraud_score = 0.9;
    lead.fraud_reasons = vec![FraudReason {
        code: FraudCode::ScamPhrase,
        contribution: 0.9,
        detail: "asks for payment by wire transfer".into(),
    }];
    lead.status = LeadStatus::Quarantined;
    lead
}

pub(crate) fn dead_letter(code: &str, original: &str, offset: i64) -> (DeadLetter, StreamPosition) {
    (
        DeadLetter {
            stage: "decode".into(),
            reason: RejectReason::new(code, format!("{code} at offset {offset}")),
            source: Some("craigslist".into()),
            source_listing_id: None,
            reference: format!("listings.raw/0/{offset}"),
            original: original.into(),
            rejected_at: at(2, 8),
            schema_version: 1,
        },
        position(offset),
    )
}

pub(crate) fn position(offset: i64) -> StreamPosition {
    StreamPosition {
        stream: Arc::from("listings.raw"),
        partition: 0,
        offset,
    }
}

/// The owned parts of a [`SinkBatch`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Batch {
    pub(crate) leads: Vec<Lead>,
    pub(crate) relabels: Vec<Relabel>,
    pub(crate) dead_letters: Vec<(DeadLetter, StreamPosition)>,
    pub(crate) marketplace_events: Vec<aiq_schemas::MarketplaceEvent>,
    pub(crate) next_offsets: Offsets,
}

impl Batch {
    pub(crate) fn of(leads: Vec<Lead>) -> Batch {
        Batch {
            leads,
            ..Batch::default()
        }
    }

    pub(crate) fn relabel(mut self, from: u64, to: u64) -> Batch {
        self.relabels.push(Relabel {
            from: PropertyId(from),
            to: PropertyId(to),
        });
        self
    }

    /// Stores the batch as consumer `test`.
    pub(crate) async fn write(&self, store: &Store) {
        self.write_as_owner(store, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("write a batch: {e}"));
    }

    /// Stores the batch as consumer `test`, the owner of `generations`.
    pub(crate) async fn write_as_owner(
        &self,
        store: &Store,
        generations: &aiq_jobs::sink::store::Generations,
    ) -> aiq_jobs::Result<()> {
        let positions: Vec<StreamPosition> = (0..self.leads.len() as i64).map(position).collect();
        let last = position(self.leads.len().saturating_sub(1) as i64);
        let relabel_positions = vec![last; self.relabels.len()];
        let batch = SinkBatch {
            leads: &self.leads,
            lead_positions: &positions,
            relabels: &self.relabels,
            relabel_positions: &relabel_positions,
            dead_letters: &self.dead_letters,
            marketplace_events: &self.marketplace_events,
            next_offsets: &self.next_offsets,
        };
        store.write_as_owner("test", generations, &batch).await
    }
}

/// One row of `listings` as the tests compare it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListingRow {
    pub(crate) source: String,
    pub(crate) source_listing_id: String,
    pub(crate) property_id: i64,
    pub(crate) url: String,
    pub(crate) fetched_at: DateTime<Utc>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) contact_name: Option<String>,
    pub(crate) list_price: Option<f64>,
    pub(crate) living_area_sqft: Option<i64>,
    pub(crate) bedrooms_total: Option<i32>,
    pub(crate) fraud_reasons: Value,
    pub(crate) price_breakdown: Value,
    pub(crate) lead_price: i64,
    pub(crate) status: String,
}

/// One row of `leads` as the tests compare it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LeadRow {
    pub(crate) property_id: i64,
    pub(crate) source: String,
    pub(crate) source_listing_id: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) completeness: f64,
    pub(crate) fetched_at: DateTime<Utc>,
    pub(crate) fraud_reasons: Value,
    pub(crate) status: String,
    pub(crate) listing_count: i32,
    pub(crate) sources: String,
}

/// One row of `dead_letters` as the tests compare it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DeadLetterRow {
    pub(crate) reason_code: String,
    pub(crate) reason_detail: String,
    pub(crate) original: String,
    pub(crate) rejected_at: DateTime<Utc>,
    pub(crate) stream: String,
    pub(crate) stream_partition: i32,
    pub(crate) stream_offset: i64,
}

/// Everything a store holds, in a stable order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) listings: Vec<ListingRow>,
    pub(crate) leads: Vec<LeadRow>,
    pub(crate) dead_letters: Vec<DeadLetterRow>,
}

impl Snapshot {
    pub(crate) fn lead(&self, property: u64) -> Option<&LeadRow> {
        self.leads
            .iter()
            .find(|l| l.property_id == PropertyId(property).as_i64())
    }

    pub(crate) fn listing(&self, id: &str) -> &ListingRow {
        self.listings
            .iter()
            .find(|l| l.source_listing_id == id)
            .unwrap_or_else(|| panic!("no listing {id:?} in {:#?}", self.listings))
    }
}

/// SQL of the snapshot; `json` turns a JSON column into text the same way on both backends.
fn snapshot_sql(json: fn(&str) -> String) -> [String; 3] {
    [
        format!(
            "SELECT source, source_listing_id, property_id, url, fetched_at, title, description, contact_name,
                    list_price, living_area_sqft, bedrooms_total, {}, {}, lead_price, status
             FROM listings ORDER BY source, source_listing_id",
            json("fraud_reasons"),
            json("price_breakdown")
        ),
        format!(
            "SELECT property_id, source, source_listing_id, title, description, completeness, fetched_at,
                    {}, status, listing_count, sources
             FROM leads ORDER BY property_id",
            json("fraud_reasons")
        ),
        "SELECT reason_code, reason_detail, original, rejected_at, stream, stream_partition, stream_offset
         FROM dead_letters ORDER BY stream, stream_partition, stream_offset"
            .to_owned(),
    ]
}

fn parse_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored JSON {text:?}: {e}"))
}

/// Decodes snapshot rows; a macro because SQLite and Postgres rows are different types.
macro_rules! decode_snapshot {
    ($listings:expr, $leads:expr, $dead:expr) => {
        Snapshot {
            listings: $listings
                .iter()
                .map(|r| ListingRow {
                    source: r.get(0),
                    source_listing_id: r.get(1),
                    property_id: r.get(2),
                    url: r.get(3),
                    fetched_at: r.get(4),
                    title: r.get(5),
                    description: r.get(6),
                    contact_name: r.get(7),
                    list_price: r.get(8),
                    living_area_sqft: r.get(9),
                    bedrooms_total: r.get(10),
                    fraud_reasons: parse_json(r.get(11)),
                    price_breakdown: parse_json(r.get(12)),
                    lead_price: r.get(13),
                    status: r.get(14),
                })
                .collect(),
            leads: $leads
                .iter()
                .map(|r| LeadRow {
                    property_id: r.get(0),
                    source: r.get(1),
                    source_listing_id: r.get(2),
                    title: r.get(3),
                    description: r.get(4),
                    completeness: r.get(5),
                    fetched_at: r.get(6),
                    fraud_reasons: parse_json(r.get(7)),
                    status: r.get(8),
                    listing_count: r.get(9),
                    sources: r.get(10),
                })
                .collect(),
            dead_letters: $dead
                .iter()
                .map(|r| DeadLetterRow {
                    reason_code: r.get(0),
                    reason_detail: r.get(1),
                    original: r.get(2),
                    rejected_at: r.get(3),
                    stream: r.get(4),
                    stream_partition: r.get(5),
                    stream_offset: r.get(6),
                })
                .collect(),
        }
    };
}

/// Reads everything the store holds.
pub(crate) async fn snapshot(store: &Store) -> Snapshot {
    match store {
        Store::Sqlite(s) => {
            let [listings, leads, dead] = snapshot_sql(|column| column.to_owned());
            let pool = s.pool();
            let listings = sqlx::query(&listings).fetch_all(pool).await.unwrap();
            let leads = sqlx::query(&leads).fetch_all(pool).await.unwrap();
            let dead = sqlx::query(&dead).fetch_all(pool).await.unwrap();
            decode_snapshot!(listings, leads, dead)
        }
        Store::Postgres(s) => {
            let [listings, leads, dead] = snapshot_sql(|column| format!("{column}::text"));
            let pool = s.pool();
            let listings = sqlx::query(&listings).fetch_all(pool).await.unwrap();
            let leads = sqlx::query(&leads).fetch_all(pool).await.unwrap();
            let dead = sqlx::query(&dead).fetch_all(pool).await.unwrap();
            decode_snapshot!(listings, leads, dead)
        }
    }
}

/// The rows of `schema_migrations`: (version, name).
pub(crate) async fn applied_migrations(store: &Store) -> Vec<(i64, String)> {
    let sql = "SELECT version, name FROM schema_migrations ORDER BY version";
    match store {
        Store::Sqlite(s) => sqlx::query(sql)
            .fetch_all(s.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
        Store::Postgres(s) => sqlx::query(sql)
            .fetch_all(s.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
    }
}
