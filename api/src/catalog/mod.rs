//! The in-memory catalogue: every lead as its detail page shows it to an agent who has not bought
//! it, plus each lead's sales and who owns what, followed from the database.
//!
//! Lead detail is the API's hottest route, and a database round trip per view costs several times
//! what the rest of the request does; so detail answers from here. The catalogue follows the
//! tables by revision (migration 040 gives every written row a revision in commit order): a refresh
//! reads the rows above the last revision it saw, in pages, and applies them. It never guesses:
//!
//! - a lead it has not seen yet (written since the last refresh) is read from the database;
//! - a lead the caller owns is read from the database (contact details are never kept here: what
//!   stays in memory is exactly what anyone may see, redacted once when it is loaded);
//! - ownership and sales written by this process are visible at once (checkout catches up before
//!   it answers); those written elsewhere are visible after the next refresh (`catalog_refresh`,
//!   250 ms by default). Until then a buyer sees the lead without its contact details: the lag
//!   can hide a contact, never show one.

mod index;
mod query;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Db, DbRow, Param};
use crate::events::EventLead;
#[cfg(doc)]
use crate::handlers::LeadDetail;
use crate::search::{ContactText, LeadSummary, redact};
use crate::{Result, metrics};

/// Rows read per stream and query: small enough that a refresh never holds the write lock long.
const PAGE: i64 = 5_000;

/// What the catalogue reads of a lead (no contact column leaves this query but to be redacted).
const LEAD_COLUMNS: &str = "property_id, revision, listing_kind, property_type, list_price,
    price_period, CAST(bedrooms_total AS BIGINT) AS bedrooms_total, bathrooms_total,
    living_area_sqft, city, state_or_province, postal_code, latitude, longitude, h3_cell, title,
    fetched_at, posted_at, fraud_score, quality_score, lead_price, contact_name, contact_phone,
    contact_email, street_address, unit_number, description, status, completeness,
    CAST(fraud_reasons AS TEXT) AS fraud_reasons_json,
    CAST(price_breakdown AS TEXT) AS price_breakdown_json,
    CAST(listing_count AS BIGINT) AS listing_count, sources";

/// A lead as anyone may see it: texts already redacted, repeated values shared.
pub(crate) struct CatalogLead {
    revision: i64,
    property_id: i64,
    listing_kind: Option<Arc<str>>,
    property_type: Option<Arc<str>>,
    price_period: Option<Arc<str>>,
    city: Option<Arc<str>>,
    /// The city lower-cased, as the city filter compares it.
    city_folded: Option<Arc<str>>,
    state_or_province: Option<Arc<str>>,
    postal_code: Option<Arc<str>>,
    status: Arc<str>,
    sources: Arc<str>,
    list_price: Option<f64>,
    bathrooms_total: Option<f64>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    bedrooms_total: Option<i64>,
    living_area_sqft: Option<i64>,
    h3_cell: Option<i64>,
    fetched_at: DateTime<Utc>,
    posted_at: Option<DateTime<Utc>>,
    fraud_score: f64,
    quality_score: f64,
    completeness: f64,
    lead_price: i64,
    listing_count: i64,
    exclusive: bool,
    /// Stems of the visible title and description (see `index::stems`).
    stems: Box<[u64]>,
    /// Title, description, street, unit, fraud reasons and price breakdown (JSON) in one
    /// allocation; `ends[i]` is where text `i` ends, and absent texts are marked in `present`.
    texts: Box<str>,
    ends: [u32; 6],
    present: u8,
}

const TITLE: usize = 0;
const DESCRIPTION: usize = 1;
const STREET: usize = 2;
const UNIT: usize = 3;
const FRAUD_REASONS: usize = 4;
const PRICE_BREAKDOWN: usize = 5;

impl CatalogLead {
    fn text(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.texts.get(start..self.ends[i] as usize)
    }

    pub(crate) fn is_active(&self) -> bool {
        &*self.status == "active"
    }

