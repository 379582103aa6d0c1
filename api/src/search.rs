//! Lead search: filters to SQL (parameterised), keyset ("cursor") pagination, radius searches
//! narrowed with H3 cells and decided with the exact great-circle distance.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use h3o::{CellIndex, LatLng, Resolution};
use serde::{Deserialize, Serialize};

use crate::db::{Backend, Db, DbRow, Param};
use crate::{Error, Result};

/// Mean Earth radius in miles (the great-circle distance uses a sphere, as H3 does).
const EARTH_RADIUS_MILES: f64 = 3958.7613;
pub(crate) const KM_PER_MILE: f64 = 1.609_344;
/// The largest radius a search accepts.
pub(crate) const MAX_RADIUS_MILES: f64 = 500.0;
/// Candidate rows a radius search sorted by distance may consider.
pub(crate) const MAX_DISTANCE_CANDIDATES: i64 = 50_000;
/// Rows read per round when a radius search is sorted by something else.
const RADIUS_CHUNK: i64 = 500;
/// H3 resolution of the stored cells (the normaliser's).
const STORED_RESOLUTION: Resolution = Resolution::Nine;

/// Search filters, as given in the query or understood from a natural-language `q`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// `rent` or `sale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `apartment`, `house`, `condo`, `townhouse`, `multi_family`, `manufactured`, `land`, `room`, `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_type: Option<String>,
    /// Dollars (per month for rentals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_beds: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_baths: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Two-letter state code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Centre of a radius search (with `radius_miles`), or the origin of `sort=distance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_miles: Option<f64>,
    /// The place a natural-language query named (informational; `lat`/`lon` carry its centre).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Words that must all appear in the title or description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only leads seen live within this many days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    /// Only leads whose fraud score is at most this (0 to 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fraud_score: Option<f64>,
}

impl Filters {
    /// Fills every filter `self` leaves open from `other` (explicit parameters win over `q`).
    pub(crate) fn or(mut self, other: Filters) -> Filters {
        macro_rules! fill {
            ($($field:ident),*) => { $( if self.$field.is_none() { self.$field = other.$field; } )* };
        }
        fill!(
            kind,
            property_type,
            min_price,
            max_price,
            min_beds,
            min_baths,
            city,
            state,
            postal_code,
            place,
            text,
            max_age_days,
            max_fraud_score
        );
        if self.lat.is_none() && self.lon.is_none() {
            self.lat = other.lat;
            self.lon = other.lon;
            if self.radius_miles.is_none() {
                self.radius_miles = other.radius_miles;
            }
        }
        self
    }

    pub(crate) fn validate(&mut self) -> Result<()> {
        let bad = |m: String| Err(Error::BadRequest(m));
        if let Some(kind) = &self.kind
            && kind != "rent"
            && kind != "sale"
        {
            return bad(format!("kind `{kind}` must be `rent` or `sale`"));
        }
        if let Some(t) = &self.property_type {
            const TYPES: [&str; 9] = [
                "apartment",
                "house",
                "condo",
                "townhouse",
                "multi_family",
                "manufactured",
                "land",
                "room",
                "other",
            ];
            if !TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "property_type `{t}` must be one of {}",
                    TYPES.join(", ")
                ));
            }
        }
        for (name, value) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if let Some(v) = value
                && !(v.is_finite() && (0.0..=1e10).contains(&v))
            {
                return bad(format!("{name} must be between 0 and 10,000,000,000"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_price, self.max_price)
            && lo > hi
        {
            return bad("min_price is above max_price".into());
        }
        if let Some(b) = self.min_baths
            && !(b.is_finite() && (0.0..=50.0).contains(&b))
        {
            return bad("min_baths must be between 0 and 50".into());
        }
        if let Some(b) = self.min_beds
            && b > 50
        {
            return bad("min_beds must be between 0 and 50".into());
        }
        if let Some(state) = &mut self.state {
            *state = state.trim().to_ascii_uppercase();
            if state.len() != 2 || !state.bytes().all(|b| b.is_ascii_uppercase()) {
                return bad("state must be a two-letter code such as TX".into());
            }
        }
        if let Some(zip) = &self.postal_code
            && !(zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad("postal_code must be five digits".into());
        }
        if let Some(city) = &self.city
            && (city.trim().is_empty() || city.len() > 80)
        {
            return bad("city must be 1 to 80 characters".into());
        }
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    return bad("lat must be between -90 and 90".into());
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    return bad("lon must be between -180 and 180".into());
                }
            }
            (None, None) => {
                if self.radius_miles.is_some() {
                    return bad("radius_miles needs lat and lon".into());
                }
            }
            _ => return bad("lat and lon go together".into()),
        }
        if let Some(r) = self.radius_miles
            && !(r.is_finite() && r > 0.0 && r <= MAX_RADIUS_MILES)
        {
            return bad(format!(
                "radius_miles must be above 0 and at most {MAX_RADIUS_MILES}"
            ));
        }
        if let Some(text) = &self.text
            && (fts_terms(text).is_empty() || text.len() > 200)
        {
            return bad("text must hold 1 to 200 characters with at least one word".into());
        }
        if let Some(d) = self.max_age_days
            && !(1..=3650).contains(&d)
        {
            return bad("max_age_days must be between 1 and 3650".into());
        }
        if let Some(f) = self.max_fraud_score
            && !(f.is_finite() && (0.0..=1.0).contains(&f))
        {
            return bad("max_fraud_score must be between 0 and 1".into());
        }
        Ok(())
    }

    fn center(&self) -> Option<(f64, f64)> {
        self.lat.zip(self.lon)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    PriceAsc,
    PriceDesc,
    Newest,
    Quality,
    Distance,
}

