//! Property deduplication: every listing of one dwelling, on any site, reposted or not, gets one
//! [`PropertyId`].
//!
//! # How it decides
//!
//! 1. **Blocking.** A listing is compared only with listings that could plausibly be the same dwelling:
//!    the same ZIP code and street number; or, when it has no (ZIP, number) pair, listings in its own and
//!    the six neighbouring resolution-9 H3 cells (about 0.1 km² each). Addressed listings also meet
//!    address-less ones in neighbouring cells, so a Craigslist post with only a map pin can join the
//!    Zillow listing of the same house. Listings with neither address nor coordinates only match an
//!    identical normalised title, price and bedroom count in the same city.
//! 2. **Scoring.** Each candidate pair gets a weighted mean of the feature similarities both listings
//!    give (street name by Jaro-Winkler, distance, bedrooms, bathrooms, price and living-area
//!    closeness, title words) — see [`MatchWeights`]; a feature one side lacks is left out, never
//!    counted as a mismatch. Different unit numbers never match (a missing unit is its own value, so a
//!    listing without a unit cannot chain two units of one building together). Different street
//!    numbers or pre-directionals never match, nor do street names below
//!    [`DedupeConfig::min_street_similarity`], nor one address whose two map pins lie further apart
//!    than [`DedupeConfig::max_same_address_distance_m`] (the buildings of one complex). Pairs where
//!    neither listing gives a street need titles sharing [`DedupeConfig::min_title_similarity`] of
//!    their words and pins within [`DedupeConfig::geo_radius_m`]; when only one gives a street, the
//!    pins must be that close and the title is weighed like any other feature.
//! 3. **Merging.** Pairs at or above [`DedupeConfig::match_threshold`] are the same property. Clusters are
//!    the connected components of that match graph, which is why the outcome does not depend on arrival
//!    order: each new listing is compared with *every* listing in its block, not just cluster
//!    representatives, and the pair score is a pure function of the two listings.
//!
//! The property id is the smallest listing key in the cluster (listing key = xxh3 of
//! `source \x1f source_listing_id`). When a new listing joins or bridges clusters and the smallest key
//! changes, the assignment carries [`Relabel`]s so that earlier outputs can be rewritten.
//!
//! A listing's features are taken from the first time it is seen; later deliveries of the same
//! `(source, source_listing_id)` return its current property id and change nothing.

mod features;
pub(crate) mod geo;
pub(crate) mod hashing;

use aiq_schemas::{H3Cell, Listing, ListingKind, MarketplaceEvent, PropertyId};
use h3o::CellIndex;
use serde::{Deserialize, Serialize};

pub use self::features::LocationClass;
use self::features::{Features, InlineName, NO_U8, listing_key, sketch_similarity};
use self::hashing::{U64Map, map_heap_bytes};

/// Settings of the property matcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeConfig {
    /// Two listings are the same property when their weighted similarity (0 to 1) reaches this.
    /// Default `0.8`.
    pub match_threshold: f32,
    /// Street names less similar than this (Jaro-Winkler, 0 to 1) are different streets, whatever else
    /// agrees: `main st` / `mian st` is 0.96, `main st` / `maple st` 0.82, `main st` / `main ave` 0.87.
    /// Default `0.9`.
    pub min_street_similarity: f32,
    /// When neither listing has a street name, titles sharing less than this share of their words are
    /// different listings. Default `0.6`.
    pub min_title_similarity: f32,
    /// Distance in metres at which location similarity falls to zero. Pairs compared on title alone
    /// (no street names) must be closer than this. Default `250`.
    pub geo_radius_m: f32,
    /// Relative price difference at which price similarity falls to zero (`0.3` = 30%). Only compared
    /// between listings of the same kind (rent with rent, sale with sale). Default `0.3`.
    pub price_tolerance: f32,
    /// Relative living-area difference at which area similarity falls to zero (`0.2` = 20%): sites
    /// round or measure a dwelling's area a little differently, while two floor plans of one complex
    /// usually differ by more. Default `0.2`.
    pub area_tolerance: f32,
    /// Two listings giving the same street address but map pins further apart than this (metres)
    /// are different properties. A street address names a building, and a complex can spread one
    /// address over several blocks; the pins of one dwelling on different sites or reposts agree
    /// within tens of metres (geocoders place an address on its parcel). Default `100`.
    pub max_same_address_distance_m: f32,
    /// Weight of each feature in the similarity.
    pub weights: MatchWeights,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        DedupeConfig {
            match_threshold: 0.8,
            min_street_similarity: 0.9,
            min_title_similarity: 0.6,
            geo_radius_m: 250.0,
            price_tolerance: 0.3,
            area_tolerance: 0.2,
            max_same_address_distance_m: 100.0,
            weights: MatchWeights::default(),
        }
    }
}

/// Relative weights of the features in the pair similarity; a feature only counts when both listings
/// have it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchWeights {
    /// Street name similarity (Jaro-Winkler). Default `4.0`.
    pub street: f32,
    /// Title word overlap, used only when at least one listing has no street name. Default `1.5`.
    pub title: f32,
    /// Closeness of the coordinates (1 at the same point, 0 at `geo_radius_m`). Default `1.5`.
    pub geo: f32,
    /// Same bedroom count. Default `1.0`.
    pub beds: f32,
    /// Bathroom counts within half a bath. Default `0.5`.
    pub baths: f32,
    /// Price closeness (reposts often change the price, so this weighs little). Default `0.5`.
    pub price: f32,
    /// Living-area closeness (1 when equal, 0 at `area_tolerance` apart). Default `1.0`.
    pub area: f32,
}

