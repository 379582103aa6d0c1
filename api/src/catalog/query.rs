//! Searching the catalogue: the filters, sorts and cursors of the database search
//! (`search::search`), answered from memory.
//!
//! The exact filters (kind, property type, postal code, city, state, each word of the text) and
//! a radius's H3 cells give bitmaps of leads, intersected into the candidates. Then a page is found
//! one of two ways, whichever reads fewer leads: the candidates are filtered and sorted, or the
//! sort order itself is walked from the cursor, skipping leads that are not candidates, until the
//! page is full (few candidates: collect; many: the walk soon fills a page).

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::index::{
    FilterRow, Groups, HAS_BATHS, HAS_POSITION, HAS_PRICE, kind_code, ordered, stems, time_key,
};
use super::{Catalog, CatalogLead, Contents};
use crate::db::Param;
use crate::search::{
    Cursor, Filters, LeadSummary, MAX_DISTANCE_CANDIDATES, Sort, decode_cursor, end_page,
    fingerprint, fts_terms, h3_ranges, haversine_miles, key_param,
};
use crate::{Error, Result};

/// A radius whose cells hold more leads than this narrows through the distance check alone.
const RADIUS_CELLS_AT_MOST: usize = 250_000;

/// The filters the candidates do not settle yet, compiled once per search. (The candidates hold
/// only active leads that pass the exact filters and the text: see `candidates`.)
struct Matcher {
    min_price: Option<f64>,
    max_price: Option<f64>,
    min_beds: Option<i16>,
    min_baths: Option<f64>,
    max_fraud_score: Option<f64>,
    city: Option<String>,
    /// `Some(empty)`: the text had only stop words, which match nothing (as in Postgres).
    stems: Option<Vec<u64>>,
    since: Option<i64>,
    radius: Option<(f64, f64, f64)>,
    /// A box around the radius's circle (a little larger, never smaller): most leads outside the
    /// circle are ruled out without the trigonometry.
    around: Option<Around>,
    priced_only: bool,
}

#[derive(Clone, Copy)]
struct Around {
    min_lat: f64,
    max_lat: f64,
    /// `None` when the circle reaches a pole (every longitude).
    lon: Option<(f64, f64)>,
}

impl Around {
    fn of(lat: f64, lon: f64, radius_miles: f64) -> Around {
        // A degree of latitude is 69.09 miles on the sphere; 1% more covers the rest (the widest
        // longitude of a spherical cap is asin(sin d / cos lat), a little more than d / cos lat).
        let dlat = radius_miles / 69.09 * 1.01;
        let widest = lat.abs() + dlat;
        let lon = (widest < 89.0).then(|| {
            let dlon = dlat / widest.to_radians().cos();
            (lon - dlon, lon + dlon)
        });
        Around {
            min_lat: lat - dlat,
            max_lat: lat + dlat,
            lon,
        }
    }

    fn holds(&self, lat: f64, lon: f64) -> bool {
        // Longitudes that wrap past ±180 are left to the exact distance.
        (self.min_lat..=self.max_lat).contains(&lat)
            && self
                .lon
                .is_none_or(|(lo, hi)| lo < -180.0 || hi > 180.0 || (lo..=hi).contains(&lon))
    }
}

impl Matcher {
    fn matches(&self, row: &FilterRow, slot: u32, contents: &Contents) -> bool {
        let priced = row.has(HAS_PRICE);
        (!self.priced_only || priced)
            && self
                .min_price
                .is_none_or(|floor| priced && row.list_price >= floor)
            && self
                .max_price
                .is_none_or(|cap| priced && row.list_price <= cap)
            && self
                .min_beds
                .is_none_or(|floor| row.bedrooms_total >= floor)
            && self
                .min_baths
                .is_none_or(|floor| row.has(HAS_BATHS) && row.bathrooms_total >= floor)
            && self
                .max_fraud_score
                .is_none_or(|cap| row.fraud_score <= cap)
            && self.since.is_none_or(|since| row.fetched_at >= since)
            && self.radius.is_none_or(|(lat, lon, r)| {
                row.has(HAS_POSITION)
                    && self
                        .around
                        .is_none_or(|around| around.holds(row.latitude, row.longitude))
                    && haversine_miles(lat, lon, row.latitude, row.longitude) <= r
            })
            && !contents.sold_out.contains(slot)
    }
}