    /// What a marketplace event about this lead says of it.
    pub(crate) fn event_lead(&self) -> EventLead {
        EventLead {
            property_id: self.property_id,
            h3_cell: self.h3_cell,
            postal_code: self.postal_code.as_deref().map(str::to_owned),
            state_or_province: self.state_or_province.as_deref().map(str::to_owned),
        }
    }

    /// The summary search results show.
    pub(crate) fn summary(&self) -> LeadSummary {
        let text = |v: &Option<Arc<str>>| v.as_deref().map(str::to_owned);
        LeadSummary {
            property_id: format!("{:016x}", self.property_id as u64),
            listing_kind: text(&self.listing_kind),
            property_type: text(&self.property_type),
            list_price: self.list_price,
            price_period: text(&self.price_period),
            bedrooms_total: self.bedrooms_total,
            bathrooms_total: self.bathrooms_total,
            living_area_sqft: self.living_area_sqft,
            city: text(&self.city),
            state_or_province: text(&self.state_or_province),
            postal_code: text(&self.postal_code),
            latitude: self.latitude,
            longitude: self.longitude,
            h3_cell: self.h3_cell.map(|c| format!("{:x}", c as u64)),
            title: self.text(TITLE).map(str::to_owned),
            fetched_at: self.fetched_at,
            posted_at: self.posted_at,
            fraud_score: self.fraud_score,
            quality_score: self.quality_score,
            lead_price: self.lead_price,
            exclusive: self.exclusive,
            distance_miles: None,
        }
    }

    /// The detail page of an agent who does not own the lead, serialised straight from the
    /// catalogue's own strings (no copy, no JSON tree). Its JSON is exactly [`LeadDetail`]'s: the
    /// catalogue tests compare every field of every lead with the database's answer.
    pub(crate) fn public_detail(&self, sale: Sale) -> Result<PublicDetail<'_>> {
        let json = |i: usize| -> Result<&serde_json::value::RawValue> {
            serde_json::from_str(self.text(i).unwrap_or("null"))
                .map_err(|e| crate::Error::Internal(format!("catalogue JSON: {e}")))
        };
        Ok(PublicDetail {
            property_id: Hex16(self.property_id as u64),
            listing_kind: self.listing_kind.as_deref(),
            property_type: self.property_type.as_deref(),
            list_price: self.list_price,
            price_period: self.price_period.as_deref(),
            bedrooms_total: self.bedrooms_total,
            bathrooms_total: self.bathrooms_total,
            living_area_sqft: self.living_area_sqft,
            city: self.city.as_deref(),
            state_or_province: self.state_or_province.as_deref(),
            postal_code: self.postal_code.as_deref(),
            latitude: self.latitude,
            longitude: self.longitude,
            h3_cell: self.h3_cell.map(|c| Hex(c as u64)),
            title: self.text(TITLE),
            fetched_at: self.fetched_at,
            posted_at: self.posted_at,
            fraud_score: self.fraud_score,
            quality_score: self.quality_score,
            lead_price: self.lead_price,
            exclusive: self.exclusive,
            street_address: self.text(STREET),
            unit_number: self.text(UNIT),
            description: self.text(DESCRIPTION),
            status: &self.status,
            completeness: self.completeness,
            fraud_reasons: json(FRAUD_REASONS)?,
            price_breakdown: json(PRICE_BREAKDOWN)?,
            listing_count: self.listing_count,
            sources: Sources(&self.sources),
            buyers: sale.buyers,
            sold_out: sale.sold_out,
            owned: false,
        })
    }
}