impl Default for MatchWeights {
    fn default() -> Self {
        MatchWeights {
            street: 4.0,
            title: 1.5,
            geo: 1.5,
            beds: 1.0,
            baths: 0.5,
            price: 0.5,
            area: 1.0,
        }
    }
}

impl DedupeConfig {
    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), String> {
        let unit_range = [
            ("match_threshold", self.match_threshold),
            ("min_street_similarity", self.min_street_similarity),
            ("min_title_similarity", self.min_title_similarity),
        ];
        for (name, value) in unit_range {
            if !(value > 0.0 && value <= 1.0) {
                return Err(format!("dedupe.{name} must be in (0, 1], got {value}"));
            }
        }
        if !(self.geo_radius_m.is_finite() && self.geo_radius_m > 0.0) {
            return Err(format!(
                "dedupe.geo_radius_m must be positive, got {}",
                self.geo_radius_m
            ));
        }
        for (name, value) in [
            ("price_tolerance", self.price_tolerance),
            ("area_tolerance", self.area_tolerance),
            (
                "max_same_address_distance_m",
                self.max_same_address_distance_m,
            ),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("dedupe.{name} must be positive, got {value}"));
            }
        }
        let w = &self.weights;
        for (name, value) in [
            ("street", w.street),
            ("title", w.title),
            ("geo", w.geo),
            ("beds", w.beds),
            ("baths", w.baths),
            ("price", w.price),
            ("area", w.area),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "dedupe.weights.{name} must be a non-negative number, got {value}"
                ));
            }
        }
        if w.street == 0.0 && w.title == 0.0 {
            return Err(
                "dedupe.weights.street and dedupe.weights.title cannot both be 0: \
                        nothing would identify a property"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// The outcome of [`Deduper::assign`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub property_id: PropertyId,
    /// true when another listing already described this property (a duplicate merged). Also true for a
    /// repeated delivery of a listing already assigned: the property is not new.
    pub joined_existing: bool,
    /// Earlier assignments that this one changed: every listing previously given `from` now belongs to
    /// `to`. Sorted by `from`.
    pub relabels: Vec<Relabel>,
}

/// Every listing previously assigned `from` now belongs to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relabel {
    pub from: PropertyId,
    pub to: PropertyId,
}

/// The state of one active listing as [`Deduper::snapshot`] saves it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DedupeEntry {
    /// Listing key: xxh3 of `source \x1f source_listing_id`.
    listing_key: u64,
    /// The property the listing belonged to when the snapshot was taken.
    property_id: PropertyId,
    class: LocationClass,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    block: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    cell: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    title_sketch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latitude: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    longitude: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    price: Option<f32>,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    living_area_sqft: u32,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    unit: u32,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    number: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    street: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bedrooms: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bathrooms_halves: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<ListingKind>,
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    predirectional: u8,
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}
fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}
fn is_zero_u8(value: &u8) -> bool {
    *value == 0
}

impl DedupeEntry {
    /// The property this listing belonged to at snapshot time.
    pub fn property_id(&self) -> PropertyId {
        self.property_id
    }

    /// The listing's key (xxh3 of `source \x1f source_listing_id`).
    pub fn listing_key(&self) -> u64 {
        self.listing_key
    }

    fn from_features(features: &Features, property_id: PropertyId) -> Self {
        let optional_u8 = |value: u8| (value != NO_U8).then_some(value);
        let optional_f32 = |value: f32| (!value.is_nan()).then_some(value);
        DedupeEntry {
            listing_key: features.key,
            property_id,
            class: features.class,
            block: features.block,
            cell: features.cell,
            title_sketch: features.title_sketch,
            latitude: optional_f32(features.lat),
            longitude: optional_f32(features.lon),
            price: optional_f32(features.price),
            living_area_sqft: features.area_sqft,
            unit: features.unit,
            number: features.number,
            street: features.street.as_str().to_owned(),
            bedrooms: optional_u8(features.beds),
            bathrooms_halves: optional_u8(features.baths_halves),
            kind: match features.kind {
                1 => Some(ListingKind::Rent),
                2 => Some(ListingKind::Sale),
                _ => None,
            },
            predirectional: features.predir,
        }
    }

    fn to_features(&self) -> Features {
        Features {
            key: self.listing_key,
            class: self.class,
            block: self.block,
            cell: self.cell,
            title_sketch: self.title_sketch,
            lat: self.latitude.unwrap_or(f32::NAN),
            lon: self.longitude.unwrap_or(f32::NAN),
            price: self.price.unwrap_or(f32::NAN),
            area_sqft: self.living_area_sqft,
            unit: self.unit,
            number: self.number,
            street: InlineName::from_stored(&self.street),
            beds: self.bedrooms.unwrap_or(NO_U8),
            baths_halves: self.bathrooms_halves.unwrap_or(NO_U8),
            kind: match self.kind {
                None => 0,
                Some(ListingKind::Rent) => 1,
                Some(ListingKind::Sale) => 2,
            },
            predir: self.predirectional,
        }
    }
}

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("dedupe snapshot lists listing key {0:016x} twice; the snapshot is corrupt")]
    DuplicateListing(u64),
    #[error(
        "dedupe snapshot says property {property_id} but its smallest member key is {smallest:016x}; \
         the snapshot is corrupt or was written by an incompatible version"
    )]
    InconsistentProperty {
        property_id: PropertyId,
        smallest: u64,
    },
    #[error("dedupe snapshot holds more than {0} listings")]
    TooLarge(usize),
}

const NONE: u32 = u32::MAX;

struct Entry {
    features: Features,
    /// Union-find parent (index into `entries`).
    parent: u32,
    /// At a root: index of the member with the smallest key, whose key is the property id.
    representative: u32,
    /// Previous entry in the same block (intrusive list; `NONE` ends it).
    next_in_block: u32,
    /// Previous entry in the same H3 cell list.
    next_in_cell: u32,
}

