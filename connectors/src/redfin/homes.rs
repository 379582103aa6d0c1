//! Redfin JSON documents: search-result home objects and scraped property records.

use std::collections::{HashMap, HashSet, VecDeque};

use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use url::Url;

use super::{kind_from_status, new_listing, property_id_from_url, put_extra};
use crate::error::{Error, NoListingReason, Result};
use crate::page::SkippedItem;
use crate::util::json::text_of;

/// Which of the two record shapes an object is.
enum Record<'a> {
    /// A search-result home (`propertyId`, `price.value`, `latLong.value`...).
    SearchHome(&'a Map<String, Value>),
    /// A property record a scraper built from a property page (`propertyUrl`, `address`...).
    Scraped(&'a Map<String, Value>),
}

/// Every home in the document, in document order; the same property twice is kept once.
pub(super) fn parse(
    document: &Value,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> Result<(Vec<RawListing>, Vec<SkippedItem>)> {
    let (records, saw_list) = find_records(document);
    if records.is_empty() {
        return Err(if saw_list {
            Error::no_listing(NoListingReason::Empty, "a result list without homes")
        } else {
            Error::unrecognised("JSON without Redfin homes")
        });
    }
    let mut listings = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    for record in records {
        let listing = match record {
            Record::SearchHome(home) => search_home(home, base, fetched_at),
            Record::Scraped(record) => scraped_property(record, base, fetched_at),
        };
        let Ok(listing) = listing else {
            skipped.push(SkippedItem {
                id: String::new(),
                reason: "a home without a Redfin property id".to_owned(),
            });
            continue;
        };
        let id = listing.source_listing_id.clone().unwrap_or_default();
        if seen.insert(id.clone()) {
            listings.push(listing);
        } else {
            skipped.push(SkippedItem {
                id,
                reason: "the same property appears twice".to_owned(),
            });
        }
    }
    Ok((listings, skipped))
}

/// Breadth-first (no recursion, so nesting depth cannot overflow the stack), not descending into a
/// record, so a home's nested objects never count as more homes. Also tells whether the document
/// had a result list at all (a top-level array or a `homes` array), even an empty one.
fn find_records(document: &Value) -> (Vec<Record<'_>>, bool) {
    let mut records = Vec::new();
    let mut saw_list = matches!(document, Value::Array(_));
    let mut queue = VecDeque::from([document]);
    while let Some(value) = queue.pop_front() {
        match value {
            Value::Object(object) => {
                if object.contains_key("propertyId")
                    && ["latLong", "streetLine", "price", "url"]
                        .iter()
                        .any(|key| object.contains_key(*key))
                {
                    records.push(Record::SearchHome(object));
                } else if object.contains_key("propertyUrl") && object.contains_key("address") {
                    records.push(Record::Scraped(object));
                } else {
                    for (key, child) in object {
                        saw_list |= key == "homes" && child.is_array();
                        queue.push_back(child);
                    }
                }
            }
            Value::Array(items) => queue.extend(items),
            _ => {}
        }
    }
    (records, saw_list)
}

/// Redfin wraps most search fields as `{"value": x, "level": n}` (the level says who may see it);
/// this reads either that or a bare value.
fn shown<'a>(home: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let value = home.get(key)?;
    match value {
        Value::Object(wrapped) => wrapped.get("value"),
        other => Some(other),
    }
}

fn shown_text(home: &Map<String, Value>, key: &str) -> Option<String> {
    shown(home, key).and_then(text_of)
}

/// Redfin's `uiPropertyType` codes, as the labels its search filters show.
fn ui_property_type(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "House",
        2 => "Condo",
        3 => "Townhouse",
        4 => "Multi-family",
        5 => "Land",
        6 => "Other",
        7 => "Manufactured",
        8 => "Co-op",
        _ => return None,
    })
}

