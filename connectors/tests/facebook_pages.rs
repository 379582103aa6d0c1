//! Every saved Facebook Marketplace page in `shared/data/html/facebook`, parsed and checked. Expected
//! values were read off the pages' own JSON and rendered cards.

use aiq_connectors::facebook::parse_page;
use aiq_connectors::{NoListingReason, Page, PageKind};
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const PAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/facebook/"
);

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{PAGES}{file}"))
        .unwrap_or_else(|error| panic!("cannot read {file}: {error}"))
}

fn parse(file: &str, url: &str) -> Page {
    parse_page(&read(file), url, fetched_at())
        .unwrap_or_else(|error| panic!("{file} should parse: {error}"))
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a serde_json::Value> {
    listing.extra.get(key)
}

fn reasons(page: &Page) -> Vec<&str> {
    page.skipped
        .iter()
        .map(|item| item.reason.as_str())
        .collect()
}

#[test]
fn phone_item_page_skips_the_phone_and_keeps_the_related_house() {
    let page = parse(
        "fb_marketplace_2025_item_phone_houston.html",
        "https://www.facebook.com/marketplace/item/1897848127290573/",
    );
    assert_eq!(page.kind, PageKind::Posting);
    assert!(page.posting_urls.is_empty());
    assert_eq!(page.next_page_url, None);

    // The seller filed the phone under Rentals; Facebook files it under electronics > cell-phones.
    let main = &page.skipped[0];
    assert_eq!(main.id, "1897848127290573");
    assert_eq!(
        main.reason,
        "listed under \"Rentals\" but Facebook files it under electronics > cell-phones"
    );
    // The main item and the 19 related items besides the house: boots, a RAV4, a drone, ...
    assert_eq!(page.skipped.len(), 20);
    let reasons = reasons(&page);
    assert_eq!(
        reasons
            .iter()
            .filter(|reason| **reason == "category vehicles")
            .count(),
        4
    );
    assert!(
        page.skipped
            .iter()
            .any(|item| item.id == "962184609129851" && item.reason == "category vehicles")
    );

    assert_eq!(page.listings.len(), 1);
    let house = &page.listings[0];
    assert_eq!(house.source.as_deref(), Some("facebook"));
    assert_eq!(house.source_listing_id.as_deref(), Some("1797467624420648"));
    assert_eq!(
        house.url.as_deref(),
        Some("https://www.facebook.com/marketplace/item/1797467624420648/")
    );
    assert_eq!(house.fetched_at, Some(fetched_at()));
    // Category 821056594720130 is Facebook's Home Sales.
    assert_eq!(house.listing_kind.as_deref(), Some("sale"));
    assert_eq!(house.title.as_deref(), Some("3 Beds 2 Baths - House"));
    assert_eq!(house.list_price.as_deref(), Some("$28,000"));
    assert_eq!(house.bedrooms_total.as_deref(), Some("3 Beds"));
    assert_eq!(house.bathrooms_total.as_deref(), Some("2 Baths"));
    assert_eq!(house.property_type.as_deref(), Some("House"));
    assert_eq!(house.city.as_deref(), Some("Amory"));
    assert_eq!(house.state_or_province.as_deref(), Some("MS"));
    // A related card carries no coordinates, area, street or posting time.
    assert_eq!(house.latitude, None);
    assert_eq!(house.living_area_sqft, None);
    assert_eq!(house.street_address, None);
    assert_eq!(house.posted_at, None);
    assert_eq!(
        extra(house, "related_to").and_then(|value| value.as_str()),
        Some("1897848127290573")
    );
    assert_eq!(
        extra(house, "custom_title").and_then(|value| value.as_str()),
        Some("3 beds · 2 baths")
    );
    assert_eq!(extra(house, "sold"), Some(&serde_json::Value::Bool(false)));
}

#[test]
fn vehicle_item_page_skips_the_car_and_keeps_the_related_room() {
    let page = parse(
        "fb_marketplace_2025_item_auto_with_description.html",
        "https://www.facebook.com/marketplace/item/1368912131186930/",
    );
    assert_eq!(page.kind, PageKind::Posting);
    assert_eq!(page.skipped[0].id, "1368912131186930");
    assert_eq!(page.skipped[0].reason, "category vehicles");
    assert_eq!(page.skipped.len(), 20);
    assert!(
        page.skipped
            .iter()
            .any(|item| item.id == "1572144923396359" && item.reason == "category vehicles")
    );

    // "Private room for rent" among the related items is a rental (category Property Rentals).
    assert_eq!(page.listings.len(), 1);
    let room = &page.listings[0];
    assert_eq!(room.source_listing_id.as_deref(), Some("1193163418974226"));
    assert_eq!(room.listing_kind.as_deref(), Some("rent"));
    assert_eq!(room.title.as_deref(), Some("Private room for rent"));
    assert_eq!(room.list_price.as_deref(), Some("$750"));
    assert_eq!(room.city.as_deref(), Some("Houston"));
    assert_eq!(room.state_or_province.as_deref(), Some("TX"));
    assert_eq!(room.bedrooms_total, None);
    assert_eq!(
        extra(room, "category_id").and_then(|value| value.as_str()),
        Some("1468271819871448")
    );
}

#[test]
fn vehicle_page_without_a_page_url_still_finds_its_main_item() {
    // Saved pages handed over as files: the main item comes from the page's own JSON.
    let page = parse(
        "fb_marketplace_2025_item_auto_with_description.html",
        "file:///saved/auto.html",
    );
    assert_eq!(page.kind, PageKind::Posting);
    assert_eq!(page.skipped[0].id, "1368912131186930");
}

#[test]
fn drone_search_page_skips_every_result() {
    let page = parse(
        "fb_marketplace_2025_search_drones.html",
        "https://www.facebook.com/marketplace/houston/search/?query=dji%20drone",
    );
    assert_eq!(page.kind, PageKind::Search);
    assert!(page.listings.is_empty());
    assert!(page.posting_urls.is_empty());
    // 14 results in the inline JSON (13 GroupCommerceProductItem, one ProductItem) and 7 more only
    // as rendered cards further down the scrolled page.
    assert_eq!(page.skipped.len(), 21);
    let reasons = reasons(&page);
    assert_eq!(
        reasons
            .iter()
            .filter(|reason| **reason == "category electronics")
            .count(),
        13
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|reason| **reason == "category entertainment")
            .count(),
        1
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|reason| **reason == "rendered card without a category or a housing title")
            .count(),
        7
    );
    assert_eq!(page.skipped[0].id, "628088039705732");
    assert!(
        page.skipped
            .iter()
            .any(|item| item.id == "28472863785662576")
    );
    assert!(
        page.skipped
            .iter()
            .any(|item| item.id == "1388043765513781")
    );
}