/// Assigns listings to properties. See the module docs for the rules.
pub struct Deduper {
    config: DedupeConfig,
    entries: Vec<Entry>,
    /// Listing key -> entry index.
    by_key: U64Map<u32>,
    /// Block key -> most recent entry in the block.
    block_heads: U64Map<u32>,
    /// H3 cell -> most recent addressed entry located in it.
    addressed_cells: U64Map<u32>,
    /// H3 cell -> most recent geo-blocked (no ZIP and number) entry located in it.
    geo_cells: U64Map<u32>,
    /// Reused buffers so that `assign` does not allocate per call.
    disk: Vec<CellIndex>,
    matched_roots: Vec<u32>,
}

impl Deduper {
    pub fn new(config: DedupeConfig) -> Self {
        Deduper {
            config,
            entries: Vec::new(),
            by_key: U64Map::default(),
            block_heads: U64Map::default(),
            addressed_cells: U64Map::default(),
            geo_cells: U64Map::default(),
            disk: Vec::with_capacity(7),
            matched_roots: Vec::new(),
        }
    }

    pub fn config(&self) -> &DedupeConfig {
        &self.config
    }

    /// Assigns the listing to a property. Idempotent for the same (source, source_listing_id).
    pub fn assign(&mut self, listing: &Listing) -> Assignment {
        let key = listing_key(listing);
        if let Some(&index) = self.by_key.get(&key) {
            let root = self.find(index);
            return Assignment {
                property_id: self.property_of_root(root),
                joined_existing: true,
                relabels: Vec::new(),
            };
        }
        self.insert(Features::from_listing(listing))
    }

    /// Number of listings held (every distinct listing assigned or restored).
    pub fn active_listings(&self) -> usize {
        self.entries.len()
    }

    /// Number of distinct properties among the active listings.
    pub fn property_count(&mut self) -> usize {
        (0..self.entries.len() as u32)
            .filter(|&i| self.find(i) == i)
            .count()
    }

