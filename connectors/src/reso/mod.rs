//! RESO Web API feeds (OData JSON) to [`aiq_schemas::RawListing`]s.
//!
//! The RESO Web API is how an MLS or a brokerage back office hands its listings to a licensed
//! partner: an OData v4 service with a `Property` resource whose fields follow the RESO Data
//! Dictionary. Our own field names *are* RESO's, in snake_case (`docs/reso-mapping.md`), so the
//! mapping is direct; values stay as the feed wrote them (numbers become their text) and the
//! pipeline normalises them.
//!
//! - [`parse_page`]: one response body (a collection page, `{"value": [...], "@odata.nextLink": ...}`,
//!   or a single entity) to a [`Page`].
//! - [`ResoClient`]: pulls a whole resource with a bearer token, `$filter` on
//!   `ModificationTimestamp` for incremental pulls, `$top` paging that follows `@odata.nextLink`, and
//!   retries with backoff that honour `Retry-After`.
//!
//! # Field mapping
//!
//! | RawListing | RESO (first present wins) |
//! |---|---|
//! | `source_listing_id` | `ListingKey`, `ListingId`, `ListingKeyNumeric` |
//! | `url` | the record's own OData URL, `<collection>('<ListingKey>')` |
//! | `listing_kind` | `PropertyType` as given (`Residential`, `ResidentialLease`, ...) |
//! | `property_type` | `PropertySubType` |
//! | `list_price` | leases (`PropertyType` ending in `Lease`): `LeaseAmount`, then `ListPrice`; others: `ListPrice`, then `LeaseAmount`. A `LeaseAmountFrequency` is appended as `"2500/Monthly"` |
//! | `bedrooms_total` | `BedroomsTotal` |
//! | `bathrooms_total` | `BathroomsTotalDecimal`, `BathroomsTotalInteger`, else `BathroomsFull` + `BathroomsHalf` / 2 |
//! | `living_area_sqft` | `LivingArea`, followed by `LivingAreaUnits` when given (`"120 Square Meters"`) |
//! | `street_address` | `UnparsedAddress`, else `StreetNumber StreetDirPrefix StreetName StreetSuffix StreetDirSuffix` |
//! | `unit_number`, `city`, `state_or_province`, `postal_code`, `latitude`, `longitude` | `UnitNumber`, `City`, `StateOrProvince`, `PostalCode`, `Latitude`, `Longitude` |
//! | `description` | `PublicRemarks` |
//! | `posted_at` | `OnMarketTimestamp`, `OnMarketDate`, `ListingContractDate`, `OriginalEntryTimestamp` |
//! | `contact_name` | `ListAgentFullName`, else `ListAgentFirstName ListAgentLastName` |
//! | `contact_phone` | `ListAgentPreferredPhone`, `ListAgentDirectPhone`, `ListAgentMobilePhone`, `ListAgentOfficePhone`, `ListOfficePhone` |
//! | `contact_email` | `ListAgentEmail`, `ListOfficeEmail` |
//!
//! Every other non-null field is kept in `extra` under its snake_case name (`StandardStatus` ->
//! `standard_status`, `ModificationTimestamp` -> `modification_timestamp`, `VirtualTourURLUnbranded`
//! -> `virtual_tour_url_unbranded`); OData annotations (`@odata.etag`, `Media@odata.count`) are
//! dropped. Records without any key are reported in [`Page::skipped`], never dropped silently.
//!
//! ```
//! use aiq_connectors::reso::parse_page;
//! use chrono::Utc;
//!
//! let body = r#"{"@odata.context": "https://api.mls.example/odata/$metadata#Property",
//!   "value": [{"ListingKey": "7129300520", "ListPrice": 221900, "BedroomsTotal": 3,
//!              "BathroomsTotalDecimal": 1, "PostalCode": "98178", "StandardStatus": "Closed"}],
//!   "@odata.nextLink": "https://api.mls.example/odata/Property?$skiptoken=2"}"#;
//! let page = parse_page(body, "https://api.mls.example/odata/Property?$top=1", Utc::now())?;
//! let listing = &page.listings[0];
//! assert_eq!(listing.source.as_deref(), Some("reso"));
//! assert_eq!(listing.list_price.as_deref(), Some("221900"));
//! assert_eq!(listing.url.as_deref(), Some("https://api.mls.example/odata/Property('7129300520')"));
//! assert_eq!(listing.extra["standard_status"], "Closed");
//! assert_eq!(page.next_page_url.as_deref(), Some("https://api.mls.example/odata/Property?$skiptoken=2"));
//! # Ok::<(), aiq_connectors::Error>(())
//! ```