/// [`LeadDetail`] of a lead its reader does not own (so without `url` and `contact`), borrowed
/// from the catalogue; the fields in `LeadDetail`'s order (its summary flattened first).
#[derive(serde::Serialize)]
pub(crate) struct PublicDetail<'a> {
    property_id: Hex16,
    listing_kind: Option<&'a str>,
    property_type: Option<&'a str>,
    list_price: Option<f64>,
    price_period: Option<&'a str>,
    bedrooms_total: Option<i64>,
    bathrooms_total: Option<f64>,
    living_area_sqft: Option<i64>,
    city: Option<&'a str>,
    state_or_province: Option<&'a str>,
    postal_code: Option<&'a str>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    h3_cell: Option<Hex>,
    title: Option<&'a str>,
    fetched_at: DateTime<Utc>,
    posted_at: Option<DateTime<Utc>>,
    fraud_score: f64,
    quality_score: f64,
    lead_price: i64,
    exclusive: bool,
    street_address: Option<&'a str>,
    unit_number: Option<&'a str>,
    description: Option<&'a str>,
    status: &'a str,
    completeness: f64,
    fraud_reasons: &'a serde_json::value::RawValue,
    price_breakdown: &'a serde_json::value::RawValue,
    listing_count: i64,
    sources: Sources<'a>,
    buyers: i64,
    sold_out: bool,
    owned: bool,
}

/// A property id as 16 hex digits, written without an intermediate string.
struct Hex16(u64);

impl serde::Serialize for Hex16 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

/// An H3 cell in hex.
struct Hex(u64);

impl serde::Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:x}", self.0))
    }
}

/// The comma-separated sources as a JSON list.
struct Sources<'a>(&'a str);

impl serde::Serialize for Sources<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.split(',').filter(|s| !s.is_empty()))
    }
}

/// How a lead has sold so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sale {
    pub(crate) buyers: i64,
    pub(crate) sold_out: bool,
}

/// Where a refresh resumes in each followed table: the last (revision, key) applied.
#[derive(Clone, Copy, Debug, Default)]
struct Watermarks {
    leads: (i64, i64),
    removals: (i64, i64),
    sales: (i64, i64),
    purchases: (i64, i64),
}

#[derive(Default)]
struct Contents {
    leads: HashMap<i64, Arc<CatalogLead>>,
    /// Revision of each lead's latest removal: an older row read late must not bring it back.
    removed: HashMap<i64, i64>,
    sales: HashMap<i64, (i64, Sale)>,
    owned: HashMap<String, HashSet<i64>>,
    /// Each lead's slot (its number in `by_slot` and in the indexes' bitmaps), kept for the
    /// lead's life; slots of removed leads are reused.
    slot_of: HashMap<i64, u32>,
    by_slot: Vec<Option<Arc<CatalogLead>>>,
    /// What range and distance filters read, by slot: one cache line per lead.
    rows: Vec<index::FilterRow>,
    /// Slots of sold-out leads (kept from `sales`).
    sold_out: roaring::RoaringBitmap,
    free_slots: Vec<u32>,
    indexes: index::Indexes,
}

impl Contents {
    fn insert(&mut self, lead: Arc<CatalogLead>) {
        let id = lead.property_id;
        let slot = match self.slot_of.get(&lead.property_id) {
            Some(slot) => *slot,
            None => {
                let slot = self.free_slots.pop().unwrap_or(self.by_slot.len() as u32);
                self.slot_of.insert(lead.property_id, slot);
                slot
            }
        };
        if let Some(old) = self.leads.insert(lead.property_id, Arc::clone(&lead)) {
            self.indexes.remove(&old, slot);
        }
        self.indexes.add(&lead, slot);
        let row = index::FilterRow::of(&lead);
        match self.by_slot.get_mut(slot as usize) {
            Some(held) => {
                *held = Some(lead);
                self.rows[slot as usize] = row;
            }
            None => {
                self.by_slot.push(Some(lead));
                self.rows.push(row);
            }
        }
        self.mark_sold_out(id);
    }

    /// Keeps the sold-out bitmap in step with `sales` for the lead's slot.
    fn mark_sold_out(&mut self, property_id: i64) {
        let Some(slot) = self.slot_of.get(&property_id).copied() else {
            return;
        };
        if self
            .sales
            .get(&property_id)
            .is_some_and(|(_, sale)| sale.sold_out)
        {
            self.sold_out.insert(slot);
        } else {
            self.sold_out.remove(slot);
        }
    }

