//! Zillow pages and JSON to [`RawListing`]s.
//!
//! [`parse_page`] takes one fetched body (already decoded, see [`crate::decode::decode_html`]):
//! an HTML page, or a JSON document (the async search API, or data exported from a page). It
//! tells what it is and returns the shared [`Page`].
//!
//! | Input | Recognised by | Read from |
//! |-------|---------------|-----------|
//! | Home-details page | `<script id="__NEXT_DATA__">` with `componentProps.gdpClientCache` | the cache is a JSON-encoded *string* keyed by GraphQL query; its `property` object |
//! | Search page | `__NEXT_DATA__` with `searchPageState` | `cat1.searchResults.listResults`, `cat1.searchList.pagination.nextUrl` |
//! | Search page without JSON | `article[data-test=property-card]` | price, `ul[data-testid=property-card-details]`, `<address>`, unit boxes, "Call ..." button, `a[rel=next]` |
//! | Async search API (JSON) | root `cat1` (or `searchPageState`) | as the search page |
//! | Property JSON | root object with `zpid` and `hdpUrl`/`resoFacts`/`homeStatus` | as the home-details page |
//! | Results JSON | root array of `listResults` items | as the search page |
//!
//! # Fields
//!
//! Values stay as Zillow gives them: search results as the card shows them (`"$1,699/mo"`,
//! `"$1,495+/mo"`, `"From $988,901"`, beds `2`, baths `1.0`, area `918`), the property object's
//! numbers as text (`265000`), the kind as Zillow's status (`FOR_SALE`, `FOR_RENT`; rendered cards
//! `for rent`), the home type as Zillow's (`CONDO`, `SINGLE_FAMILY`, `APARTMENT`). The id is the
//! zpid; links are absolute (against the page URL when it is a web URL, else
//! `https://www.zillow.com`).
//!
//! * `posted_at`: the property's `datePostedString` (`"2024-10-28"`). Search results carry only
//!   their age (`timeOnZillow`, milliseconds at the time of the fetch), so theirs is `fetched_at`
//!   minus that age, in RFC 3339; the raw age is kept in `extra.time_on_zillow_ms`.
//! * Contact: the MLS attribution's agent name, phone and e-mail; rendered cards' "Call" number.
//! * `extra` keys: `home_status`, `status_text`, `days_on_zillow`, `time_on_zillow_ms`,
//!   `year_built`, `lot_area_sqft`, `monthly_hoa_fee`, `zestimate`, `rent_zestimate`, `county`,
//!   `neighbourhood`, `country`, `mls_id`, `mls_name`, `broker_name`, `broker_phone`,
//!   `builder_name`, `available_from`, `building_id`, `lot_id`, `available_units`, `unit_count`,
//!   `room_for_rent`.
//!
//! # Buildings
//!
//! A rental building appears as one result with `units` (JSON: `[{price: "$2,225+", beds: "1"}]`)
//! or as a card with one box per unit group. Each unit group is its own offer (bedrooms and a
//! starting price), so each becomes one listing, sharing the building's address, coordinates,
//! name (`title`) and URL. Its id is the building's id plus the bedroom count
//! (`43.90381--69.918846-1bd`; a repeated or missing count adds the group's position), which stays
//! the same from one crawl to the next and between the JSON and the rendered card, where a
//! position alone would shift whenever a group fills up. Zillow's building id is its position,
//! which gives rendered building cards their coordinates. A building without unit groups (a
//! card with only "$2,795+ 2 bds", a for-sale building with `minBeds`) is one listing at its lowest
//! ("from") price. A building's street is its one-line address's, not `addressStreet`, which
//! names one arbitrary unit.
//!
//! # Not listings
//!
//! * A bot-check page (PerimeterX "Press & Hold", "Access to this page has been denied", a JSON
//!   `blockScript` response) is [`NoListingReason::Blocked`].
//! * A home-details page of a home that is off the market (`SOLD`, `RECENTLY_SOLD`, `OFF_MARKET`,
//!   `OTHER`) is [`NoListingReason::Expired`]; such results on a search page go to
//!   [`Page::skipped`].
//! * A search with no results is [`NoListingReason::Empty`].
//!
//! The 1+ MB pages are never parsed into a DOM: the `__NEXT_DATA__` script is found by substring
//! search and only its JSON is parsed. Only pages without it go through html5ever, from the first
//! card on. Nothing here panics on any input.
//!
//! ```
//! use aiq_connectors::zillow::parse_page;
//! use aiq_connectors::PageKind;
//! use chrono::Utc;
//!
//! let json = r#"{"cat1": {"searchResults": {"listResults": [{"zpid": "19998955",
//!   "detailUrl": "/homedetails/7941-Rhodes-Ave-North-Hollywood-CA-91605/19998955_zpid/",
//!   "statusType": "FOR_SALE", "price": "$499,000", "beds": 2, "baths": 1.0, "area": 918,
//!   "addressStreet": "7941 Rhodes Ave", "addressCity": "North Hollywood", "addressState": "CA",
//!   "addressZipcode": "91605", "latLong": {"latitude": 34.21504, "longitude": -118.40345}}]}}}"#;
//! let page = parse_page(json, "https://www.zillow.com/async-create-search-page-state", Utc::now())?;
//! assert_eq!(page.kind, PageKind::Search);
//! let listing = &page.listings[0];
//! assert_eq!(listing.source_listing_id.as_deref(), Some("19998955"));
//! assert_eq!(listing.list_price.as_deref(), Some("$499,000"));
//! assert_eq!(listing.bathrooms_total.as_deref(), Some("1.0"));
//! assert_eq!(
//!     listing.url.as_deref(),
//!     Some("https://www.zillow.com/homedetails/7941-Rhodes-Ave-North-Hollywood-CA-91605/19998955_zpid/")
//! );
//! # Ok::<(), aiq_connectors::Error>(())
//! ```