mod client;
mod record;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use url::Url;

pub use client::{ResoClient, ResoConfig, ResoError, ResoStats};
pub use record::{listing_from_record, snake_case};

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind, SkippedItem};
use crate::util::links::parse_page_url;

/// Parses one RESO Web API response body fetched from `url` at `fetched_at`.
///
/// A collection page (`value` array) is a [`PageKind::Search`] page whose `next_page_url` is the
/// `@odata.nextLink` (resolved against `url`); a single entity (`GET Property('key')`) is a
/// [`PageKind::Posting`]. Errors: [`Error::NoListing`] (`Empty`) for a last page with no records;
/// [`Error::Unrecognised`] for a body that is not an OData JSON response (or is an OData error);
/// [`Error::InvalidUrl`] when `url` is not absolute.
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let document: Value = serde_json::from_str(body.trim_start_matches('\u{feff}'))
        .map_err(|error| Error::unrecognised(format!("not an OData JSON response: {error}")))?;
    let Value::Object(document) = document else {
        return Err(Error::unrecognised(
            "not an OData JSON response: the body is not a JSON object",
        ));
    };
    if let Some(error) = document.get("error") {
        return Err(Error::unrecognised(format!(
            "the OData service answered with an error: {}",
            odata_error_message(error)
        )));
    }
    let collection_url = collection_url(&page_url);

    let Some(records) = document.get("value") else {
        // A single entity: the record's fields sit at the top level next to `@odata.context`.
        if record::listing_key(&document).is_none() {
            return Err(Error::unrecognised(
                "an OData JSON object with neither a `value` array nor a ListingKey",
            ));
        }
        let entity_url = entity_base_url(&page_url);
        let listing = listing_from_record(&document, &entity_url, fetched_at)
            .ok_or_else(|| Error::unrecognised("the entity has no usable ListingKey"))?;
        return Ok(Page {
            kind: PageKind::Posting,
            listings: vec![listing],
            ..Page::default()
        });
    };
    let Value::Array(records) = records else {
        return Err(Error::unrecognised(
            "the OData `value` member is not an array",
        ));
    };

    let next_page_url = next_link(&document)
        .map(|link| {
            page_url.join(link).map_err(|error| Error::InvalidUrl {
                url: link.to_owned(),
                detail: format!("the @odata.nextLink cannot be resolved: {error}"),
            })
        })
        .transpose()?
        .map(String::from);

    let mut listings = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match record {
            Value::Object(fields) => {
                match listing_from_record(fields, &collection_url, fetched_at) {
                    Some(listing) => listings.push(listing),
                    None => skipped.push(SkippedItem {
                        id: format!("value[{index}]"),
                        reason: "the record has no ListingKey, ListingId or ListingKeyNumeric"
                            .into(),
                    }),
                }
            }
            other => skipped.push(SkippedItem {
                id: format!("value[{index}]"),
                reason: format!("the record is a JSON {}, not an object", json_kind(other)),
            }),
        }
    }

    if listings.is_empty() && skipped.is_empty() && next_page_url.is_none() {
        return Err(Error::no_listing(
            NoListingReason::Empty,
            "the feed page's `value` array is empty",
        ));
    }
    Ok(Page {
        kind: PageKind::Search,
        listings,
        posting_urls: Vec::new(),
        next_page_url,
        skipped,
    })
}

