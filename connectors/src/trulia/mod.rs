//! Trulia property pages to [`RawListing`]s.
//!
//! The saved pages are Trulia's 2016-2017 markup (before its Next.js rewrite). Each carries the
//! property as JSON in a script, `trulia.propertyData.set({...})`: `id`, `status` ("For Sale",
//! "Assessor" for a public-record page), `formattedPrice`, `numBedrooms`, `numFullBathrooms`,
//! `numPartialBathrooms`, `formattedSqft`, `streetNumber`/`street`/`apartmentNumber`, `city`,
//! `stateCode`, `zipCode`, `latitude`/`longitude`, `typeDisplay`, `agentName`, `mlsID`. The visible
//! page adds what the JSON lacks: the bathroom total the page shows ("3.5", in the fact box of the
//! "Report Listing Error" form), the description (`#corepropertydescription`), the listing agent's
//! phone ("Listing Provided by"), "N Days on Trulia" and the "Information last updated" time.
//! Schema.org microdata (`itemprop="streetAddress"`, `itemprop="price"`) is the fallback when the
//! JSON is missing.
//!
//! A public-record page (status "Assessor", URL `/homes/<State>/<City>/sold/...`) is a property, not a
//! listing: it yields a record with no `listing_kind` and no price, `extra.record_type =
//! "public_record"`, and the recorded sale price the JSON carries as `extra.last_sale_price`.
//!
//! `extra` keys: `listing_id`, `mls_id`, `status`, `record_type`, `neighbourhood`, `county`,
//! `days_on_site`, `updated_at`, `year_built`, `lot_size`, `broker_name`, `broker_phone`,
//! `last_sale_price`, `photo_count`. Nothing here panics on any input.
//!
//! ```
//! use aiq_connectors::page::PageKind;
//! use aiq_connectors::trulia::parse_page;
//! use chrono::Utc;
//!
//! let html = r#"<html><head><title>1 Elm St, Austin, TX For Sale | Trulia.com</title></head><body>
//!   <script>trulia.propertyData.set({"id":"3230234552","status":"For Sale","formattedPrice":"$815,000",
//!   "numBedrooms":"4","formattedSqft":"4,479 sqft","streetNumber":"1","street":"Elm St","city":"Austin",
//!   "stateCode":"TX","zipCode":"78701","latitude":30.2,"longitude":-97.7,
//!   "pdpURL":"/property/3230234552-1-Elm-St-Austin-TX-78701"});</script></body></html>"#;
//! let page = parse_page(html, "https://www.trulia.com/property/3230234552-1-Elm-St-Austin-TX-78701", Utc::now())?;
//! assert_eq!(page.kind, PageKind::Posting);
//! let listing = &page.listings[0];
//! assert_eq!(listing.list_price.as_deref(), Some("$815,000"));
//! assert_eq!(listing.street_address.as_deref(), Some("1 Elm St"));
//! assert_eq!(listing.listing_kind.as_deref(), Some("For Sale"));
//! # Ok::<(), aiq_connectors::Error>(())
//! ```

mod markup;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind};
use crate::util::bot_check::is_bot_check_title;
use crate::util::json::text_of;
use crate::util::links::{link_base, parse_page_url};

const SITE_ORIGIN: &str = "https://www.trulia.com";

/// Trulia's `status` for a page built from county records rather than a listing.
const PUBLIC_RECORD_STATUS: &str = "Assessor";

/// Parse one Trulia page fetched from `url` at `fetched_at`.
///
/// Errors: [`Error::NoListing`] ([`NoListingReason::Blocked`]) for a bot-check page;
/// [`Error::Unrecognised`] for a page with no Trulia property (neither the property JSON nor an
/// address in microdata); [`Error::InvalidUrl`] when `url` is not absolute.
pub fn parse_page(html: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let base = link_base(&page_url, SITE_ORIGIN);
    let data = property_data(html);
    let facts = markup::Facts::read(html);
    match listing_from(data.as_ref(), &facts, &base, fetched_at) {
        Some(listing) => Ok(Page {
            kind: PageKind::Posting,
            listings: vec![listing],
            ..Page::default()
        }),
        None => match facts
            .title
            .as_deref()
            .filter(|title| is_bot_check_title(title))
        {
            Some(title) => Err(Error::no_listing(
                NoListingReason::Blocked,
                format!("page title \"{title}\""),
            )),
            None => Err(Error::unrecognised(
                "no Trulia property data (neither trulia.propertyData nor an address in microdata)",
            )),
        },
    }
}

