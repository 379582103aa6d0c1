//! The bus between jobs and the API: topic definitions (as code), the bounded in-process bus of the
//! embedded default, and the Kafka backend. Every backend hands consumers the same [`bus::Record`]s
//! with stream, partition and offset, so exactly-once bookkeeping is identical on either.

pub mod bus;
mod error;
pub mod kafka;
pub mod topics;

pub use bus::{Bus, Consumer, Origin, OriginStream, Outgoing, Producer, Record, streams};
pub use error::{Error, Result};
pub use kafka::{KafkaSettings, Rebalanced};