fn search_home(
    home: &Map<String, Value>,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> std::result::Result<RawListing, ()> {
    let url = home
        .get("url")
        .and_then(text_of)
        .and_then(|path| base.join(&path).ok())
        .map(|url| url.to_string());
    let id = home
        .get("propertyId")
        .and_then(text_of)
        .or_else(|| url.as_deref().and_then(property_id_from_url))
        .ok_or(())?;
    let mut listing = new_listing(id, url, fetched_at);
    let status = home.get("mlsStatus").and_then(text_of);
    listing.listing_kind = if home.contains_key("rentalExtension") {
        Some("for rent".to_owned())
    } else {
        status
            .as_deref()
            .and_then(kind_from_status)
            .map(str::to_owned)
    };
    listing.property_type = home
        .get("uiPropertyType")
        .and_then(Value::as_i64)
        .and_then(ui_property_type)
        .map(str::to_owned);
    listing.list_price = shown_text(home, "price");
    listing.bedrooms_total = shown_text(home, "beds");
    listing.bathrooms_total = shown_text(home, "baths");
    listing.living_area_sqft = shown_text(home, "sqFt");
    listing.street_address = shown_text(home, "streetLine");
    listing.unit_number = shown_text(home, "unitNumber");
    listing.city = home.get("city").and_then(text_of);
    listing.state_or_province = home.get("state").and_then(text_of);
    listing.postal_code = home
        .get("zip")
        .and_then(text_of)
        .or_else(|| shown_text(home, "postalCode"));
    if let Some(point) = shown(home, "latLong") {
        listing.latitude = point.get("latitude").and_then(text_of);
        listing.longitude = point.get("longitude").and_then(text_of);
    }
    listing.description = home.get("listingRemarks").and_then(text_of);
    listing.contact_name = home
        .get("listingAgent")
        .and_then(|agent| agent.get("name"))
        .and_then(text_of);

    put_extra(
        &mut listing,
        "listing_id",
        home.get("listingId").and_then(text_of),
    );
    put_extra(&mut listing, "mls_id", shown_text(home, "mlsId"));
    put_extra(&mut listing, "status", status);
    put_extra(&mut listing, "year_built", shown_text(home, "yearBuilt"));
    put_extra(&mut listing, "lot_size_sqft", shown_text(home, "lotSize"));
    put_extra(&mut listing, "hoa_fee", shown_text(home, "hoa"));
    put_extra(&mut listing, "days_on_market", shown_text(home, "dom"));
    put_extra(&mut listing, "neighbourhood", shown_text(home, "location"));
    put_extra(
        &mut listing,
        "broker_name",
        home.get("listingBroker")
            .and_then(|broker| broker.get("name"))
            .and_then(text_of),
    );
    Ok(listing)
}

fn scraped_property(
    record: &Map<String, Value>,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> std::result::Result<RawListing, ()> {
    let url = record
        .get("propertyUrl")
        .and_then(text_of)
        .and_then(|link| base.join(&link).ok())
        .map(|url| url.to_string());
    let id = url.as_deref().and_then(property_id_from_url).ok_or(())?;
    let mut listing = new_listing(id, url, fetched_at);
    let features = feature_lines(record.get("features"));
    let feature = |label: &str| features.get(label).cloned();

    if let Some(address) = record.get("address").and_then(text_of) {
        match split_address(&address) {
            Some((street, city, state, zip)) => {
                listing.street_address = Some(street.to_owned());
                listing.city = Some(city.to_owned());
                listing.state_or_province = Some(state.to_owned());
                listing.postal_code = Some(zip.to_owned());
            }
            None => listing.street_address = Some(address),
        }
    }
    listing.list_price = record.get("price").and_then(text_of);
    listing.description = record.get("description").and_then(text_of);
    let status = feature("Mls Status");
    listing.listing_kind = status
        .as_deref()
        .and_then(kind_from_status)
        .map(str::to_owned);
    // The first "key detail" is the property type ("Single-family", "Condo"); the others all carry
    // a number ("Built in 1960", "7,616 sq ft lot").
    listing.property_type = record
        .get("details")
        .and_then(Value::as_array)
        .and_then(|details| details.first())
        .and_then(text_of)
        .filter(|first| !first.chars().any(|c| c.is_ascii_digit()));
    listing.bedrooms_total = feature("# of Bedrooms");
    listing.bathrooms_total = bathroom_total(&features);
    listing.living_area_sqft = feature("Living Area")
        .or_else(|| feature("Calculated Square Footage"))
        .or_else(|| feature("Sq. Ft. Finished"));
    listing.posted_at = feature("On Market Date");

    put_extra(&mut listing, "status", status);
    put_extra(
        &mut listing,
        "days_on_market",
        feature("Cumulative Days On Market"),
    );
    put_extra(
        &mut listing,
        "estimated_monthly_payment",
        record.get("estimatedMonthlyPrice").and_then(text_of),
    );
    let photos = record.get("attachments").and_then(Value::as_array);
    put_extra(
        &mut listing,
        "photo_url",
        photos.and_then(|all| all.first()).and_then(text_of),
    );
    put_extra(
        &mut listing,
        "photo_count",
        photos.map(|all| all.len().to_string()),
    );
    Ok(listing)
}

/// The "Label: value" lines of every feature group, first occurrence of a label winning.
fn feature_lines(features: Option<&Value>) -> HashMap<String, String> {
    let mut lines = HashMap::new();
    let Some(groups) = features.and_then(Value::as_object) else {
        return lines;
    };
    for line in groups
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some((label, value)) = line.split_once(": ") {
            let value = value.trim();
            if !value.is_empty() {
                lines
                    .entry(label.trim().to_owned())
                    .or_insert_with(|| value.to_owned());
            }
        }
    }
    lines
}

/// The bathroom count as Redfin shows it on the same page ("2 baths" for one full and one
/// three-quarter bath): full and three-quarter baths count whole, half baths a half. `None` when
/// the record gives no full-bath count.
fn bathroom_total(features: &HashMap<String, String>) -> Option<String> {
    let count = |label: &str| -> Option<f64> { features.get(label)?.trim().parse().ok() };
    let full = count("# of Full Baths (Total)")?;
    let three_quarter = count("# of Three Quarter Baths (Total)").unwrap_or(0.0);
    let half = count("# of Half Baths (Total)").unwrap_or(0.0);
    let total = full + three_quarter + half / 2.0;
    Some(if total.fract() == 0.0 {
        format!("{total:.0}")
    } else {
        total.to_string()
    })
}

/// "10116 Myers Way S, Seattle, WA 98168" as (street, city, state, ZIP), when it has that shape.
fn split_address(address: &str) -> Option<(&str, &str, &str, &str)> {
    let (rest, state_zip) = address.rsplit_once(", ")?;
    let (street, city) = rest.rsplit_once(", ")?;
    let (state, zip) = state_zip.trim().split_once(' ')?;
    let state_ok = state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase());
    let zip_ok = zip.len() >= 5 && zip.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    (state_ok && zip_ok && !street.trim().is_empty() && !city.trim().is_empty())
        .then(|| (street.trim(), city.trim(), state, zip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_addresses_split_only_in_redfin_shape() {
        assert_eq!(
            split_address("10116 Myers Way S, Seattle, WA 98168"),
            Some(("10116 Myers Way S", "Seattle", "WA", "98168"))
        );
        assert_eq!(
            split_address("1105 Spring St #405, Seattle, WA 98104"),
            Some(("1105 Spring St #405", "Seattle", "WA", "98104"))
        );
        assert_eq!(split_address("Seattle, WA"), None);
        assert_eq!(
            split_address("1 Main St, Springfield, Illinois 62701"),
            None
        );
    }

    #[test]
    fn bathrooms_count_as_redfin_shows_them() {
        let features = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let one_and_three_quarter = features(&[
            ("# of Full Baths (Total)", "1"),
            ("# of Three Quarter Baths (Total)", "1"),
        ]);
        assert_eq!(bathroom_total(&one_and_three_quarter).as_deref(), Some("2"));
        let with_half = features(&[
            ("# of Full Baths (Total)", "2"),
            ("# of Half Baths (Total)", "1"),
        ]);
        assert_eq!(bathroom_total(&with_half).as_deref(), Some("2.5"));
        assert_eq!(bathroom_total(&features(&[])), None);
    }

    #[test]
    fn wrapped_and_bare_values_read_alike() {
        let home: Map<String, Value> = serde_json::from_str(
            r#"{"price":{"value":5,"level":1},"beds":2,"lotSize":{"level":1}}"#,
        )
        .expect("valid JSON");
        assert_eq!(shown_text(&home, "price").as_deref(), Some("5"));
        assert_eq!(shown_text(&home, "beds").as_deref(), Some("2"));
        assert_eq!(shown_text(&home, "lotSize"), None);
    }
}