/// The sort key of a lead, as an ordered integer.
fn key_of(sort: Sort, row: &FilterRow, center: Option<(f64, f64)>) -> i64 {
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => ordered(row.list_price),
        Sort::Newest => row.fetched_at,
        Sort::Quality => row.quality,
        Sort::Distance => ordered(match center {
            Some((lat, lon)) if row.has(HAS_POSITION) => {
                haversine_miles(lat, lon, row.latitude, row.longitude)
            }
            _ => f64::INFINITY,
        }),
    }
}

fn distance(lead: &CatalogLead, center: Option<(f64, f64)>) -> Option<f64> {
    let (lat, lon) = center?;
    Some(haversine_miles(lat, lon, lead.latitude?, lead.longitude?))
}

fn ascending(sort: Sort) -> bool {
    matches!(sort, Sort::PriceAsc | Sort::Distance)
}

impl Catalog {
    /// One page of a search, exactly as `search::search` would answer from the tables (as of the
    /// last refresh), except for full text, which reads the texts as everyone sees them.
    pub(crate) fn search(
        &self,
        filters: &Filters,
        sort: Sort,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<LeadSummary>, Option<String>)> {
        let fp = fingerprint(filters, sort);
        let cursor: Option<Cursor> = cursor.map(|c| decode_cursor(c, &fp)).transpose()?;
        let center = filters.lat.zip(filters.lon);
        if sort == Sort::Distance && center.is_none() {
            return Err(Error::BadRequest("sort=distance needs lat and lon".into()));
        }
        let after: Option<(i64, i64)> = match &cursor {
            Some(c) => Some((
                match key_param(sort, &c.k)? {
                    Param::Time(at) => time_key(at),
                    Param::F64(v) => ordered(v),
                    _ => {
                        return Err(Error::BadRequest(
                            "cursor is not one this search returned".into(),
                        ));
                    }
                },
                c.id,
            )),
            None => None,
        };
        let matcher = Matcher {
            min_price: filters.min_price,
            max_price: filters.max_price,
            min_beds: filters.min_beds.map(i16::from),
            min_baths: filters.min_baths.map(f64::from),
            max_fraud_score: filters.max_fraud_score,
            city: filters.city.as_deref().map(|c| c.trim().to_lowercase()),
            stems: filters
                .text
                .as_deref()
                .map(|text| stems(&fts_terms(text).join(" "))),
            since: filters
                .max_age_days
                .map(|days| time_key(chrono::Utc::now() - chrono::Duration::days(i64::from(days)))),
            around: center
                .zip(filters.radius_miles)
                .map(|((lat, lon), r)| Around::of(lat, lon, r)),
            radius: center
                .zip(filters.radius_miles)
                .map(|((lat, lon), r)| (lat, lon, r)),
            priced_only: matches!(sort, Sort::PriceAsc | Sort::PriceDesc),
        };
        let contents = self.read();
        let asc = ascending(sort);
        let beyond = |key: (i64, i64)| match after {
            None => true,
            Some(after) if asc => key > after,
            Some(after) => key < after,
        };
        let mut hits: Vec<&CatalogLead> = Vec::with_capacity(limit + 1);
        let everyone = contents.indexes.all.len().max(1);
        let narrowed = candidates(&contents, filters, &matcher);
        let wanted = (limit + 1) as u64;
        // Leads a walk would read to fill the page if candidates were spread evenly.
        let walk_reads = narrowed
            .as_ref()
            .map_or(wanted, |c| wanted.saturating_mul(everyone) / c.len().max(1));
        let collect = sort == Sort::Distance
            || narrowed
                .as_ref()
                .is_some_and(|c| c.len() <= walk_reads.saturating_mul(4));
        if collect {
            let all = &contents.indexes.all;
            let slots = narrowed.as_ref().unwrap_or(all);
            let mut found: Vec<((i64, i64), u32)> = Vec::new();
            let mut matched: i64 = 0;
            for slot in slots {
                let Some(row) = contents.row(slot) else {
                    continue;
                };
                if matcher.matches(row, slot, &contents) {
                    matched += 1;
                    if sort == Sort::Distance && matched > MAX_DISTANCE_CANDIDATES {
                        return Err(Error::BadRequest(format!(
                            "more than {MAX_DISTANCE_CANDIDATES} leads lie in this area: add filters or a smaller radius to sort by distance"
                        )));
                    }
                    let key = (key_of(sort, row, center), row.property_id);
                    if beyond(key) {
                        found.push((key, slot));
                    }
                }
            }
            let take = (limit + 1).min(found.len());
            let order = |a: &((i64, i64), u32), b: &((i64, i64), u32)| {
                if asc { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) }
            };
            if take < found.len() {
                found.select_nth_unstable_by(take, order);
                found.truncate(take);
            }
            found.sort_unstable_by(order);
            hits.extend(found.into_iter().filter_map(|(_, slot)| contents.at(slot)));
        } else {
            for (_, slot) in walk(&contents, filters, sort, after) {
                if narrowed.as_ref().is_some_and(|c| !c.contains(slot)) {
                    continue;
                }
                let (Some(row), Some(lead)) = (contents.row(slot), contents.at(slot)) else {
                    continue;
                };
                if matcher.matches(row, slot, &contents) {
                    hits.push(lead);
                    if hits.len() > limit {
                        break;
                    }
                }
            }
        }
        let page: Vec<LeadSummary> = hits
            .iter()
            .map(|lead| {
                let mut summary = lead.summary();
                summary.distance_miles = distance(lead, center);
                summary
            })
            .collect();
        drop(contents);
        Ok(end_page(page, limit, &fp, sort))
    }
}