/// The object passed to `trulia.propertyData.set(...)`, read as one JSON value from the script
/// text (the call's closing parenthesis follows it).
fn property_data(html: &str) -> Option<Map<String, Value>> {
    const MARKER: &str = "trulia.propertyData.set(";
    let at = html.find(MARKER)? + MARKER.len();
    serde_json::Deserializer::from_str(&html[at..])
        .into_iter::<Map<String, Value>>()
        .next()?
        .ok()
}

fn listing_from(
    data: Option<&Map<String, Value>>,
    facts: &markup::Facts,
    base: &Url,
    fetched_at: DateTime<Utc>,
) -> Option<RawListing> {
    let field = |key: &str| data.and_then(|d| d.get(key)).and_then(text_of);
    let url = facts
        .canonical_url
        .clone()
        .or_else(|| field("pdpURL"))
        .and_then(|link| base.join(&link).ok())
        .map(|url| url.to_string());
    let id = field("id").or_else(|| url.as_deref().and_then(id_from_url))?;
    let status = field("status");
    let public_record = status.as_deref() == Some(PUBLIC_RECORD_STATUS);

    let street = match (field("streetNumber"), field("street")) {
        (Some(number), Some(street)) => Some(format!("{number} {street}")),
        _ => field("shortDescription").or_else(|| facts.street.clone()),
    };
    let mut listing = RawListing {
        source: Some(Source::Trulia.as_str().to_owned()),
        source_listing_id: Some(id),
        url,
        fetched_at: Some(fetched_at),
        listing_kind: if data
            .and_then(|d| d.get("isRental"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            Some("For Rent".to_owned())
        } else if public_record {
            None
        } else {
            status.clone().or_else(|| facts.status.clone())
        },
        // "Unspecified" is Trulia's word for an unknown type, not a type.
        property_type: field("typeDisplay").filter(|kind| kind != "Unspecified"),
        list_price: if public_record {
            None
        } else {
            field("formattedPrice").or_else(|| facts.price.clone())
        },
        bedrooms_total: field("numBedrooms").or_else(|| field("numBeds")),
        bathrooms_total: facts.bathrooms.clone().or_else(|| {
            // Without the page's own total, the full count is the total only when there is no
            // partial bath to add.
            let partial = data
                .and_then(|d| d.get("numPartialBathrooms"))
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            (partial == 0.0).then(|| field("numBathrooms")).flatten()
        }),
        living_area_sqft: field("formattedSqft").or_else(|| field("sqft")),
        street_address: street,
        unit_number: field("apartmentNumber"),
        city: field("city").or_else(|| facts.city.clone()),
        state_or_province: field("stateCode").or_else(|| facts.state.clone()),
        postal_code: field("zipCode").or_else(|| facts.postal_code.clone()),
        latitude: field("latitude"),
        longitude: field("longitude"),
        title: facts.title.as_deref().map(|title| {
            title
                .trim_end_matches(" | Trulia.com")
                .trim_end_matches(" | Trulia")
                .to_owned()
        }),
        description: facts.description.clone(),
        contact_name: field("agentName"),
        contact_phone: facts.agent_phone.clone(),
        ..RawListing::default()
    };
    if listing.street_address.is_none() && listing.latitude.is_none() {
        return None;
    }

    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            listing.extra.insert(key.to_owned(), Value::String(value));
        }
    };
    put("listing_id", field("listingId"));
    put("mls_id", field("mlsID"));
    put("status", status.or_else(|| facts.status.clone()));
    put(
        "record_type",
        public_record.then(|| "public_record".to_owned()),
    );
    put("neighbourhood", field("neighborhood"));
    put("county", field("county"));
    put("days_on_site", facts.days_on_site.clone());
    put("updated_at", facts.updated_at.clone());
    put("year_built", facts.year_built.clone());
    put("lot_size", facts.lot_size.clone());
    put("broker_name", facts.broker_name.clone());
    put("broker_phone", facts.broker_phone.clone());
    put(
        "last_sale_price",
        public_record.then(|| field("price")).flatten(),
    );
    put(
        "photo_count",
        data.and_then(|d| d.get("photos"))
            .and_then(Value::as_array)
            .map(|photos| photos.len().to_string()),
    );
    Some(listing)
}