    /// Holds `lead` unless a later removal or a newer version of it is known.
    fn insert_unless_stale(&mut self, lead: Arc<CatalogLead>) {
        let removed_later = self
            .removed
            .get(&lead.property_id)
            .is_some_and(|tomb| *tomb > lead.revision);
        let held_newer = self
            .leads
            .get(&lead.property_id)
            .is_some_and(|held| held.revision >= lead.revision);
        if !removed_later && !held_newer {
            self.insert(lead);
        }
    }

    fn remove(&mut self, property_id: i64) {
        let Some(slot) = self.slot_of.remove(&property_id) else {
            return;
        };
        if let Some(old) = self.leads.remove(&property_id) {
            self.indexes.remove(&old, slot);
        }
        self.by_slot[slot as usize] = None;
        self.sold_out.remove(slot);
        self.free_slots.push(slot);
    }

    pub(crate) fn row(&self, slot: u32) -> Option<&index::FilterRow> {
        self.rows.get(slot as usize)
    }

    pub(crate) fn at(&self, slot: u32) -> Option<&CatalogLead> {
        self.by_slot.get(slot as usize)?.as_deref()
    }
}

/// What only the refresher touches.
#[derive(Default)]
struct Refresher {
    marks: Watermarks,
    /// One shared copy of each repeated value (kinds, cities, postal codes, sources...).
    interned: HashSet<Arc<str>>,
}

impl Refresher {
    fn intern(&mut self, value: Option<String>) -> Option<Arc<str>> {
        let value = value?;
        if let Some(shared) = self.interned.get(value.as_str()) {
            return Some(shared.clone());
        }
        let shared: Arc<str> = Arc::from(value);
        self.interned.insert(shared.clone());
        Some(shared)
    }
}

/// The catalogue. Reads take a read lock for a hash lookup; refreshes apply pages under the write
/// lock, a page at a time.
pub(crate) struct Catalog {
    db: Db,
    exclusive_kinds: Vec<String>,
    contents: RwLock<Contents>,
    /// One refresh at a time (the background loop and checkouts catching up).
    refresher: tokio::sync::Mutex<Refresher>,
}

impl Catalog {
    /// Loads every lead, sale and purchase (the first refresh, run to the end).
    pub(crate) async fn load(db: Db, exclusive_kinds: Vec<String>) -> Result<Arc<Catalog>> {
        let catalog = Arc::new(Catalog {
            db,
            exclusive_kinds,
            contents: RwLock::new(Contents::default()),
            refresher: tokio::sync::Mutex::new(Refresher::default()),
        });
        let started = std::time::Instant::now();
        catalog.refresh(true).await?;
        tracing::info!(
            leads = catalog.len(),
            seconds = started.elapsed().as_secs_f64(),
            "catalogue loaded"
        );
        Ok(catalog)
    }