#[test]
fn scrapfly_export_is_read_and_all_of_it_skipped() {
    let page = parse(
        "fb_marketplace_2026_scrapfly.json",
        "file:///data/marketplace.json",
    );
    assert_eq!(page.kind, PageKind::Search);
    assert!(page.listings.is_empty());
    assert_eq!(page.skipped.len(), 24);
    assert_eq!(page.skipped[0].id, "853859730610824");
    assert_eq!(page.skipped[0].reason, "category electronics");
    let reasons = reasons(&page);
    assert_eq!(
        reasons
            .iter()
            .filter(|reason| **reason == "category classifieds")
            .count(),
        7
    );
}

#[test]
fn a_housing_export_record_becomes_a_listing() {
    let body = r#"[{"id":"111","title":"2 Beds 1 Bath - Apartment","price":"$1,400","location":"Oakland, CA",
        "is_sold":false,"is_pending":false,"creation_time":1736100000,"category_id":"1468271819871448"}]"#;
    let page = parse_page(body, "file:///x.json", fetched_at()).expect("parses");
    let listing = &page.listings[0];
    assert_eq!(listing.listing_kind.as_deref(), Some("rent"));
    assert_eq!(listing.list_price.as_deref(), Some("$1,400"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("2 Beds"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("1 Bath"));
    assert_eq!(listing.property_type.as_deref(), Some("Apartment"));
    assert_eq!(listing.city.as_deref(), Some("Oakland"));
    assert_eq!(listing.posted_at.as_deref(), Some("1736100000"));
    assert_eq!(
        page.posting_urls,
        vec!["https://www.facebook.com/marketplace/item/111/".to_owned()]
    );
}

#[test]
fn a_real_estate_main_item_gets_its_coordinates_and_details() {
    // The phone page's main item with Facebook's filing changed to Property Rentals: the parser
    // then takes it, with the item page's own coordinates, postal code, description and seller.
    let body = read("fb_marketplace_2025_item_phone_houston.html").replace(
        r#"{"seo_url":"electronics","id":"2458992307542385"}"#,
        r#"{"seo_url":"propertyrentals","id":"2569349673085258"}"#,
    );
    let page = parse_page(
        &body,
        "https://www.facebook.com/marketplace/item/1897848127290573/",
        fetched_at(),
    )
    .expect("parses");
    let main = &page.listings[0];
    assert_eq!(main.source_listing_id.as_deref(), Some("1897848127290573"));
    assert_eq!(main.listing_kind.as_deref(), Some("rent"));
    assert_eq!(main.list_price.as_deref(), Some("$150"));
    assert_eq!(main.latitude.as_deref(), Some("29.759216308594"));
    assert_eq!(main.longitude.as_deref(), Some("-95.366821289062"));
    assert_eq!(main.city.as_deref(), Some("Houston"));
    assert_eq!(main.state_or_province.as_deref(), Some("TX"));
    assert_eq!(main.postal_code.as_deref(), Some("77002-1445"));
    assert_eq!(
        main.description.as_deref(),
        Some("Brand new used it about two weeks")
    );
    assert_eq!(main.contact_name.as_deref(), Some("Perry Burton"));
    assert_eq!(
        extra(main, "currency").and_then(|value| value.as_str()),
        Some("USD")
    );
    assert_eq!(extra(main, "sold"), Some(&serde_json::Value::Bool(true)));
    assert_eq!(extra(main, "related_to"), None);
    assert_eq!(page.listings.len(), 2);
}

#[test]
fn pages_without_items_say_why() {
    let login = r#"<html><body><form id="login_form" action="/login/"></form></body></html>"#;
    let error = parse_page(login, "https://www.facebook.com/marketplace/", fetched_at())
        .expect_err("log-in wall");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Blocked));
    let empty = r#"<script>{"data":{"marketplace_search":{"feed_units":{"edges":[]}}}}</script>"#;
    let error = parse_page(
        empty,
        "https://www.facebook.com/marketplace/search",
        fetched_at(),
    )
    .expect_err("no results");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
    let error =
        parse_page("<p>hello</p>", "https://example.com/", fetched_at()).expect_err("not facebook");
    assert_eq!(error.code(), "unrecognised_page");
    let error = parse_page("<p>hello</p>", "/relative", fetched_at()).expect_err("bad url");
    assert_eq!(error.code(), "invalid_url");
}

/// The saved pages cut at many points (a broken download) never panic.
#[test]
fn truncated_pages_never_panic() {
    for file in [
        "fb_marketplace_2025_item_phone_houston.html",
        "fb_marketplace_2025_search_drones.html",
        "fb_marketplace_2026_scrapfly.json",
    ] {
        let body = read(file);
        let step = (body.len() / 40).max(1);
        let mut cut = 0;
        while cut < body.len() {
            if let Some(prefix) = body.get(..cut) {
                let _ = parse_page(
                    prefix,
                    "https://www.facebook.com/marketplace/",
                    fetched_at(),
                );
            }
            cut += step;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbled_json_never_panics(noise in r#"[{}\[\]",:a-z0-9_\\ ]{0,300}"#) {
        let body = format!(r#"{{"__typename":"GroupCommerceProductItem",{noise}"#);
        let _ = parse_page(&body, "https://www.facebook.com/marketplace/item/1/", fetched_at());
        let _ = parse_page(&format!("[{noise}"), "https://www.facebook.com/", fetched_at());
    }
}