/// The intersection of the bitmaps the filters name (`None`: no filter narrows).
fn candidates(contents: &Contents, filters: &Filters, matcher: &Matcher) -> Option<RoaringBitmap> {
    let index = &contents.indexes;
    let mut sets: Vec<&RoaringBitmap> = Vec::new();
    // A value no lead has: nothing matches.
    let mut nothing = false;
    let exact: [(&Groups<Arc<str>>, Option<&str>); 5] = [
        (&index.kind, filters.kind.as_deref()),
        (&index.property_type, filters.property_type.as_deref()),
        (&index.postal, filters.postal_code.as_deref()),
        (&index.city, matcher.city.as_deref()),
        (&index.state, filters.state.as_deref()),
    ];
    for (groups, value) in exact {
        if let Some(value) = value {
            match groups.get(value) {
                Some(set) => sets.push(set),
                None => nothing = true,
            }
        }
    }
    if let Some(stems) = &matcher.stems {
        if stems.is_empty() {
            nothing = true;
        }
        for stem in stems {
            match index.stems.get(stem) {
                Some(set) => sets.push(set),
                None => nothing = true,
            }
        }
    }
    if nothing {
        return Some(RoaringBitmap::new());
    }
    // The radius's leads first: usually the fewest, and owned already (no copy to intersect into).
    let mut circle: Option<RoaringBitmap> = None;
    if let Some(ranges) = matcher
        .radius
        .and_then(|(lat, lon, r)| h3_ranges(lat, lon, r))
    {
        let mut slots: Vec<u32> = Vec::new();
        let mut complete = true;
        'ranges: for (lo, hi) in ranges {
            for (_, slot) in index.cells.range((lo, 0)..=(hi, u32::MAX)) {
                if slots.len() >= RADIUS_CELLS_AT_MOST {
                    complete = false;
                    break 'ranges;
                }
                slots.push(*slot);
            }
        }
        if complete {
            // Appending sorted slots builds the bitmap far faster than inserting them one by one.
            slots.sort_unstable();
            slots.dedup();
            circle = RoaringBitmap::from_sorted_iter(slots).ok();
        }
    }
    sets.sort_by_key(|set| set.len());
    let mut rest = sets.into_iter();
    let mut narrowed = match circle {
        Some(circle) => circle,
        None => rest.next()?.clone(),
    };
    for set in rest {
        narrowed &= set;
        if narrowed.is_empty() {
            break;
        }
    }
    Some(narrowed)
}

