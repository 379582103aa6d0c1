//! Realtor.com pages and search data to [`RawListing`]s.
//!
//! Realtor.com renders every page from one JSON shape (its GraphQL `home_search` / property
//! records): `property_id`, `listing_id`, `status`, `list_price`, `list_date`, `permalink`,
//! `description {beds, baths, baths_consolidated, sqft, lot_sqft, type, text}`,
//! `location.address {line, city, state_code, postal_code, coordinate {lat, lon}}`. [`parse_page`]
//! reads those records wherever they come from:
//!
//! | Body | Recognised by | Page kind |
//! |------|---------------|-----------|
//! | A JSON array of records (the search results a scraper extracted, e.g. the Scrapfly export) | leading `[` | search |
//! | A JSON object holding records (`{"data":{"home_search":{"results":[...]}}}`, `{"properties":[...]}`) | leading `{` | search, or posting for one bare record |
//! | An HTML page with `<script id="__NEXT_DATA__">` (search pages list `props.pageProps.properties`, detail pages hold one record) | the script id | search or posting |
//!
//! Records are found by shape (an object with a `property_id` and a `location`, `permalink`,
//! `list_price` or `description`), top-most first, so the parser does not depend on the exact path,
//! which Realtor.com changes between releases. Values stay as the data gives them: `list_price`
//! `899000`, `status` `for_sale`, `type` `single_family`. Attributes without a [`RawListing`] field go
//! to `extra`: `listing_id`, `status`, `lot_sqft`, `year_built`, `photo_url`, `photo_count`,
//! `last_sold_price`, `last_sold_date`, `county`, `flags` (the record's flag object as given).
//!
//! Nothing here panics on any input.
//!
//! ```
//! use aiq_connectors::page::PageKind;
//! use aiq_connectors::realtor::parse_page;
//! use chrono::Utc;
//!
//! let body = r#"[{"property_id":"9375099153","permalink":"2238-Market-St-Unit-306_San-Francisco_CA_94114_M93750-99153",
//!   "list_price":899000,"description":{"beds":1,"baths":1,"sqft":714,"type":"Apartment"},
//!   "location":{"address":{"city":"San Francisco","state":"CA","postal_code":"94114","line":"2238 Market St Unit 306"}}}]"#;
//! let page = parse_page(body, "https://www.realtor.com/realestateandhomes-search/San-Francisco_CA", Utc::now())?;
//! assert_eq!(page.kind, PageKind::Search);
//! let listing = &page.listings[0];
//! assert_eq!(listing.source_listing_id.as_deref(), Some("9375099153"));
//! assert_eq!(listing.list_price.as_deref(), Some("899000"));
//! assert_eq!(listing.url.as_deref(), Some("https://www.realtor.com/realestateandhomes-detail/2238-Market-St-Unit-306_San-Francisco_CA_94114_M93750-99153"));
//! # Ok::<(), aiq_connectors::Error>(())
//! ```

use std::collections::{HashSet, VecDeque};

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind, SkippedItem};
use crate::util::bot_check::is_bot_check_title;
use crate::util::json::text_of;
use crate::util::links::{is_web_url, link_base, parse_page_url};

/// Where listing pages live; `permalink`s are relative to it.
const DETAIL_BASE: &str = "https://www.realtor.com/realestateandhomes-detail/";
const SITE_ORIGIN: &str = "https://www.realtor.com";

