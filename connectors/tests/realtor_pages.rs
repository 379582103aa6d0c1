//! The saved Realtor.com data in `shared/data/html/realtor`, parsed and checked field by field.
//! Expected values were read off the file itself (`realtor_2026_search_scrapfly.json`: 126 search
//! results for San Francisco that a Scrapfly example scraper extracted from the pages' embedded JSON).

use std::collections::HashSet;

use aiq_connectors::page::PageKind;
use aiq_connectors::realtor::parse_page;
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const SEARCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/realtor/realtor_2026_search_scrapfly.json"
);
const SEARCH_URL: &str = "https://www.realtor.com/realestateandhomes-search/San-Francisco_CA";

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn find<'a>(listings: &'a [RawListing], id: &str) -> &'a RawListing {
    listings
        .iter()
        .find(|listing| listing.source_listing_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("listing {id} missing"))
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a str> {
    listing.extra.get(key).and_then(|value| value.as_str())
}

#[test]
fn search_results_count_and_duplicates() {
    let body = read(SEARCH);
    let records: Vec<serde_json::Value> = serde_json::from_str(&body).expect("valid JSON");
    // PROVENANCE.md: 126 search results.
    assert_eq!(records.len(), 126);

    let page = parse_page(&body, SEARCH_URL, fetched_at()).expect("search parses");
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.next_page_url, None);
    // The export holds its first 42 results twice (rows 84-125 repeat rows 0-41): 84 properties,
    // 42 duplicates recognised and left out, nothing lost.
    assert_eq!(page.listings.len(), 84);
    assert_eq!(page.skipped.len(), 42);
    assert!(
        page.skipped
            .iter()
            .all(|item| item.reason.contains("twice"))
    );
    assert_eq!(page.posting_urls.len(), 84);

    let ids: HashSet<_> = page
        .listings
        .iter()
        .filter_map(|l| l.source_listing_id.as_deref())
        .collect();
    assert_eq!(ids.len(), 84, "ids are unique");
    for listing in &page.listings {
        assert_eq!(listing.source.as_deref(), Some("realtor"));
        assert_eq!(listing.fetched_at, Some(fetched_at()));
        let url = listing.url.as_deref().expect("every result links its page");
        assert!(
            url.starts_with("https://www.realtor.com/realestateandhomes-detail/"),
            "{url}"
        );
        assert_eq!(listing.city.as_deref(), Some("San Francisco"));
        assert_eq!(listing.state_or_province.as_deref(), Some("CA"));
        assert!(listing.list_price.is_some());
        assert!(listing.street_address.is_some());
        // The export carries no status, coordinates or dates.
        assert_eq!(listing.listing_kind, None);
        assert_eq!(listing.latitude, None);
        assert_eq!(listing.posted_at, None);
    }
    let apartments = page
        .listings
        .iter()
        .filter(|l| l.property_type.as_deref() == Some("Apartment"))
        .count();
    let houses = page
        .listings
        .iter()
        .filter(|l| l.property_type.as_deref() == Some("SingleFamilyResidence"))
        .count();
    assert_eq!(apartments + houses, 84);
}

#[test]
fn first_result_field_by_field() {
    let page = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    let listing = &page.listings[0];
    assert_eq!(listing.source_listing_id.as_deref(), Some("9375099153"));
    assert_eq!(
        listing.url.as_deref(),
        Some(
            "https://www.realtor.com/realestateandhomes-detail/2238-Market-St-Unit-306_San-Francisco_CA_94114_M93750-99153"
        )
    );
    assert_eq!(listing.list_price.as_deref(), Some("899000"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("1"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("1"));
    assert_eq!(listing.living_area_sqft.as_deref(), Some("714"));
    assert_eq!(listing.property_type.as_deref(), Some("Apartment"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("2238 Market St Unit 306")
    );
    assert_eq!(listing.postal_code.as_deref(), Some("94114"));
    assert_eq!(extra(listing, "lot_sqft"), Some("52"));
    assert_eq!(extra(listing, "photo_count"), Some("1"));
    assert_eq!(
        extra(listing, "photo_url"),
        Some("https://ap.rdcpix.com/f61022cd52c269bdfb7922ed210d5562l-m3995330879s.jpg")
    );
}

#[test]
fn house_with_lot_and_missing_values() {
    let page = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    let house = find(&page.listings, "1323396484");
    assert_eq!(house.street_address.as_deref(), Some("58 Karen Ct"));
    assert_eq!(house.postal_code.as_deref(), Some("94134"));
    assert_eq!(house.list_price.as_deref(), Some("850000"));
    assert_eq!(house.bedrooms_total.as_deref(), Some("4"));
    assert_eq!(house.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(house.living_area_sqft.as_deref(), Some("1767"));
    assert_eq!(
        house.property_type.as_deref(),
        Some("SingleFamilyResidence")
    );
    assert_eq!(extra(house, "lot_sqft"), Some("2648"));

    // Null values in the data stay absent, never "null" or "0".
    let sparse = find(&page.listings, "2939430932");
    assert_eq!(sparse.street_address.as_deref(), Some("1415 Hawes St"));
    assert_eq!(sparse.bedrooms_total.as_deref(), Some("5"));
    assert_eq!(sparse.bathrooms_total, None);
    assert_eq!(sparse.living_area_sqft, None);
    assert_eq!(extra(sparse, "lot_sqft"), None);
}

#[test]
fn new_construction_plan_uses_its_plan_id() {
    let page = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    // The plan's property_id is blank in the export; its permalink ends in the plan id.
    let plan = find(&page.listings, "P417000824059");
    assert_eq!(
        plan.street_address.as_deref(),
        Some("52 Kirkwood Ave. #225")
    );
    assert_eq!(plan.list_price.as_deref(), Some("406000"));
    assert_eq!(plan.living_area_sqft.as_deref(), Some("552"));
    assert_eq!(
        plan.url.as_deref(),
        Some(
            "https://www.realtor.com/realestateandhomes-detail/Madison-403_The-San-Francisco-Shipyard-Madison_52-Kirkwood-Ave-225_San-Francisco_CA_94124_P417000824059"
        )
    );
}

#[test]
fn dispatcher_routes_realtor() {
    let page = aiq_connectors::parse_page(
        aiq_schemas::Source::Realtor,
        &read(SEARCH),
        "file:///saved/search.json",
        fetched_at(),
    )
    .expect("dispatches");
    assert_eq!(page.listings.len(), 84);
    // A saved file has no web origin: links still point at Realtor.com.
    assert!(
        page.listings[0]
            .url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://www.realtor.com/"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The real file cut at any point parses or errors, never panics.
    #[test]
    fn truncated_search_never_panics(fraction in 0.0f64..1.0) {
        let body = read(SEARCH);
        let mut cut = ((body.len() as f64) * fraction) as usize;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_page(&body[..cut], SEARCH_URL, fetched_at());
    }

    /// JSON soup made of the keys the parser looks for never panics it.
    #[test]
    fn key_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"property_id\""),
        Just("\"plan_id\""), Just("\"permalink\""), Just("\"list_price\""), Just("\"location\""),
        Just("\"address\""), Just("\"coordinate\""), Just("\"description\""), Just("\"results\""),
        Just("\"x_P12\""), Just("1"), Just("null"), Just("\"\""), Just("<script id=\"__NEXT_DATA__\">"),
    ], 0..60)) {
        let _ = parse_page(&parts.concat(), SEARCH_URL, fetched_at());
    }

    #[test]
    fn arbitrary_text_never_panics(body in ".{0,300}") {
        let _ = parse_page(&body, SEARCH_URL, fetched_at());
    }
}
