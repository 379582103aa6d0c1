//! The Kafka backend of the bus, on rdkafka (librdkafka). Nothing here relies on a particular broker:
//! the same settings serve Apache Kafka (docker-compose.yml) and the Kafka-protocol broker the tests
//! run.
//!
//! - Producer: idempotent, `acks=all`, compressed, Java-compatible key partitioning (murmur2), the
//!   schema version and the record's origin in headers.
//! - Consumer: a consumer group with manual offsets (nothing is committed automatically; the jobs
//!   commit to Kafka only what their sinks have stored, so the group's lag is honest), rebalances
//!   reported to the job, and a bounded prefetch queue (backpressure: a job that stops polling stops
//!   fetching).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::bus::{Origin, Outgoing, Record};
use crate::{Error, Result};

/// Header carrying the payload's schema version (decimal text).
pub const SCHEMA_VERSION_HEADER: &str = "aiq-schema-version";
/// Header carrying where a derived record came from: `partition/offset` of its input record.
pub const ORIGIN_HEADER: &str = "aiq-origin";

/// Client settings (`[bus.kafka]`). Anything librdkafka accepts can be added under `properties`
/// (for example `security.protocol`, `sasl.mechanisms`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    pub client_id: String,
    /// `lz4`, `zstd`, `gzip`, `snappy` or `none`.
    pub compression: String,
    /// Idempotent producer (no duplicates or reordering from producer retries).
    pub idempotence: bool,
    /// How long the producer waits to fill a batch.
    pub linger_ms: u32,
    /// `cooperative-sticky` moves only the partitions that must move on a rebalance; `range` or
    /// `roundrobin` for brokers or tools that only know the eager protocol.
    pub assignment_strategy: String,
    pub session_timeout_ms: u32,
    /// Most data prefetched per consumer (KiB): the bound of the consumer's queue.
    pub max_prefetch_kbytes: u32,
    /// Most data one fetch asks of a partition (KiB; librdkafka's `max.partition.fetch.bytes`,
    /// 1 MiB by default). Larger fetches mean fewer round trips while a job catches up on a backlog,
    /// and some brokers (tansu on SQLite) do work per fetch in proportion to the partition's backlog.
    pub max_partition_fetch_kbytes: u32,
    /// Partitions per listing topic when `aiqleads kafka create-topics` creates them.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Extra librdkafka properties, applied last.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            client_id: "aiqleads".into(),
            compression: "lz4".into(),
            idempotence: true,
            linger_ms: 5,
            assignment_strategy: "cooperative-sticky".into(),
            session_timeout_ms: 10_000,
            max_prefetch_kbytes: 32 * 1024,
            max_partition_fetch_kbytes: 8 * 1024,
            partitions: 12,
            replication_factor: 1,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    pub(crate) fn client_config(&self, brokers: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("client.id", &self.client_id);
        config
    }

    fn with_properties(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    fn producer_config(&self, brokers: &str) -> ClientConfig {
        let mut config = self.client_config(brokers);
        config
            .set("enable.idempotence", self.idempotence.to_string())
            .set("acks", "all")
            .set("compression.type", &self.compression)
            .set("linger.ms", self.linger_ms.to_string())
            // Same key -> same partition as the Java client, so other producers agree with us.
            .set("partitioner", "murmur2_random");
        self.with_properties(config)
    }

    fn consumer_config(&self, brokers: &str, group: &str) -> ClientConfig {
        let mut config = self.client_config(brokers);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", "5000")
            .set("partition.assignment.strategy", &self.assignment_strategy)
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "queued.max.messages.kbytes",
                self.max_prefetch_kbytes.max(1).to_string(),
            )
            .set(
                "max.partition.fetch.bytes",
                (u64::from(self.max_partition_fetch_kbytes.max(1)) * 1024).to_string(),
            );
        self.with_properties(config)
    }
}

fn kafka_error(action: &str, error: KafkaError) -> Error {
    Error::Bus(format!("{action}: {error}"))
}

/// A connection to the brokers: one shared producer, consumers made on demand.
#[derive(Clone)]
pub struct KafkaBus {
    brokers: String,
    settings: Arc<KafkaSettings>,
    producer: FutureProducer,
}

impl KafkaBus {
    /// `brokers` is `host:port[,host:port...]`. Connecting is lazy: an unreachable broker shows up
    /// on the first send or poll, which librdkafka keeps retrying.
    pub fn connect(brokers: &str, settings: &KafkaSettings) -> Result<KafkaBus> {
        if brokers.trim().is_empty() {
            return Err(Error::Config(
                "bus.url kafka:// needs at least one broker, e.g. kafka://127.0.0.1:9092".into(),
            ));
        }
        let producer = settings
            .producer_config(brokers)
            .create()
            .map_err(|e| kafka_error("create the Kafka producer", e))?;
        Ok(KafkaBus {
            brokers: brokers.to_owned(),
            settings: Arc::new(settings.clone()),
            producer,
        })
    }

    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    pub fn producer(&self, topic: &str) -> KafkaProducer {
        KafkaProducer {
            topic: topic.to_owned(),
            producer: self.producer.clone(),
        }
    }

