//! One home's property object (the home-details page's data, or the same object exported as JSON).

use aiq_schemas::RawListing;
use serde_json::Value;

use super::values::{Context, at, copy_extra, first_text, set_extra, zpid_in_url};
use crate::util::json::text;

/// Statuses of a home that is not on the market: its page shows a past listing, not an offer.
pub(super) const OFF_MARKET_STATUSES: [&str; 4] = ["SOLD", "RECENTLY_SOLD", "OFF_MARKET", "OTHER"];

/// Whether a value looks like Zillow's property object (as opposed to a search result).
pub(super) fn is_property(value: &Value) -> bool {
    value.get("zpid").is_some()
        && (value.get("hdpUrl").is_some()
            || value.get("resoFacts").is_some()
            || value.get("homeStatus").is_some() && value.get("detailUrl").is_none())
}

/// The property object inside a `gdpClientCache` (or older `apiCache`): a JSON-encoded string whose
/// keys are GraphQL query names and whose values hold `property`.
pub(super) fn in_client_cache(cache: &Value) -> Option<Value> {
    let decoded: Value = match cache {
        Value::String(encoded) => serde_json::from_str(encoded).ok()?,
        other => other.clone(),
    };
    let Value::Object(queries) = decoded else {
        return None;
    };
    queries
        .into_iter()
        .filter_map(|(_, mut query)| query.get_mut("property").map(Value::take))
        .find(|property| property.get("zpid").is_some())
}

/// The home's status when it is off the market (see [`OFF_MARKET_STATUSES`]).
pub(super) fn off_market_status(property: &Value) -> Option<&str> {
    let status = property.get("homeStatus")?.as_str()?;
    OFF_MARKET_STATUSES.contains(&status).then_some(status)
}

/// The listing a property object describes; `None` when it has no zpid.
pub(super) fn listing(property: &Value, context: &Context<'_>) -> Option<RawListing> {
    let hdp_url = first_text(property, &[&["hdpUrl"], &["url"]]);
    let id = text(property.get("zpid")).or_else(|| hdp_url.as_deref().and_then(zpid_in_url))?;
    let url = hdp_url
        .and_then(|href| context.absolute(&href))
        .or_else(|| context.absolute(&format!("/homedetails/{id}_zpid/")));
    let mut listing = context.listing(id, url);

    listing.listing_kind = first_text(property, &[&["homeStatus"], &["keystoneHomeStatus"]]);
    listing.property_type = first_text(property, &[&["homeType"], &["resoFacts", "homeType"]]);
    listing.list_price = first_text(property, &[&["price"], &["listPrice"]]);
    listing.bedrooms_total = first_text(property, &[&["bedrooms"], &["resoFacts", "bedrooms"]]);
    listing.bathrooms_total = first_text(
        property,
        &[
            &["bathrooms"],
            &["resoFacts", "bathroomsFloat"],
            &["resoFacts", "bathrooms"],
        ],
    );
    listing.living_area_sqft = first_text(
        property,
        &[
            &["livingArea"],
            &["livingAreaValue"],
            &["resoFacts", "livingArea"],
        ],
    );
    listing.street_address = first_text(
        property,
        &[&["address", "streetAddress"], &["streetAddress"]],
    );
    listing.city = first_text(property, &[&["address", "city"], &["city"]]);
    listing.state_or_province = first_text(property, &[&["address", "state"], &["state"]]);
    listing.postal_code = first_text(property, &[&["address", "zipcode"], &["zipcode"]]);
    listing.latitude = text(property.get("latitude"));
    listing.longitude = text(property.get("longitude"));
    listing.description = text(property.get("description"));
    // `datePostedString` is the date the listing went up ("2024-10-28"); `onMarketDate` is the
    // same day in Unix milliseconds, which the normaliser also reads.
    listing.posted_at = first_text(
        property,
        &[&["datePostedString"], &["resoFacts", "onMarketDate"]],
    );
    apply_contact(&mut listing, property);

    set_extra(
        &mut listing,
        "home_status",
        text(property.get("homeStatus")),
    );
    copy_extra(&mut listing, "days_on_zillow", property.get("daysOnZillow"));
    copy_extra(&mut listing, "year_built", property.get("yearBuilt"));
    copy_extra(&mut listing, "lot_area_sqft", lot_area_sqft(property));
    copy_extra(
        &mut listing,
        "monthly_hoa_fee",
        property.get("monthlyHoaFee"),
    );
    copy_extra(&mut listing, "zestimate", property.get("zestimate"));
    copy_extra(
        &mut listing,
        "rent_zestimate",
        property.get("rentZestimate"),
    );
    set_extra(&mut listing, "county", text(property.get("county")));
    set_extra(
        &mut listing,
        "neighbourhood",
        first_text(
            property,
            &[
                &["neighborhoodRegion", "name"],
                &["address", "neighborhood"],
            ],
        ),
    );
    set_extra(&mut listing, "country", text(property.get("country")));
    set_extra(
        &mut listing,
        "mls_id",
        first_text(property, &[&["mlsid"], &["attributionInfo", "mlsId"]]),
    );
    set_extra(
        &mut listing,
        "mls_name",
        text(at(property, &["attributionInfo", "mlsName"])),
    );
    set_extra(
        &mut listing,
        "broker_name",
        first_text(
            property,
            &[&["attributionInfo", "brokerName"], &["brokerageName"]],
        ),
    );
    set_extra(
        &mut listing,
        "broker_phone",
        text(at(property, &["attributionInfo", "brokerPhoneNumber"])),
    );
    Some(listing)
}

/// Lot area only when Zillow states it in square feet (it also uses acres).
fn lot_area_sqft(property: &Value) -> Option<&Value> {
    let units = property.get("lotAreaUnits")?.as_str()?;
    units
        .eq_ignore_ascii_case("square feet")
        .then(|| property.get("lotAreaValue"))
        .flatten()
}

/// The listing agent: the MLS attribution first (what the page prints under "Listing provided
/// by"), then the contact form's agent.
fn apply_contact(listing: &mut RawListing, property: &Value) {
    listing.contact_name = first_text(
        property,
        &[
            &["attributionInfo", "agentName"],
            &[
                "contactFormRenderData",
                "data",
                "agent_module",
                "display_name",
            ],
            &["postingContact", "name"],
        ],
    );
    listing.contact_phone =
        text(at(property, &["attributionInfo", "agentPhoneNumber"])).or_else(|| {
            let phone = at(
                property,
                &["contactFormRenderData", "data", "agent_module", "phone"],
            )?;
            let part = |key| text(phone.get(key));
            Some(format!(
                "{}-{}-{}",
                part("areacode")?,
                part("prefix")?,
                part("number")?
            ))
        });
    listing.contact_email = text(at(property, &["attributionInfo", "agentEmail"]));
}