/// Parse one Realtor.com page or JSON document fetched from `url` at `fetched_at`.
///
/// Errors: [`Error::NoListing`] with [`NoListingReason::Empty`] for a result set without records
/// and [`NoListingReason::Blocked`] for a bot-check page; [`Error::Unrecognised`] for a body that
/// holds no Realtor.com records; [`Error::InvalidUrl`] when `url` is not absolute.
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let text = body.trim_start_matches('\u{feff}').trim_start();
    let document = if text.starts_with('[') || text.starts_with('{') {
        serde_json::from_str::<Value>(text).map_err(|error| {
            Error::unrecognised(format!("Realtor.com JSON that does not parse: {error}"))
        })?
    } else if let Some(data) = next_data(text) {
        data
    } else if let Some(detail) = block_notice(text) {
        return Err(Error::no_listing(NoListingReason::Blocked, detail));
    } else {
        return Err(Error::unrecognised(
            "neither Realtor.com JSON nor a page carrying __NEXT_DATA__",
        ));
    };

    let found = find_records(&document);
    if found.records.is_empty() {
        return if found.saw_result_list {
            Err(Error::no_listing(
                NoListingReason::Empty,
                "a result list without property records",
            ))
        } else {
            Err(Error::unrecognised("no Realtor.com property records"))
        };
    }

    let base = link_base(&page_url, SITE_ORIGIN);
    let mut listings = Vec::with_capacity(found.records.len());
    let mut skipped = Vec::new();
    let mut seen = HashSet::new();
    for record in &found.records {
        let Some(id) = record_id(record) else {
            skipped.push(SkippedItem {
                id: String::new(),
                reason: "a record without a property id, plan id or permalink".to_owned(),
            });
            continue;
        };
        if !seen.insert(id.clone()) {
            skipped.push(SkippedItem {
                id,
                reason: "the same property appears twice on the page".to_owned(),
            });
            continue;
        }
        listings.push(listing_from(record, id, &base, fetched_at));
    }

    let kind = if found.records.len() == 1 && !found.any_in_list {
        PageKind::Posting
    } else {
        PageKind::Search
    };
    let posting_urls = match kind {
        PageKind::Search => listings.iter().filter_map(|l| l.url.clone()).collect(),
        PageKind::Posting => Vec::new(),
    };
    Ok(Page {
        kind,
        listings,
        posting_urls,
        next_page_url: None,
        skipped,
    })
}

/// The JSON inside `<script id="__NEXT_DATA__" ...>`, found by text search (no DOM needed).
fn next_data(html: &str) -> Option<Value> {
    let at = html.find("id=\"__NEXT_DATA__\"")?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</script")?;
    serde_json::from_str(&html[open_end..close]).ok()
}

/// The title of a bot-check page, when this is one.
fn block_notice(html: &str) -> Option<String> {
    let start = html.find("<title>")? + "<title>".len();
    let end = start + html[start..].find("</title>")?;
    let title = html[start..end].trim();
    is_bot_check_title(title).then(|| format!("page title \"{title}\""))
}

/// Property records found in a document, top-most first in document order.
struct FoundRecords<'a> {
    records: Vec<&'a Map<String, Value>>,
    /// Whether any record sat in an array (a result list), which makes the page a search page.
    any_in_list: bool,
    /// Whether the document had a result-list key (`results`, `properties`), even an empty one.
    saw_result_list: bool,
}

/// Breadth-first walk (no recursion, so hostile nesting cannot overflow the stack) that stops
/// descending at each record, so a record's nested objects are never mistaken for more records.
fn find_records(document: &Value) -> FoundRecords<'_> {
    let mut found = FoundRecords {
        records: Vec::new(),
        any_in_list: false,
        saw_result_list: matches!(document, Value::Array(_)),
    };
    let mut queue: VecDeque<(&Value, bool)> = VecDeque::from([(document, false)]);
    while let Some((value, in_list)) = queue.pop_front() {
        match value {
            Value::Object(object) if is_property_record(object) => {
                found.any_in_list |= in_list;
                found.records.push(object);
            }
            Value::Object(object) => {
                for (key, child) in object {
                    if matches!(key.as_str(), "results" | "properties") && child.is_array() {
                        found.saw_result_list = true;
                    }
                    queue.push_back((child, false));
                }
            }
            Value::Array(items) => queue.extend(items.iter().map(|item| (item, true))),
            _ => {}
        }
    }
    found
}

fn is_property_record(object: &Map<String, Value>) -> bool {
    (object.contains_key("property_id") || object.contains_key("plan_id"))
        && ["location", "permalink", "list_price", "description"]
            .iter()
            .any(|key| object.contains_key(*key))
}

/// The record's id: its `property_id`; for a new-construction plan, which has none (the export
/// leaves it blank), its `plan_id`, else the plan id that ends its permalink
/// (`..._San-Francisco_CA_94124_P417000824059`). Plan ids start with `P`, so they never collide with
/// the all-digit property ids.
fn record_id(record: &Map<String, Value>) -> Option<String> {
    record
        .get("property_id")
        .and_then(text_of)
        .or_else(|| record.get("plan_id").and_then(text_of))
        .or_else(|| {
            let permalink = record.get("permalink").and_then(text_of)?;
            let tail = permalink.rsplit('_').next()?;
            (tail.len() > 1
                && tail.starts_with('P')
                && tail[1..].bytes().all(|b| b.is_ascii_digit()))
            .then(|| tail.to_owned())
        })
}

