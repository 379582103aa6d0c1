//! The bus between jobs, chosen by URL: `memory://` (bounded in-process channels, the embedded
//! default) or Kafka. Both hand the runner the same [`Record`]s with stream, partition and offset, so
//! exactly-once bookkeeping is identical on either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{Error, Result};

/// Topic names, shared with the Kafka deployment.
pub mod streams {
    /// Raw listings from connectors, keyed by `source:source_listing_id`.
    pub const LISTINGS_RAW: &str = "listings.raw";
    /// Records a stage could not process, with the reason.
    pub const LISTINGS_DLQ: &str = "listings.dlq";
}

/// One message as a consumer sees it.
#[derive(Clone, Debug)]
pub struct Record {
    pub stream: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    /// The `aiq-schema-version` header; `None` when the producer sent none.
    pub schema_version: Option<u16>,
}

/// A bus chosen by URL.
#[derive(Clone)]
pub enum Bus {
    Memory(MemoryBus),
}

impl Bus {
    pub fn open(url: &str, channel_capacity: usize) -> Result<Bus> {
        if url.starts_with("memory://") {
            Ok(Bus::Memory(MemoryBus::new(channel_capacity)))
        } else if url.starts_with("kafka://") {
            Err(Error::Config(
                "bus.url kafka:// is not available in this build yet: the Kafka backend is tracked in the streaming issue; use memory://".into(),
            ))
        } else {
            Err(Error::Config(format!(
                "bus.url `{url}` must start with memory:// or kafka://"
            )))
        }
    }

    /// Lets go of the bus's own handles on its streams, so a stream ends when its last producer
    /// does (meaningful for the in-process bus; a broker's topics never end).
    pub fn release_own_producers(&self) {
        match self {
            Bus::Memory(bus) => bus.close_producers(),
        }
    }

    pub fn producer(&self, stream: &str) -> Result<Producer> {
        match self {
            Bus::Memory(bus) => Ok(Producer::Memory(bus.producer(stream))),
        }
    }

    /// The consumer of a stream. The in-process bus has one consumer per stream.
    pub fn consumer(&self, stream: &str) -> Result<Consumer> {
        match self {
            Bus::Memory(bus) => bus.consumer(stream).map(Consumer::Memory),
        }
    }
}

pub enum Producer {
    Memory(MemoryProducer),
}

impl Producer {
    /// Sends one record, waiting while the stream is full.
    pub async fn send(&self, key: Vec<u8>, payload: Vec<u8>) -> Result<()> {
        match self {
            Producer::Memory(p) => p.send(key, payload).await,
        }
    }
}

pub enum Consumer {
    Memory(MemoryConsumer),
}

impl Consumer {
    /// Waits for at least one record, then takes what else is ready, up to `max` records or until
    /// `linger` has passed. `None` once every producer is gone and the stream is drained.
    pub async fn next_batch(&mut self, max: usize, linger: Duration) -> Option<Vec<Record>> {
        match self {
            Consumer::Memory(c) => c.next_batch(max, linger).await,
        }
    }
}

struct MemoryStream {
    sender: mpsc::Sender<Record>,
    receiver: Option<mpsc::Receiver<Record>>,
    next_offset: Arc<Mutex<i64>>,
}

/// In-process bus: one bounded channel (a single partition) per stream.
#[derive(Clone)]
pub struct MemoryBus {
    capacity: usize,
    streams: Arc<Mutex<HashMap<String, MemoryStream>>>,
}

impl MemoryBus {
    pub fn new(capacity: usize) -> Self {
        MemoryBus {
            capacity: capacity.max(1),
            streams: Arc::default(),
        }
    }

    fn with_stream<T>(&self, stream: &str, f: impl FnOnce(&mut MemoryStream) -> T) -> T {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = streams.entry(stream.to_owned()).or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(self.capacity);
            MemoryStream {
                sender,
                receiver: Some(receiver),
                next_offset: Arc::default(),
            }
        });
        f(entry)
    }

    pub fn producer(&self, stream: &str) -> MemoryProducer {
        self.with_stream(stream, |s| MemoryProducer {
            stream: Arc::from(stream),
            sender: s.sender.clone(),
            next_offset: s.next_offset.clone(),
        })
    }

    pub fn consumer(&self, stream: &str) -> Result<MemoryConsumer> {
        self.with_stream(stream, |s| s.receiver.take())
            .map(|receiver| MemoryConsumer { receiver })
            .ok_or_else(|| Error::Bus(format!("stream {stream} already has its consumer")))
    }

    /// Drops the bus's own sender of every stream, so consumers see the end once producers finish.
    pub fn close_producers(&self) {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for stream in streams.values_mut() {
            // Replacing the sender with a closed one releases the bus's handle.
            let (closed, _) = mpsc::channel(1);
            stream.sender = closed;
        }
    }
}

pub struct MemoryProducer {
    stream: Arc<str>,
    sender: mpsc::Sender<Record>,
    next_offset: Arc<Mutex<i64>>,
}

impl MemoryProducer {
    async fn send(&self, key: Vec<u8>, payload: Vec<u8>) -> Result<()> {
        // Reserve capacity first so offsets are handed out in the order records enter the channel.
        let permit =
            self.sender.reserve().await.map_err(|_| {
                Error::Bus(format!("stream {} has no consumer any more", self.stream))
            })?;
        let offset = {
            let mut next = self
                .next_offset
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let offset = *next;
            *next += 1;
            offset
        };
        permit.send(Record {
            stream: self.stream.clone(),
            partition: 0,
            offset,
            key,
            payload,
            schema_version: Some(aiq_schemas::SCHEMA_VERSION),
        });
        Ok(())
    }
}

pub struct MemoryConsumer {
    receiver: mpsc::Receiver<Record>,
}

impl MemoryConsumer {
    async fn next_batch(&mut self, max: usize, linger: Duration) -> Option<Vec<Record>> {
        let first = self.receiver.recv().await?;
        let mut batch = Vec::with_capacity(max.min(1024));
        batch.push(first);
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < max {
            match self.receiver.try_recv() {
                Ok(record) => batch.push(record),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                        Ok(Some(record)) => batch.push(record),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_arrive_in_order_with_offsets_and_the_stream_ends() {
        let bus = MemoryBus::new(4);
        let mut consumer = bus.consumer("s").unwrap();
        let producer = bus.producer("s");
        bus.close_producers();
        let writer = tokio::spawn(async move {
            for i in 0..10u8 {
                producer.send(vec![i], vec![i]).await.unwrap();
            }
        });
        let mut seen = Vec::new();
        while let Some(batch) = consumer.next_batch(3, Duration::from_millis(5)).await {
            assert!(batch.len() <= 3);
            seen.extend(batch.into_iter().map(|r| (r.offset, r.payload[0])));
        }
        writer.await.unwrap();
        assert_eq!(
            seen,
            (0..10).map(|i| (i as i64, i as u8)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_stream_has_one_consumer() {
        let bus = MemoryBus::new(1);
        bus.consumer("s").unwrap();
        assert!(bus.consumer("s").is_err());
    }
}
