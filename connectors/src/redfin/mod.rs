//! Redfin pages and search data to [`RawListing`](aiq_schemas::RawListing)s.
//!
//! | Body | Recognised by | Read from | Page kind |
//! |------|---------------|-----------|-----------|
//! | Search results: a JSON array of home objects (as scrapers extract them), or Redfin's own `{}&&{"payload":{"homes":[...]}}` API response | objects with `propertyId` and `latLong`/`streetLine`/`price` | `price.value`, `beds`, `baths`, `sqFt.value`, `streetLine.value`, `city`, `state`, `zip`, `latLong.value`, `mlsStatus`, `uiPropertyType`, `listingRemarks`, `listingAgent` | search |
//! | Property records a scraper extracted from property pages (the Scrapfly export) | objects with `propertyUrl` and `address` | `address` ("street, city, ST zip"), `price`, `details`, `features` ("Label: value" lines) | search |
//! | A property page (HTML) | `__reactServerState.InitialContext`, JSON-LD, `twitter:text:*` meta | the cached `/stingray/api/home/details/*` responses (`aboveTheFold`, `mainHouseInfoPanelInfo`, `belowTheFold`, `initialInfo`), over JSON-LD and meta tags as a fallback | posting |
//!
//! The id is Redfin's `propertyId` (the number that ends every property URL, `/home/282664`);
//! `listingId` and the MLS number go to `extra` (`listing_id`, `mls_id`). Other `extra` keys:
//! `status` (the MLS status as shown), `price_label` ("Sold Price"), `year_built`, `lot_size_sqft`,
//! `hoa_fee`, `days_on_market`, `sold_date`, `broker_name`, `photo_url`, `photo_count`,
//! `neighbourhood`, `estimated_monthly_payment`.
//!
//! `listing_kind` is written in the words the normaliser reads: `"sold"` for a closed sale,
//! `"for rent"` for rentals, `"for sale"` for every other MLS status (Active, Coming Soon,
//! Pending...), since Redfin's home search and property pages are sale listings unless they carry
//! rental data. The MLS status itself stays in `extra.status`.
//!
//! No DOM is built: the property page is 800 KB, and everything needed sits in one script line
//! and a few meta tags found by substring search. Nothing here panics on any input.
//!
//! ```
//! use aiq_connectors::page::PageKind;
//! use aiq_connectors::redfin::parse_page;
//! use chrono::Utc;
//!
//! let body = r#"[{"propertyId":46456,"listingId":178262671,"mlsStatus":"Active","price":{"value":360000},
//!   "beds":1,"baths":1.0,"sqFt":{"value":566},"streetLine":{"value":"506 E Howell St Unit W303"},
//!   "city":"Seattle","state":"WA","zip":"98122","latLong":{"value":{"latitude":47.618,"longitude":-122.325}},
//!   "url":"/WA/Seattle/506-E-Howell-St-98122/unit-W303/home/46456"}]"#;
//! let page = parse_page(body, "https://www.redfin.com/city/16163/WA/Seattle", Utc::now())?;
//! assert_eq!(page.kind, PageKind::Search);
//! let home = &page.listings[0];
//! assert_eq!(home.source_listing_id.as_deref(), Some("46456"));
//! assert_eq!(home.listing_kind.as_deref(), Some("for sale"));
//! assert_eq!(home.url.as_deref(), Some("https://www.redfin.com/WA/Seattle/506-E-Howell-St-98122/unit-W303/home/46456"));
//! # Ok::<(), aiq_connectors::Error>(())
//! ```

mod homes;
mod property;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind};
use crate::util::bot_check::is_bot_check_title;
use crate::util::links::{link_base, parse_page_url};

const SITE_ORIGIN: &str = "https://www.redfin.com";

/// Redfin prefixes its API responses with this to stop them being run as a script.
const API_PREFIX: &str = "{}&&";

/// Parse one Redfin page or JSON document fetched from `url` at `fetched_at`.
///
/// Errors: [`Error::NoListing`] ([`NoListingReason::Empty`]) for a result list without homes,
/// ([`NoListingReason::Blocked`]) for a bot-check page; [`Error::Unrecognised`] for anything that is
/// neither Redfin JSON nor a Redfin property page; [`Error::InvalidUrl`] when `url` is not absolute.
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let base = link_base(&page_url, SITE_ORIGIN);
    let text = body.trim_start_matches('\u{feff}').trim_start();
    let json = text.strip_prefix(API_PREFIX).unwrap_or(text).trim_start();
    if json.starts_with('[') || json.starts_with('{') {
        let document: Value = serde_json::from_str(json).map_err(|error| {
            Error::unrecognised(format!("Redfin JSON that does not parse: {error}"))
        })?;
        let (listings, skipped) = homes::parse(&document, &base, fetched_at)?;
        let posting_urls = listings.iter().filter_map(|l| l.url.clone()).collect();
        return Ok(Page {
            kind: PageKind::Search,
            listings,
            posting_urls,
            next_page_url: None,
            skipped,
        });
    }
    if let Some(listing) = property::parse(text, &page_url, &base, fetched_at) {
        return Ok(Page {
            kind: PageKind::Posting,
            listings: vec![listing],
            ..Page::default()
        });
    }
    if let Some(title) = blocked_title(text) {
        return Err(Error::no_listing(
            NoListingReason::Blocked,
            format!("page title \"{title}\""),
        ));
    }
    Err(Error::unrecognised(
        "neither Redfin JSON nor a Redfin property page with an address",
    ))
}

