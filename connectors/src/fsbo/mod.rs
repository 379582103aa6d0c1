//! ForSaleByOwner.com listing pages and search results to [`RawListing`]s.
//!
//! No page of the site was saved, so this parser reads the structured data such listing sites
//! embed, generically and defensively, and each source fills only what the previous ones left empty:
//!
//! 1. the listing object of the site's search API (`POST directory.forsalebyowner.com/search/listings`
//!    answers `{"data":{"listings":[…],"paging":{"totalItemCount":…}}}`, RESO-style keys `id`,
//!    `fullName`, `listPrice`, `bedrooms`, `bathrooms`, `livingArea`, `address.fullStreetAddress`,
//!    `address.city`, `address.stateOrProvince`, `address.postalCode`), whether it arrives as that
//!    JSON or inside a page's `__NEXT_DATA__`;
//! 2. schema.org JSON-LD (`SingleFamilyResidence`, `House`, `Residence`, `Apartment`, `Product`,
//!    `RealEstateListing`, with `address` `PostalAddress`, `geo`, `numberOfBedrooms`/`numberOfRooms`,
//!    `numberOfBathroomsTotal`, `floorSize`, `offers` `Offer` `price`);
//! 3. Open Graph and meta tags (`og:title`, `og:url`, `og:description`, `product:price:amount`,
//!    `og:street-address`, `og:locality`, `og:region`, `og:postal-code`,
//!    `place:location:latitude`/`longitude`).
//!
//! The field names of (1) are the ones a scraper of the real API read to produce the shared table
//! `fsbo_forsalebyowner_2023_ca.csv`; (2) and (3) are the published vocabularies. The tests run on
//! pages built by hand from real rows of that table (`tests/fixtures/fsbo/`): the values are real,
//! the markup is not. Every listing is a sale (`listing_kind` `"sale"`); the id is the site's
//! 24-hex listing id and the URL `https://www.forsalebyowner.com/listing/_/<id>` when the page names
//! no other.

use std::sync::LazyLock;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;
use url::Url;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind};
use crate::util::json::text;
use crate::util::links::parse_page_url;

/// Parse a ForSaleByOwner listing page, or a search API response, fetched from `url`.
///
/// Errors: [`Error::NoListing`] (`Expired`) for a listing the site says is gone, (`Empty`) for a
/// search without results; [`Error::Unrecognised`] when the page holds no listing data;
/// [`Error::InvalidUrl`] when `url` is not absolute.
///
/// ```
/// use aiq_connectors::fsbo::parse_page;
/// use chrono::Utc;
///
/// let html = r#"<html><head><script type="application/ld+json">{"@context":"https://schema.org",
///   "@type":"SingleFamilyResidence","name":"3930 Olmsted Avenue Los Angeles, CA 90008",
///   "address":{"@type":"PostalAddress","streetAddress":"3930 Olmsted Avenue",
///   "addressLocality":"Los Angeles","addressRegion":"CA","postalCode":"90008"},
///   "numberOfBedrooms":3,"numberOfBathroomsTotal":2,
///   "floorSize":{"@type":"QuantitativeValue","value":1468,"unitCode":"FTK"},
///   "offers":{"@type":"Offer","price":999000,"priceCurrency":"USD"}}</script></head></html>"#;
/// let page = parse_page(html, "https://www.forsalebyowner.com/listing/3930-olmsted-avenue/6466b101e5e6c9815c0c52f8", Utc::now())?;
/// let listing = &page.listings[0];
/// assert_eq!(listing.source_listing_id.as_deref(), Some("6466b101e5e6c9815c0c52f8"));
/// assert_eq!(listing.list_price.as_deref(), Some("999000"));
/// assert_eq!(listing.city.as_deref(), Some("Los Angeles"));
/// # Ok::<(), aiq_connectors::Error>(())
/// ```
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return parse_json(trimmed, fetched_at);
    }

    let mut listing = RawListing::default();
    if let Some(next_data) = script_body(body, "id=\"__NEXT_DATA__\"")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        && let Some(object) = find_listing_object(&next_data, 0)
    {
        fill_from_api(&mut listing, object);
    }
    for text in json_ld_scripts(body) {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            for object in schema_objects(&value) {
                fill_from_schema(&mut listing, object);
            }
        }
    }
    fill_from_meta(&mut listing, body);

    if listing.list_price.is_none() && listing.street_address.is_none() {
        if let Some(notice) = removed_notice(body) {
            return Err(Error::no_listing(NoListingReason::Expired, notice));
        }
        return Err(Error::unrecognised(
            "no ForSaleByOwner listing data (JSON-LD, __NEXT_DATA__ or Open Graph)",
        ));
    }
    if listing.source_listing_id.is_none() {
        listing.source_listing_id = listing
            .url
            .as_deref()
            .and_then(|url| Url::parse(url).ok())
            .as_ref()
            .and_then(id_from_url)
            .or_else(|| id_from_url(&page_url));
    }
    if listing.url.is_none() {
        listing.url = listing.source_listing_id.as_deref().map(listing_url);
    }
    finish(&mut listing, fetched_at);
    Ok(Page {
        kind: PageKind::Posting,
        listings: vec![listing],
        ..Page::default()
    })
}