/// The `@odata.nextLink` of a page (OData 4.01 also allows the bare `nextLink`, and the OData 4.0
/// JSON format before annotations got their `@` wrote `odata.nextLink`).
fn next_link(document: &Map<String, Value>) -> Option<&str> {
    ["@odata.nextLink", "odata.nextLink", "@nextLink"]
        .iter()
        .find_map(|key| document.get(*key).and_then(Value::as_str))
        .map(str::trim)
        .filter(|link| !link.is_empty())
}

/// The resource collection a page URL belongs to: the URL without its query and fragment
/// (`.../odata/Property?$skiptoken=2` -> `.../odata/Property`).
fn collection_url(page_url: &Url) -> String {
    let mut collection = page_url.clone();
    collection.set_query(None);
    collection.set_fragment(None);
    collection.as_str().trim_end_matches('/').to_owned()
}

/// For a single-entity URL (`.../Property('K1')`), the collection it is in, so the listing URL is
/// built the same way as for collection pages.
fn entity_base_url(page_url: &Url) -> String {
    let collection = collection_url(page_url);
    match collection.rfind('(') {
        Some(open) if collection.ends_with(')') => collection[..open].to_owned(),
        _ => collection,
    }
}

fn odata_error_message(error: &Value) -> String {
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    let message = error
        .get("message")
        .and_then(|message| message.as_str().or_else(|| message.get("value")?.as_str()))
        .unwrap_or("no message");
    let message: String = message.chars().take(200).collect();
    if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
    }

    #[test]
    fn relative_next_links_resolve_against_the_page() {
        let body =
            r#"{"value": [{"ListingKey": "A"}], "@odata.nextLink": "Property?$skiptoken=xyz"}"#;
        let page = parse_page(body, "https://mls.example/odata/Property?$top=1", at()).unwrap();
        assert_eq!(
            page.next_page_url.as_deref(),
            Some("https://mls.example/odata/Property?$skiptoken=xyz")
        );
        assert_eq!(
            page.listings[0].url.as_deref(),
            Some("https://mls.example/odata/Property('A')")
        );
    }

    #[test]
    fn a_single_entity_is_a_posting() {
        let body = r#"{"@odata.context": "x", "ListingKey": "K'1", "ListPrice": 5}"#;
        let page = parse_page(body, "https://mls.example/odata/Property('K''1')", at()).unwrap();
        assert_eq!(page.kind, PageKind::Posting);
        assert_eq!(
            page.listings[0].url.as_deref(),
            Some("https://mls.example/odata/Property('K''1')")
        );
    }

    #[test]
    fn keyless_and_non_object_records_are_reported_not_dropped() {
        let body = r#"{"value": [{"ListPrice": 1}, 7, {"ListingId": "L2"}]}"#;
        let page = parse_page(body, "https://mls.example/odata/Property", at()).unwrap();
        assert_eq!(page.listings.len(), 1);
        assert_eq!(page.listings[0].source_listing_id.as_deref(), Some("L2"));
        let skipped: Vec<_> = page.skipped.iter().map(|item| item.id.as_str()).collect();
        assert_eq!(skipped, ["value[0]", "value[1]"]);
        assert!(page.skipped[1].reason.contains("number"));
    }

    #[test]
    fn empty_last_pages_errors_and_garbage_are_told_apart() {
        let empty = parse_page(r#"{"value": []}"#, "https://m.example/o/Property", at());
        assert_eq!(
            empty.unwrap_err().no_listing_reason(),
            Some(NoListingReason::Empty)
        );
        let error = parse_page(
            r#"{"error": {"code": "403", "message": "Token expired"}}"#,
            "https://m.example/o/Property",
            at(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unrecognised page: the OData service answered with an error: 403: Token expired"
        );
        assert_eq!(
            parse_page("<html></html>", "https://m.example/o/Property", at())
                .unwrap_err()
                .code(),
            "unrecognised_page"
        );
        assert_eq!(
            parse_page(r#"{"value": 3}"#, "https://m.example/o/Property", at())
                .unwrap_err()
                .code(),
            "unrecognised_page"
        );
        assert_eq!(
            parse_page(r#"{"value": []}"#, "not a url", at())
                .unwrap_err()
                .code(),
            "invalid_url"
        );
    }
}
