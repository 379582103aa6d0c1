//! Job configuration: plain serde structs, layered as built-in defaults, then an optional TOML file,
//! then `AIQ__*` environment variables (`AIQ__STORE__URL=postgres://...` sets `store.url`).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aiq_pipeline::PipelineConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Everything a job reads. Every field has a default, so an empty file (or none) is a valid config.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub bus: BusConfig,
    pub store: StoreConfig,
    pub lake: LakeConfig,
    pub runner: RunnerConfig,
    pub crawl: aiq_connectors::crawl::CrawlConfig,
    pub pipeline: PipelineConfig,
    pub metrics: MetricsConfig,
    /// The marketplace API's section (`[api]`): read and validated by the API crate itself (nothing
    /// depends on the API, so the jobs only carry the section, so one file configures both).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub api: serde_json::Map<String, serde_json::Value>,
}

/// Where records travel between jobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `memory://` runs every job in one process over bounded in-process channels (the embedded
    /// default). `kafka://host:port[,host:port]` is for the Kafka deployment.
    pub url: String,
    /// Records buffered per in-process stream before producers wait (backpressure).
    pub channel_capacity: NonZeroUsize,
    /// Kafka client settings (used with `kafka://`).
    pub kafka: aiq_kafka::KafkaSettings,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "memory://".into(),
            channel_capacity: NonZeroUsize::new(4096).expect("non-zero"),
            kafka: aiq_kafka::KafkaSettings::default(),
        }
    }
}

/// The relational store behind the marketplace views.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` (created if missing; the embedded default) or `postgres://user@host:port/db`.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: NonZeroUsize,
    /// How often the streaming `enrich` job refreshes the market statistics views (Postgres).
    #[serde(with = "humantime_serde")]
    pub market_stats_refresh: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/aiqleads.db".into(),
            max_connections: NonZeroUsize::new(4).expect("non-zero"),
            market_stats_refresh: Duration::from_secs(30),
        }
    }
}

/// The analysts' Parquet lake.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Root folder; tables live in sub-folders (`leads/dt=YYYY-MM-DD/state=XX/…`).
    pub dir: PathBuf,
    /// Rows buffered before a file is written. Larger files prune and scan better; smaller ones show up
    /// sooner.
    pub rows_per_file: NonZeroUsize,
    /// Rows per Parquet row group.
    pub row_group_rows: NonZeroUsize,
    /// Most memory (MiB, approximately) the rows waiting for a file may hold: buffers are written
    /// once they reach it, whatever their row count, so a job's memory stays bounded at any rate.
    pub buffer_mib: NonZeroUsize,
    /// Longest time buffered rows wait before they are written.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig {
            dir: PathBuf::from("data/lake"),
            rows_per_file: NonZeroUsize::new(250_000).expect("non-zero"),
            row_group_rows: NonZeroUsize::new(65_536).expect("non-zero"),
            buffer_mib: NonZeroUsize::new(64).expect("non-zero"),
            flush_interval: Duration::from_secs(60),
        }
    }
}

/// How the generic runner batches records.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Most records processed and committed in one transaction.
    pub batch_size: NonZeroUsize,
    /// Longest wait for a batch to fill before it is processed anyway.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
    /// Name under which consumed offsets are stored (one per job).
    pub consumer_name: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            batch_size: NonZeroUsize::new(2048).expect("non-zero"),
            batch_linger: Duration::from_millis(50),
            consumer_name: "enrich".into(),
        }
    }
}

/// The Prometheus endpoint of the long-running jobs (`aiqleads run`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the `/metrics` endpoint; empty turns it off. The API serves its own `/metrics`.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9898".into(),
        }
    }
}

impl Config {
    /// Defaults, then the TOML file if given, then `AIQ__*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Error::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("AIQ__").split("__"));
        let config: Config = figment
            .extract()
            .map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as a TOML document (what `aiqleads config` prints).
    pub fn to_toml(&self) -> Result<String> {
        let render = |e: &dyn std::fmt::Display| {
            Error::Internal(format!("render the configuration as TOML: {e}"))
        };
        // Through JSON text first: it writes f32 settings by their shortest form (0.8, not
        // 0.800000011920929), which TOML's serializer would widen.
        let json = serde_json::to_string(self).map_err(|e| render(&e))?;
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| render(&e))?;
        toml::to_string_pretty(&value).map_err(|e| render(&e))
    }

    /// Cross-field rules serde cannot express.
    pub fn validate(&self) -> Result<()> {
        if !(self.bus.url.starts_with("memory://") || self.bus.url.starts_with("kafka://")) {
            return Err(Error::Config(format!(
                "bus.url `{}` must start with memory:// or kafka://",
                self.bus.url
            )));
        }
        if !(self.store.url.starts_with("sqlite:")
            || self.store.url.starts_with("postgres:")
            || self.store.url.starts_with("postgresql:"))
        {
            return Err(Error::Config(format!(
                "store.url `{}` must start with sqlite:// or postgres://",
                self.store.url
            )));
        }
        if self.lake.row_group_rows > self.lake.rows_per_file {
            return Err(Error::Config(
                "lake.row_group_rows must not exceed lake.rows_per_file".into(),
            ));
        }
        self.pipeline.validate().map_err(Error::Config)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.bus.url, "memory://");
        assert!(config.store.url.starts_with("sqlite://"));
    }

    #[test]
    // figment's Jail closure must return figment's own (large) error type.
    #[allow(clippy::result_large_err)]
    fn file_and_environment_layer_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aiq.toml");
        std::fs::write(&path, "[runner]\nbatch_size = 16\nbatch_linger = \"2s\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("AIQ__STORE__URL", "postgres://localhost/test");
            let config = Config::load(Some(&path)).expect("loads");
            assert_eq!(config.runner.batch_size.get(), 16);
            assert_eq!(config.runner.batch_linger, Duration::from_secs(2));
            assert_eq!(config.store.url, "postgres://localhost/test");
            Ok(())
        });
    }

    #[test]
    // figment's jail closures return its own (large) error type: not ours to shrink.
    #[allow(clippy::result_large_err)]
    fn printed_configuration_loads_back_identically() {
        // In a jail: other tests set AIQ__ variables, and the process environment is shared.
        figment::Jail::expect_with(|jail| {
            let printed = Config::default().to_toml().unwrap();
            jail.create_file("aiq.toml", &printed)?;
            let path = jail.directory().join("aiq.toml");
            assert_eq!(
                Config::load(Some(&path)).unwrap().to_toml().unwrap(),
                printed
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aiq.toml");
        std::fs::write(&path, "[runner]\nbatch_sise = 16\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("batch_sise"), "{err}");
    }
}
