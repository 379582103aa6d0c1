//! Jobs: the parts that do I/O, composed. One generic runner ([`runner::run_enrich`]) consumes a bus
//! (in-process channels or Kafka), runs the pure pipeline stage, and writes every sink (SQLite or
//! Postgres, the Parquet lake, JSON lines) with exactly-once bookkeeping.

/// The bus lives in `aiq-kafka` (shared with the API); re-exported for the jobs' callers.
pub use aiq_kafka::bus;
pub mod backfill;
pub mod compact;
pub mod config;
pub mod demo;
pub mod embedded;
mod error;
pub mod file;
pub mod ingest;
pub mod runner;
pub mod scrape;
pub mod sink;
pub mod sql;
pub mod stream;

pub use error::{Error, Result};