/// The page title, when it is one of the titles bot checks use.
fn blocked_title(html: &str) -> Option<String> {
    page_title(html).filter(|title| is_bot_check_title(title))
}

fn page_title(html: &str) -> Option<String> {
    let start = html.find("<title")?;
    let open_end = start + html[start..].find('>')? + 1;
    let end = open_end + html[open_end..].find("</title>")?;
    let title = collapse(&decode_entities(&html[open_end..end]));
    (!title.is_empty()).then_some(title)
}

/// The Redfin property id that ends a property URL (`.../home/282664`), if any.
fn property_id_from_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let after = &path[path.rfind("/home/")? + "/home/".len()..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// `listing_kind` from an MLS status or Redfin's status token; see the module docs.
fn kind_from_status(status: &str) -> Option<&'static str> {
    let lower = status.trim().to_ascii_lowercase();
    if lower.is_empty() || lower.contains("off market") || lower == "off-market" {
        None
    } else if lower.contains("sold") || lower == "closed" {
        Some("sold")
    } else if lower.contains("rent") || lower.contains("lease") {
        Some("for rent")
    } else {
        Some("for sale")
    }
}

/// Collapse whitespace runs to one space and trim.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The few HTML entities Redfin writes in titles and meta content.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// A listing with the fields every Redfin record shares filled in.
fn new_listing(id: String, url: Option<String>, fetched_at: DateTime<Utc>) -> RawListing {
    RawListing {
        source: Some(Source::Redfin.as_str().to_owned()),
        source_listing_id: Some(id),
        url,
        fetched_at: Some(fetched_at),
        ..RawListing::default()
    }
}

/// Store `value` under `key` in `extra` when there is one.
fn put_extra(listing: &mut RawListing, key: &str, value: Option<String>) {
    if let Some(value) = value {
        listing.extra.insert(key.to_owned(), Value::String(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_ids_come_from_the_url_tail() {
        assert_eq!(
            property_id_from_url(
                "https://www.redfin.com/WA/Kenmore/7718-NE-183rd-St-98028/home/282664"
            ),
            Some("282664".to_owned())
        );
        assert_eq!(
            property_id_from_url("/WA/Seattle/1105-Spring-St-98104/unit-405/home/12305595?x=1"),
            Some("12305595".to_owned())
        );
        assert_eq!(
            property_id_from_url("https://www.redfin.com/city/16163"),
            None
        );
        assert_eq!(property_id_from_url("/home/"), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_from_status("Active"), Some("for sale"));
        assert_eq!(kind_from_status("Coming Soon"), Some("for sale"));
        assert_eq!(kind_from_status("Closed"), Some("sold"));
        assert_eq!(kind_from_status("sold"), Some("sold"));
        assert_eq!(kind_from_status("For Rent"), Some("for rent"));
        assert_eq!(kind_from_status("Off Market"), None);
        assert_eq!(kind_from_status(" "), None);
    }

    #[test]
    fn api_prefix_and_empty_lists() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp");
        let url = "https://www.redfin.com/stingray/api/gis";
        let empty = parse_page(r#"{}&&{"payload":{"homes":[]}}"#, url, now).expect_err("empty");
        assert_eq!(empty.no_listing_reason(), Some(NoListingReason::Empty));
        let one = parse_page(
            r#"{}&&{"payload":{"homes":[{"propertyId":5,"price":{"value":1},"url":"/x/home/5"}]}}"#,
            url,
            now,
        )
        .expect("one home");
        assert_eq!(one.listings[0].source_listing_id.as_deref(), Some("5"));
        assert_eq!(
            one.posting_urls,
            vec!["https://www.redfin.com/x/home/5".to_owned()]
        );
        let blocked = parse_page(
            "<html><head><title>Access Denied</title></head></html>",
            url,
            now,
        )
        .expect_err("blocked");
        assert!(blocked.retryable());
        let foreign = parse_page("<html><p>hello</p></html>", url, now).expect_err("foreign");
        assert_eq!(foreign.code(), "unrecognised_page");
    }
}