impl Sort {
    /// The SQL key column and whether it sorts descending.
    fn key(self) -> (&'static str, bool) {
        match self {
            Sort::PriceAsc => ("list_price", false),
            Sort::PriceDesc => ("list_price", true),
            Sort::Newest => ("fetched_at", true),
            Sort::Quality => ("quality_score", true),
            // Distance is computed, not stored; the SQL side reads in id order.
            Sort::Distance => ("property_id", false),
        }
    }
}

/// Where the previous page ended, plus a fingerprint of the search it belongs to.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Fingerprint of the filters and sort.
    pub(crate) f: String,
    /// The last row's sort key (number, or RFC 3339 time).
    pub(crate) k: serde_json::Value,
    pub(crate) id: i64,
}

/// A lead as search results show it (never any contact detail).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeadSummary {
    /// 16 hex digits.
    pub property_id: String,
    pub listing_kind: Option<String>,
    pub property_type: Option<String>,
    pub list_price: Option<f64>,
    pub price_period: Option<String>,
    pub bedrooms_total: Option<i64>,
    pub bathrooms_total: Option<f64>,
    pub living_area_sqft: Option<i64>,
    pub city: Option<String>,
    pub state_or_province: Option<String>,
    pub postal_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// H3 cell (resolution 9) in hex.
    pub h3_cell: Option<String>,
    /// The title with anything that looks like a phone number or e-mail address hidden.
    pub title: Option<String>,
    pub fetched_at: DateTime<Utc>,
    pub posted_at: Option<DateTime<Utc>>,
    pub fraud_score: f64,
    pub quality_score: f64,
    /// Price of the lead in credits.
    pub lead_price: i64,
    /// Exclusive leads sell once; shared ones up to the configured number of buyers.
    pub exclusive: bool,
    /// Great-circle distance from the search centre, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_miles: Option<f64>,
}

/// The columns a summary reads. Contact columns are read only to hide them inside free text.
pub(crate) const SUMMARY_COLUMNS: &str = "property_id, listing_kind, property_type, list_price,
    price_period, CAST(bedrooms_total AS BIGINT) AS bedrooms_total, bathrooms_total,
    living_area_sqft, city, state_or_province, postal_code, latitude, longitude, h3_cell, title,
    fetched_at, posted_at, fraud_score, quality_score, lead_price, contact_name, contact_phone,
    contact_email";

/// What a row's contact columns say, to hide them in free text.
pub(crate) struct ContactText {
    pub(crate) name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
}

impl ContactText {
    pub(crate) fn from_row(row: &DbRow) -> Result<ContactText> {
        Ok(ContactText {
            name: row.get("contact_name")?,
            phone: row.get("contact_phone")?,
            email: row.get("contact_email")?,
        })
    }
}

