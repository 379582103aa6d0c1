//! Publishing marketplace events without ever slowing or failing a request: handlers put events in
//! a bounded queue (a full queue drops the event and counts it); one background task writes them
//! to Kafka (`marketplace.events`) or, in the embedded default, to the `marketplace_events` table.

use std::time::Duration;

use aiq_kafka::{Bus, KafkaSettings, Producer, streams};
use aiq_schemas::{H3Cell, MarketplaceEvent, MarketplaceEventKind, PropertyId};
use chrono::Utc;
use tokio::sync::mpsc;

use crate::db::{Db, DbRow, Param};
use crate::{Error, Result, metrics};

/// Most events written per database statement.
const BATCH: usize = 256;
/// How often the writer drains the queue: the longest an event waits before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

pub(crate) struct EventPublisher {
    sender: mpsc::Sender<MarketplaceEvent>,
    pseudonym_seed: u64,
}

/// Where events go.
enum Destination {
    Table(Db),
    Bus(Producer),
}

/// What an event says about a lead.
#[derive(Clone, Debug)]
pub(crate) struct EventLead {
    pub(crate) property_id: i64,
    pub(crate) h3_cell: Option<i64>,
    pub(crate) postal_code: Option<String>,
    /// With Kafka, the pricing job's partition of the lead is chosen by it.
    pub(crate) state_or_province: Option<String>,
}

impl EventLead {
    /// From a `leads` row that has the `h3_cell`, `postal_code` and `state_or_province` columns.
    pub(crate) fn from_row(property_id: i64, row: &DbRow) -> Result<EventLead> {
        Ok(EventLead {
            property_id,
            h3_cell: row.get("h3_cell")?,
            postal_code: row.get("postal_code")?,
            state_or_province: row.get("state_or_province")?,
        })
    }
}

impl EventPublisher {
    /// Starts the background writer: to the bus for `kafka://`, to the database for `memory://`
    /// (an in-process stream would have no reader outside this process).
    pub(crate) fn start(
        db: Db,
        bus_url: &str,
        kafka: &KafkaSettings,
        capacity: usize,
        pseudonym_secret: &str,
    ) -> Result<EventPublisher> {
        let destination = if bus_url.starts_with("memory://") {
            Destination::Table(db)
        } else {
            let bus = Bus::open(bus_url, capacity, kafka)
                .map_err(|e| Error::Config(format!("bus.url: {e}")))?;
            Destination::Bus(
                bus.producer(streams::MARKETPLACE_EVENTS)
                    .map_err(|e| Error::Config(format!("bus producer: {e}")))?,
            )
        };
        let (sender, receiver) = mpsc::channel(capacity);
        tokio::spawn(write_events(receiver, destination));
        Ok(EventPublisher {
            sender,
            pseudonym_seed: xxhash_rust::xxh3::xxh3_64(pseudonym_secret.as_bytes()),
        })
    }

    /// A stable pseudonym of a principal: the pricing job counts distinct buyers without learning
    /// who they are.
    pub(crate) fn pseudonym(&self, subject: &str) -> String {
        format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128_with_seed(subject.as_bytes(), self.pseudonym_seed)
        )
    }

    /// Queues an event; never waits. A full queue drops it and counts the drop.
    pub(crate) fn publish(&self, kind: MarketplaceEventKind, lead: &EventLead, subject: &str) {
        let event = MarketplaceEvent {
            kind,
            property_id: PropertyId::from_i64(lead.property_id),
            h3_cell: lead.h3_cell.map(|c| H3Cell(c as u64)),
            postal_code: lead.postal_code.clone(),
            state_or_province: lead.state_or_province.clone(),
            agent: self.pseudonym(subject),
            at: Utc::now(),
        };
        if self.sender.try_send(event).is_err() {
            metrics::event_dropped();
        }
    }
}

/// The writer drains the queue on a clock rather than waiting on it: a receiver parked in `recv`
/// would be woken (a cross-thread wake-up, a futex call) by nearly every request, and on a busy
/// server that costs the request path more than the write itself.
async fn write_events(mut receiver: mpsc::Receiver<MarketplaceEvent>, destination: Destination) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    while open {
        ticks.tick().await;
        loop {
            match receiver.try_recv() {
                Ok(event) => batch.push(event),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
            if batch.len() == BATCH {
                write_batch(&destination, &batch).await;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            write_batch(&destination, &batch).await;
            batch.clear();
        }
    }
}

async fn write_batch(destination: &Destination, batch: &[MarketplaceEvent]) {
    let result = match destination {
        Destination::Table(db) => insert_events(db, batch).await,
        Destination::Bus(producer) => send_events(producer, batch).await,
    };
    if let Err(error) = result {
        // Losing demand signals is better than holding requests; the counter shows it.
        tracing::warn!(%error, events = batch.len(), "marketplace events could not be written");
        metrics::events_failed(batch.len() as u64);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn insert_events(db: &Db, events: &[MarketplaceEvent]) -> Result<()> {
    if let Db::Postgres(pool) = db {
        // Columns as arrays: one prepared statement whatever the batch size (a VALUES list would
        // be a new statement, parsed and planned, for every size).
        sqlx::query(
            "INSERT INTO marketplace_events (kind, property_id, h3_cell, postal_code, agent, at)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[],
                                  $6::timestamptz[])",
        )
        .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.property_id.as_i64())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.h3_cell.map(H3Cell::as_i64))
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.postal_code.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.agent.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
        .execute(pool)
        .await?;
        return Ok(());
    }
    // One statement per batch (at most BATCH × 6 parameters, well within both backends' limits).
    let mut params = Vec::with_capacity(events.len() * 6);
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let n = params.len();
        rows.push(format!(
            "(${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6
        ));
        params.extend([
            Param::Text(event.kind.as_str().to_owned()),
            Param::I64(event.property_id.as_i64()),
            Param::OptI64(event.h3_cell.map(H3Cell::as_i64)),
            Param::OptText(event.postal_code.clone()),
            Param::Text(event.agent.clone()),
            Param::Time(event.at),
        ]);
    }
    db.execute(
        &format!(
            "INSERT INTO marketplace_events (kind, property_id, h3_cell, postal_code, agent, at) VALUES {}",
            rows.join(", ")
        ),
        &params,
    )
    .await
    .map(drop)
}

async fn send_events(producer: &Producer, events: &[MarketplaceEvent]) -> Result<()> {
    for event in events {
        let payload = serde_json::to_vec(event)
            .map_err(|e| Error::Internal(format!("event as JSON: {e}")))?;
        producer
            .send(event.property_id.to_string().into_bytes(), payload)
            .await
            .map_err(|e| Error::Unavailable {
                what: "the bus",
                detail: e.to_string(),
            })?;
    }
    Ok(())
}