    /// Refreshes every `every` until the task is aborted; a failed refresh is logged, counted and
    /// retried (meanwhile the catalogue serves what it has).
    pub(crate) fn follow(self: &Arc<Catalog>, every: Duration) -> tokio::task::JoinHandle<()> {
        let catalog = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = catalog.catch_up().await {
                    tracing::warn!(%error, "catalogue refresh failed; serving what it holds");
                    metrics::catalog_refresh_failed();
                }
            }
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.read().leads.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Contents> {
        // A panic while applying a page cannot leave a half-built entry (entries are replaced
        // whole), so a poisoned lock's contents are still sound.
        self.contents
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Contents> {
        self.contents
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What a lead's detail shows an agent who does not own it, under one read lock: `None` when
    /// the catalogue does not hold the lead or `agent` owns it (both are read from the database).
    pub(crate) fn public_view(
        &self,
        agent: &str,
        property_id: i64,
    ) -> Option<(Arc<CatalogLead>, Sale)> {
        let contents = self.read();
        let lead = contents.leads.get(&property_id)?;
        if contents
            .owned
            .get(agent)
            .is_some_and(|ids| ids.contains(&property_id))
        {
            return None;
        }
        let sale = contents
            .sales
            .get(&property_id)
            .map_or_else(Sale::default, |(_, sale)| *sale);
        Some((Arc::clone(lead), sale))
    }

    /// Reads and applies everything committed since the last refresh.
    pub(crate) async fn catch_up(&self) -> Result<()> {
        self.refresh(false).await
    }

    /// `by_place`: the first load. Its leads are held back until every page is read, then given
    /// slots in H3 order, so that neighbours (a radius's cells, a city, a postal code) have nearby
    /// slots: their filter rows are read in one sweep of memory rather than one cache miss each,
    /// and their bitmaps are runs. Leads written later take whatever slot is free.
    async fn refresh(&self, by_place: bool) -> Result<()> {
        let mut refresher = self.refresher.lock().await;
        let mut held_back: Vec<Arc<CatalogLead>> = Vec::new();
        loop {
            let marks = refresher.marks;
            let mut tx = self.db.begin_snapshot().await?;
            let leads = tx
                .fetch_all(
                    &format!(
                        "SELECT {LEAD_COLUMNS} FROM leads WHERE (revision, property_id) > ($1, $2)
                         ORDER BY revision, property_id LIMIT $3"
                    ),
                    &page_params(marks.leads),
                )
                .await?;
            let removals = tx
                .fetch_all(
                    "SELECT property_id, revision FROM lead_removals
                     WHERE (revision, property_id) > ($1, $2) ORDER BY revision, property_id LIMIT $3",
                    &page_params(marks.removals),
                )
                .await?;
            let sales = tx
                .fetch_all(
                    "SELECT property_id, revision, CAST(buyers AS BIGINT) AS buyers, sold_out FROM lead_sales
                     WHERE (revision, property_id) > ($1, $2) ORDER BY revision, property_id LIMIT $3",
                    &page_params(marks.sales),
                )
                .await?;
            let purchases = tx
                .fetch_all(
                    "SELECT id, revision, agent_id, property_id FROM purchases
                     WHERE (revision, id) > ($1, $2) ORDER BY revision, id LIMIT $3",
                    &page_params(marks.purchases),
                )
                .await?;
            tx.commit().await?;
            let full = [&leads, &removals, &sales, &purchases]
                .iter()
                .any(|rows| rows.len() as i64 == PAGE);
            // Decoding and redacting happen outside the lock; only the map updates are inside.
            let decoded = leads
                .iter()
                .map(|row| self.decode(row, &mut refresher))
                .collect::<Result<Vec<_>>>()?;
            let marks = &mut refresher.marks;
            {
                let mut contents = self.write();
                for lead in decoded {
                    marks.leads = (lead.revision, lead.property_id);
                    if by_place {
                        held_back.push(Arc::new(lead));
                    } else {
                        contents.insert_unless_stale(Arc::new(lead));
                    }
                }
                for row in &removals {
                    let (id, revision): (i64, i64) =
                        (row.get("property_id")?, row.get("revision")?);
                    if contents
                        .leads
                        .get(&id)
                        .is_some_and(|lead| lead.revision < revision)
                    {
                        contents.remove(id);
                    }
                    let tomb = contents.removed.entry(id).or_insert(revision);
                    *tomb = (*tomb).max(revision);
                    marks.removals = (revision, id);
                }
                for row in &sales {
                    let (id, revision): (i64, i64) =
                        (row.get("property_id")?, row.get("revision")?);
                    let sale = Sale {
                        buyers: row.get("buyers")?,
                        sold_out: row.get("sold_out")?,
                    };
                    let entry = contents.sales.entry(id).or_insert((revision, sale));
                    if entry.0 <= revision {
                        *entry = (revision, sale);
                    }
                    contents.mark_sold_out(id);
                    marks.sales = (revision, id);
                }
                for row in &purchases {
                    let agent: String = row.get("agent_id")?;
                    let property_id: i64 = row.get("property_id")?;
                    contents.owned.entry(agent).or_default().insert(property_id);
                    marks.purchases = (row.get("revision")?, row.get("id")?);
                }
                metrics::catalog_leads(contents.leads.len());
            }
            if !full {
                break;
            }
        }
        if !held_back.is_empty() {
            // Removals, sales and purchases are applied already; a lead read twice (updated
            // between two pages) or removed after it was read is settled by its revision.
            held_back.sort_unstable_by_key(|lead| {
                (lead.h3_cell.is_none(), lead.h3_cell, lead.property_id)
            });
            let mut contents = self.write();
            for lead in held_back {
                contents.insert_unless_stale(lead);
            }
            metrics::catalog_leads(contents.leads.len());
        }
        Ok(())
    }

    fn decode(&self, row: &DbRow, contents: &mut Refresher) -> Result<CatalogLead> {
        let contact = ContactText::from_row(row)?;
        let listing_kind: Option<String> = row.get("listing_kind")?;
        let exclusive = listing_kind
            .as_deref()
            .is_some_and(|k| self.exclusive_kinds.iter().any(|e| e == k));
        let title: Option<String> = row.get("title")?;
        let description: Option<String> = row.get("description")?;
        let title = title.map(|t| redact(&t, &contact));
        let description = description.map(|d| redact(&d, &contact));
        let stems = index::stems(&format!(
            "{} {}",
            title.as_deref().unwrap_or(""),
            description.as_deref().unwrap_or("")
        ));
        let city: Option<String> = row.get("city")?;
        let parts: [Option<String>; 6] = [
            title,
            description,
            row.get("street_address")?,
            row.get("unit_number")?,
            Some(row.get("fraud_reasons_json")?),
            Some(row.get("price_breakdown_json")?),
        ];
        let mut texts = String::with_capacity(parts.iter().flatten().map(String::len).sum());
        let mut ends = [0u32; 6];
        let mut present = 0u8;
        for (i, part) in parts.iter().enumerate() {
            if let Some(part) = part {
                texts.push_str(part);
                present |= 1 << i;
            }
            ends[i] = u32::try_from(texts.len())
                .map_err(|_| crate::Error::Internal("a lead's texts exceed 4 GiB".into()))?;
        }
        let status: String = row.get("status")?;
        let sources: String = row.get("sources")?;
        Ok(CatalogLead {
            revision: row.get("revision")?,
            property_id: row.get("property_id")?,
            listing_kind: contents.intern(listing_kind),
            property_type: contents.intern(row.get("property_type")?),
            price_period: contents.intern(row.get("price_period")?),
            city_folded: contents.intern(city.as_deref().map(str::to_lowercase)),
            city: contents.intern(city),
            state_or_province: contents.intern(row.get("state_or_province")?),
            postal_code: contents.intern(row.get("postal_code")?),
            status: contents
                .intern(Some(status))
                .unwrap_or_else(|| Arc::from("")),
            sources: contents
                .intern(Some(sources))
                .unwrap_or_else(|| Arc::from("")),
            list_price: row.get("list_price")?,
            bathrooms_total: row.get("bathrooms_total")?,
            latitude: row.get("latitude")?,
            longitude: row.get("longitude")?,
            bedrooms_total: row.get("bedrooms_total")?,
            living_area_sqft: row.get("living_area_sqft")?,
            h3_cell: row.get("h3_cell")?,
            fetched_at: row.get("fetched_at")?,
            posted_at: row.get("posted_at")?,
            fraud_score: row.get("fraud_score")?,
            quality_score: row.get("quality_score")?,
            completeness: row.get("completeness")?,
            lead_price: row.get("lead_price")?,
            listing_count: row.get("listing_count")?,
            exclusive,
            stems: stems.into_boxed_slice(),
            texts: texts.into_boxed_str(),
            ends,
            present,
        })
    }
}

fn page_params(after: (i64, i64)) -> [Param; 3] {
    [Param::I64(after.0), Param::I64(after.1), Param::I64(PAGE)]
}