/// Hides contact details inside free text: the lead's own contact values, and anything shaped like
/// a phone number or an e-mail address (descriptions often repeat them).
pub(crate) fn redact(text: &str, contact: &ContactText) -> String {
    use std::sync::LazyLock;
    static EMAIL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z0-9._%+-]+\s*(?:@|\(at\)|\[at\])\s*[A-Za-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\])\s*[A-Za-z0-9-]+)+")
            .expect("valid regex")
    });
    static PHONE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?:\+?1[\s.\-]*)?\(?\d{3}\)?[\s.\-]*\d{3}[\s.\-]*\d{4}")
            .expect("valid regex")
    });
    const HIDDEN: &str = "[contact hidden until purchase]";
    let mut out = EMAIL.replace_all(text, HIDDEN).into_owned();
    out = PHONE.replace_all(&out, HIDDEN).into_owned();
    for value in [&contact.name, &contact.phone, &contact.email]
        .into_iter()
        .flatten()
    {
        let value = value.trim();
        if value.chars().count() >= 3 {
            out = replace_ignoring_ascii_case(&out, value, HIDDEN);
        }
    }
    out
}

/// `text` with every occurrence of `needle` (ASCII case ignored) replaced. No regex is compiled per
/// value: this runs for every row a search returns.
fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    // ASCII lower-casing keeps byte offsets, so matches in the folded copy are matches in `text`.
    let folded = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    while let Some(found) = folded[start..].find(&needle) {
        let at = start + found;
        out.push_str(&text[start..at]);
        out.push_str(with);
        start = at + needle.len();
    }
    out.push_str(&text[start..]);
    out
}

impl LeadSummary {
    pub(crate) fn from_row(row: &DbRow, exclusive_kinds: &[String]) -> Result<LeadSummary> {
        let contact = ContactText::from_row(row)?;
        let listing_kind: Option<String> = row.get("listing_kind")?;
        let exclusive = listing_kind
            .as_deref()
            .is_some_and(|k| exclusive_kinds.iter().any(|e| e == k));
        let h3_cell: Option<i64> = row.get("h3_cell")?;
        let title: Option<String> = row.get("title")?;
        Ok(LeadSummary {
            property_id: format!("{:016x}", row.get::<i64>("property_id")? as u64),
            listing_kind,
            property_type: row.get("property_type")?,
            list_price: row.get("list_price")?,
            price_period: row.get("price_period")?,
            bedrooms_total: row.get("bedrooms_total")?,
            bathrooms_total: row.get("bathrooms_total")?,
            living_area_sqft: row.get("living_area_sqft")?,
            city: row.get("city")?,
            state_or_province: row.get("state_or_province")?,
            postal_code: row.get("postal_code")?,
            latitude: row.get("latitude")?,
            longitude: row.get("longitude")?,
            h3_cell: h3_cell.map(|c| format!("{:x}", c as u64)),
            title: title.map(|t| redact(&t, &contact)),
            fetched_at: row.get("fetched_at")?,
            posted_at: row.get("posted_at")?,
            fraud_score: row.get("fraud_score")?,
            quality_score: row.get("quality_score")?,
            lead_price: row.get("lead_price")?,
            exclusive,
            distance_miles: None,
        })
    }
}

/// One page of results.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub items: Vec<LeadSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub sort: Sort,
    /// The filters applied (explicit parameters merged with what `q` was understood to mean).
    pub filters: Filters,
    /// What the natural-language `q` was understood to mean, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parsed: Option<crate::nlq::ParsedQuery>,
}

/// Great-circle distance in miles (haversine).
pub(crate) fn haversine_miles(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MILES * a.sqrt().min(1.0).asin()
}

