//! The bus between jobs, chosen by URL: `memory://` (bounded in-process channels, the embedded
//! default) or Kafka. Both hand the runner the same [`Record`]s with stream, partition and offset, so
//! exactly-once bookkeeping is identical on either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::kafka::{KafkaBus, KafkaConsumer, KafkaProducer, KafkaSettings, Rebalanced, RevokeHook};
use crate::{Error, Result};

/// Topic names, shared with the Kafka deployment (their partitions, retention and compaction are in
/// [`crate::topics`]).
pub mod streams {
    /// Raw listings from connectors, keyed by `source:source_listing_id`.
    pub const LISTINGS_RAW: &str = "listings.raw";
    /// Normalised listings keyed by their dedupe blocking key, so one property's candidates meet in
    /// one partition (the repartition topic between the `partition` and `enrich` jobs), and the
    /// marketplace events the `events` job forwards beside their leads' listings, for pricing. The
    /// `aiq-origin` header tells them apart.
    pub const LISTINGS_BY_BLOCK: &str = "listings.by-block";
    /// Enriched, sellable leads keyed by `source:source_listing_id` (compacted: the latest version).
    pub const LEADS_ENRICHED: &str = "leads.enriched";
    /// Leads the fraud score quarantined, keyed like `leads.enriched`.
    pub const LEADS_QUARANTINE: &str = "leads.quarantine";
    /// Records a stage could not process, with the reason, original bytes and provenance.
    pub const LISTINGS_DLQ: &str = "listings.dlq";
    /// Buyer actions from the API (views, cart adds, purchases), feeding pricing.
    pub const MARKETPLACE_EVENTS: &str = "marketplace.events";
}

/// The input streams a derived record can come from (the `listings.by-block` repartition topic
/// carries listings from `listings.raw` and buyer actions from `marketplace.events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OriginStream {
    ListingsRaw,
    MarketplaceEvents,
}

impl OriginStream {
    pub fn name(self) -> &'static str {
        match self {
            OriginStream::ListingsRaw => streams::LISTINGS_RAW,
            OriginStream::MarketplaceEvents => streams::MARKETPLACE_EVENTS,
        }
    }
}

/// Where a derived record came from: the stream, partition and offset of its input record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub stream: OriginStream,
    pub partition: i32,
    pub offset: i64,
}

impl Origin {
    /// A record derived from `listings.raw`.
    pub fn raw_listing(partition: i32, offset: i64) -> Origin {
        Origin {
            stream: OriginStream::ListingsRaw,
            partition,
            offset,
        }
    }

    /// A record forwarded from `marketplace.events`.
    pub fn marketplace_event(partition: i32, offset: i64) -> Origin {
        Origin {
            stream: OriginStream::MarketplaceEvents,
            partition,
            offset,
        }
    }

    /// Reads the header: `partition/offset` for `listings.raw` (the format records already on the
    /// topics carry), `stream/partition/offset` for any other stream.
    pub fn parse(text: &str) -> Option<Origin> {
        let mut parts = text.rsplitn(3, '/');
        let offset = parts.next()?.parse().ok()?;
        let partition = parts.next()?.parse().ok()?;
        let stream = match parts.next() {
            None => OriginStream::ListingsRaw,
            Some(streams::MARKETPLACE_EVENTS) => OriginStream::MarketplaceEvents,
            Some(streams::LISTINGS_RAW) => OriginStream::ListingsRaw,
            Some(_) => return None,
        };
        Some(Origin {
            stream,
            partition,
            offset,
        })
    }

    /// The header text [`Origin::parse`] reads.
    pub fn header(&self) -> String {
        match self.stream {
            OriginStream::ListingsRaw => format!("{}/{}", self.partition, self.offset),
            stream => format!("{}/{}/{}", stream.name(), self.partition, self.offset),
        }
    }
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
    /// When the record was produced (milliseconds since the epoch), as the bus stored it. Jobs use
    /// it as processing time, so replaying a partition reproduces exactly the same state.
    pub timestamp_ms: Option<i64>,
    /// The `aiq-origin` header of derived records.
    pub origin: Option<Origin>,
}

