//! Where enriched leads and dead letters go: the relational store, the Parquet lake, and (for the
//! `pipeline` command) a JSON-lines file. Every sink receives the same [`SinkBatch`].

use std::collections::HashMap;
use std::sync::Arc;

use aiq_pipeline::dedupe::Relabel;
use aiq_schemas::{DeadLetter, Lead, MarketplaceEvent};

pub mod jsonl;
pub mod lake;
pub mod store;

/// Where a record was read: enough to name output files and to make writes idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamPosition {
    pub stream: Arc<str>,
    pub partition: i32,
    pub offset: i64,
}

/// Next offset to read, per (stream, partition).
pub type Offsets = HashMap<(String, i32), i64>;

/// One processed batch, as every sink sees it.
#[derive(Clone, Copy, Debug)]
pub struct SinkBatch<'a> {
    pub leads: &'a [Lead],
    /// Position of each lead's input record, index-aligned with `leads`.
    pub lead_positions: &'a [StreamPosition],
    /// Property merges decided while processing this batch, in the order they were decided.
    pub relabels: &'a [Relabel],
    /// Position of the input record whose processing decided each merge, index-aligned with
    /// `relabels` (the lake records it; the store needs only the order).
    pub relabel_positions: &'a [StreamPosition],
    pub dead_letters: &'a [(DeadLetter, StreamPosition)],
    /// Marketplace activity from the API (views, cart adds, purchases), for demand (the store only).
    pub marketplace_events: &'a [MarketplaceEvent],
    /// The offsets to resume from once this batch is stored.
    pub next_offsets: &'a Offsets,
}