/// Ranges of stored (resolution 9) cell ids that together cover every point within `radius_miles`
/// of the centre, or `None` when the radius is too large for H3 to narrow.
///
/// The resolution is the finest at which a disk of at most 8 rings covers the radius (the ring
/// count allows for ring spacing of about sqrt(3) edge lengths and edges varying about two-fold
/// within a resolution). Of that disk only the cells whose centre lies within the radius plus two
/// average edge lengths (more than any cell's circumradius) are kept: a point inside the radius
/// lies in a cell whose centre is at most one circumradius further. Each kept cell becomes the
/// contiguous id range of its resolution-9 descendants; touching ranges are merged.
pub(crate) fn h3_ranges(lat: f64, lon: f64, radius_miles: f64) -> Option<Vec<(i64, i64)>> {
    let point = LatLng::new(lat, lon).ok()?;
    let radius_km = radius_miles * KM_PER_MILE;
    let (resolution, rings) = (0..=9u8).rev().find_map(|r| {
        let resolution = Resolution::try_from(r).ok()?;
        let rings = (radius_km / resolution.edge_length_km()).ceil() as u32 + 2;
        (rings <= 8).then_some((resolution, rings))
    })?;
    let keep_within_miles = radius_miles + 2.0 * resolution.edge_length_km() / KM_PER_MILE;
    let center: CellIndex = point.to_cell(resolution);
    let mut ranges: Vec<(i64, i64)> = center
        .grid_disk::<Vec<CellIndex>>(rings)
        .into_iter()
        .filter(|cell| {
            let c = LatLng::from(*cell);
            haversine_miles(lat, lon, c.lat(), c.lng()) <= keep_within_miles
        })
        .filter_map(|cell| {
            let count = cell.children_count(STORED_RESOLUTION);
            let first = cell.child_at(0, STORED_RESOLUTION)?;
            let last = cell.child_at(count.checked_sub(1)?, STORED_RESOLUTION)?;
            Some((u64::from(first) as i64, u64::from(last) as i64))
        })
        .collect();
    ranges.sort_unstable();
    // Merge ranges that touch or overlap, so the SQL has fewer of them.
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Some(merged)
}

/// Words for FTS5 (each quoted, so operators in user text are just words); all must match.
pub(crate) fn fts_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| w.to_lowercase())
        .collect()
}

/// A WHERE clause being assembled with numbered parameters.
pub(crate) struct Sql {
    pub(crate) clauses: Vec<String>,
    pub(crate) params: Vec<Param>,
    /// When set, a radius's H3 ranges are kept here (for a join) instead of becoming a WHERE clause.
    pub(crate) h3_as_join: bool,
    pub(crate) h3_ranges: Option<Vec<(i64, i64)>>,
}

impl Sql {
    pub(crate) fn new() -> Sql {
        Sql {
            clauses: vec![
                "status = 'active'".into(),
                // Sold-out leads (an exclusive one bought, a shared one at its buyer limit) are gone
                // from the marketplace.
                "NOT EXISTS (SELECT 1 FROM lead_sales s WHERE s.property_id = leads.property_id AND s.sold_out)".into(),
            ],
            params: Vec::new(),
            h3_as_join: false,
            h3_ranges: None,
        }
    }

    /// A statement's own parameters with no clauses.
    pub(crate) fn empty() -> Sql {
        Sql {
            clauses: Vec::new(),
            params: Vec::new(),
            h3_as_join: false,
            h3_ranges: None,
        }
    }

    /// The placeholder for a new parameter.
    pub(crate) fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    pub(crate) fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    pub(crate) fn where_clause(&self) -> String {
        self.clauses.join(" AND ")
    }
}

