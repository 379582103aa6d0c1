//! Search results as JSON: the `listResults` items of a search page's state (embedded in the page
//! or returned by the async search API), or such items exported on their own.

use aiq_schemas::RawListing;
use serde_json::Value;

use super::property::OFF_MARKET_STATUSES;
use super::values::{
    Context, at, coordinates_in_building_id, copy_extra, first_text, set_extra, split_address,
    unit_ids,
};
use crate::page::SkippedItem;
use crate::util::json::text;

/// What a list of results yields.
#[derive(Default)]
pub(super) struct Results {
    pub(super) listings: Vec<RawListing>,
    /// Absolute detail URLs, one per result, in page order.
    pub(super) posting_urls: Vec<String>,
    pub(super) skipped: Vec<SkippedItem>,
}

/// The results of a search page state (`{cat1: {searchResults, searchList}}`): `listResults`, or
/// `mapResults` when a map-only response leaves the list empty.
pub(super) fn results_in_state(state: &Value) -> Option<&Vec<Value>> {
    let results = state
        .get("cat1")
        .and_then(|category| category.get("searchResults"))
        .or_else(|| state.get("searchResults"))?;
    let list = results.get("listResults").and_then(Value::as_array);
    match list {
        Some(items) if !items.is_empty() => Some(items),
        _ => results
            .get("mapResults")
            .and_then(Value::as_array)
            .filter(|items| !items.is_empty())
            .or(list),
    }
}

/// The next results page a search page state names (`searchList.pagination.nextUrl`), absolute.
pub(super) fn next_page_in_state(state: &Value, context: &Context<'_>) -> Option<String> {
    let search_list = state
        .get("cat1")
        .and_then(|category| category.get("searchList"))
        .or_else(|| state.get("searchList"))?;
    let next = text(at(search_list, &["pagination", "nextUrl"]))?;
    context.absolute(&next)
}

/// Listings from result items, in order. A building with unit groups (`units`) gives one listing
/// per group; see [`building_listings`].
pub(super) fn parse_results(items: &[Value], context: &Context<'_>) -> Results {
    let mut results = Results::default();
    for (position, item) in items.iter().enumerate() {
        let url = text(item.get("detailUrl")).and_then(|href| context.absolute(&href));
        let status = text(item.get("statusType"))
            .or_else(|| text(at(item, &["hdpData", "homeInfo", "homeStatus"])));
        if let Some(status) = status
            .as_deref()
            .filter(|status| OFF_MARKET_STATUSES.contains(status))
        {
            results.skipped.push(SkippedItem {
                id: result_id(item).unwrap_or_else(|| format!("result {}", position + 1)),
                reason: format!("not on the market (status {status})"),
            });
            continue;
        }
        let Some(id) = result_id(item) else {
            results.skipped.push(SkippedItem {
                id: format!("result {}", position + 1),
                reason: "a result with no zpid, lot or building id".to_owned(),
            });
            continue;
        };
        if let Some(url) = &url
            && !results.posting_urls.contains(url)
        {
            results.posting_urls.push(url.clone());
        }
        let base = base_listing(item, id, url, context);
        match item.get("units").and_then(Value::as_array) {
            Some(units) if !units.is_empty() => {
                results.listings.extend(building_listings(&base, units));
            }
            _ => results.listings.push(base),
        }
    }
    results
}

/// The result's id: its zpid (for a building, Zillow's position-based id such as
/// `"43.90381--69.918846"`), else the building id, lot id or community (`plid`) id.
fn result_id(item: &Value) -> Option<String> {
    first_text(
        item,
        &[
            &["zpid"],
            &["id"],
            &["hdpData", "homeInfo", "zpid"],
            &["buildingId"],
            &["lotId"],
            &["plid"],
        ],
    )
}

fn is_building(item: &Value) -> bool {
    item.get("isBuilding").and_then(Value::as_bool) == Some(true)
        || item.get("units").is_some_and(Value::is_array)
}

