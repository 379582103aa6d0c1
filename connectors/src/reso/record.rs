//! One RESO `Property` record (a JSON object) to a [`RawListing`]; the table is in the module docs.

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::util::json::text_or_bool;

/// Keys that identify a record, in order of preference: `ListingKey` is the system's own unique key,
/// `ListingId` the MLS number people see.
const KEY_FIELDS: [&str; 3] = ["ListingKey", "ListingId", "ListingKeyNumeric"];
const POSTED_FIELDS: [&str; 4] = [
    "OnMarketTimestamp",
    "OnMarketDate",
    "ListingContractDate",
    "OriginalEntryTimestamp",
];
const PHONE_FIELDS: [&str; 5] = [
    "ListAgentPreferredPhone",
    "ListAgentDirectPhone",
    "ListAgentMobilePhone",
    "ListAgentOfficePhone",
    "ListOfficePhone",
];
const EMAIL_FIELDS: [&str; 2] = ["ListAgentEmail", "ListOfficeEmail"];
const STREET_PART_FIELDS: [&str; 5] = [
    "StreetNumber",
    "StreetDirPrefix",
    "StreetName",
    "StreetSuffix",
    "StreetDirSuffix",
];

/// The record's key (see [`KEY_FIELDS`]), as text.
pub(super) fn listing_key(record: &Map<String, Value>) -> Option<String> {
    KEY_FIELDS
        .iter()
        .find_map(|key| text_or_bool(record.get(*key)))
}