mod cards;
mod property;
mod search;
mod values;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use memchr::memmem;
use serde_json::Value;

use crate::error::{Error, NoListingReason, Result};
pub use crate::page::{Page, PageKind};
use crate::util::links::{link_base, parse_page_url};
use values::{Context, at};

/// Parse one Zillow page or JSON document fetched from `url` at `fetched_at`.
///
/// Errors: [`Error::NoListing`] for bot-check, off-market and empty pages; [`Error::Unrecognised`]
/// for anything else that holds no Zillow listing (including JSON that does not parse);
/// [`Error::InvalidUrl`] when `url` is not absolute.
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let base = link_base(&page_url, values::ZILLOW_ORIGIN);
    let context = Context {
        base: &base,
        fetched_at,
    };
    let trimmed = body.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let document: Value = serde_json::from_str(trimmed)
            .map_err(|error| Error::unrecognised(format!("JSON that does not parse: {error}")))?;
        return parse_json(&document, &context);
    }
    parse_html(body, &context)
}

fn parse_html(html: &str, context: &Context<'_>) -> Result<Page> {
    if let Some(detail) = block_notice(html) {
        return Err(Error::no_listing(NoListingReason::Blocked, detail));
    }
    if let Some(next_data) = next_data(html) {
        let state_or_property = at(&next_data, &["props", "pageProps"]).is_some_and(|props| {
            props.get("searchPageState").is_some_and(Value::is_object)
                || at(props, &["componentProps", "gdpClientCache"]).is_some()
                || at(props, &["componentProps", "apiCache"]).is_some()
        });
        // A page whose JSON holds neither (a new page shape) may still have rendered cards.
        if state_or_property || cards::first_card_offset(html).is_none() {
            return parse_json(&next_data, context);
        }
    }
    if let Some(cards) = cards::parse(html, context) {
        if cards.listings.is_empty() {
            return Err(Error::unrecognised(format!(
                "{} property cards, none with an id",
                cards.card_count
            )));
        }
        return Ok(Page {
            kind: PageKind::Search,
            listings: cards.listings,
            posting_urls: cards.posting_urls,
            next_page_url: cards.next_page_url,
            skipped: Vec::new(),
        });
    }
    if html.contains("id=\"grid-search-results\"") || html.contains("search-page-list-container") {
        return Err(Error::no_listing(
            NoListingReason::Empty,
            "a search page without property cards",
        ));
    }
    if crate::detect::detect_site(html, None) == Some(Source::Zillow) {
        Err(Error::unrecognised(
            "a Zillow page with neither listing data nor property cards",
        ))
    } else {
        Err(Error::unrecognised("not a Zillow page"))
    }
}

/// Phrases of the bot-check page Zillow serves instead of content (PerimeterX).
const BLOCK_MARKERS: [&str; 4] = [
    "px-captcha",
    "Access to this page has been denied",
    "Press &amp; Hold to confirm you are",
    "Press & Hold to confirm you are",
];