    /// Joins consumer group `group` on `topic`. `on_revoke` runs inside the rebalance, before the
    /// partitions go to another member: the place to flush what was buffered for them.
    pub fn consumer(
        &self,
        topic: &str,
        group: &str,
        on_revoke: Option<RevokeHook>,
    ) -> Result<KafkaConsumer> {
        let context = GroupContext {
            group: group.to_owned(),
            topic: topic.to_owned(),
            events: Mutex::default(),
            on_revoke,
        };
        let consumer: StreamConsumer<GroupContext> = self
            .settings
            .consumer_config(&self.brokers, group)
            .create_with_context(context)
            .map_err(|e| kafka_error("create the Kafka consumer", e))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| kafka_error(&format!("subscribe to {topic}"), e))?;
        Ok(KafkaConsumer {
            topic: Arc::from(topic),
            consumer,
        })
    }

    /// Reads partition `partition` of `topic` from its first record up to (excluding) offset `end`,
    /// outside any group: how a job rebuilds a partition's state.
    pub async fn read_partition(
        &self,
        topic: &str,
        partition: i32,
        end: i64,
        mut each: impl FnMut(Record),
    ) -> Result<u64> {
        if end <= 0 {
            return Ok(0);
        }
        // librdkafka wants a group id even for a consumer that only assigns; it never joins it.
        let consumer: StreamConsumer = self
            .settings
            .consumer_config(
                &self.brokers,
                &format!("{}.replay", self.settings.client_id),
            )
            .create()
            .map_err(|e| kafka_error("create the replay consumer", e))?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(|e| kafka_error("replay assignment", e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error("assign the replay consumer", e))?;
        let topic_name: Arc<str> = Arc::from(topic);
        let mut read = 0;
        // A loaded broker may be slow to answer; only a long silence is an error.
        let mut silent = Duration::ZERO;
        let step = Duration::from_secs(30);
        loop {
            let message = match tokio::time::timeout(step, consumer.recv()).await {
                Ok(message) => {
                    silent = Duration::ZERO;
                    message
                }
                Err(_) if silent + step < REPLAY_PATIENCE => {
                    silent += step;
                    warn!(topic, partition, read, end, waited = ?silent, "replay waiting for the broker");
                    continue;
                }
                Err(_) => {
                    return Err(Error::Bus(format!(
                        "replaying {topic}/{partition}: no record for {REPLAY_PATIENCE:?} before offset {end}"
                    )));
                }
            }
            .map_err(|e| kafka_error(&format!("replaying {topic}/{partition}"), e))?;
            let record = to_record(&topic_name, &message);
            let offset = record.offset;
            if offset >= end {
                break;
            }
            each(record);
            read += 1;
            if offset + 1 >= end {
                break;
            }
        }
        Ok(read)
    }
}

/// How long a replay waits for the broker's next record before giving up.
const REPLAY_PATIENCE: Duration = Duration::from_secs(600);

/// Runs inside a rebalance with the partitions about to be taken away.
pub type RevokeHook = Box<dyn Fn(&[i32]) + Send + Sync>;

/// A change of the partitions this member owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebalanced {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

struct GroupContext {
    group: String,
    topic: String,
    events: Mutex<VecDeque<Rebalanced>>,
    on_revoke: Option<RevokeHook>,
}

impl GroupContext {
    fn partitions(&self, list: &TopicPartitionList) -> Vec<i32> {
        let mut partitions: Vec<i32> = list
            .elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect();
        partitions.sort_unstable();
        partitions
    }

    fn push(&self, event: Rebalanced) {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(event);
    }
}

impl ClientContext for GroupContext {
    /// librdkafka's periodic statistics: the lag of every owned partition, as a gauge.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, stats) in &stats.partitions {
                // -1 stands for "unknown" (partitions this member does not consume).
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    metrics::gauge!(
                        "aiq_consumer_lag",
                        "topic" => topic.clone(),
                        "partition" => partition.to_string()
                    )
                    .set(stats.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = self.partitions(list);
            info!(group = %self.group, topic = %self.topic, ?partitions, "partitions revoked");
            if let Some(hook) = &self.on_revoke {
                hook(&partitions);
            }
            self.push(Rebalanced::Revoked(partitions));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let partitions = self.partitions(list);
                info!(group = %self.group, topic = %self.topic, ?partitions, "partitions assigned");
                self.push(Rebalanced::Assigned(partitions));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => warn!(topic = %self.topic, %error, "rebalance failed"),
        }
    }
}

/// A group member on one topic.
pub struct KafkaConsumer {
    topic: Arc<str>,
    consumer: StreamConsumer<GroupContext>,
}