/// One message to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    pub schema_version: u16,
    /// The record's timestamp; the bus's clock when `None`.
    pub timestamp_ms: Option<i64>,
    pub origin: Option<Origin>,
}

impl Outgoing {
    pub fn new(key: Vec<u8>, payload: Vec<u8>) -> Outgoing {
        Outgoing {
            key,
            payload,
            schema_version: aiq_schemas::SCHEMA_VERSION,
            timestamp_ms: None,
            origin: None,
        }
    }
}

/// A bus chosen by URL.
#[derive(Clone)]
pub enum Bus {
    Memory(MemoryBus),
    Kafka(KafkaBus),
}

impl Bus {
    /// `memory://` or `kafka://host:port[,host:port]`.
    pub fn open(url: &str, channel_capacity: usize, kafka: &KafkaSettings) -> Result<Bus> {
        if url.starts_with("memory://") {
            Ok(Bus::Memory(MemoryBus::numbered_from_clock(
                channel_capacity,
            )))
        } else if let Some(brokers) = url.strip_prefix("kafka://") {
            Ok(Bus::Kafka(KafkaBus::connect(
                brokers.trim_end_matches('/'),
                kafka,
            )?))
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
            Bus::Kafka(_) => {}
        }
    }

    pub fn producer(&self, stream: &str) -> Result<Producer> {
        match self {
            Bus::Memory(bus) => Ok(Producer::Memory(bus.producer(stream))),
            Bus::Kafka(bus) => Ok(Producer::Kafka(bus.producer(stream))),
        }
    }

    /// A consumer of `stream` in consumer group `group`. The in-process bus has one consumer per
    /// stream (and ignores the group). `on_revoke` runs inside a Kafka rebalance before partitions
    /// leave this member.
    pub fn consumer(
        &self,
        stream: &str,
        group: &str,
        on_revoke: Option<RevokeHook>,
    ) -> Result<Consumer> {
        match self {
            Bus::Memory(bus) => bus.consumer(stream).map(Consumer::Memory),
            Bus::Kafka(bus) => bus.consumer(stream, group, on_revoke).map(Consumer::Kafka),
        }
    }

    /// Reads one partition from its start up to (excluding) `end`, outside any group.
    pub async fn read_partition(
        &self,
        stream: &str,
        partition: i32,
        end: i64,
        each: impl FnMut(Record),
    ) -> Result<u64> {
        match self {
            Bus::Memory(_) if end <= 0 => Ok(0),
            Bus::Memory(_) => Err(Error::Config(format!(
                "the in-process bus keeps no history: cannot replay {stream}/{partition}"
            ))),
            Bus::Kafka(bus) => bus.read_partition(stream, partition, end, each).await,
        }
    }
}

pub enum Producer {
    Memory(MemoryProducer),
    Kafka(KafkaProducer),
}

impl Producer {
    /// Sends one record, waiting while the stream is full (and, on Kafka, until it is acknowledged).
    pub async fn send(&self, key: Vec<u8>, payload: Vec<u8>) -> Result<()> {
        match self {
            Producer::Memory(p) => p.send(Outgoing::new(key, payload)).await,
            Producer::Kafka(p) => p.send(key, payload).await,
        }
    }

    /// Sends every record and waits until all are stored (acknowledged by the brokers).
    pub async fn send_all(&self, records: Vec<Outgoing>) -> Result<()> {
        match self {
            Producer::Memory(p) => {
                for record in records {
                    p.send(record).await?;
                }
                Ok(())
            }
            Producer::Kafka(p) => p.send_all(&records).await,
        }
    }
}

pub enum Consumer {
    Memory(MemoryConsumer),
    Kafka(KafkaConsumer),
}

impl Consumer {
    /// The next records, up to `max`, waiting at most `linger` once one has arrived. `None` once
    /// an in-process stream has ended; a Kafka topic never ends, so it may return an empty batch.
    pub async fn next_batch(&mut self, max: usize, linger: Duration) -> Option<Vec<Record>> {
        match self {
            Consumer::Memory(c) => c.next_batch(max, linger).await,
            Consumer::Kafka(c) => Some(c.next_batch(max, linger).await),
        }
    }