/// A search API response (`data.listings`) or one listing object.
fn parse_json(body: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| Error::unrecognised(format!("FSBO JSON unreadable: {error}")))?;
    if let Some(results) = value.pointer("/data/listings").and_then(Value::as_array) {
        let listings: Vec<RawListing> = results
            .iter()
            .filter(|object| object.is_object())
            .map(|object| {
                let mut listing = RawListing::default();
                fill_from_api(&mut listing, object);
                if listing.url.is_none() {
                    listing.url = listing.source_listing_id.as_deref().map(listing_url);
                }
                finish(&mut listing, fetched_at);
                listing
            })
            .collect();
        if listings.is_empty() {
            return Err(Error::no_listing(
                NoListingReason::Empty,
                "a search response without listings",
            ));
        }
        let posting_urls = listings
            .iter()
            .filter_map(|listing| listing.url.clone())
            .collect();
        return Ok(Page {
            kind: PageKind::Search,
            listings,
            posting_urls,
            ..Page::default()
        });
    }
    match find_listing_object(&value, 0) {
        Some(object) => {
            let mut listing = RawListing::default();
            fill_from_api(&mut listing, object);
            if listing.url.is_none() {
                listing.url = listing.source_listing_id.as_deref().map(listing_url);
            }
            finish(&mut listing, fetched_at);
            Ok(Page {
                kind: PageKind::Posting,
                listings: vec![listing],
                ..Page::default()
            })
        }
        None => Err(Error::unrecognised(
            "JSON without `data.listings` or a listing object",
        )),
    }
}

fn finish(listing: &mut RawListing, fetched_at: DateTime<Utc>) {
    listing.source = Some(Source::Fsbo.as_str().to_owned());
    listing.fetched_at = Some(fetched_at);
    // A for-sale-by-owner site lists sales only.
    listing
        .listing_kind
        .get_or_insert_with(|| "sale".to_owned());
}

fn listing_url(id: &str) -> String {
    format!("https://www.forsalebyowner.com/listing/_/{id}")
}

static LISTING_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/listing/[^/]+/([0-9a-f]{24})\b").expect("valid regex"));

fn id_from_url(url: &Url) -> Option<String> {
    if !url
        .host_str()
        .is_some_and(|host| host.ends_with("forsalebyowner.com"))
    {
        return None;
    }
    LISTING_ID
        .captures(url.path())
        .and_then(|captures| captures.get(1))
        .map(|id| id.as_str().to_owned())
}

