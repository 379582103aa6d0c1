//! What every request shares.

use std::sync::Arc;
use std::time::Instant;

use crate::Result;
use crate::auth::Authenticator;
use crate::catalog::Catalog;
use crate::config::ApiConfig;
use crate::db::Db;
use crate::events::EventPublisher;
use crate::limits::Limits;
use crate::reservations::Reservations;

/// The application state behind `create_app`.
pub struct AppState {
    pub(crate) config: ApiConfig,
    pub(crate) db: Db,
    pub(crate) reservations: Reservations,
    pub(crate) authenticator: Authenticator,
    pub(crate) limits: Limits,
    pub(crate) events: EventPublisher,
    /// Lead detail's in-memory catalogue (`api.catalog`), and the task that keeps it current.
    pub(crate) catalog: Option<Arc<Catalog>>,
    catalog_follower: Option<tokio::task::JoinHandle<()>>,
    pub(crate) started: Instant,
}

impl AppState {
    /// Opens (and migrates) the database at `store_url`, the reservations store and the event
    /// publisher (`bus_url`: `memory://` writes events to the database, `kafka://` to the topic, with
    /// the producer settings `kafka`).
    /// Needs a running Tokio runtime (it starts the event writer).
    pub async fn new(
        config: ApiConfig,
        store_url: &str,
        bus_url: &str,
        kafka: &aiq_kafka::KafkaSettings,
    ) -> Result<AppState> {
        config.validate()?;
        // Install the metrics recorder before the first request is counted.
        crate::metrics::handle();
        let db = Db::open(store_url, config.max_connections).await?;
        let reservations = Reservations::open(&config.reservations_url, &config.redis_key_prefix)?;
        let events = EventPublisher::start(
            db.clone(),
            bus_url,
            kafka,
            config.event_queue_capacity,
            &config.jwt.secret,
        )?;
        let catalog = if config.catalog {
            Some(Catalog::load(db.clone(), config.exclusive_kinds.clone()).await?)
        } else {
            None
        };
        let catalog_follower = catalog
            .as_ref()
            .map(|catalog| catalog.follow(config.catalog_refresh));
        Ok(AppState {
            catalog,
            catalog_follower,
            authenticator: Authenticator::new(&config),
            limits: Limits::new(&config.rate_limits),
            config,
            db,
            reservations,
            events,
            started: Instant::now(),
        })
    }

    /// Leads the in-memory catalogue holds (`None` when `api.catalog` is off).
    pub fn catalog_leads(&self) -> Option<usize> {
        self.catalog.as_ref().map(|catalog| catalog.len())
    }

    /// Brings the catalogue up to everything committed so far (the background refresh does this
    /// every `api.catalog_refresh`); for a writer that wants its own writes in the next answer.
    pub async fn catch_up_catalog(&self) -> Result<()> {
        match &self.catalog {
            Some(catalog) => catalog.catch_up().await,
            None => Ok(()),
        }
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// Closes the database pool (after the server stopped).
    pub async fn close(&self) {
        if let Some(follower) = &self.catalog_follower {
            follower.abort();
        }
        self.db.close().await;
    }
}