/// Everything a result says about the listing as a whole.
fn base_listing(
    item: &Value,
    id: String,
    url: Option<String>,
    context: &Context<'_>,
) -> RawListing {
    let home = at(item, &["hdpData", "homeInfo"]).unwrap_or(&Value::Null);
    let building = is_building(item);
    let mut listing = context.listing(id.clone(), url);

    listing.listing_kind = text(item.get("statusType")).or_else(|| text(home.get("homeStatus")));
    listing.property_type = text(home.get("homeType"));
    // The price as the card shows it ("$2,450/mo", "$1,495+/mo", "From $988,901").
    listing.list_price =
        first_text(item, &[&["price"], &["unformattedPrice"]]).or_else(|| text(home.get("price")));
    listing.bedrooms_total =
        first_text(item, &[&["beds"], &["minBeds"]]).or_else(|| text(home.get("bedrooms")));
    listing.bathrooms_total =
        first_text(item, &[&["baths"], &["minBaths"]]).or_else(|| text(home.get("bathrooms")));
    listing.living_area_sqft =
        first_text(item, &[&["area"], &["minArea"]]).or_else(|| text(home.get("livingArea")));
    apply_address(&mut listing, item, home, building);
    listing.latitude =
        text(at(item, &["latLong", "latitude"])).or_else(|| text(home.get("latitude")));
    listing.longitude =
        text(at(item, &["latLong", "longitude"])).or_else(|| text(home.get("longitude")));
    if listing.latitude.is_none()
        && building
        && let Some((latitude, longitude)) = coordinates_in_building_id(&id)
    {
        listing.latitude = Some(latitude);
        listing.longitude = Some(longitude);
    }
    listing.title = first_text(item, &[&["buildingName"], &["communityName"]]);
    listing.posted_at = context.posted_from_age(
        home.get("timeOnZillow")
            .or_else(|| item.get("timeOnZillow")),
    );

    set_extra(&mut listing, "status_text", text(item.get("statusText")));
    copy_extra(&mut listing, "days_on_zillow", home.get("daysOnZillow"));
    copy_extra(&mut listing, "time_on_zillow_ms", home.get("timeOnZillow"));
    set_extra(&mut listing, "broker_name", text(item.get("brokerName")));
    set_extra(&mut listing, "builder_name", text(item.get("builderName")));
    copy_extra(&mut listing, "zestimate", home.get("zestimate"));
    copy_extra(&mut listing, "rent_zestimate", home.get("rentZestimate"));
    set_extra(
        &mut listing,
        "available_from",
        text(item.get("availabilityDate")),
    );
    copy_extra(&mut listing, "lot_id", item.get("lotId"));
    copy_extra(
        &mut listing,
        "available_units",
        item.get("availabilityCount"),
    );
    copy_extra(&mut listing, "unit_count", item.get("unitCount"));
    if building {
        set_extra(&mut listing, "building_id", Some(id));
    }
    set_extra(&mut listing, "country", text(home.get("country")));
    listing
}

/// Address parts: the result's own fields, then the home info, then the one-line address. A
/// building's `addressStreet` names one arbitrary unit ("10 Townsend Ln # 9-203") while its
/// listings stand for the whole building, so a building takes the street of its one-line address.
/// An undisclosed address keeps city, state and ZIP but no street.
fn apply_address(listing: &mut RawListing, item: &Value, home: &Value, building: bool) {
    let one_line = text(item.get("address")).as_deref().and_then(split_address);
    let street = if building {
        one_line.as_ref().and_then(|parts| parts.street.clone())
    } else {
        text(item.get("addressStreet"))
            .or_else(|| text(home.get("streetAddress")))
            .or_else(|| one_line.as_ref().and_then(|parts| parts.street.clone()))
    };
    let undisclosed = item.get("isUndisclosedAddress").and_then(Value::as_bool) == Some(true);
    listing.street_address = street.filter(|_| !undisclosed);
    listing.city = text(item.get("addressCity"))
        .or_else(|| text(home.get("city")))
        .or_else(|| one_line.as_ref().and_then(|parts| parts.city.clone()));
    listing.state_or_province = text(item.get("addressState"))
        .or_else(|| text(home.get("state")))
        .or_else(|| one_line.as_ref().and_then(|parts| parts.state.clone()));
    listing.postal_code = text(item.get("addressZipcode"))
        .or_else(|| text(home.get("zipcode")))
        .or_else(|| one_line.and_then(|parts| parts.postal_code));
}

/// One listing per unit group of a building (`units: [{price: "$2,225+", beds: "1"}, ...]`):
/// each group is a separate offer (its own bedroom count and starting price), which a single
/// "from" price for the building would hide. Ids are `{building id}-{beds}bd` (see
/// [`unit_ids`]); the building's other fields (address, coordinates, name, URL) are shared.
pub(super) fn building_listings(base: &RawListing, units: &[Value]) -> Vec<RawListing> {
    let building_id = base.source_listing_id.clone().unwrap_or_default();
    let beds: Vec<Option<String>> = units.iter().map(|unit| text(unit.get("beds"))).collect();
    let ids = unit_ids(&building_id, &beds);
    units
        .iter()
        .zip(ids)
        .zip(beds)
        .map(|((unit, id), beds)| {
            let mut listing = base.clone();
            listing.source_listing_id = Some(id);
            listing.list_price = text(unit.get("price")).or_else(|| base.list_price.clone());
            listing.bedrooms_total = beds;
            listing.bathrooms_total = text(unit.get("baths"));
            listing.living_area_sqft = text(unit.get("area")).or_else(|| text(unit.get("sqft")));
            if unit.get("roomForRent").and_then(Value::as_bool) == Some(true) {
                listing
                    .extra
                    .insert("room_for_rent".to_owned(), Value::Bool(true));
            }
            listing
        })
        .collect()
}
