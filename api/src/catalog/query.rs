//! Searching the catalogue: the filters, sorts and cursors of the database search
//! (`search::search`), answered from memory.
//!
//! The exact filters (kind, property type, postal code, city, state, each word of the text) and
//! a radius's H3 cells give bitmaps of leads, intersected into the candidates. Then a page is found
//! one of two ways, whichever reads fewer leads: the candidates are filtered and sorted, or the
//! sort order itself is walked from the cursor, skipping leads that are not candidates, until the
//! page is full (few candidates: collect; many: the walk soon fills a page).

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::index::{kind_code, ordered, stems, time_key};
use super::{Catalog, CatalogLead, Contents};
use crate::db::Param;
use crate::search::{
    Cursor, Filters, LeadSummary, MAX_DISTANCE_CANDIDATES, Sort, decode_cursor, encode_cursor,
    fingerprint, fts_terms, h3_ranges, haversine_miles, key_param, row_key,
};
use crate::{Error, Result};

/// A radius whose cells hold more leads than this narrows through the distance check alone.
const RADIUS_CELLS_AT_MOST: usize = 250_000;

/// The filters, compiled once per search.
struct Matcher<'a> {
    filters: &'a Filters,
    city: Option<String>,
    /// `Some(empty)`: the text had only stop words, which match nothing (as in Postgres).
    stems: Option<Vec<u64>>,
    since: Option<i64>,
    radius: Option<(f64, f64, f64)>,
    priced_only: bool,
}

impl Matcher<'_> {
    fn matches(&self, lead: &CatalogLead, contents: &Contents) -> bool {
        let f = self.filters;
        let text_eq = |held: &Option<std::sync::Arc<str>>, wanted: &Option<String>| {
            wanted.as_deref().is_none_or(|w| held.as_deref() == Some(w))
        };
        let at_least = |held: Option<f64>, floor: Option<f64>| {
            floor.is_none_or(|floor| held.is_some_and(|v| v >= floor))
        };
        lead.is_active()
            && text_eq(&lead.listing_kind, &f.kind)
            && text_eq(&lead.property_type, &f.property_type)
            && text_eq(&lead.state_or_province, &f.state)
            && text_eq(&lead.postal_code, &f.postal_code)
            && self
                .city
                .as_deref()
                .is_none_or(|c| lead.city_folded.as_deref() == Some(c))
            && (!self.priced_only || lead.list_price.is_some())
            && at_least(lead.list_price, f.min_price)
            && f
                .max_price
                .is_none_or(|cap| lead.list_price.is_some_and(|v| v <= cap))
            && at_least(lead.bedrooms_total.map(|b| b as f64), f.min_beds.map(f64::from))
            && at_least(lead.bathrooms_total, f.min_baths.map(f64::from))
            && f.max_fraud_score.is_none_or(|cap| lead.fraud_score <= cap)
            && self
                .since
                .is_none_or(|since| time_key(lead.fetched_at) >= since)
            && self.stems.as_ref().is_none_or(|wanted| {
                !wanted.is_empty() && wanted.iter().all(|s| lead.stems.binary_search(s).is_ok())
            })
            && self.radius.is_none_or(|(lat, lon, r)| {
                matches!((lead.latitude, lead.longitude), (Some(la), Some(lo)) if haversine_miles(lat, lon, la, lo) <= r)
            })
            && !contents
                .sales
                .get(&lead.property_id)
                .is_some_and(|(_, sale)| sale.sold_out)
    }
}