fn listing_from(
    record: &Map<String, Value>,
    id: String,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> RawListing {
    let description = record.get("description");
    let address = record.get("location").and_then(|l| l.get("address"));
    let coordinate = address.and_then(|a| a.get("coordinate"));
    let field = |value: Option<&Value>, key: &str| value.and_then(|v| v.get(key)).and_then(text_of);

    let mut listing = RawListing {
        source: Some(Source::Realtor.as_str().to_owned()),
        source_listing_id: Some(id),
        url: listing_url(record, base),
        fetched_at: Some(fetched_at),
        listing_kind: record.get("status").and_then(text_of),
        property_type: field(description, "type"),
        // Rentals quote a range; its low end is the advertised "from" price.
        list_price: record
            .get("list_price")
            .and_then(text_of)
            .or_else(|| record.get("list_price_min").and_then(text_of)),
        bedrooms_total: field(description, "beds").or_else(|| field(description, "beds_min")),
        // `baths_consolidated` ("2.5") counts half baths; `baths` alone may be full baths only.
        bathrooms_total: field(description, "baths_consolidated")
            .or_else(|| field(description, "baths"))
            .or_else(|| field(description, "baths_min")),
        living_area_sqft: field(description, "sqft").or_else(|| field(description, "sqft_min")),
        street_address: field(address, "line"),
        unit_number: field(address, "unit"),
        city: field(address, "city"),
        state_or_province: field(address, "state_code").or_else(|| field(address, "state")),
        postal_code: field(address, "postal_code"),
        latitude: field(coordinate, "lat"),
        longitude: field(coordinate, "lon"),
        title: field(description, "name"),
        description: field(description, "text"),
        posted_at: record.get("list_date").and_then(text_of),
        ..RawListing::default()
    };
    if let Some(advertiser) = record
        .get("advertisers")
        .and_then(Value::as_array)
        .and_then(|all| all.first())
    {
        listing.contact_name = advertiser.get("name").and_then(text_of);
        listing.contact_email = advertiser.get("email").and_then(text_of);
        listing.contact_phone = advertiser
            .get("phones")
            .and_then(Value::as_array)
            .and_then(|phones| phones.first())
            .and_then(|phone| phone.get("number"))
            .and_then(text_of);
    }

    let extra = &mut listing.extra;
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            extra.insert(key.to_owned(), Value::String(value));
        }
    };
    put("listing_id", record.get("listing_id").and_then(text_of));
    put("status", record.get("status").and_then(text_of));
    put(
        "lot_sqft",
        field(description, "lot_sqft").or_else(|| field(description, "lot_size")),
    );
    put("year_built", field(description, "year_built"));
    put(
        "last_sold_price",
        record
            .get("last_sold_price")
            .and_then(text_of)
            .or_else(|| field(description, "sold_price")),
    );
    put(
        "last_sold_date",
        record
            .get("last_sold_date")
            .and_then(text_of)
            .or_else(|| field(description, "sold_date")),
    );
    put(
        "county",
        record
            .get("location")
            .and_then(|l| l.get("county"))
            .and_then(|c| c.get("name"))
            .and_then(text_of),
    );
    let photos = record.get("photos").and_then(Value::as_array);
    put(
        "photo_url",
        record
            .get("primary_photo")
            .and_then(|p| p.get("href"))
            .and_then(text_of)
            .or_else(|| {
                photos
                    .and_then(|all| all.first())
                    .and_then(|p| p.get("href"))
                    .and_then(text_of)
            }),
    );
    put("photo_count", photos.map(|all| all.len().to_string()));
    if let Some(flags) = record.get("flags").filter(|flags| flags.is_object()) {
        listing.extra.insert("flags".to_owned(), flags.clone());
    }
    listing
}