    /// Approximate heap bytes held (for the "< 300 bytes per active listing" target).
    pub fn state_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + map_heap_bytes(&self.by_key)
            + map_heap_bytes(&self.block_heads)
            + map_heap_bytes(&self.addressed_cells)
            + map_heap_bytes(&self.geo_cells)
            + self.disk.capacity() * std::mem::size_of::<CellIndex>()
            + self.matched_roots.capacity() * std::mem::size_of::<u32>()
    }

    /// The current property of a listing already assigned, by its source and id.
    pub fn property_of(&mut self, listing: &Listing) -> Option<PropertyId> {
        let index = *self.by_key.get(&listing_key(listing))?;
        let root = self.find(index);
        Some(self.property_of_root(root))
    }

    /// Every active listing in arrival order, with its current property, for persisting.
    pub fn snapshot(&self) -> Vec<DedupeEntry> {
        self.entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let root = self.find_readonly(index as u32);
                DedupeEntry::from_features(&entry.features, self.property_of_root(root))
            })
            .collect()
    }

    /// Rebuilds a deduper from [`Deduper::snapshot`]. Continuing from the restored state gives the same
    /// assignments as never stopping, provided `config` is the one the snapshot was taken under.
    pub fn restore(config: DedupeConfig, entries: Vec<DedupeEntry>) -> Result<Self, RestoreError> {
        if entries.len() >= NONE as usize {
            return Err(RestoreError::TooLarge(NONE as usize - 1));
        }
        let mut deduper = Deduper::new(config);
        deduper.entries.reserve_exact(entries.len());
        let mut first_of_property: U64Map<u32> = U64Map::default();
        for entry in &entries {
            let features = entry.to_features();
            if deduper.by_key.contains_key(&features.key) {
                return Err(RestoreError::DuplicateListing(features.key));
            }
            let index = deduper.push_entry(features);
            match first_of_property.get(&entry.property_id.0) {
                Some(&first) => deduper.union(first, index),
                None => {
                    first_of_property.insert(entry.property_id.0, index);
                }
            }
        }
        for (&property, &first) in &first_of_property {
            let root = deduper.find(first);
            let smallest = deduper.property_of_root(root).0;
            if smallest != property {
                return Err(RestoreError::InconsistentProperty {
                    property_id: PropertyId(property),
                    smallest,
                });
            }
        }
        Ok(deduper)
    }

    fn insert(&mut self, features: Features) -> Assignment {
        let mut roots = std::mem::take(&mut self.matched_roots);
        roots.clear();
        self.collect_matches(&features, &mut roots);
        roots.sort_unstable();
        roots.dedup();

        let key = features.key;
        let index = self.push_entry(features);
        let old_ids: Vec<u64> = roots.iter().map(|&r| self.property_of_root(r).0).collect();
        for &root in &roots {
            self.union(root, index);
        }
        let new_root = self.find(index);
        let property_id = self.property_of_root(new_root);
        let mut relabels: Vec<Relabel> = old_ids
            .iter()
            .filter(|&&old| old != property_id.0)
            .map(|&old| Relabel {
                from: PropertyId(old),
                to: property_id,
            })
            .collect();
        relabels.sort_unstable_by_key(|r| r.from);
        debug_assert!(key >= property_id.0);
        let joined_existing = !roots.is_empty();
        self.matched_roots = roots;
        Assignment {
            property_id,
            joined_existing,
            relabels,
        }
    }

    /// Roots of the clusters holding a listing that matches `features`.
    fn collect_matches(&mut self, features: &Features, roots: &mut Vec<u32>) {
        match features.class {
            LocationClass::Addressed => {
                self.scan_block(features, roots);
                if features.cell != 0 && !self.geo_cells.is_empty() {
                    self.fill_disk(features.cell);
                    for i in 0..self.disk.len() {
                        let cell = u64::from(self.disk[i]);
                        let head = self.geo_cells.get(&cell).copied().unwrap_or(NONE);
                        self.scan_cell_list(head, features, roots);
                    }
                }
            }
            LocationClass::Geo => {
                self.fill_disk(features.cell);
                for i in 0..self.disk.len() {
                    let cell = u64::from(self.disk[i]);
                    let geo_head = self.geo_cells.get(&cell).copied().unwrap_or(NONE);
                    self.scan_cell_list(geo_head, features, roots);
                    let addressed_head = self.addressed_cells.get(&cell).copied().unwrap_or(NONE);
                    self.scan_cell_list(addressed_head, features, roots);
                }
            }
            LocationClass::Town => self.scan_block(features, roots),
            LocationClass::Unlocated => {
                // Identical identity hash is the whole rule; the block list holds exactly those.
                if features.block != 0 {
                    let mut cursor = self
                        .block_heads
                        .get(&features.block)
                        .copied()
                        .unwrap_or(NONE);
                    while cursor != NONE {
                        let root = self.find(cursor);
                        roots.push(root);
                        cursor = self.entries[cursor as usize].next_in_block;
                    }
                }
            }
        }
    }

    fn scan_block(&mut self, features: &Features, roots: &mut Vec<u32>) {
        let mut cursor = self
            .block_heads
            .get(&features.block)
            .copied()
            .unwrap_or(NONE);
        while cursor != NONE {
            let entry = &self.entries[cursor as usize];
            let next = entry.next_in_block;
            if pair_matches(&self.config, features, &entry.features) {
                let root = self.find(cursor);
                roots.push(root);
            }
            cursor = next;
        }
    }

    fn scan_cell_list(&mut self, mut cursor: u32, features: &Features, roots: &mut Vec<u32>) {
        while cursor != NONE {
            let entry = &self.entries[cursor as usize];
            let next = entry.next_in_cell;
            if pair_matches(&self.config, features, &entry.features) {
                let root = self.find(cursor);
                roots.push(root);
            }
            cursor = next;
        }
    }

    /// The cell and its six neighbours (grid disk k = 1), into `self.disk`.
    fn fill_disk(&mut self, cell: u64) {
        self.disk.clear();
        let Ok(cell) = CellIndex::try_from(cell) else {
            return;
        };
        let mut failed = false;
        for neighbour in cell.grid_disk_fast(1) {
            match neighbour {
                Some(neighbour) => self.disk.push(neighbour),
                None => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            // Near a pentagon the fast walk gives up; the safe walk is slower but always answers.
            self.disk.clear();
            self.disk.extend(cell.grid_disk_safe(1));
        }
    }

    fn push_entry(&mut self, features: Features) -> u32 {
        let index = self.entries.len() as u32;
        let mut entry = Entry {
            features,
            parent: index,
            representative: index,
            next_in_block: NONE,
            next_in_cell: NONE,
        };
        let block = features.block;
        if block != 0 && features.class != LocationClass::Geo {
            entry.next_in_block = self.block_heads.insert(block, index).unwrap_or(NONE);
        }
        if features.cell != 0 {
            let cells = match features.class {
                LocationClass::Addressed => Some(&mut self.addressed_cells),
                LocationClass::Geo => Some(&mut self.geo_cells),
                LocationClass::Town | LocationClass::Unlocated => None,
            };
            if let Some(cells) = cells {
                entry.next_in_cell = cells.insert(features.cell, index).unwrap_or(NONE);
            }
        }
        self.by_key.insert(features.key, index);
        self.entries.push(entry);
        index
    }

    fn find(&mut self, mut index: u32) -> u32 {
        // Path halving: every visited node skips to its grandparent.
        while self.entries[index as usize].parent != index {
            let parent = self.entries[index as usize].parent;
            let grandparent = self.entries[parent as usize].parent;
            self.entries[index as usize].parent = grandparent;
            index = grandparent;
        }
        index
    }

    fn find_readonly(&self, mut index: u32) -> u32 {
        while self.entries[index as usize].parent != index {
            index = self.entries[index as usize].parent;
        }
        index
    }

    fn union(&mut self, a: u32, b: u32) {
        let (root_a, root_b) = (self.find(a), self.find(b));
        if root_a == root_b {
            return;
        }
        let rep_a = self.entries[root_a as usize].representative;
        let rep_b = self.entries[root_b as usize].representative;
        let representative = if self.entries[rep_a as usize].features.key
            <= self.entries[rep_b as usize].features.key
        {
            rep_a
        } else {
            rep_b
        };
        // Attach the later root under the earlier one; the representative carries the identity.
        let (root, child) = if root_a < root_b {
            (root_a, root_b)
        } else {
            (root_b, root_a)
        };
        self.entries[child as usize].parent = root;
        self.entries[root as usize].representative = representative;
    }

    fn property_of_root(&self, root: u32) -> PropertyId {
        let representative = self.entries[root as usize].representative;
        PropertyId(self.entries[representative as usize].features.key)
    }
}

/// Whether two listings describe the same property. Symmetric: the pair is always evaluated with the
/// smaller listing key first, so floating-point details cannot make it depend on arrival order.
fn pair_matches(config: &DedupeConfig, x: &Features, y: &Features) -> bool {
    let (a, b) = if x.key <= y.key { (x, y) } else { (y, x) };
    pair_score(config, a, b).is_some_and(|score| score >= config.match_threshold)
}