/// The id that starts the last path segment: `/property/3230234552-13915-Marble-Creek-Ct-...`,
/// `/homes/Maryland/Bethesda/sold/105001-7436-Arrowood-Rd-...`.
fn id_from_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let segment = path.trim_end_matches('/').rsplit('/').next()?;
    let (digits, rest) = segment.split_once('-')?;
    (!digits.is_empty() && !rest.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
    }

    #[test]
    fn ids_come_from_the_last_path_segment() {
        assert_eq!(
            id_from_url(
                "http://www.trulia.com/property/3230234552-13915-Marble-Creek-Ct-Houston-TX-77077"
            ),
            Some("3230234552".to_owned())
        );
        assert_eq!(
            id_from_url(
                "http://www.trulia.com/homes/Maryland/Bethesda/sold/105001-7436-Arrowood-Rd-Bethesda-MD-20817"
            ),
            Some("105001".to_owned())
        );
        assert_eq!(id_from_url("http://www.trulia.com/TX/Houston/"), None);
    }

    #[test]
    fn microdata_alone_gives_a_listing() {
        let html = r#"<html><head><title>9 Oak Ln, Reno, NV For Sale | Trulia.com</title>
            <link rel="canonical" href="http://www.trulia.com/property/555-9-Oak-Ln-Reno-NV-89501"></head><body>
            <span itemprop="price">$300,000</span>
            <div data-role="top_third_details_module" class="mll"><div class="typeHighlight">For Sale</div></div>
            <h1 itemprop="address"><span itemprop="streetAddress">9 Oak Ln</span>
            <span itemprop="addressLocality">Reno</span>, <span itemprop="addressRegion">NV</span>
            <span itemprop="postalCode">89501</span></h1></body></html>"#;
        let page = parse_page(
            html,
            "http://www.trulia.com/property/555-9-Oak-Ln-Reno-NV-89501",
            now(),
        )
        .expect("parses");
        let listing = &page.listings[0];
        assert_eq!(listing.source_listing_id.as_deref(), Some("555"));
        assert_eq!(listing.list_price.as_deref(), Some("$300,000"));
        assert_eq!(listing.street_address.as_deref(), Some("9 Oak Ln"));
        assert_eq!(listing.city.as_deref(), Some("Reno"));
        assert_eq!(listing.postal_code.as_deref(), Some("89501"));
        assert_eq!(listing.listing_kind.as_deref(), Some("For Sale"));
        assert_eq!(
            listing.title.as_deref(),
            Some("9 Oak Ln, Reno, NV For Sale")
        );
    }

    #[test]
    fn foreign_and_blocked_pages_are_errors() {
        let url = "https://www.trulia.com/x";
        let foreign =
            parse_page("<html><title>Zillow</title></html>", url, now()).expect_err("no data");
        assert_eq!(foreign.code(), "unrecognised_page");
        let blocked = parse_page(
            "<html><head><title>Access Denied</title></head></html>",
            url,
            now(),
        )
        .expect_err("blocked");
        assert!(blocked.retryable());
        let relative = parse_page("", "x", now()).expect_err("relative");
        assert_eq!(relative.code(), "invalid_url");
    }
}