    /// Partition changes since the last call. The in-process stream's only partition is assigned
    /// once, at the start.
    pub fn take_rebalances(&mut self) -> Vec<Rebalanced> {
        match self {
            Consumer::Memory(c) => {
                if std::mem::replace(&mut c.announced, true) {
                    Vec::new()
                } else {
                    vec![Rebalanced::Assigned(vec![0])]
                }
            }
            Consumer::Kafka(c) => c.take_rebalances(),
        }
    }

    /// Tells the broker how far the group got (informative; sinks hold the exact positions).
    pub fn commit(&self, next_offsets: &[(i32, i64)]) -> Result<()> {
        match self {
            Consumer::Memory(_) => Ok(()),
            Consumer::Kafka(c) => c.commit(next_offsets),
        }
    }

    /// Moves the read position of an owned partition (Kafka only).
    pub fn seek(&self, partition: i32, offset: i64) -> Result<()> {
        match self {
            Consumer::Memory(_) => Err(Error::Config(format!(
                "the in-process bus cannot seek (partition {partition}, offset {offset})"
            ))),
            Consumer::Kafka(c) => c.seek(partition, offset),
        }
    }

    /// Leaves the consumer group at once (partitions move without waiting for a timeout).
    pub fn close(&self) {
        if let Consumer::Kafka(c) = self {
            c.close();
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
    /// Offset of every stream's first record.
    first_offset: i64,
}

impl MemoryBus {
    /// Streams numbered from 0 (a file's line numbers, tests).
    pub fn new(capacity: usize) -> Self {
        MemoryBus {
            capacity: capacity.max(1),
            streams: Arc::default(),
            first_offset: 0,
        }
    }

    /// Streams numbered from the clock (microseconds since 1970, times 1,000), so that the offsets
    /// of one embedded run never repeat those of an earlier run on the machine: the store's and the
    /// lake's exactly-once positions, dead-letter positions and lake file names stay unique when
    /// several runs write into one store and lake. A run would need more than 1,000 records per
    /// microsecond since the previous run's start to overlap it.
    pub fn numbered_from_clock(capacity: usize) -> Self {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or_default();
        MemoryBus {
            first_offset: micros.saturating_mul(1000),
            ..MemoryBus::new(capacity)
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
                next_offset: Arc::new(Mutex::new(self.first_offset)),
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
            .map(|receiver| MemoryConsumer {
                receiver,
                announced: false,
            })
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
    async fn send(&self, outgoing: Outgoing) -> Result<()> {
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
        let timestamp_ms = outgoing
            .timestamp_ms
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        permit.send(Record {
            stream: self.stream.clone(),
            partition: 0,
            offset,
            key: outgoing.key,
            payload: outgoing.payload,
            schema_version: Some(outgoing.schema_version),
            timestamp_ms: Some(timestamp_ms),
            origin: outgoing.origin,
        });
        Ok(())
    }
}

pub struct MemoryConsumer {
    receiver: mpsc::Receiver<Record>,
    /// Whether the only partition's assignment was reported.
    announced: bool,
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

    #[test]
    fn origins_name_their_stream_and_raw_listing_origins_keep_the_short_form() {
        let raw = Origin::raw_listing(3, 17);
        assert_eq!(raw.header(), "3/17");
        let event = Origin::marketplace_event(1, 42);
        assert_eq!(event.header(), "marketplace.events/1/42");
        for origin in [raw, event] {
            assert_eq!(Origin::parse(&origin.header()), Some(origin));
        }
        assert_eq!(Origin::parse("listings.raw/3/17"), Some(raw));
        for bad in ["", "3", "x/1", "3/x", "leads.enriched/1/2", "a/b/1/2"] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn records_arrive_in_order_with_offsets_and_the_stream_ends() {
        let bus = MemoryBus::new(4);
        let mut consumer = bus.consumer("s").unwrap();
        let producer = bus.producer("s");
        bus.close_producers();
        let writer = tokio::spawn(async move {
            for i in 0..10u8 {
                producer
                    .send(Outgoing::new(vec![i], vec![i]))
                    .await
                    .unwrap();
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
