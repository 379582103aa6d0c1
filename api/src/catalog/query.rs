//! Searching the catalogue: the filters, sorts and cursors of the database search
//! (`search::search`), answered from memory.
//!
//! A page is found one of two ways. When an index narrows the search to a few thousand leads
//! (a postal code, a city, a state, the H3 cells of a radius), those are filtered and sorted.
//! Otherwise the sort order itself is walked from the cursor, filtering as it goes, until the page
//! is full: cheap whenever the filters let a fair share of leads through, which is exactly when
//! no index narrows.

use std::collections::HashSet;
use std::ops::Bound;

use super::index::{kind_code, ordered, stems, time_key};
use super::{Catalog, CatalogLead, Contents};
use crate::db::Param;
use crate::search::{
    Cursor, Filters, LeadSummary, MAX_DISTANCE_CANDIDATES, Sort, decode_cursor, encode_cursor,
    fingerprint, fts_terms, h3_ranges, haversine_miles, key_param, row_key,
};
use crate::{Error, Result};

/// Candidate sets up to this size are filtered and sorted; larger ones walk the sort order.
const COLLECT_AT_MOST: usize = 20_000;

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
        let narrowed = candidates(&contents, filters, sort);
        match narrowed {
            Some(ids) => {
                let mut found: Vec<((i64, i64), &CatalogLead)> = Vec::new();
                for id in ids {
                    let Some(lead) = contents.leads.get(&id) else {
                        continue;
                    };
                    if matcher.matches(lead, &contents) {
                        let key = (key_of(sort, lead, center), id);
                        if sort == Sort::Distance && found.len() as i64 >= MAX_DISTANCE_CANDIDATES {
                            return Err(Error::BadRequest(format!(
                                "more than {MAX_DISTANCE_CANDIDATES} leads lie in this area: add filters or a smaller radius to sort by distance"
                            )));
                        }
                        if beyond(key) {
                            found.push((key, lead));
                        }
                    }
                }
                if asc {
                    found.sort_unstable_by_key(|(key, _)| *key);
                } else {
                    found.sort_unstable_by_key(|(key, _)| std::cmp::Reverse(*key));
                }
                hits.extend(found.into_iter().take(limit + 1).map(|((k, _), l)| (k, l)));
            }
            None => {
                for (key, id) in walk(&contents, filters, sort, after) {
                    let Some(lead) = contents.leads.get(&id) else {
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

/// The leads an index narrows the search to, when one narrows it enough (or, sorted by distance,
/// always: distance has no stored order to walk).
fn candidates(contents: &Contents, filters: &Filters, sort: Sort) -> Option<Vec<i64>> {
    let index = &contents.indexes;
    let folded_city = filters.city.as_deref().map(|c| c.trim().to_lowercase());
    let exact: [Option<&HashSet<i64>>; 3] = [
        filters
            .postal_code
            .as_deref()
            .map(|zip| index.postal.get(zip).unwrap_or(&EMPTY)),
        folded_city
            .as_deref()
            .map(|city| index.city.get(city).unwrap_or(&EMPTY)),
        filters
            .state
            .as_deref()
            .map(|state| index.state.get(state).unwrap_or(&EMPTY)),
    ];
    let best: Option<&HashSet<i64>> = exact.into_iter().flatten().min_by_key(|set| set.len());
    let cap = if sort == Sort::Distance {
        usize::MAX
    } else {
        COLLECT_AT_MOST
    };
    let best_len = best.map_or(usize::MAX, HashSet::len);
    if let (Some(lat), Some(lon), Some(r)) = (filters.lat, filters.lon, filters.radius_miles)
        && let Some(ranges) = h3_ranges(lat, lon, r)
    {
        // The cells of the circle, unless an exact filter is already narrower.
        let mut ids = Vec::new();
        let mut complete = true;
        'ranges: for (lo, hi) in ranges {
            for (_, id) in index.cells.range((lo, i64::MIN)..=(hi, i64::MAX)) {
                if ids.len() >= best_len.min(cap) {
                    complete = false;
                    break 'ranges;
                }
                ids.push(*id);
            }
        }
        if complete {
            return Some(ids);
        }
    }
    match best {
        Some(set) if set.len() <= cap => Some(set.iter().copied().collect()),
        _ if sort == Sort::Distance => Some(index.all.iter().copied().collect()),
        _ => None,
    }
}

static EMPTY: std::sync::LazyLock<HashSet<i64>> = std::sync::LazyLock::new(HashSet::new);

/// The sort order from just past `after`, as `(key, property_id)`.
fn walk<'a>(
    contents: &'a Contents,
    filters: &Filters,
    sort: Sort,
    after: Option<(i64, i64)>,
) -> Box<dyn Iterator<Item = (i64, i64)> + 'a> {
    let index = &contents.indexes;
    let asc = ascending(sort);
    let pairs = |set: &'a std::collections::BTreeSet<(i64, i64)>| -> Box<dyn Iterator<Item = (i64, i64)> + 'a> {
        match (after, asc) {
            (None, true) => Box::new(set.iter().copied()),
            (None, false) => Box::new(set.iter().rev().copied()),
            (Some(a), true) => Box::new(set.range((Bound::Excluded(a), Bound::Unbounded)).copied()),
            (Some(a), false) => Box::new(set.range((Bound::Unbounded, Bound::Excluded(a))).rev().copied()),
        }
    };
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => match &filters.kind {
            Some(kind) => {
                let code = kind_code(Some(kind));
                let lowest = Bound::Included((code, i64::MIN, i64::MIN));
                let highest = Bound::Included((code, i64::MAX, i64::MAX));
                let range = match (after, asc) {
                    (None, _) => (lowest, highest),
                    (Some((k, id)), true) => (Bound::Excluded((code, k, id)), highest),
                    (Some((k, id)), false) => (lowest, Bound::Excluded((code, k, id))),
                };
                let iter = index.kind_price.range(range).map(|(_, k, id)| (*k, *id));
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
        // Distance always has candidates (see `candidates`).
        Sort::Distance => Box::new(std::iter::empty()),
    }
}