impl KafkaConsumer {
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Up to `max` records, waiting at most `linger` (possibly none: a topic never ends).
    pub(crate) async fn next_batch(&mut self, max: usize, linger: Duration) -> Vec<Record> {
        let deadline = tokio::time::Instant::now() + linger;
        let mut batch = Vec::with_capacity(max.min(4096));
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => break,
                Ok(Ok(message)) => batch.push(to_record(&self.topic, &message)),
                Ok(Err(error)) => {
                    // librdkafka reconnects by itself; the job keeps polling.
                    warn!(topic = %self.topic, %error, "consumer error");
                    break;
                }
            }
        }
        batch
    }

    /// Partition changes since the last call, in order.
    pub fn take_rebalances(&self) -> Vec<Rebalanced> {
        self.consumer
            .context()
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..)
            .collect()
    }

    /// Records in Kafka where the group stands (`next` offsets): what lag tools show. The jobs' own
    /// sinks hold the authoritative positions; this commit is asynchronous and only informative.
    pub fn commit(&self, next_offsets: &[(i32, i64)]) -> Result<()> {
        if next_offsets.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (partition, next) in next_offsets {
            list.add_partition_offset(&self.topic, *partition, Offset::Offset(*next))
                .map_err(|e| kafka_error("commit list", e))?;
        }
        match self.consumer.commit(&list, CommitMode::Async) {
            Ok(()) => Ok(()),
            // A partition that just moved to another member: its new owner commits from now on.
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::IllegalGeneration))
            | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::RebalanceInProgress)) => Ok(()),
            Err(e) => Err(kafka_error("commit offsets", e)),
        }
    }

    /// Moves the read position of an owned partition.
    pub fn seek(&self, partition: i32, offset: i64) -> Result<()> {
        self.consumer
            .seek(
                &self.topic,
                partition,
                Offset::Offset(offset),
                Timeout::After(Duration::from_secs(10)),
            )
            .map_err(|e| kafka_error(&format!("seek {}/{partition}", self.topic), e))
    }

    /// Leaves the group now (instead of after the session timeout), so partitions move at once.
    pub fn close(&self) {
        self.consumer.unsubscribe();
    }
}

/// A producer bound to one topic.
#[derive(Clone)]
pub struct KafkaProducer {
    topic: String,
    producer: FutureProducer,
}

impl KafkaProducer {
    /// Enqueues every record, then waits until the brokers acknowledged all of them.
    pub async fn send_all(&self, records: &[Outgoing]) -> Result<()> {
        let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
        for outgoing in records {
            loop {
                match self.producer.send_result(self.record(outgoing)) {
                    Ok(delivery) => {
                        pending.push_back(delivery);
                        break;
                    }
                    // The local queue is full (backpressure): wait for the oldest delivery.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        match pending.pop_front() {
                            Some(delivery) => self.settle(delivery).await?,
                            None => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                    Err((error, _)) => {
                        return Err(kafka_error(&format!("send to {}", self.topic), error));
                    }
                }
            }
        }
        for delivery in pending {
            self.settle(delivery).await?;
        }
        Ok(())
    }

    pub async fn send(&self, key: Vec<u8>, payload: Vec<u8>) -> Result<()> {
        self.send_all(&[Outgoing::new(key, payload)]).await
    }

    fn record<'a>(&'a self, outgoing: &'a Outgoing) -> FutureRecord<'a, [u8], [u8]> {
        let version = outgoing.schema_version.to_string();
        let mut headers = OwnedHeaders::new().insert(Header {
            key: SCHEMA_VERSION_HEADER,
            value: Some(version.as_bytes()),
        });
        if let Some(origin) = outgoing.origin {
            let text = origin.header();
            headers = headers.insert(Header {
                key: ORIGIN_HEADER,
                value: Some(text.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(&self.topic)
            .key(outgoing.key.as_slice())
            .payload(outgoing.payload.as_slice())
            .headers(headers);
        if let Some(timestamp) = outgoing.timestamp_ms {
            record = record.timestamp(timestamp);
        }
        record
    }

    async fn settle(&self, delivery: DeliveryFuture) -> Result<()> {
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(kafka_error(&format!("deliver to {}", self.topic), error)),
            Err(_) => Err(Error::Bus(format!(
                "delivery to {} cancelled (producer shut down)",
                self.topic
            ))),
        }
    }
}

fn to_record(topic: &Arc<str>, message: &BorrowedMessage<'_>) -> Record {
    let mut schema_version = None;
    let mut origin = None;
    if let Some(headers) = message.headers() {
        for header in headers.iter() {
            let Some(value) = header.value.and_then(|v| std::str::from_utf8(v).ok()) else {
                continue;
            };
            match header.key {
                // An unreadable version reads as "newer than anything known": dead-lettered.
                SCHEMA_VERSION_HEADER => schema_version = Some(value.parse().unwrap_or(u16::MAX)),
                ORIGIN_HEADER => origin = Origin::parse(value),
                _ => {}
            }
        }
    }
    let record = Record {
        stream: Arc::clone(topic),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
        payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        schema_version,
        timestamp_ms: message.timestamp().to_millis(),
        origin,
    };
    debug!(topic = %record.stream, partition = record.partition, offset = record.offset, "record");
    record
}