/// Adds every filter's condition.
pub(crate) fn filter_sql(sql: &mut Sql, filters: &Filters, backend: Backend) {
    if let Some(kind) = &filters.kind {
        let p = sql.bind(Param::Text(kind.clone()));
        sql.push(format!("listing_kind = {p}"));
    }
    if let Some(t) = &filters.property_type {
        let p = sql.bind(Param::Text(t.clone()));
        sql.push(format!("property_type = {p}"));
    }
    if let Some(v) = filters.min_price {
        let p = sql.bind(Param::F64(v));
        sql.push(format!("list_price >= {p}"));
    }
    if let Some(v) = filters.max_price {
        let p = sql.bind(Param::F64(v));
        sql.push(format!("list_price <= {p}"));
    }
    if let Some(v) = filters.min_beds {
        let p = sql.bind(Param::I64(i64::from(v)));
        sql.push(format!("bedrooms_total >= {p}"));
    }
    if let Some(v) = filters.min_baths {
        let p = sql.bind(Param::F64(f64::from(v)));
        sql.push(format!("bathrooms_total >= {p}"));
    }
    if let Some(state) = &filters.state {
        let p = sql.bind(Param::Text(state.clone()));
        sql.push(format!("state_or_province = {p}"));
    }
    if let Some(city) = &filters.city {
        let p = sql.bind(Param::Text(city.trim().to_lowercase()));
        sql.push(format!("lower(city) = {p}"));
    }
    if let Some(zip) = &filters.postal_code {
        let p = sql.bind(Param::Text(zip.clone()));
        sql.push(format!("postal_code = {p}"));
    }
    if let Some(text) = &filters.text {
        let terms = fts_terms(text);
        match backend {
            Backend::Postgres => {
                let p = sql.bind(Param::Text(terms.join(" ")));
                sql.push(format!("search_tsv @@ plainto_tsquery('english', {p})"));
            }
            Backend::Sqlite => {
                let query = terms
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(" ");
                let p = sql.bind(Param::Text(query));
                sql.push(format!(
                    "property_id IN (SELECT rowid FROM leads_fts WHERE leads_fts MATCH {p})"
                ));
            }
        }
    }
    if let Some(days) = filters.max_age_days {
        let since = Utc::now() - chrono::Duration::days(i64::from(days));
        let p = sql.bind(Param::Time(since));
        sql.push(format!("fetched_at >= {p}"));
    }
    if let Some(v) = filters.max_fraud_score {
        let p = sql.bind(Param::F64(v));
        sql.push(format!("fraud_score <= {p}"));
    }
    if let (Some((lat, lon)), Some(radius)) = (filters.center(), filters.radius_miles) {
        // A bounding box (no index, but cheap) and, where H3 can narrow, ranges of cell ids (index).
        let dlat = radius / 69.0;
        let dlon = radius / (69.172 * lat.to_radians().cos().max(0.01));
        let ps: Vec<String> = [lat - dlat, lat + dlat, lon - dlon, lon + dlon]
            .into_iter()
            .map(|v| sql.bind(Param::F64(v)))
            .collect();
        sql.push(format!(
            "latitude BETWEEN {} AND {} AND longitude BETWEEN {} AND {}",
            ps[0], ps[1], ps[2], ps[3]
        ));
        if let Some(ranges) = h3_ranges(lat, lon, radius)
            && sql.h3_as_join
        {
            sql.h3_ranges = Some(ranges);
        } else if let Some(ranges) = h3_ranges(lat, lon, radius) {
            let ors: Vec<String> = ranges
                .into_iter()
                .map(|(lo, hi)| {
                    let lo = sql.bind(Param::I64(lo));
                    let hi = sql.bind(Param::I64(hi));
                    format!("h3_cell BETWEEN {lo} AND {hi}")
                })
                .collect();
            sql.push(format!("({})", ors.join(" OR ")));
        }
    }
}

