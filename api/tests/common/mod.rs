//! Test environments: the same scenarios run against SQLite + in-memory reservations (the
//! embedded default) and against real Postgres + Redis (`AIQ_TEST_POSTGRES_URL`,
//! `AIQ_TEST_REDIS_URL`). A service that cannot be reached fails the test with a clear message.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actix_web::web;
use aiq_api::{ApiConfig, AppState, Role};
use chrono::{DateTime, Utc};
use sqlx::Executor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SqliteMemory,
    PostgresRedis,
}

pub struct TestEnv {
    pub backend: Backend,
    pub state: web::Data<AppState>,
    pub config: ApiConfig,
    pub store_url: String,
    admin_url: String,
    database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn postgres_admin_url() -> String {
    std::env::var("AIQ_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("AIQ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Settings for tests: generous rate limits (every test request comes from one "IP").
pub fn test_config() -> ApiConfig {
    let mut config = ApiConfig::default();
    config.jwt.secret = "test-secret-of-the-api-suite-0123456789".into();
    config.rate_limits.per_ip_per_second = 100_000;
    config.rate_limits.per_ip_burst = 100_000;
    config.rate_limits.per_principal_per_second = 100_000;
    config.rate_limits.per_principal_burst = 100_000;
    config.max_connections = 16;
    config.shared_max_buyers = 3;
    config
}

impl TestEnv {
    pub async fn new(backend: Backend, mut config: ApiConfig) -> TestEnv {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let unique = format!(
            "{}_{}_{}",
            std::process::id(),
            n,
            Utc::now().timestamp_micros()
        );
        let (store_url, database, dir) = match backend {
            Backend::SqliteMemory => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("api.db").display());
                (url, None, Some(dir))
            }
            Backend::PostgresRedis => {
                let admin = postgres_admin_url();
                let name = format!("aiq_api_test_{unique}");
                let conn = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("Postgres at {admin} (AIQ_TEST_POSTGRES_URL) is not reachable: {e}")
                });
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                conn.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(b, _)| b)
                    .to_owned();
                let url = format!("{base}/{name}");
                if config.reservations_url == "memory://" {
                    config.reservations_url = redis_url();
                }
                config.redis_key_prefix = format!("aiqtest:{unique}:");
                (url, Some(name), None)
            }
        };
        let state = AppState::new(
            config.clone(),
            &store_url,
            "memory://",
            &aiq_kafka::KafkaSettings::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("app state on {backend:?}: {e}"));
        if backend == Backend::PostgresRedis
            && config
                .reservations_url
                .starts_with("redis://127.0.0.1:6379")
        {
            let client = redis::Client::open(config.reservations_url.as_str()).unwrap();
            client
                .get_multiplexed_async_connection()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "Redis at {} (AIQ_TEST_REDIS_URL) is not reachable: {e}",
                        config.reservations_url
                    )
                });
        }
        TestEnv {
            backend,
            state: web::Data::new(state),
            config,
            store_url,
            admin_url: postgres_admin_url(),
            database,
            _dir: dir,
        }
    }

    pub fn token(&self, subject: &str, role: Role) -> String {
        aiq_api::mint_token(&self.config, subject, role, Duration::from_secs(3600)).unwrap()
    }

    pub fn bearer(&self, subject: &str, role: Role) -> (&'static str, String) {
        (
            "Authorization",
            format!("Bearer {}", self.token(subject, role)),
        )
    }

    /// Runs SQL against the store directly (seeding, checking).
    pub async fn sql(&self, statement: &str) {
        match self.backend {
            Backend::SqliteMemory => {
                let pool = sqlx::SqlitePool::connect(&self.store_url).await.unwrap();
                pool.execute(statement).await.unwrap();
                pool.close().await;
            }
            Backend::PostgresRedis => {
                let pool = sqlx::PgPool::connect(&self.store_url).await.unwrap();
                pool.execute(statement).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// One integer from a query.
    pub async fn scalar(&self, query: &str) -> i64 {
        match self.backend {
            Backend::SqliteMemory => {
                let pool = sqlx::SqlitePool::connect(&self.store_url).await.unwrap();
                let v: i64 = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
                pool.close().await;
                v
            }
            Backend::PostgresRedis => {
                let pool = sqlx::PgPool::connect(&self.store_url).await.unwrap();
                let v: i64 = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
                pool.close().await;
                v
            }
        }
    }

    pub async fn insert_leads(&self, leads: &[Seed]) {
        let rows: Vec<String> = leads.iter().map(|l| l.values(self.backend)).collect();
        self.sql(&format!(
            "INSERT INTO leads (property_id, source, source_listing_id, url, fetched_at, listing_kind,
             property_type, list_price, price_period, bedrooms_total, bathrooms_total, living_area_sqft,
             street_address, city, state_or_province, postal_code, latitude, longitude, h3_cell, title,
             description, posted_at, contact_name, contact_phone, contact_email, fraud_score, fraud_reasons,
             quality_score, completeness, lead_price, price_breakdown, status, schema_version, listing_count, sources)
             VALUES {}",
            rows.join(", ")
        ))
        .await;
        // Searches answer from the catalogue: have it read the new rows now, not within 250 ms.
        self.state
            .catch_up_catalog()
            .await
            .expect("catalogue catch-up");
    }

    pub async fn finish(self) {
        self.state.close().await;
        if let Some(name) = &self.database {
            let pool = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
            pool.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// A lead to seed. Contact values are distinctive so a leak is easy to find.
#[derive(Clone, Debug)]
pub struct Seed {
    pub id: u64,
    pub kind: &'static str,
    pub property_type: &'static str,
    pub price: f64,
    pub beds: i64,
    pub baths: f64,
    pub sqft: i64,
    pub city: &'static str,
    pub state: &'static str,
    pub zip: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub title: String,
    pub description: String,
    pub fetched_at: DateTime<Utc>,
    pub fraud_score: f64,
    pub quality: f64,
    pub lead_price: i64,
    pub status: &'static str,
}

pub const CONTACT_NAME: &str = "Zebulon Quartermaine";
pub const CONTACT_PHONE: &str = "+15125550199";
pub const CONTACT_EMAIL: &str = "zebulon.q@example.net";

impl Seed {
    pub fn new(id: u64) -> Seed {
        Seed {
            id,
            kind: "sale",
            property_type: "house",
            price: 250_000.0,
            beds: 3,
            baths: 2.0,
            sqft: 1500,
            city: "Austin",
            state: "TX",
            zip: "78701",
            lat: 30.2672,
            lon: -97.7431,
            title: format!("Lovely home {id}"),
            description: format!(
                "Bright house with a big yard. Call {CONTACT_NAME} at (512) 555-0199 or write to {CONTACT_EMAIL}."
            ),
            fetched_at: Utc::now(),
            fraud_score: 0.1,
            quality: 0.8,
            lead_price: 20,
            status: "active",
        }
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.id)
    }

    fn values(&self, backend: Backend) -> String {
        let cell = h3o::LatLng::new(self.lat, self.lon)
            .unwrap()
            .to_cell(h3o::Resolution::Nine);
        let h3 = u64::from(cell) as i64;
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let postgres = backend == Backend::PostgresRedis;
        let time = |t: &DateTime<Utc>| {
            if postgres {
                format!("'{}'::timestamptz", t.to_rfc3339())
            } else {
                // As sqlx writes a DateTime<Utc> to SQLite (what the jobs' store stores).
                format!(
                    "'{}'",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
                )
            }
        };
        let json = |s: &str| {
            if postgres {
                format!("'{s}'::jsonb")
            } else {
                format!("'{s}'")
            }
        };
        let reasons = r#"[{"code":"price_outlier","contribution":0.1,"detail":"price 10% under comparables"}]"#;
        let breakdown = r#"{"base":25.0,"quality_multiplier":0.8,"demand_multiplier":1.0,"supply_multiplier":1.0,"unclamped":20.0,"floor":2,"ceiling":100}"#;
        format!(
            "({}, 'craigslist', {}, {}, {}, {}, {}, {}, NULL, {}, {}, {}, '100 Congress Ave', {}, {}, {}, {}, {}, {}, {}, {}, NULL, {}, {}, {}, {}, {}, {}, 0.9, {}, {}, {}, 1, 1, 'craigslist')",
            self.id as i64,
            q(&format!("cl{}", self.id)),
            q(&format!(
                "https://austin.craigslist.org/reb/{}.html",
                self.id
            )),
            time(&self.fetched_at),
            q(self.kind),
            q(self.property_type),
            self.price,
            self.beds,
            self.baths,
            self.sqft,
            q(self.city),
            q(self.state),
            q(self.zip),
            self.lat,
            self.lon,
            h3,
            q(&self.title),
            q(&self.description),
            q(CONTACT_NAME),
            q(CONTACT_PHONE),
            q(CONTACT_EMAIL),
            self.fraud_score,
            json(reasons),
            self.quality,
            self.lead_price,
            json(breakdown),
            q(self.status),
        )
    }
}