fn block_notice(html: &str) -> Option<String> {
    // A real page is large and mentions none of these; checking only the first part keeps a
    // listing description that quotes one from turning its page into a block.
    let head = &html[..floor_char_boundary(html, 64 * 1024)];
    BLOCK_MARKERS
        .iter()
        .find(|marker| head.contains(*marker))
        .filter(|_| !head.contains("__NEXT_DATA__"))
        .map(|marker| format!("bot check (\"{marker}\")"))
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The JSON of `<script id="__NEXT_DATA__" ...>`, found without parsing the page.
fn next_data(html: &str) -> Option<Value> {
    let marker = memmem::find(html.as_bytes(), b"id=\"__NEXT_DATA__\"")?;
    let open_end = marker + html[marker..].find('>')? + 1;
    let close = open_end + memmem::find(&html.as_bytes()[open_end..], b"</script>")?;
    serde_json::from_str(html.get(open_end..close)?).ok()
}

/// Any of the JSON shapes in the module table.
fn parse_json(document: &Value, context: &Context<'_>) -> Result<Page> {
    match document {
        Value::Array(items) => parse_array(items, context),
        Value::Object(object) => {
            if object.contains_key("blockScript") || object.contains_key("jsClientSrc") {
                return Err(Error::no_listing(
                    NoListingReason::Blocked,
                    "bot-check JSON (\"blockScript\")",
                ));
            }
            let props = at(document, &["props", "pageProps"]);
            let state = props
                .and_then(|props| props.get("searchPageState"))
                .or_else(|| document.get("searchPageState"))
                .filter(|state| state.is_object())
                .or_else(|| {
                    (document.get("cat1").is_some() || document.get("searchResults").is_some())
                        .then_some(document)
                });
            if let Some(state) = state {
                return parse_search_state(state, context);
            }
            let cached = props
                .and_then(|props| props.get("componentProps"))
                .and_then(|component| {
                    component
                        .get("gdpClientCache")
                        .or_else(|| component.get("apiCache"))
                })
                .or_else(|| document.get("gdpClientCache"));
            if let Some(cache) = cached {
                let property = property::in_client_cache(cache).ok_or_else(|| {
                    Error::unrecognised("a home-details cache without a property")
                })?;
                return property_page(&property, context);
            }
            if let Some(property) = at(document, &["data", "property"]).filter(|p| p.is_object()) {
                return property_page(property, context);
            }
            if property::is_property(document) {
                return property_page(document, context);
            }
            Err(Error::unrecognised(
                "JSON with neither search results nor a Zillow property",
            ))
        }
        _ => Err(Error::unrecognised(
            "JSON that is neither an object nor an array",
        )),
    }
}

fn property_page(property: &Value, context: &Context<'_>) -> Result<Page> {
    if let Some(status) = property::off_market_status(property) {
        return Err(Error::no_listing(
            NoListingReason::Expired,
            format!("the home is off the market (status {status})"),
        ));
    }
    let listing = property::listing(property, context)
        .ok_or_else(|| Error::unrecognised("a property without a zpid"))?;
    Ok(posting_page(listing))
}

fn posting_page(listing: RawListing) -> Page {
    Page {
        kind: PageKind::Posting,
        listings: vec![listing],
        posting_urls: Vec::new(),
        next_page_url: None,
        skipped: Vec::new(),
    }
}

fn parse_search_state(state: &Value, context: &Context<'_>) -> Result<Page> {
    let items = search::results_in_state(state)
        .ok_or_else(|| Error::unrecognised("a search state without search results"))?;
    if items.is_empty() {
        return Err(Error::no_listing(
            NoListingReason::Empty,
            "the search has no results",
        ));
    }
    let results = search::parse_results(items, context);
    search_page(results, search::next_page_in_state(state, context))
}

/// A top-level array: exported search results, or exported property objects.
fn parse_array(items: &[Value], context: &Context<'_>) -> Result<Page> {
    if items.is_empty() {
        return Err(Error::no_listing(NoListingReason::Empty, "an empty array"));
    }
    if items.iter().all(property::is_property) {
        if let [property] = items {
            return property_page(property, context);
        }
        let mut page = Page::default();
        for (position, property) in items.iter().enumerate() {
            if let Some(status) = property::off_market_status(property) {
                page.skipped
                    .push(values_skipped(property, position, status));
                continue;
            }
            if let Some(listing) = property::listing(property, context) {
                page.posting_urls.extend(listing.url.clone());
                page.listings.push(listing);
            }
        }
        return non_empty(page);
    }
    if !items
        .iter()
        .any(|item| item.get("detailUrl").is_some() || item.get("zpid").is_some())
    {
        return Err(Error::unrecognised(
            "a JSON array of neither search results nor properties",
        ));
    }
    search_page(search::parse_results(items, context), None)
}

fn values_skipped(property: &Value, position: usize, status: &str) -> crate::page::SkippedItem {
    crate::page::SkippedItem {
        id: crate::util::json::text(property.get("zpid"))
            .unwrap_or_else(|| format!("item {}", position + 1)),
        reason: format!("not on the market (status {status})"),
    }
}

fn search_page(results: search::Results, next_page_url: Option<String>) -> Result<Page> {
    non_empty(Page {
        kind: PageKind::Search,
        listings: results.listings,
        posting_urls: results.posting_urls,
        next_page_url,
        skipped: results.skipped,
    })
}

/// A page whose every result was skipped still says why, through the error's detail.
fn non_empty(page: Page) -> Result<Page> {
    if page.listings.is_empty() {
        let detail = match page.skipped.first() {
            Some(first) => format!(
                "{} results, none on the market or identifiable (first: {} {})",
                page.skipped.len(),
                first.id,
                first.reason
            ),
            None => "no results with listing data".to_owned(),
        };
        return Err(Error::no_listing(NoListingReason::Empty, detail));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    const URL: &str = "https://www.zillow.com/homes/";

    #[test]
    fn relative_page_urls_are_rejected() {
        let error = parse_page("{}", "/homes/", now()).expect_err("relative");
        assert_eq!(error.code(), "invalid_url");
    }

    #[test]
    fn bot_checks_are_blocked_and_retryable() {
        let html = "<html><head><title>Access to this page has been denied</title></head>\
                    <body><div id=\"px-captcha\"></div></body></html>";
        let error = parse_page(html, URL, now()).expect_err("blocked");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Blocked));
        assert!(error.retryable());
        let json = r#"{"appId":"PXHYx10rg3","jsClientSrc":"/HYx10rg3/init.js","blockScript":"/x"}"#;
        let error = parse_page(json, URL, now()).expect_err("blocked JSON");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Blocked));
    }

    #[test]
    fn an_empty_search_is_empty() {
        let json = r#"{"cat1":{"searchResults":{"listResults":[],"mapResults":[]},
                      "searchList":{"totalResultCount":0}}}"#;
        let error = parse_page(json, URL, now()).expect_err("empty");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
        let html = "<html><body><div id=\"grid-search-results\"><ul></ul></div></body></html>";
        let error = parse_page(html, URL, now()).expect_err("empty page");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
    }

    #[test]
    fn off_market_homes_are_expired_and_skipped_in_results() {
        let sold = r#"{"zpid": 15192198, "homeStatus": "RECENTLY_SOLD", "hdpUrl": "/homedetails/x/15192198_zpid/"}"#;
        let error = parse_page(sold, URL, now()).expect_err("sold");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Expired));
        assert!(error.to_string().contains("RECENTLY_SOLD"), "{error}");

        let results = r#"[{"zpid": "1", "detailUrl": "/homedetails/a/1_zpid/", "statusType": "SOLD"},
                          {"zpid": "2", "detailUrl": "/homedetails/b/2_zpid/", "statusType": "FOR_SALE", "price": "$1"},
                          {"detailUrl": "/b/x/", "statusType": "FOR_SALE"}]"#;
        let page = parse_page(results, URL, now()).expect("one result on the market");
        assert_eq!(page.listings.len(), 1);
        assert_eq!(page.listings[0].source_listing_id.as_deref(), Some("2"));
        assert_eq!(page.skipped.len(), 2);
        assert_eq!(page.skipped[0].id, "1");
        assert_eq!(page.skipped[1].id, "result 3");
        assert_eq!(
            page.posting_urls,
            ["https://www.zillow.com/homedetails/b/2_zpid/"]
        );
    }

    #[test]
    fn file_urls_resolve_links_against_zillow() {
        let json =
            r#"[{"zpid": "7", "detailUrl": "/homedetails/x/7_zpid/", "statusType": "FOR_RENT"}]"#;
        let page = parse_page(json, "file:///tmp/saved.json", now()).expect("parses");
        assert_eq!(
            page.listings[0].url.as_deref(),
            Some("https://www.zillow.com/homedetails/x/7_zpid/")
        );
        let page = parse_page(json, "http://127.0.0.1:8080/search", now()).expect("parses");
        assert_eq!(
            page.listings[0].url.as_deref(),
            Some("http://127.0.0.1:8080/homedetails/x/7_zpid/")
        );
    }

    #[test]
    fn junk_is_unrecognised() {
        for body in [
            "",
            "<",
            "{",
            "[1, 2]",
            "{\"a\": 1}",
            "null",
            "<html><title>x</title></html>",
        ] {
            let error = parse_page(body, URL, now()).expect_err(body);
            assert_eq!(error.code(), "unrecognised_page", "{body:?}");
        }
    }

    #[test]
    fn next_data_is_found_without_a_dom() {
        let html = "<html><script id=\"__NEXT_DATA__\" type=\"application/json\">{\"a\": [1]}</script></html>";
        assert_eq!(next_data(html), Some(serde_json::json!({"a": [1]})));
        assert_eq!(next_data("<script id=\"__NEXT_DATA__\">{\"a\""), None);
    }
}