fn fill(slot: &mut Option<String>, value: Option<String>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// Depth-first search for the first object that looks like a listing of the site's API.
fn find_listing_object(value: &Value, depth: usize) -> Option<&Value> {
    // Deeper than any page state nests a listing; also bounds the work on hostile input.
    if depth > 12 {
        return None;
    }
    match value {
        Value::Object(map) => {
            let is_listing = map.contains_key("listPrice")
                && (map.get("address").is_some_and(Value::is_object)
                    || map.contains_key("fullName"));
            if is_listing {
                return Some(value);
            }
            map.values()
                .find_map(|child| find_listing_object(child, depth + 1))
        }
        Value::Array(items) => items
            .iter()
            .find_map(|child| find_listing_object(child, depth + 1)),
        _ => None,
    }
}

/// The site's API listing: RESO-style keys.
fn fill_from_api(listing: &mut RawListing, object: &Value) {
    let address = object.get("address");
    fill(&mut listing.source_listing_id, text(object.get("id")));
    fill(&mut listing.title, text(object.get("fullName")));
    fill(&mut listing.list_price, text(object.get("listPrice")));
    fill(&mut listing.bedrooms_total, text(object.get("bedrooms")));
    fill(&mut listing.bathrooms_total, text(object.get("bathrooms")));
    fill(
        &mut listing.living_area_sqft,
        text(object.get("livingArea")),
    );
    fill(&mut listing.property_type, text(object.get("propertyType")));
    fill(&mut listing.description, text(object.get("description")));
    fill(
        &mut listing.street_address,
        text(address.and_then(|address| address.get("fullStreetAddress"))),
    );
    fill(
        &mut listing.unit_number,
        text(address.and_then(|address| address.get("unitNumber"))),
    );
    fill(
        &mut listing.city,
        text(address.and_then(|address| address.get("city"))),
    );
    fill(
        &mut listing.state_or_province,
        text(address.and_then(|address| address.get("stateOrProvince"))),
    );
    fill(
        &mut listing.postal_code,
        text(address.and_then(|address| address.get("postalCode"))),
    );
    fill(&mut listing.latitude, text(object.get("latitude")));
    fill(&mut listing.longitude, text(object.get("longitude")));
    fill(
        &mut listing.posted_at,
        text(object.get("listingContractDate")),
    );
}

/// schema.org types that describe the home itself or its listing.
const SCHEMA_TYPES: &[&str] = &[
    "SingleFamilyResidence",
    "House",
    "Residence",
    "Apartment",
    "Accommodation",
    "Product",
    "RealEstateListing",
    "Offer",
];

/// Every object of a JSON-LD document (including `@graph` members) whose `@type` is one of
/// [`SCHEMA_TYPES`], top-level first.
fn schema_objects(value: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > 8 {
            continue;
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().rev().map(|item| (item, depth + 1))),
            Value::Object(map) => {
                let typed = match map.get("@type") {
                    Some(Value::String(kind)) => SCHEMA_TYPES.contains(&kind.as_str()),
                    Some(Value::Array(kinds)) => kinds
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|kind| SCHEMA_TYPES.contains(&kind)),
                    _ => false,
                };
                if typed {
                    found.push(value);
                }
                if let Some(graph) = map.get("@graph") {
                    stack.push((graph, depth + 1));
                }
                // A listing's home sits in `about`/`mainEntity`/`itemOffered`.
                for key in ["mainEntity", "about", "itemOffered"] {
                    if let Some(child) = map.get(key) {
                        stack.push((child, depth + 1));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

fn fill_from_schema(listing: &mut RawListing, object: &Value) {
    let address = object.get("address");
    let address_part = |key: &str| text(address.and_then(|address| address.get(key)));
    fill(&mut listing.street_address, address_part("streetAddress"));
    fill(&mut listing.city, address_part("addressLocality"));
    fill(
        &mut listing.state_or_province,
        address_part("addressRegion"),
    );
    fill(&mut listing.postal_code, address_part("postalCode"));
    if let Some(Value::String(line)) = address {
        fill(&mut listing.street_address, Some(line.trim().to_owned()));
    }
    let geo = object.get("geo");
    fill(
        &mut listing.latitude,
        text(geo.and_then(|geo| geo.get("latitude"))),
    );
    fill(
        &mut listing.longitude,
        text(geo.and_then(|geo| geo.get("longitude"))),
    );
    fill(
        &mut listing.bedrooms_total,
        text(object.get("numberOfBedrooms")),
    );
    fill(
        &mut listing.bedrooms_total,
        text(object.get("numberOfRooms")),
    );
    fill(
        &mut listing.bathrooms_total,
        text(object.get("numberOfBathroomsTotal")),
    );
    fill(
        &mut listing.bathrooms_total,
        text(object.get("numberOfFullBathrooms")),
    );
    if let Some(size) = object.get("floorSize") {
        // `FTK` is UN/CEFACT for square feet, `MTK` square metres; keep the unit with the number.
        let unit = match text(size.get("unitCode")).as_deref() {
            Some("MTK") => " m²",
            _ => " sqft",
        };
        fill(
            &mut listing.living_area_sqft,
            text(size.get("value")).map(|value| format!("{value}{unit}")),
        );
    }
    let offers = object.get("offers");
    let offer = match offers {
        Some(Value::Array(items)) => items.first(),
        other => other,
    };
    fill(
        &mut listing.list_price,
        text(offer.and_then(|offer| offer.get("price"))),
    );
    fill(&mut listing.list_price, text(object.get("price")));
    fill(&mut listing.title, text(object.get("name")));
    fill(&mut listing.description, text(object.get("description")));
    fill(&mut listing.url, text(object.get("url")));
    fill(&mut listing.posted_at, text(object.get("datePosted")));
    if object.get("@type").and_then(Value::as_str) == Some("SingleFamilyResidence") {
        fill(
            &mut listing.property_type,
            Some("SingleFamilyResidence".to_owned()),
        );
    }
}

static META_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<meta\s[^>]*>").expect("valid regex"));
static META_ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)\b(property|name|content)\s*=\s*(?:"([^"]*)"|'([^']*)')"#)
        .expect("valid regex")
});