/// The sort key of a lead, as an ordered integer.
fn key_of(sort: Sort, lead: &CatalogLead, center: Option<(f64, f64)>) -> i64 {
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => ordered(lead.list_price.unwrap_or(0.0)),
        Sort::Newest => time_key(lead.fetched_at),
        Sort::Quality => ordered(lead.quality_score),
        Sort::Distance => ordered(distance(lead, center).unwrap_or(f64::INFINITY)),
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
            filters,
            city: filters.city.as_deref().map(|c| c.trim().to_lowercase()),
            stems: filters
                .text
                .as_deref()
                .map(|text| stems(&fts_terms(text).join(" "))),
            since: filters
                .max_age_days
                .map(|days| time_key(chrono::Utc::now() - chrono::Duration::days(i64::from(days)))),
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
        let mut hits: Vec<(i64, &CatalogLead)> = Vec::with_capacity(limit + 1);
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
            let mut found: Vec<((i64, i64), &CatalogLead)> = Vec::new();
            let mut matched: i64 = 0;
            for slot in slots {
                let Some(lead) = contents.at(slot) else {
                    continue;
                };
                if matcher.matches(lead, &contents) {
                    matched += 1;
                    if sort == Sort::Distance && matched > MAX_DISTANCE_CANDIDATES {
                        return Err(Error::BadRequest(format!(
                            "more than {MAX_DISTANCE_CANDIDATES} leads lie in this area: add filters or a smaller radius to sort by distance"
                        )));
                    }
                    let key = (key_of(sort, lead, center), lead.property_id);
                    if beyond(key) {
                        found.push((key, lead));
                    }
                }
            }
            let take = (limit + 1).min(found.len());
            let order = |a: &((i64, i64), &CatalogLead), b: &((i64, i64), &CatalogLead)| {
                if asc { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) }
            };
            if take < found.len() {
                found.select_nth_unstable_by(take, order);
                found.truncate(take);
            }
            found.sort_unstable_by(order);
            hits.extend(found.into_iter().map(|((k, _), l)| (k, l)));
        } else {
            for (key, slot) in walk(&contents, filters, sort, after) {
                if narrowed.as_ref().is_some_and(|c| !c.contains(slot)) {
                    continue;
                }
                let Some(lead) = contents.at(slot) else {
                    continue;
                };
                if matcher.matches(lead, &contents) {
                    hits.push((key, lead));
                    if hits.len() > limit {
                        break;
                    }
                }
            }
        }
        let mut page: Vec<LeadSummary> = hits
            .iter()
            .map(|(_, lead)| {
                let mut summary = lead.summary();
                summary.distance_miles = distance(lead, center);
                summary
            })
            .collect();
        drop(contents);
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|last| {
                encode_cursor(&Cursor {
                    f: fp.clone(),
                    k: row_key(sort, last),
                    id: u64::from_str_radix(&last.property_id, 16).unwrap_or(0) as i64,
                })
            })
        } else {
            None
        };
        Ok((page, next))
    }
}

/// The intersection of the bitmaps the filters name (`None`: no filter narrows).
fn candidates(
    contents: &Contents,
    filters: &Filters,
    matcher: &Matcher<'_>,
) -> Option<RoaringBitmap> {
    let index = &contents.indexes;
    let mut sets: Vec<&RoaringBitmap> = Vec::new();
    // A value no lead has: nothing matches.
    let mut nothing = false;
    let exact: [(&HashMap<Arc<str>, RoaringBitmap>, Option<&str>); 5] = [
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
    sets.sort_by_key(|set| set.len());
    let mut narrowed: Option<RoaringBitmap> = sets.first().map(|first| (*first).clone());
    if let Some(result) = &mut narrowed {
        for set in &sets[1..] {
            *result &= *set;
        }
    }
    if let (Some((lat, lon, r)), Some(ranges)) = (
        matcher.radius,
        matcher
            .radius
            .and_then(|(lat, lon, r)| h3_ranges(lat, lon, r)),
    ) {
        let _ = (lat, lon, r);
        let mut circle = RoaringBitmap::new();
        let mut complete = true;
        'ranges: for (lo, hi) in ranges {
            for (_, slot) in index.cells.range((lo, 0)..=(hi, u32::MAX)) {
                if circle.len() as usize >= RADIUS_CELLS_AT_MOST {
                    complete = false;
                    break 'ranges;
                }
                circle.insert(*slot);
            }
        }
        if complete {
            narrowed = Some(match narrowed {
                Some(mut result) => {
                    result &= &circle;
                    result
                }
                None => circle,
            });
        }
    }
    narrowed
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