/// The sort order from just past `after`, as `(key, slot)`.
fn walk<'a>(
    contents: &'a Contents,
    filters: &Filters,
    sort: Sort,
    after: Option<(i64, i64)>,
) -> Box<dyn Iterator<Item = (i64, u32)> + 'a> {
    let index = &contents.indexes;
    let asc = ascending(sort);
    let pairs = |set: &'a BTreeSet<(i64, i64, u32)>| -> Box<dyn Iterator<Item = (i64, u32)> + 'a> {
        let lowest = Bound::Included((i64::MIN, i64::MIN, 0));
        let highest = Bound::Included((i64::MAX, i64::MAX, u32::MAX));
        let range = match (after, asc) {
            (None, _) => (lowest, highest),
            // Ids are unique, so a slot bound past every slot keeps the cursor's own row out.
            (Some((k, id)), true) => (Bound::Excluded((k, id, u32::MAX)), highest),
            (Some((k, id)), false) => (lowest, Bound::Excluded((k, id, 0))),
        };
        let iter = set.range(range).map(|(k, _, slot)| (*k, *slot));
        if asc {
            Box::new(iter)
        } else {
            Box::new(iter.rev())
        }
    };
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => match &filters.kind {
            Some(kind) => {
                let code = kind_code(Some(kind));
                let lowest = Bound::Included((code, i64::MIN, i64::MIN, 0));
                let highest = Bound::Included((code, i64::MAX, i64::MAX, u32::MAX));
                let range = match (after, asc) {
                    (None, _) => (lowest, highest),
                    (Some((k, id)), true) => (Bound::Excluded((code, k, id, u32::MAX)), highest),
                    (Some((k, id)), false) => (lowest, Bound::Excluded((code, k, id, 0))),
                };
                let iter = index
                    .kind_price
                    .range(range)
                    .map(|(_, k, _, slot)| (*k, *slot));
                if asc {
                    Box::new(iter)
                } else {
                    Box::new(iter.rev())
                }
            }
            None => pairs(&index.price),
        },
        Sort::Newest => pairs(&index.newest),
        Sort::Quality => pairs(&index.quality),
        // Distance is always collected (see `search`).
        Sort::Distance => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_around_a_radius_holds_every_point_inside_it() {
        const EARTH_RADIUS_MILES: f64 = 3958.7613;
        for (lat, lon) in [
            (0.0, 0.0),
            (30.2672, -97.7431),
            (64.8378, -147.7164),
            (-33.9, 151.2),
        ] {
            for radius in [0.05, 1.0, 5.0, 60.0, 400.0, 500.0] {
                let around = Around::of(lat, lon, radius);
                for step in 0..360 {
                    let bearing = f64::from(step).to_radians();
                    let d = radius * 0.9999 / EARTH_RADIUS_MILES;
                    let (p1, l1) = (f64::to_radians(lat), f64::to_radians(lon));
                    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * bearing.cos()).asin();
                    let l2 = l1
                        + (bearing.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
                    let (la, lo) = (p2.to_degrees(), l2.to_degrees());
                    assert!(haversine_miles(lat, lon, la, lo) <= radius);
                    assert!(
                        around.holds(la, lo),
                        "({lat}, {lon}) radius {radius}: bearing {step} outside the box"
                    );
                }
            }
        }
    }
}