fn fill_from_meta(listing: &mut RawListing, html: &str) {
    // Meta tags live in the head; reading past it only risks tags quoted inside the body.
    let head_end = html.find("</head>").unwrap_or(html.len());
    let head = html.get(..head_end).unwrap_or(html);
    for tag in META_TAG.find_iter(head) {
        let mut key = None;
        let mut content = None;
        for attribute in META_ATTRIBUTE.captures_iter(tag.as_str()) {
            let value = attribute
                .get(2)
                .or_else(|| attribute.get(3))
                .map(|value| decode_entities(value.as_str()));
            match attribute
                .get(1)
                .map(|name| name.as_str().to_ascii_lowercase())
            {
                Some(name) if name == "content" => content = value,
                Some(_) => key = value,
                None => {}
            }
        }
        let (Some(key), Some(content)) = (key, content) else {
            continue;
        };
        let content = Some(content.trim().to_owned()).filter(|content| !content.is_empty());
        let slot = match key.to_ascii_lowercase().as_str() {
            "og:title" => &mut listing.title,
            "og:description" | "description" => &mut listing.description,
            "og:url" => &mut listing.url,
            "product:price:amount" | "og:price:amount" => &mut listing.list_price,
            "og:street-address" | "business:contact_data:street_address" => {
                &mut listing.street_address
            }
            "og:locality" | "business:contact_data:locality" => &mut listing.city,
            "og:region" | "business:contact_data:region" => &mut listing.state_or_province,
            "og:postal-code" | "business:contact_data:postal_code" => &mut listing.postal_code,
            "place:location:latitude" | "og:latitude" => &mut listing.latitude,
            "place:location:longitude" | "og:longitude" => &mut listing.longitude,
            _ => continue,
        };
        fill(slot, content);
    }
}

/// The few entities meta content uses.
fn decode_entities(text: &str) -> String {
    text.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The text of the first `<script …marker…>` element.
fn script_body<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)?;
    let open_end = at + html.get(at..)?.find('>')? + 1;
    let close = open_end + html.get(open_end..)?.find("</script>")?;
    html.get(open_end..close)
}

fn json_ld_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("application/ld+json") {
        let Some(after) = rest.get(at..) else { break };
        let Some(open_end) = after.find('>') else {
            break;
        };
        let Some(body_start) = after.get(open_end + 1..) else {
            break;
        };
        let Some(close) = body_start.find("</script>") else {
            break;
        };
        scripts.push(&body_start[..close]);
        rest = &body_start[close..];
    }
    scripts
}

/// The site's notice for a listing taken down, if the page shows one.
fn removed_notice(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    [
        "this listing is no longer available",
        "this listing has been removed",
        "listing not found",
        "this property is no longer for sale",
    ]
    .iter()
    .find(|notice| lower.contains(*notice))
    .map(|notice| (*notice).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_ids_come_from_listing_urls_only() {
        let url = Url::parse("https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314")
            .expect("valid");
        assert_eq!(
            id_from_url(&url).as_deref(),
            Some("647292b98b2f3108b4051314")
        );
        let other =
            Url::parse("https://example.com/listing/_/647292b98b2f3108b4051314").expect("valid");
        assert_eq!(id_from_url(&other), None);
    }

    #[test]
    fn meta_content_is_read_in_either_attribute_order() {
        let mut listing = RawListing::default();
        fill_from_meta(
            &mut listing,
            r#"<head><meta content="$1,697,000" property="product:price:amount"><meta property='og:locality' content='Sherman Oaks'></head>"#,
        );
        assert_eq!(listing.list_price.as_deref(), Some("$1,697,000"));
        assert_eq!(listing.city.as_deref(), Some("Sherman Oaks"));
    }
}