/// Metres along a meridian per degree of latitude: no two points further apart in latitude than
/// `d / METRES_PER_DEGREE_LATITUDE` degrees are closer than `d` metres.
const METRES_PER_DEGREE_LATITUDE: f32 = 111_194.9;

/// Weighted mean similarity of two listings, or `None` when a hard rule says they differ, nothing
/// identifies them (neither street names nor titles to compare), or the score cannot reach the
/// threshold whatever their distance (checked before any trigonometry, which dominates the cost).
fn pair_score(config: &DedupeConfig, a: &Features, b: &Features) -> Option<f32> {
    if a.unit != b.unit {
        return None;
    }
    let weights = &config.weights;
    let mut weighted = 0.0f32;
    let mut total = 0.0f32;

    // Cheap gates first: integer compares and popcounts.
    let (a_has_street, b_has_street) = (!a.street.is_empty(), !b.street.is_empty());
    let has_streets = a_has_street && b_has_street;
    if has_streets {
        if a.number != 0 && b.number != 0 && a.number != b.number {
            return None;
        }
        if a.predir != 0 && b.predir != 0 && a.predir != b.predir {
            return None;
        }
    } else if a.title_sketch != 0 && b.title_sketch != 0 {
        let similarity = sketch_similarity(a.title_sketch, b.title_sketch);
        // With no street on either side the title is the only written identity, so it must mostly
        // agree. When only one side gives a street, the missing street is no disagreement and the
        // title is weighed with everything else that is present: reposts that drop the address
        // usually reword the title too ("Welcome Home" / "Welcome Home - Available Now").
        let one_street = a_has_street || b_has_street;
        if !one_street && similarity < config.min_title_similarity {
            return None;
        }
        weighted += weights.title * similarity;
        total += weights.title;
    } else {
        return None;
    }

    if a.beds != NO_U8 && b.beds != NO_U8 {
        weighted += weights.beds * f32::from(u8::from(a.beds == b.beds));
        total += weights.beds;
    }
    if a.baths_halves != NO_U8 && b.baths_halves != NO_U8 {
        let close = a.baths_halves.abs_diff(b.baths_halves) <= 1;
        weighted += weights.baths * f32::from(u8::from(close));
        total += weights.baths;
    }
    if a.kind != 0 && a.kind == b.kind && !a.price.is_nan() && !b.price.is_nan() {
        let relative = (a.price - b.price).abs() / a.price.max(b.price);
        weighted += weights.price * (1.0 - relative / config.price_tolerance).clamp(0.0, 1.0);
        total += weights.price;
    }
    if a.area_sqft != 0 && b.area_sqft != 0 {
        let (x, y) = (a.area_sqft as f32, b.area_sqft as f32);
        let relative = (x - y).abs() / x.max(y);
        weighted += weights.area * (1.0 - relative / config.area_tolerance).clamp(0.0, 1.0);
        total += weights.area;
    }

    let both_located = a.has_coords() && b.has_coords();
    if !has_streets && !both_located {
        // Without street names the title is the only identity; it needs a nearby location too.
        return None;
    }
    // Best case for what is left: identical street names and the same point.
    let remaining = if has_streets { weights.street } else { 0.0 }
        + if both_located { weights.geo } else { 0.0 };
    if (weighted + remaining) < config.match_threshold * (total + remaining) {
        return None;
    }

    if has_streets {
        let similarity = strsim::jaro_winkler(a.street.as_str(), b.street.as_str()) as f32;
        if similarity < config.min_street_similarity {
            return None;
        }
        weighted += weights.street * similarity;
        total += weights.street;
    }
    if both_located {
        // Beyond this distance every rule below gives the same answer, so the exact figure is moot.
        let cutoff = config.geo_radius_m.max(config.max_same_address_distance_m);
        let distance = if (a.lat - b.lat).abs() * METRES_PER_DEGREE_LATITUDE >= cutoff {
            // The latitudes alone put them at least that far apart.
            f32::INFINITY
        } else {
            geo::haversine_m(
                f64::from(a.lat),
                f64::from(a.lon),
                f64::from(b.lat),
                f64::from(b.lon),
            ) as f32
        };
        if !has_streets && distance >= config.geo_radius_m {
            return None;
        }
        if has_streets && distance > config.max_same_address_distance_m {
            // One address, pins blocks apart: different buildings of a complex (or one pin is wrong,
            // and then nothing says which listing is right).
            return None;
        }
        weighted += weights.geo * (1.0 - distance / config.geo_radius_m).clamp(0.0, 1.0);
        total += weights.geo;
    }
    (total > 0.0).then(|| weighted / total)
}

/// The key that routes a listing to one partition of the repartition topic (`listings.by-block`):
/// the deduper only compares listings that meet in one partition, so every listing it could match
/// must share the key. Candidates block on ZIP code + house number or on neighbouring H3 cells,
/// which never cross a state line, so the state is the key; listings without a state fall back to
/// their ZIP code, then a coarse (resolution 3, ~100 km) H3 cell, then their own identity. The
/// price: a state is the unit of scale-out for dedupe (a very large state is one partition's work).
pub fn partition_key(listing: &Listing) -> String {
    area_partition_key(
        listing.state_or_province.as_deref(),
        listing.postal_code.as_deref(),
        listing.h3_cell,
    )
    .unwrap_or_else(|| format!("listing:{}:{}", listing.source, listing.source_listing_id))
}

/// The partition key of a marketplace event: its lead's, so that the enrich job prices the lead's
/// area with the demand it saw (the lead's state, ZIP code and cell are the listing's). `None` when
/// the event names no place: it would count in no pricing area.
pub fn event_partition_key(event: &MarketplaceEvent) -> Option<String> {
    area_partition_key(
        event.state_or_province.as_deref(),
        event.postal_code.as_deref(),
        event.h3_cell,
    )
}

