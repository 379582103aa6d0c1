//! The catalogue's search indexes: the sort orders (as ordered sets of `(key, property_id)`, so a
//! page is a walk from the cursor), H3 cells for radius searches, and bitmaps of the leads with
//! each kind, property type, postal code, city, state and word stem for exact filters (a search
//! intersects them). Only active leads are indexed: nothing else is ever listed.
//!
//! Words for full-text filters are kept per lead as hashes of their stems, computed the way
//! Postgres' `english` configuration does (lowercase, its stop words dropped, the Snowball English
//! stemmer), over the texts anyone may see: a search cannot find a lead by its hidden contact.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use roaring::RoaringBitmap;

use super::CatalogLead;

/// Postgres' `english.stop` list (`tsearch_data/english.stop`), which `plainto_tsquery('english')`
/// drops from queries and `to_tsvector('english')` from texts.
const STOP_WORDS: [&str; 127] = [
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
];

static STOP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOP_WORDS.into_iter().collect());

/// The stems of `text`'s words, hashed, sorted and deduplicated.
pub(crate) fn stems(text: &str) -> Vec<u64> {
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    let mut out: Vec<u64> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter_map(|word| {
            let word = word.to_lowercase();
            (!STOP.contains(word.as_str()))
                .then(|| xxhash_rust::xxh3::xxh3_64(stemmer.stem(&word).as_bytes()))
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A float as an integer with the same order (`f64::total_cmp`), for ordered sets.
pub(crate) fn ordered(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

/// A time as an ordered integer (nanoseconds; the far future saturates).
pub(crate) fn time_key(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The kinds price sorts are kept within (rent and sale prices are not comparable).
pub(crate) fn kind_code(kind: Option<&str>) -> u8 {
    match kind {
        Some("rent") => 1,
        Some("sale") => 2,
        Some(_) => 3,
        None => 0,
    }
}

/// What range, distance and sort filters read of a lead, packed (searches read one of these per
/// candidate, and the lead itself only for the page they return).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FilterRow {
    pub(crate) list_price: f64,
    pub(crate) bathrooms_total: f64,
    pub(crate) fraud_score: f64,
    pub(crate) latitude: f64,
    pub(crate) longitude: f64,
    pub(crate) fetched_at: i64,
    pub(crate) quality: i64,
    pub(crate) property_id: i64,
    /// `i16::MIN` when unknown (fails every `min_beds`).
    pub(crate) bedrooms_total: i16,
    /// Bits: price, baths, position known.
    pub(crate) known: u8,
}

pub(crate) const HAS_PRICE: u8 = 1;
pub(crate) const HAS_BATHS: u8 = 2;
pub(crate) const HAS_POSITION: u8 = 4;

impl FilterRow {
    pub(crate) fn of(lead: &CatalogLead) -> FilterRow {
        let mut known = 0;
        let mut flag = |present: bool, bit: u8| {
            if present {
                known |= bit;
            }
        };
        flag(lead.list_price.is_some(), HAS_PRICE);
        flag(lead.bathrooms_total.is_some(), HAS_BATHS);
        flag(
            lead.latitude.is_some() && lead.longitude.is_some(),
            HAS_POSITION,
        );
        FilterRow {
            list_price: lead.list_price.unwrap_or(0.0),
            bathrooms_total: lead.bathrooms_total.unwrap_or(0.0),
            fraud_score: lead.fraud_score,
            latitude: lead.latitude.unwrap_or(0.0),
            longitude: lead.longitude.unwrap_or(0.0),
            fetched_at: time_key(lead.fetched_at),
            quality: ordered(lead.quality_score),
            property_id: lead.property_id,
            bedrooms_total: lead.bedrooms_total.map_or(i16::MIN, |b| {
                b.clamp(i64::from(i16::MIN + 1), i64::from(i16::MAX)) as i16
            }),
            known,
        }
    }

    pub(crate) fn has(&self, bit: u8) -> bool {
        self.known & bit != 0
    }
}

/// Leads by value, as bitmaps of slots (a slot is a lead's small dense number in the catalogue).
pub(crate) type Groups<K> = HashMap<K, RoaringBitmap>;

#[derive(Default)]
pub(crate) struct Indexes {
    /// `(key, property_id, slot)` in each sort order.
    pub(crate) price: BTreeSet<(i64, i64, u32)>,
    pub(crate) kind_price: BTreeSet<(u8, i64, i64, u32)>,
    pub(crate) newest: BTreeSet<(i64, i64, u32)>,
    pub(crate) quality: BTreeSet<(i64, i64, u32)>,
    /// `(H3 cell, slot)`: a radius's cells are ranges of it.
    pub(crate) cells: BTreeSet<(i64, u32)>,
    pub(crate) kind: Groups<Arc<str>>,
    pub(crate) property_type: Groups<Arc<str>>,
    pub(crate) postal: Groups<Arc<str>>,
    pub(crate) city: Groups<Arc<str>>,
    pub(crate) state: Groups<Arc<str>>,
    pub(crate) stems: Groups<u64>,
    /// Every indexed lead.
    pub(crate) all: RoaringBitmap,
}

impl Indexes {
    pub(crate) fn add(&mut self, lead: &CatalogLead, slot: u32) {
        self.change(lead, slot, true);
    }

    pub(crate) fn remove(&mut self, lead: &CatalogLead, slot: u32) {
        self.change(lead, slot, false);
    }

    fn change(&mut self, lead: &CatalogLead, slot: u32, add: bool) {
        if !lead.is_active() {
            return;
        }
        let id = lead.property_id;
        fn set<T: Ord>(set: &mut BTreeSet<T>, value: T, add: bool) {
            if add {
                set.insert(value);
            } else {
                set.remove(&value);
            }
        }
        fn group<K: std::hash::Hash + Eq + Clone>(
            groups: &mut Groups<K>,
            key: Option<&K>,
            slot: u32,
            add: bool,
        ) {
            let Some(key) = key else { return };
            if add {
                groups.entry(key.clone()).or_default().insert(slot);
            } else if let Some(slots) = groups.get_mut(key) {
                slots.remove(slot);
                if slots.is_empty() {
                    groups.remove(key);
                }
            }
        }
        if let Some(price) = lead.list_price {
            set(&mut self.price, (ordered(price), id, slot), add);
            let kind = kind_code(lead.listing_kind.as_deref());
            set(&mut self.kind_price, (kind, ordered(price), id, slot), add);
        }
        set(&mut self.newest, (time_key(lead.fetched_at), id, slot), add);
        set(
            &mut self.quality,
            (ordered(lead.quality_score), id, slot),
            add,
        );
        if let Some(cell) = lead.h3_cell {
            set(&mut self.cells, (cell, slot), add);
        }
        group(&mut self.kind, lead.listing_kind.as_ref(), slot, add);
        group(
            &mut self.property_type,
            lead.property_type.as_ref(),
            slot,
            add,
        );
        group(&mut self.postal, lead.postal_code.as_ref(), slot, add);
        group(&mut self.city, lead.city_folded.as_ref(), slot, add);
        group(&mut self.state, lead.state_or_province.as_ref(), slot, add);
        for stem in &lead.stems {
            group(&mut self.stems, Some(stem), slot, add);
        }
        if add {
            self.all.insert(slot);
        } else {
            self.all.remove(slot);
        }
    }
}