pub(crate) fn fingerprint(filters: &Filters, sort: Sort) -> String {
    let text = serde_json::to_string(&(filters, sort)).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

fn encode_cursor(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub(crate) fn decode_cursor(text: &str, expected_fingerprint: &str) -> Result<Cursor> {
    let bad = || Error::BadRequest("cursor is not one this search returned".into());
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if cursor.f != expected_fingerprint {
        return Err(Error::BadRequest(
            "cursor belongs to a search with other filters or another sort".into(),
        ));
    }
    Ok(cursor)
}

pub(crate) fn key_param(sort: Sort, key: &serde_json::Value) -> Result<Param> {
    let bad = || Error::BadRequest("cursor is not one this search returned".into());
    Ok(match sort {
        Sort::Newest => Param::Time(
            key.as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .ok_or_else(bad)?
                .with_timezone(&Utc),
        ),
        // Numbers travel as their bits: a decimal round trip could move them by one ulp, and a
        // page would then repeat or skip a row.
        Sort::PriceAsc | Sort::PriceDesc | Sort::Quality | Sort::Distance => Param::F64(
            key.as_u64()
                .map(f64::from_bits)
                .filter(|v| v.is_finite())
                .ok_or_else(bad)?,
        ),
    })
}

fn row_key(sort: Sort, summary: &LeadSummary) -> serde_json::Value {
    let bits = |v: Option<f64>| serde_json::json!(v.unwrap_or(0.0).to_bits());
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => bits(summary.list_price),
        Sort::Newest => serde_json::json!(summary.fetched_at.to_rfc3339()),
        Sort::Quality => bits(Some(summary.quality_score)),
        Sort::Distance => bits(summary.distance_miles),
    }
}

/// Runs a search and returns one page.
pub(crate) async fn search(
    db: &Db,
    filters: &Filters,
    sort: Sort,
    limit: usize,
    cursor: Option<&str>,
    exclusive_kinds: &[String],
) -> Result<(Vec<LeadSummary>, Option<String>)> {
    let fp = fingerprint(filters, sort);
    let cursor = cursor.map(|c| decode_cursor(c, &fp)).transpose()?;
    if sort == Sort::Distance && filters.center().is_none() {
        return Err(Error::BadRequest("sort=distance needs lat and lon".into()));
    }
    let (key, descending) = sort.key();
    let dir = if descending { "DESC" } else { "ASC" };
    let cmp = if descending { "<" } else { ">" };
    let mut base = Sql::new();
    filter_sql(&mut base, filters, db.backend());
    if matches!(sort, Sort::PriceAsc | Sort::PriceDesc) {
        // Price sorts list the leads that have a price.
        base.push("list_price IS NOT NULL".into());
    }
    let mut page: Vec<LeadSummary> = Vec::with_capacity(limit + 1);
    let with_distance = |mut s: LeadSummary| {
        if let (Some((lat, lon)), Some(la), Some(lo)) = (filters.center(), s.latitude, s.longitude)
        {
            s.distance_miles = Some(haversine_miles(lat, lon, la, lo));
        }
        s
    };
    let inside = |s: &LeadSummary| match (filters.radius_miles, s.distance_miles) {
        (Some(r), Some(d)) => d <= r,
        (Some(_), None) => false,
        (None, _) => true,
    };
    if sort == Sort::Distance {
        // Every candidate the H3 cells and box admit, as (id, position) only; the exact distance
        // decides and sorts, and only the page's rows are then read in full.
        // The cell ranges drive the query as a join (one index range scan each, which can stay in
        // the covering index) rather than as an OR of ranges (one bitmap over the table rows).
        let mut candidates = Sql::new();
        candidates.h3_as_join = true;
        filter_sql(&mut candidates, filters, db.backend());
        let from = match candidates.h3_ranges.take() {
            Some(ranges) => {
                let selects: Vec<String> = ranges
                    .into_iter()
                    .map(|(lo, hi)| {
                        let lo = candidates.bind(Param::I64(lo));
                        let hi = candidates.bind(Param::I64(hi));
                        format!("SELECT CAST({lo} AS BIGINT) AS lo, CAST({hi} AS BIGINT) AS hi")
                    })
                    .collect();
                format!(
                    "({}) AS cells JOIN leads ON leads.h3_cell BETWEEN cells.lo AND cells.hi",
                    selects.join(" UNION ALL ")
                )
            }
            None => "leads".to_owned(),
        };
        let limit_param = candidates.bind(Param::I64(MAX_DISTANCE_CANDIDATES + 1));
        let sql = format!(
            "SELECT leads.property_id AS property_id, latitude, longitude FROM {from} WHERE {} LIMIT {limit_param}",
            candidates.where_clause()
        );
        let rows = db.fetch_all(&sql, &candidates.params).await?;
        if rows.len() as i64 > MAX_DISTANCE_CANDIDATES {
            return Err(Error::BadRequest(format!(
                "more than {MAX_DISTANCE_CANDIDATES} leads lie in this area: add filters or a smaller radius to sort by distance"
            )));
        }
        let (lat, lon) = filters.center().unwrap_or_default();
        let mut all: Vec<(f64, i64)> = Vec::with_capacity(rows.len());
        for row in &rows {
            let (Some(la), Some(lo)) = (
                row.get::<Option<f64>>("latitude")?,
                row.get::<Option<f64>>("longitude")?,
            ) else {
                continue;
            };
            let d = haversine_miles(lat, lon, la, lo);
            if filters.radius_miles.is_none_or(|r| d <= r) {
                all.push((d, row.get("property_id")?));
            }
        }
        let after = match &cursor {
            Some(c) => match key_param(sort, &c.k)? {
                Param::F64(d) => Some((d, c.id)),
                _ => None,
            },
            None => None,
        };
        if let Some(after) = after {
            all.retain(|(d, id)| (*d, *id) > after);
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(limit + 1);
        if !all.is_empty() {
            let mut fetch = Sql::empty();
            let ps: Vec<String> = all
                .iter()
                .map(|(_, id)| fetch.bind(Param::I64(*id)))
                .collect();
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM leads WHERE property_id IN ({})",
                ps.join(", ")
            );
            let mut by_id = std::collections::HashMap::new();
            for row in db.fetch_all(&sql, &fetch.params).await? {
                let id: i64 = row.get("property_id")?;
                by_id.insert(
                    id,
                    with_distance(LeadSummary::from_row(&row, exclusive_kinds)?),
                );
            }
            page.extend(all.iter().filter_map(|(_, id)| by_id.remove(id)));
        }
    } else {
        // Keyset pages in the sort order; with a radius, read in chunks and keep what is inside.
        let chunk = if filters.radius_miles.is_some() {
            RADIUS_CHUNK
        } else {
            limit as i64 + 1
        };
        let mut after: Option<(Param, i64)> = match &cursor {
            Some(c) => Some((key_param(sort, &c.k)?, c.id)),
            None => None,
        };
        loop {
            let mut sql = Sql::empty();
            sql.clauses = base.clauses.clone();
            sql.params = base.params.clone();
            if let Some((k, id)) = after.clone() {
                let kp = sql.bind(k);
                let ip = sql.bind(Param::I64(id));
                sql.push(format!("({key}, property_id) {cmp} ({kp}, {ip})"));
            }
            let lp = sql.bind(Param::I64(chunk));
            let text = format!(
                "SELECT {SUMMARY_COLUMNS} FROM leads WHERE {} ORDER BY {key} {dir}, property_id {dir} LIMIT {lp}",
                sql.where_clause()
            );
            let rows = db.fetch_all(&text, &sql.params).await?;
            let fetched = rows.len() as i64;
            for row in &rows {
                let s = with_distance(LeadSummary::from_row(row, exclusive_kinds)?);
                let id: i64 = row.get("property_id")?;
                after = Some((
                    match sort {
                        Sort::Newest => Param::Time(s.fetched_at),
                        Sort::Quality => Param::F64(s.quality_score),
                        _ => Param::F64(s.list_price.unwrap_or(0.0)),
                    },
                    id,
                ));
                if inside(&s) {
                    page.push(s);
                    if page.len() > limit {
                        break;
                    }
                }
            }
            if page.len() > limit || fetched < chunk {
                break;
            }
        }
    }
    Ok(end_page(page, limit, &fp, sort))
}

/// Cuts `page` (read with one row more than `limit`) to `limit` rows, with the cursor of its last
/// row when there is more.
pub(crate) fn end_page(
    mut page: Vec<LeadSummary>,
    limit: usize,
    fingerprint: &str,
    sort: Sort,
) -> (Vec<LeadSummary>, Option<String>) {
    if page.len() <= limit {
        return (page, None);
    }
    page.truncate(limit);
    let next = page.last().map(|last| {
        encode_cursor(&Cursor {
            f: fingerprint.to_owned(),
            k: row_key(sort, last),
            id: u64::from_str_radix(&last.property_id, 16).unwrap_or(0) as i64,
        })
    });
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_a_known_distance() {
        // Austin to Dallas city halls: about 182 miles.
        let d = haversine_miles(30.2672, -97.7431, 32.7767, -96.7970);
        assert!((d - 182.0).abs() < 2.0, "{d}");
    }

    #[test]
    fn h3_ranges_cover_every_point_inside_the_radius() {
        for (lat, lon) in [
            (30.2672, -97.7431),
            (47.6062, -122.3321),
            (25.7617, -80.1918),
            (64.8378, -147.7164),
        ] {
            for radius in [0.05, 0.3, 1.0, 2.2, 3.0, 5.0, 7.5, 25.0, 60.0, 120.0, 400.0] {
                let ranges = h3_ranges(lat, lon, radius).expect("ranges");
                // Points at 99.9% of the radius, in 360 directions.
                for step in 0..360 {
                    let bearing = f64::from(step).to_radians();
                    let d = radius * 0.999 / EARTH_RADIUS_MILES;
                    let (p1, l1) = (lat.to_radians(), lon.to_radians());
                    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).asin();
                    let l2 = l1
                        + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
                    let cell = LatLng::new(p2.to_degrees(), l2.to_degrees())
                        .unwrap()
                        .to_cell(STORED_RESOLUTION);
                    let id = u64::from(cell) as i64;
                    assert!(
                        ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&id)),
                        "radius {radius}: point at bearing {step} not covered"
                    );
                }
            }
        }
    }

    #[test]
    fn contact_details_are_hidden_in_free_text() {
        let contact = ContactText {
            name: Some("Maria Lopez".into()),
            phone: Some("+15125550147".into()),
            email: Some("maria@example.com".into()),
        };
        let text =
            "Call Maria Lopez at (512) 555-0147 or 512.555.0147, maria (at) example (dot) com";
        let out = redact(text, &contact);
        for leaked in ["Maria", "555", "0147", "maria", "example"] {
            assert!(!out.contains(leaked), "{leaked} in {out}");
        }
        assert!(out.starts_with("Call [contact hidden"), "{out}");
    }
}