fn area_partition_key(
    state: Option<&str>,
    postal_code: Option<&str>,
    h3_cell: Option<H3Cell>,
) -> Option<String> {
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        return Some(format!("state:{state}"));
    }
    if let Some(zip) = postal_code.filter(|z| !z.is_empty()) {
        return Some(format!("zip:{zip}"));
    }
    h3_cell
        .and_then(|cell| h3o::CellIndex::try_from(cell.as_i64() as u64).ok())
        .and_then(|cell| cell.parent(h3o::Resolution::Three))
        .map(|parent| format!("h3:{parent}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiq_schemas::Source;
    use chrono::{TimeZone, Utc};

    fn listing(source: Source, id: &str, street: &str, zip: &str) -> Listing {
        let mut l = Listing::new(
            source,
            id,
            format!("https://example.test/{id}"),
            Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        );
        l.street_address = Some(street.to_owned());
        l.postal_code = Some(zip.to_owned());
        l.city = Some("Boston".to_owned());
        l.state_or_province = Some("MA".to_owned());
        l.listing_kind = Some(ListingKind::Rent);
        l.bedrooms_total = Some(2);
        l.bathrooms_total = Some(1.0);
        l.list_price = Some(2400.0);
        l
    }

    #[test]
    fn an_event_joins_its_leads_partition_and_one_that_names_no_place_none() {
        let mut lead = listing(Source::Zillow, "z1", "123 Main St", "02134");
        let event = |state: Option<&str>, zip: Option<&str>| MarketplaceEvent {
            kind: aiq_schemas::MarketplaceEventKind::View,
            property_id: PropertyId(7),
            h3_cell: None,
            postal_code: zip.map(str::to_owned),
            state_or_province: state.map(str::to_owned),
            agent: "a".into(),
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        };
        assert_eq!(
            event_partition_key(&event(Some("MA"), Some("02134"))).as_deref(),
            Some(partition_key(&lead).as_str())
        );
        lead.state_or_province = None;
        assert_eq!(
            event_partition_key(&event(None, Some("02134"))).as_deref(),
            Some(partition_key(&lead).as_str())
        );
        assert_eq!(event_partition_key(&event(None, None)), None);
    }

    #[test]
    fn jaro_winkler_figures_in_the_config_docs_hold() {
        let jw = |a: &str, b: &str| strsim::jaro_winkler(a, b);
        assert!(jw("main st", "mian st") > 0.95);
        assert!(jw("main st", "maple st") < 0.85);
        assert!(jw("main st", "main ave") < 0.9);
    }

    #[test]
    fn address_variants_and_typos_merge() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let a = deduper.assign(&listing(Source::Zillow, "z1", "123 Main St", "02134"));
        let variants = [
            "123 Main St.",
            "123 Main Street",
            "123 Mian St",
            "123 MAIN ST",
        ];
        for (i, street) in variants.iter().enumerate() {
            let b = deduper.assign(&listing(Source::Realtor, &format!("r{i}"), street, "02134"));
            assert!(b.joined_existing, "{street}");
            let current = deduper
                .property_of(&listing(Source::Zillow, "z1", "", ""))
                .unwrap();
            assert_eq!(b.property_id, current, "{street}");
        }
        assert_eq!(deduper.property_count(), 1);
        let _ = a;
    }

    #[test]
    fn different_streets_numbers_units_and_directions_stay_apart() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let base = deduper.assign(&listing(
            Source::Zillow,
            "z1",
            "123 N Main St Apt 4B",
            "02134",
        ));
        for (id, street, zip) in [
            ("a", "123 N Maple St Apt 4B", "02134"),
            ("b", "125 N Main St Apt 4B", "02134"),
            ("c", "123 N Main St Apt 5C", "02134"),
            ("d", "123 S Main St Apt 4B", "02134"),
            ("e", "123 N Main Ave Apt 4B", "02134"),
            ("f", "123 N Main St Apt 4B", "02135"),
            ("g", "123 N Main St", "02134"),
        ] {
            let other = deduper.assign(&listing(Source::Realtor, id, street, zip));
            assert!(!other.joined_existing, "{street} {zip} merged");
            assert_ne!(other.property_id, base.property_id);
        }
    }

    #[test]
    fn unit_number_field_and_unit_in_street_agree() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let mut with_field = listing(Source::Zillow, "z1", "123 Main St", "02134");
        with_field.unit_number = Some("4B".to_owned());
        deduper.assign(&with_field);
        let joined = deduper.assign(&listing(
            Source::Redfin,
            "r1",
            "123 Main St Apt 4B",
            "02134",
        ));
        assert!(joined.joined_existing);
        let joined = deduper.assign(&listing(Source::Trulia, "t1", "123 Main St # 04b", "02134"));
        assert!(joined.joined_existing);
    }

    #[test]
    fn rent_and_sale_of_one_address_are_one_property() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        deduper.assign(&listing(Source::Zillow, "rent", "9 Elm St", "02134"));
        let mut sale = listing(Source::Redfin, "sale", "9 Elm St", "02134");
        sale.listing_kind = Some(ListingKind::Sale);
        sale.list_price = Some(650_000.0);
        assert!(deduper.assign(&sale).joined_existing);
    }

    #[test]
    fn relabel_when_a_smaller_key_joins() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let listings: Vec<Listing> = (0..6)
            .map(|i| listing(Source::Zillow, &format!("id{i}"), "9 Elm St", "02134"))
            .collect();
        let mut by_key: Vec<(u64, &Listing)> =
            listings.iter().map(|l| (listing_key(l), l)).collect();
        by_key.sort_by_key(|(k, _)| std::cmp::Reverse(*k));
        let first = deduper.assign(by_key[0].1);
        assert_eq!(first.property_id, PropertyId(by_key[0].0));
        let second = deduper.assign(by_key[1].1);
        assert_eq!(second.property_id, PropertyId(by_key[1].0));
        assert_eq!(
            second.relabels,
            vec![Relabel {
                from: first.property_id,
                to: second.property_id
            }]
        );
    }

    #[test]
    fn bridging_listing_merges_two_clusters_with_relabels() {
        // A and C are too far apart in title to match, B matches both: B bridges them.
        let mut deduper = Deduper::new(DedupeConfig::default());
        let mut a = listing(Source::Craigslist, "a", "", "");
        a.street_address = None;
        a.postal_code = None;
        a.latitude = Some(42.35);
        a.longitude = Some(-71.06);
        a.title = Some("two bedroom near park sunny quiet renovated".to_owned());
        let mut c = a.clone();
        c.source_listing_id = "c".to_owned();
        c.title = Some("two bedroom near park garage pool furnished".to_owned());
        let mut b = a.clone();
        b.source_listing_id = "b".to_owned();
        b.title = Some("two bedroom near park sunny quiet garage pool".to_owned());
        let ra = deduper.assign(&a);
        let rc = deduper.assign(&c);
        assert_ne!(ra.property_id, rc.property_id);
        let rb = deduper.assign(&b);
        assert!(rb.joined_existing);
        let expected = [listing_key(&a), listing_key(&b), listing_key(&c)]
            .into_iter()
            .min()
            .unwrap();
        assert_eq!(rb.property_id, PropertyId(expected));
        let froms: Vec<PropertyId> = rb.relabels.iter().map(|r| r.from).collect();
        for old in [ra.property_id, rc.property_id] {
            assert_eq!(froms.contains(&old), old.0 != expected, "{old}");
        }
    }

    #[test]
    fn unlocated_listings_match_only_exact_identity() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let mut a = Listing::new(
            Source::Craigslist,
            "1",
            "u",
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        a.title = Some("Cozy 1BR, utilities included!".to_owned());
        a.list_price = Some(1200.0);
        a.bedrooms_total = Some(1);
        a.city = Some("Hartford".to_owned());
        deduper.assign(&a);
        let mut same = a.clone();
        same.source_listing_id = "2".to_owned();
        same.title = Some("cozy 1br utilities included".to_owned());
        assert!(deduper.assign(&same).joined_existing);
        let mut cheaper = a.clone();
        cheaper.source_listing_id = "3".to_owned();
        cheaper.list_price = Some(1100.0);
        assert!(!deduper.assign(&cheaper).joined_existing);
        let mut elsewhere = a.clone();
        elsewhere.source_listing_id = "4".to_owned();
        elsewhere.city = Some("New Haven".to_owned());
        assert!(!deduper.assign(&elsewhere).joined_existing);
        let mut no_title = a.clone();
        no_title.source_listing_id = "5".to_owned();
        no_title.title = None;
        let mut no_title_again = no_title.clone();
        no_title_again.source_listing_id = "6".to_owned();
        assert!(!deduper.assign(&no_title).joined_existing);
        assert!(!deduper.assign(&no_title_again).joined_existing);
    }

    /// A located rental at `street` (no street when empty), `metres_north` of a fixed point.
    fn located(id: &str, street: &str, zip: &str, metres_north: f64) -> Listing {
        let mut l = listing(Source::Craigslist, id, street, zip);
        if street.is_empty() {
            l.street_address = None;
        }
        if zip.is_empty() {
            l.postal_code = None;
        }
        l.city = Some("Springfield".to_owned());
        l.latitude = Some(40.0 + metres_north / f64::from(METRES_PER_DEGREE_LATITUDE));
        l.longitude = Some(-75.0);
        l.bedrooms_total = Some(1);
        l.living_area_sqft = Some(700);
        l.list_price = Some(1500.0);
        l.title = Some("Cozy Corner Flat".to_owned());
        l
    }

    #[test]
    fn address_less_repost_a_few_metres_away_joins_the_addressed_listing() {
        // With and without a ZIP code the addressed listing is blocked differently (ZIP and number,
        // or H3 cells); both must meet the address-less repost.
        for zip in ["", "19104"] {
            let mut deduper = Deduper::new(DedupeConfig::default());
            let addressed = deduper.assign(&located("a", "55 Orchard Ln", zip, 0.0));
            let mut repost = located("b", "", "", 5.0);
            // Reworded title (more new words than old ones) and a 5% lower price.
            repost.title = Some("Cozy Corner Flat - Available Today, Call Now".to_owned());
            repost.list_price = Some(1425.0);
            let joined = deduper.assign(&repost);
            assert!(joined.joined_existing, "zip {zip:?}");
            let expected = addressed.property_id.min(joined.property_id);
            assert_eq!(deduper.property_of(&repost), Some(expected));
            // The same reworded title with no street on either side is not enough: the title is then
            // the only written identity and must mostly agree.
            let mut bare = deduper.assign(&located("c", "", "", 300.0));
            assert!(!bare.joined_existing);
            let mut bare_repost = repost.clone();
            bare_repost.source_listing_id = "d".to_owned();
            bare_repost.latitude = Some(40.0 + 303.0 / f64::from(METRES_PER_DEGREE_LATITUDE));
            bare = deduper.assign(&bare_repost);
            assert!(!bare.joined_existing, "zip {zip:?}");
        }
    }

    #[test]
    fn address_less_listing_nearby_stays_apart_when_what_is_present_differs() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let addressed = deduper.assign(&located("a", "55 Orchard Ln", "", 0.0));
        let mut other_plan = located("b", "", "", 5.0);
        other_plan.title = Some("Cozy Corner Flat - Available Today".to_owned());
        other_plan.living_area_sqft = Some(980);
        other_plan.bedrooms_total = Some(2);
        other_plan.list_price = Some(1900.0);
        let mut other_title = located("c", "", "", 5.0);
        other_title.title = Some("Spacious garden apartment with parking".to_owned());
        let mut far = located("d", "", "", 400.0);
        far.title = Some("Cozy Corner Flat".to_owned());
        // A unit number on the addressed side: an address-less listing (no unit) never joins it.
        let mut unit = located("e", "55 Orchard Ln Apt 2", "", 0.0);
        unit.title = Some("Bright Top Floor Flat".to_owned());
        let mut near_unit = located("f", "", "", 3.0);
        near_unit.title = unit.title.clone();
        for other in [&other_plan, &other_title, &far, &unit, &near_unit] {
            let assigned = deduper.assign(other);
            if other.source_listing_id != "f" {
                assert!(
                    !assigned.joined_existing,
                    "{} merged",
                    other.source_listing_id
                );
            }
            assert_ne!(assigned.property_id, addressed.property_id);
        }
        let near_unit_property = deduper.property_of(&near_unit);
        assert_ne!(near_unit_property, deduper.property_of(&unit));
    }

    #[test]
    fn one_address_with_pins_blocks_apart_is_two_buildings() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        let config = DedupeConfig::default();
        let first = deduper.assign(&located("a", "200 Lakeview Dr", "19104", 0.0));
        // Same address, rooms, area, price and title, but pinned 150 m away: another building of the
        // complex.
        let across = deduper.assign(&located("b", "200 Lakeview Dr", "19104", 150.0));
        assert!(!across.joined_existing);
        assert_ne!(across.property_id, first.property_id);
        // Pinned within the tolerance (geocoders disagreeing, GPS noise): the same home.
        let near = config.max_same_address_distance_m as f64 * 0.5;
        let same = deduper.assign(&located("c", "200 Lakeview Drive", "19104", near));
        assert!(same.joined_existing);
        assert_eq!(
            deduper.property_of(&located("a", "", "", 0.0)),
            deduper.property_of(&located("c", "", "", 0.0))
        );
        // Without pins on one side the address alone decides, as before.
        let mut unpinned = located("d", "200 Lakeview Dr", "19104", 0.0);
        unpinned.latitude = None;
        unpinned.longitude = None;
        assert!(deduper.assign(&unpinned).joined_existing);
    }

    #[test]
    fn living_area_counts_when_both_give_it() {
        let config = DedupeConfig::default();
        let base = Features::from_listing(&located("a", "", "", 0.0));
        // An addressed listing a few metres away whose title shares 3 of 7 words: the area decides.
        let mut same_area = located("b", "55 Orchard Ln", "", 5.0);
        same_area.title = Some("Cozy Corner Flat - Available Today, Call Now".to_owned());
        let mut other_area = same_area.clone();
        other_area.living_area_sqft = Some(1000);
        let mut no_area = same_area.clone();
        no_area.living_area_sqft = None;
        let score = |l: &Listing| pair_score(&config, &base, &Features::from_listing(l));
        let (same, other, unknown) = (score(&same_area), score(&other_area), score(&no_area));
        assert!(
            same.zip(other).is_none_or(|(s, o)| s > o),
            "{same:?} {other:?}"
        );
        assert!(
            same.is_some_and(|s| s >= config.match_threshold),
            "{same:?}"
        );
        assert!(
            other.is_none_or(|o| o < config.match_threshold),
            "{other:?}"
        );
        // Unknown area is left out, not counted as a mismatch.
        assert!(
            unknown.is_some_and(|u| u >= config.match_threshold),
            "{unknown:?}"
        );
    }

    #[test]
    fn config_validation_names_the_field() {
        let mut config = DedupeConfig::default();
        assert_eq!(config.validate(), Ok(()));
        config.match_threshold = 1.5;
        assert!(config.validate().unwrap_err().contains("match_threshold"));
        let mut config = DedupeConfig::default();
        config.weights.street = 0.0;
        config.weights.title = 0.0;
        assert!(config.validate().is_err());
        let parsed: Result<DedupeConfig, _> = serde_json::from_str(r#"{"match_treshold": 0.7}"#);
        assert!(parsed.is_err(), "unknown fields are rejected");
        let config = DedupeConfig {
            max_same_address_distance_m: 0.0,
            ..DedupeConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("max_same_address_distance_m")
        );
        let parsed: DedupeConfig = serde_json::from_str(r#"{"weights": {"geo": 2.0}}"#).unwrap();
        assert_eq!(parsed.weights.geo, 2.0);
        assert_eq!(parsed.weights.street, 4.0);
    }

    #[test]
    fn restore_rejects_corrupt_snapshots() {
        let mut deduper = Deduper::new(DedupeConfig::default());
        deduper.assign(&listing(Source::Zillow, "a", "1 Elm St", "02134"));
        deduper.assign(&listing(Source::Zillow, "b", "1 Elm St", "02134"));
        let mut snapshot = deduper.snapshot();
        let duplicated = vec![snapshot[0].clone(), snapshot[0].clone()];
        assert!(matches!(
            Deduper::restore(DedupeConfig::default(), duplicated),
            Err(RestoreError::DuplicateListing(_))
        ));
        snapshot[0].property_id = PropertyId(1);
        snapshot[1].property_id = PropertyId(1);
        let err = Deduper::restore(DedupeConfig::default(), snapshot)
            .err()
            .unwrap();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