/// Maps one RESO record to a [`RawListing`] (source `reso`), or `None` when it has no key.
///
/// `collection_url` is the resource collection the record was read from
/// (`https://api.mls.example/odata/Property`); the listing's URL is the record's own OData URL in it.
pub fn listing_from_record(
    record: &Map<String, Value>,
    collection_url: &str,
    fetched_at: DateTime<Utc>,
) -> Option<RawListing> {
    let key_field = KEY_FIELDS
        .iter()
        .find(|key| text_or_bool(record.get(**key)).is_some())?;
    let mut rest = record.clone();
    let id = take(&mut rest, key_field)?;

    let property_type = take(&mut rest, "PropertyType");
    let is_lease = property_type
        .as_deref()
        .is_some_and(|kind| kind.trim_end().to_ascii_lowercase().ends_with("lease"));
    let price_fields = if is_lease {
        ["LeaseAmount", "ListPrice"]
    } else {
        ["ListPrice", "LeaseAmount"]
    };
    let price = first_of(&mut rest, &price_fields);
    // The frequency only qualifies a lease amount; on a sale it is kept as an attribute.
    let list_price = match price {
        Some(price) if is_lease => match take(&mut rest, "LeaseAmountFrequency") {
            Some(frequency) => Some(format!("{price}/{frequency}")),
            None => Some(price),
        },
        price => price,
    };

    let bathrooms_total = first_of(
        &mut rest,
        &["BathroomsTotalDecimal", "BathroomsTotalInteger"],
    )
    .or_else(|| bathrooms_from_parts(record));
    let living_area_sqft =
        take(&mut rest, "LivingArea").map(|area| match take(&mut rest, "LivingAreaUnits") {
            Some(units) => format!("{area} {units}"),
            None => area,
        });
    let street_address = take(&mut rest, "UnparsedAddress").or_else(|| {
        let parts: Vec<String> = STREET_PART_FIELDS
            .iter()
            .filter_map(|key| take(&mut rest, key))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let contact_name = take(&mut rest, "ListAgentFullName").or_else(|| {
        let names: Vec<String> = ["ListAgentFirstName", "ListAgentLastName"]
            .iter()
            .filter_map(|key| take(&mut rest, key))
            .collect();
        (!names.is_empty()).then(|| names.join(" "))
    });

    let mut listing = RawListing {
        source: Some(Source::Reso.as_str().to_owned()),
        url: Some(entity_url(collection_url, &id)),
        source_listing_id: Some(id),
        fetched_at: Some(fetched_at),
        listing_kind: property_type,
        list_price,
        bathrooms_total,
        living_area_sqft,
        street_address,
        contact_name,
        ..RawListing::default()
    };
    listing.property_type = take(&mut rest, "PropertySubType");
    listing.bedrooms_total = take(&mut rest, "BedroomsTotal");
    listing.unit_number = take(&mut rest, "UnitNumber");
    listing.city = take(&mut rest, "City");
    listing.state_or_province = take(&mut rest, "StateOrProvince");
    listing.postal_code = take(&mut rest, "PostalCode");
    listing.latitude = take(&mut rest, "Latitude");
    listing.longitude = take(&mut rest, "Longitude");
    listing.description = take(&mut rest, "PublicRemarks");
    listing.posted_at = first_of(&mut rest, &POSTED_FIELDS);
    listing.contact_phone = first_of(&mut rest, &PHONE_FIELDS);
    listing.contact_email = first_of(&mut rest, &EMAIL_FIELDS);

    for (key, value) in rest {
        if value.is_null() || key.contains('@') {
            continue;
        }
        listing.extra.insert(snake_case(&key), value);
    }
    Some(listing)
}

/// The text of `key`, taken out of `rest` (an empty value is taken out too: it has nothing to keep).
fn take(rest: &mut Map<String, Value>, key: &str) -> Option<String> {
    text_or_bool(rest.remove(key).as_ref())
}

/// The first of `keys` with a value, taken out of `rest`; the others stay for `extra`.
fn first_of(rest: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    let key = keys
        .iter()
        .find(|key| text_or_bool(rest.get(**key)).is_some())?;
    text_or_bool(rest.remove(*key).as_ref())
}

/// `BathroomsFull` + `BathroomsHalf` / 2 when the feed gives no total (RESO's own definition of
/// `BathroomsTotalDecimal`, which leaves out quarter and three-quarter baths).
fn bathrooms_from_parts(record: &Map<String, Value>) -> Option<String> {
    let count = |key: &str| record.get(key).and_then(Value::as_f64);
    let full = count("BathroomsFull");
    let half = count("BathroomsHalf");
    if full.is_none() && half.is_none() {
        return None;
    }
    let total = full.unwrap_or(0.0) + half.unwrap_or(0.0) * 0.5;
    total.is_finite().then(|| total.to_string())
}

/// The OData URL of one record: `<collection>('<key>')`, the key quoted as an OData string literal
/// (quotes doubled) and percent-encoded where a path segment needs it.
fn entity_url(collection_url: &str, key: &str) -> String {
    let mut url = String::with_capacity(collection_url.len() + key.len() + 4);
    url.push_str(collection_url);
    url.push_str("('");
    for byte in key.replace('\'', "''").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("')");
    url
}

/// RESO's PascalCase field name in our snake_case: `ModificationTimestamp` ->
/// `modification_timestamp`, `VirtualTourURLUnbranded` -> `virtual_tour_url_unbranded`,
/// `X_Custom` -> `x_custom`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (index, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let previous = index.checked_sub(1).map(|at| chars[at]);
            let next = chars.get(index + 1);
            let starts_word = match previous {
                None => false,
                Some('_') => false,
                Some(previous) if previous.is_lowercase() || previous.is_ascii_digit() => true,
                // The last capital of an acronym starts the next word: URL|Unbranded.
                Some(previous) => previous.is_uppercase() && next.is_some_and(|n| n.is_lowercase()),
            };
            if starts_word {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("test record is not an object: {other}"),
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
    }

    #[test]
    fn snake_case_follows_reso_names() {
        assert_eq!(
            snake_case("ModificationTimestamp"),
            "modification_timestamp"
        );
        assert_eq!(
            snake_case("VirtualTourURLUnbranded"),
            "virtual_tour_url_unbranded"
        );
        assert_eq!(snake_case("ListAgentMlsId"), "list_agent_mls_id");
        assert_eq!(snake_case("X_CustomField"), "x_custom_field");
        assert_eq!(snake_case("Stories"), "stories");
        assert_eq!(
            snake_case("BathroomsTotalInteger"),
            "bathrooms_total_integer"
        );
        assert_eq!(snake_case("Room2Level"), "room2_level");
        assert_eq!(snake_case(""), "");
    }

    #[test]
    fn a_lease_takes_the_lease_amount_with_its_frequency() {
        let record = map(json!({
            "ListingKey": "L1", "PropertyType": "ResidentialLease", "ListPrice": 2400,
            "LeaseAmount": 600, "LeaseAmountFrequency": "Weekly", "PropertySubType": "Apartment",
            "StreetNumber": "12", "StreetDirPrefix": "N", "StreetName": "Main", "StreetSuffix": "St",
            "UnitNumber": "4B", "LivingArea": 55.5, "LivingAreaUnits": "Square Meters",
            "BathroomsFull": 1, "BathroomsHalf": 1,
            "ListAgentFirstName": "Ana", "ListAgentLastName": "Ruiz",
            "ListAgentDirectPhone": "206-555-0100", "ListOfficePhone": "206-555-0199",
            "OnMarketDate": "2024-01-01", "OriginalEntryTimestamp": "2023-12-30T10:00:00Z",
            "Media@odata.count": 3, "@odata.etag": "W/\"1\"", "Garage": null
        }));
        let listing = listing_from_record(&record, "https://m.example/odata/Property", at())
            .expect("keyed record");
        assert_eq!(listing.listing_kind.as_deref(), Some("ResidentialLease"));
        assert_eq!(listing.list_price.as_deref(), Some("600/Weekly"));
        assert_eq!(listing.property_type.as_deref(), Some("Apartment"));
        assert_eq!(listing.street_address.as_deref(), Some("12 N Main St"));
        assert_eq!(listing.unit_number.as_deref(), Some("4B"));
        assert_eq!(
            listing.living_area_sqft.as_deref(),
            Some("55.5 Square Meters")
        );
        assert_eq!(listing.bathrooms_total.as_deref(), Some("1.5"));
        assert_eq!(listing.contact_name.as_deref(), Some("Ana Ruiz"));
        assert_eq!(listing.contact_phone.as_deref(), Some("206-555-0100"));
        assert_eq!(listing.posted_at.as_deref(), Some("2024-01-01"));
        assert_eq!(listing.fetched_at, Some(at()));
        // The alternatives not used stay available; the mapped fields and annotations do not.
        assert_eq!(listing.extra["list_price"], 2400);
        assert_eq!(listing.extra["list_office_phone"], "206-555-0199");
        assert_eq!(
            listing.extra["original_entry_timestamp"],
            "2023-12-30T10:00:00Z"
        );
        assert_eq!(listing.extra["bathrooms_full"], 1);
        for gone in [
            "lease_amount",
            "street_name",
            "media@odata.count",
            "garage",
            "unit_number",
        ] {
            assert!(!listing.extra.contains_key(gone), "{gone} left in extra");
        }
        assert_eq!(listing.extra.len(), 5, "{:?}", listing.extra);
    }

    #[test]
    fn a_sale_takes_the_list_price_and_keeps_a_stray_frequency() {
        let record = map(json!({
            "ListingKey": "S 1/2", "PropertyType": "Residential", "ListPrice": 350000.0,
            "LeaseAmountFrequency": "Monthly", "BathroomsTotalInteger": 2,
            "UnparsedAddress": "9 Elm Ave, Kent, WA 98030", "StreetName": "Elm",
            "ListAgentFullName": "  Bo Li ", "ListAgentEmail": "BO@EXAMPLE.COM"
        }));
        let listing = listing_from_record(&record, "https://m.example/odata/Property", at())
            .expect("keyed record");
        assert_eq!(listing.list_price.as_deref(), Some("350000.0"));
        assert_eq!(listing.bathrooms_total.as_deref(), Some("2"));
        assert_eq!(
            listing.street_address.as_deref(),
            Some("9 Elm Ave, Kent, WA 98030")
        );
        assert_eq!(listing.contact_name.as_deref(), Some("Bo Li"));
        assert_eq!(listing.contact_email.as_deref(), Some("BO@EXAMPLE.COM"));
        assert_eq!(listing.extra["lease_amount_frequency"], "Monthly");
        assert_eq!(listing.extra["street_name"], "Elm");
        assert_eq!(
            listing.url.as_deref(),
            Some("https://m.example/odata/Property('S%201%2F2')")
        );
    }

    #[test]
    fn records_without_a_key_are_none_and_listing_id_is_a_fallback() {
        let collection = "https://m.example/odata/Property";
        assert!(listing_from_record(&map(json!({"ListPrice": 1})), collection, at()).is_none());
        assert!(listing_from_record(&map(json!({"ListingKey": "  "})), collection, at()).is_none());
        let by_number = listing_from_record(
            &map(json!({"ListingKey": null, "ListingKeyNumeric": 42})),
            collection,
            at(),
        )
        .expect("numeric key");
        assert_eq!(by_number.source_listing_id.as_deref(), Some("42"));
        let both = listing_from_record(
            &map(json!({"ListingKey": "K", "ListingId": "MLS-9"})),
            collection,
            at(),
        )
        .expect("keyed record");
        assert_eq!(both.source_listing_id.as_deref(), Some("K"));
        assert_eq!(both.extra["listing_id"], "MLS-9");
    }
}