/// The listing's own page: `href` when the record carries one, else the detail path its permalink
/// names.
fn listing_url(record: &Map<String, Value>, base: &Url) -> Option<String> {
    if let Some(href) = record.get("href").and_then(text_of)
        && let Ok(url) = base.join(&href)
    {
        return Some(url.to_string());
    }
    let permalink = record.get("permalink").and_then(text_of)?;
    let detail_base = base
        .join("/realestateandhomes-detail/")
        .ok()
        .filter(|_| is_web_url(base))
        .map(|url| url.to_string())
        .unwrap_or_else(|| DETAIL_BASE.to_owned());
    Url::parse(&detail_base)
        .and_then(|detail| detail.join(permalink.trim_start_matches('/')))
        .ok()
        .map(|url| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn next_data_detail_page_is_one_posting_with_every_field() {
        let html = r#"<html><head><title>123 Main St, Austin, TX 78701 | realtor.com</title></head><body>
            <script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"initialReduxState":{
            "propertyDetails":{"property_id":"1234567890","listing_id":"2961234567","status":"for_sale",
            "list_price":450000,"list_date":"2024-03-01T10:00:00Z","href":"/realestateandhomes-detail/123-Main-St_Austin_TX_78701_M12345-67890",
            "description":{"beds":3,"baths_consolidated":"2.5","baths":2,"sqft":1800,"lot_sqft":6000,"type":"single_family","year_built":1999,"text":"Lovely home."},
            "location":{"address":{"line":"123 Main St","city":"Austin","state_code":"TX","postal_code":"78701","coordinate":{"lat":30.27,"lon":-97.74}}},
            "advertisers":[{"name":"Pat Agent","email":"pat@example.com","phones":[{"number":"512-555-0100"}]}],
            "flags":{"is_new_listing":true},
            "nearby":[{"property_id":"999","list_price":1}]}}}}}</script></body></html>"#;
        let page = parse_page(
            html,
            "https://www.realtor.com/realestateandhomes-detail/x",
            now(),
        )
        .expect("detail page parses");
        assert_eq!(page.kind, PageKind::Posting);
        assert!(page.posting_urls.is_empty());
        let listing = &page.listings[0];
        assert_eq!(listing.source.as_deref(), Some("realtor"));
        assert_eq!(listing.source_listing_id.as_deref(), Some("1234567890"));
        assert_eq!(
            listing.url.as_deref(),
            Some(
                "https://www.realtor.com/realestateandhomes-detail/123-Main-St_Austin_TX_78701_M12345-67890"
            )
        );
        assert_eq!(listing.listing_kind.as_deref(), Some("for_sale"));
        assert_eq!(listing.bathrooms_total.as_deref(), Some("2.5"));
        assert_eq!(listing.latitude.as_deref(), Some("30.27"));
        assert_eq!(listing.longitude.as_deref(), Some("-97.74"));
        assert_eq!(listing.posted_at.as_deref(), Some("2024-03-01T10:00:00Z"));
        assert_eq!(listing.contact_phone.as_deref(), Some("512-555-0100"));
        assert_eq!(listing.description.as_deref(), Some("Lovely home."));
        assert_eq!(listing.extra["listing_id"], "2961234567");
        assert_eq!(listing.extra["flags"]["is_new_listing"], true);
    }

    #[test]
    fn empty_result_lists_are_empty_and_foreign_json_unrecognised() {
        let url = "https://www.realtor.com/realestateandhomes-search/Nowhere";
        let empty = parse_page("[]", url, now()).expect_err("no records");
        assert_eq!(empty.no_listing_reason(), Some(NoListingReason::Empty));
        let graphql = r#"{"data":{"home_search":{"total":0,"results":[]}}}"#;
        let empty = parse_page(graphql, url, now()).expect_err("no records");
        assert_eq!(empty.no_listing_reason(), Some(NoListingReason::Empty));
        let foreign = parse_page(r#"{"zpid":1}"#, url, now()).expect_err("not realtor");
        assert_eq!(foreign.code(), "unrecognised_page");
        let broken = parse_page("[{", url, now()).expect_err("truncated JSON");
        assert_eq!(broken.code(), "unrecognised_page");
    }

    #[test]
    fn block_pages_are_blocked_and_relative_urls_rejected() {
        let blocked = parse_page(
            "<html><head><title>Pardon Our Interruption</title></head></html>",
            "https://www.realtor.com/x",
            now(),
        )
        .expect_err("blocked");
        assert!(blocked.retryable());
        let relative = parse_page("[]", "/x", now()).expect_err("relative url");
        assert_eq!(relative.code(), "invalid_url");
    }

    #[test]
    fn links_follow_a_mirror_but_not_a_file() {
        let body = r#"[{"property_id":"1","permalink":"A_B_CA_1_M1-1","list_price":1}]"#;
        let mirrored = parse_page(body, "http://127.0.0.1:8080/search", now()).expect("parses");
        assert_eq!(
            mirrored.listings[0].url.as_deref(),
            Some("http://127.0.0.1:8080/realestateandhomes-detail/A_B_CA_1_M1-1")
        );
        let saved = parse_page(body, "file:///tmp/search.json", now()).expect("parses");
        assert_eq!(
            saved.listings[0].url.as_deref(),
            Some("https://www.realtor.com/realestateandhomes-detail/A_B_CA_1_M1-1")
        );
    }
}
