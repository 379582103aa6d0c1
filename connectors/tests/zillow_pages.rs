//! Every saved Zillow page and JSON export in `shared/data/html/zillow`, parsed and checked field by
//! field. Expected values were read off the files themselves (the JSON, or the rendered card text).

use aiq_connectors::decode::decode_html;
use aiq_connectors::detect::detect_site;
use aiq_connectors::zillow::parse_page;
use aiq_connectors::{Error, NoListingReason, Page, PageKind};
use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use proptest::prelude::*;

const PAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/zillow/"
);

const HOME_DETAILS: &str = "zillow_2024_homedetails_sandy-springs_ga.html";
const PROPERTY_JSON: &str = "zillow_2023_property_scrapfly.json";
const SEARCH_API: &str = "zillow_2024_search_api_page1.json";
const RESULTS_JSON: &str = "zillow_2024_search_listresults_scrapfly.json";
const RENT_SEARCH: &str = "zillow_2025_search_rent_04011_full.html";
const CARDS_ONLY: &str = "zillow_2026_search_rent_boston_simplified.html";

const ALL_PAGES: [&str; 6] = [
    HOME_DETAILS,
    PROPERTY_JSON,
    SEARCH_API,
    RESULTS_JSON,
    RENT_SEARCH,
    CARDS_ONLY,
];

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read_page(file: &str) -> String {
    let bytes = std::fs::read(format!("{PAGES}{file}"))
        .unwrap_or_else(|error| panic!("cannot read {file}: {error}"));
    decode_html(&bytes, None)
}

fn parse_at(file: &str, url: &str) -> Page {
    parse_page(&read_page(file), url, fetched_at())
        .unwrap_or_else(|error| panic!("{file} should parse: {error}"))
}

/// Saved files are parsed as the CLI does by default: from their `file://` path, so every link
/// must be made absolute against Zillow itself.
fn parse(file: &str) -> Page {
    parse_at(file, &format!("file://{PAGES}{file}"))
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a serde_json::Value> {
    listing.extra.get(key)
}

fn extra_str<'a>(listing: &'a RawListing, key: &str) -> Option<&'a str> {
    extra(listing, key).and_then(|value| value.as_str())
}

fn by_id<'a>(page: &'a Page, id: &str) -> &'a RawListing {
    page.listings
        .iter()
        .find(|listing| listing.source_listing_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no listing {id}"))
}

fn posted_before_fetch(age_ms: i64) -> String {
    (fetched_at() - Duration::milliseconds(age_ms)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What one listing shows; `None` where it does not show the field.
struct Expected {
    id: &'static str,
    url: &'static str,
    kind: &'static str,
    property_type: Option<&'static str>,
    price: &'static str,
    beds: Option<&'static str>,
    baths: Option<&'static str>,
    area: Option<&'static str>,
    street: Option<&'static str>,
    city: &'static str,
    state: &'static str,
    postal_code: Option<&'static str>,
    latitude: Option<&'static str>,
    longitude: Option<&'static str>,
    title: Option<&'static str>,
}

fn check(listing: &RawListing, expected: &Expected) {
    let id = expected.id;
    assert_eq!(listing.source.as_deref(), Some("zillow"), "{id}");
    assert_eq!(listing.source_listing_id.as_deref(), Some(id));
    assert_eq!(listing.url.as_deref(), Some(expected.url), "{id}");
    assert_eq!(listing.fetched_at, Some(fetched_at()), "{id}");
    assert_eq!(listing.listing_kind.as_deref(), Some(expected.kind), "{id}");
    assert_eq!(
        listing.property_type.as_deref(),
        expected.property_type,
        "{id}"
    );
    assert_eq!(listing.list_price.as_deref(), Some(expected.price), "{id}");
    assert_eq!(listing.bedrooms_total.as_deref(), expected.beds, "{id}");
    assert_eq!(listing.bathrooms_total.as_deref(), expected.baths, "{id}");
    assert_eq!(listing.living_area_sqft.as_deref(), expected.area, "{id}");
    assert_eq!(listing.street_address.as_deref(), expected.street, "{id}");
    assert_eq!(listing.city.as_deref(), Some(expected.city), "{id}");
    assert_eq!(
        listing.state_or_province.as_deref(),
        Some(expected.state),
        "{id}"
    );
    assert_eq!(listing.postal_code.as_deref(), expected.postal_code, "{id}");
    assert_eq!(listing.latitude.as_deref(), expected.latitude, "{id}");
    assert_eq!(listing.longitude.as_deref(), expected.longitude, "{id}");
    assert_eq!(listing.title.as_deref(), expected.title, "{id}");
}

fn only_listing(page: Page) -> RawListing {
    assert_eq!(page.kind, PageKind::Posting);
    assert!(page.posting_urls.is_empty());
    assert_eq!(page.next_page_url, None);
    assert!(page.skipped.is_empty());
    assert_eq!(page.listings.len(), 1);
    page.listings.into_iter().next().expect("one listing")
}

fn assert_search_page_links(page: &Page) {
    assert_eq!(page.kind, PageKind::Search);
    for url in &page.posting_urls {
        assert!(url.starts_with("https://www.zillow.com/"), "{url}");
    }
    let mut unique = page.posting_urls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), page.posting_urls.len(), "posting URLs repeat");
    for listing in &page.listings {
        let url = listing.url.as_deref().expect("every listing has a URL");
        assert!(
            page.posting_urls.iter().any(|posting| posting == url),
            "{url}"
        );
    }
}

#[test]
fn home_details_sandy_springs_condo_from_the_encoded_client_cache() {
    let listing = only_listing(parse(HOME_DETAILS));
    check(
        &listing,
        &Expected {
            id: "2146993218",
            url: "https://www.zillow.com/homedetails/6851-Roswell-Rd-APT-O31-Sandy-Springs-GA-30328/2146993218_zpid/",
            kind: "FOR_SALE",
            property_type: Some("CONDO"),
            price: "265000",
            beds: Some("2"),
            baths: Some("2"),
            area: Some("1206"),
            street: Some("6851 Roswell Rd APT O31"),
            city: "Sandy Springs",
            state: "GA",
            postal_code: Some("30328"),
            latitude: Some("33.94186"),
            longitude: Some("-84.37228"),
            title: None,
        },
    );
    assert_eq!(listing.posted_at.as_deref(), Some("2024-10-28"));
    assert_eq!(listing.contact_name.as_deref(), Some("Michelle Graves"));
    assert_eq!(listing.contact_phone.as_deref(), Some("678-858-8461"));
    assert_eq!(listing.contact_email, None);
    let description = listing.description.as_deref().unwrap_or_default();
    assert!(
        description.starts_with("Welcome to your true GEM!"),
        "{description:?}"
    );
    assert!(description.ends_with("Make your appointment today!"));
    assert_eq!(extra_str(&listing, "mls_id"), Some("7477717"));
    assert_eq!(extra_str(&listing, "mls_name"), Some("FMLS GA"));
    assert_eq!(
        extra_str(&listing, "broker_name"),
        Some("Presley Roth Real Estate")
    );
    assert_eq!(extra_str(&listing, "home_status"), Some("FOR_SALE"));
    assert_eq!(extra_str(&listing, "county"), Some("Fulton County"));
    assert_eq!(extra_str(&listing, "neighbourhood"), Some("North Springs"));
    assert_eq!(extra(&listing, "year_built"), Some(&1964.into()));
    assert_eq!(extra(&listing, "days_on_zillow"), Some(&10.into()));
    assert_eq!(extra(&listing, "monthly_hoa_fee"), Some(&486.into()));
    assert_eq!(extra(&listing, "zestimate"), Some(&262100.into()));
}

#[test]
fn home_details_fetched_from_its_own_url_links_to_itself() {
    let url = "https://www.zillow.com/homedetails/6851-Roswell-Rd-APT-O31-Sandy-Springs-GA-30328/2146993218_zpid/";
    let listing = only_listing(parse_at(HOME_DETAILS, url));
    assert_eq!(listing.url.as_deref(), Some(url));
}

#[test]
fn property_json_san_francisco_house_with_agent_contact() {
    let listing = only_listing(parse(PROPERTY_JSON));
    check(
        &listing,
        &Expected {
            id: "15192198",
            url: "https://www.zillow.com/homedetails/661-Lakeview-Ave-San-Francisco-CA-94112/15192198_zpid/",
            kind: "FOR_SALE",
            property_type: Some("SINGLE_FAMILY"),
            price: "850000",
            beds: Some("2"),
            baths: Some("1"),
            area: Some("900"),
            street: Some("661 Lakeview Ave"),
            city: "San Francisco",
            state: "CA",
            postal_code: Some("94112"),
            latitude: Some("37.71803"),
            longitude: Some("-122.45783"),
            title: None,
        },
    );
    assert_eq!(listing.posted_at.as_deref(), Some("2023-05-27"));
    // The MLS attribution names the team (with the MLS's leading space, trimmed here).
    assert_eq!(
        listing.contact_name.as_deref(),
        Some("Wong Real Estate Grp")
    );
    assert_eq!(listing.contact_phone.as_deref(), Some("650-619-2790"));
    assert_eq!(
        listing.contact_email.as_deref(),
        Some("debbie@debbiewong.com")
    );
    assert!(
        listing
            .description
            .as_deref()
            .is_some_and(|text| text.starts_with("Imagine the Possibilities!"))
    );
    assert_eq!(extra_str(&listing, "mls_id"), Some("ML81929841"));
    assert_eq!(extra_str(&listing, "broker_phone"), Some("650-627-3700"));
    assert_eq!(extra(&listing, "lot_area_sqft"), Some(&3746.into()));
}

#[test]
fn search_api_los_angeles_page_1_has_41_results_and_a_next_page() {
    let page = parse(SEARCH_API);
    assert_eq!(page.listings.len(), 41);
    assert_eq!(page.posting_urls.len(), 41);
    assert!(page.skipped.is_empty());
    assert_eq!(
        page.next_page_url.as_deref(),
        Some("https://www.zillow.com/los-angeles-ca/2_p/")
    );
    assert_search_page_links(&page);
    assert!(
        page.listings
            .iter()
            .all(|listing| listing.listing_kind.as_deref() == Some("FOR_SALE"))
    );

    let first = &page.listings[0];
    check(
        first,
        &Expected {
            id: "19998955",
            url: "https://www.zillow.com/homedetails/7941-Rhodes-Ave-North-Hollywood-CA-91605/19998955_zpid/",
            kind: "FOR_SALE",
            property_type: Some("SINGLE_FAMILY"),
            price: "$499,000",
            beds: Some("2"),
            baths: Some("1.0"),
            area: Some("918"),
            street: Some("7941 Rhodes Ave"),
            city: "North Hollywood",
            state: "CA",
            postal_code: Some("91605"),
            latitude: Some("34.21504"),
            longitude: Some("-118.40345"),
            title: None,
        },
    );
    assert_eq!(
        first.posted_at.as_deref(),
        Some(posted_before_fetch(477_358_000).as_str())
    );
    assert_eq!(extra(first, "days_on_zillow"), Some(&5.into()));
    assert_eq!(extra_str(first, "broker_name"), Some("TruLine Realty"));
    assert_eq!(extra_str(first, "status_text"), Some("House for sale"));

    check(
        by_id(&page, "440579994"),
        &Expected {
            id: "440579994",
            url: "https://www.zillow.com/homedetails/8250-Lankershim-Blvd-10-North-Hollywood-CA-91605/440579994_zpid/",
            kind: "FOR_SALE",
            property_type: Some("MANUFACTURED"),
            price: "$199,950",
            beds: Some("3"),
            baths: Some("2.0"),
            area: Some("980"),
            street: Some("8250 Lankershim Blvd #10"),
            city: "North Hollywood",
            state: "CA",
            postal_code: Some("91605"),
            latitude: Some("34.220783"),
            longitude: Some("-118.38796"),
            title: None,
        },
    );
    // A result without a living area has none, not a zero.
    let bel_air = by_id(&page, "20529664");
    assert_eq!(bel_air.list_price.as_deref(), Some("$119,950,000"));
    assert_eq!(bel_air.living_area_sqft, None);
}

#[test]
fn results_json_san_francisco_has_387_results_including_buildings_and_latin_1_text() {
    let page = parse(RESULTS_JSON);
    assert_eq!(page.listings.len(), 387);
    assert_eq!(page.posting_urls.len(), 387);
    assert!(page.skipped.is_empty());
    // An exported array has no paging information.
    assert_eq!(page.next_page_url, None);
    assert_search_page_links(&page);

    // The one non-UTF-8 byte (0xAE) is the registered sign in a broker's name.
    let latin_1 = by_id(&page, "2107730777");
    assert_eq!(
        extra_str(latin_1, "broker_name"),
        Some("West & Praszker, REALTORS\u{ae}")
    );
    check(
        latin_1,
        &Expected {
            id: "2107730777",
            url: "https://www.zillow.com/homedetails/1252-48th-Ave-San-Francisco-CA-94122/2107730777_zpid/",
            kind: "FOR_SALE",
            property_type: Some("MULTI_FAMILY"),
            price: "$1,800,000",
            beds: Some("6"),
            baths: Some("4.0"),
            area: Some("3850"),
            street: Some("1252 48th Ave"),
            city: "San Francisco",
            state: "CA",
            postal_code: Some("94122"),
            latitude: Some("37.763103"),
            longitude: Some("-122.507935"),
            title: None,
        },
    );
    assert_eq!(
        latin_1.posted_at.as_deref(),
        Some(posted_before_fetch(607_708_000).as_str())
    );

    // A building result has no zpid: it is named by its position, at its lowest ("from") price,
    // with the address parts split from its one-line address.
    let building = by_id(&page, "37.7316--122.44998");
    check(
        building,
        &Expected {
            id: "37.7316--122.44998",
            url: "https://www.zillow.com/b/building/37.7316,-122.44998_ll/",
            kind: "FOR_SALE",
            property_type: None,
            price: "From $998,000",
            beds: Some("2"),
            baths: Some("2.0"),
            area: Some("1610"),
            street: Some("523-525 Monterey Blvd"),
            city: "San Francisco",
            state: "CA",
            postal_code: None,
            latitude: Some("37.7316"),
            longitude: Some("-122.44998"),
            title: None,
        },
    );
    assert_eq!(extra(building, "unit_count"), Some(&2.into()));
    assert_eq!(
        extra_str(building, "building_id"),
        Some("37.7316--122.44998")
    );

    let community = by_id(&page, "37.7255--122.41781");
    assert_eq!(community.title.as_deref(), Some("Lofton at Portola"));
    assert_eq!(
        community.url.as_deref(),
        Some("https://www.zillow.com/community/lofton-at-portola/29303776_plid/")
    );
    assert_eq!(
        extra_str(community, "builder_name"),
        Some("Tri Pointe Homes")
    );
}

/// The 2025 rent page's 36 results: 30 homes, and 6 buildings whose 10 unit groups are listings
/// of their own.
#[test]
fn rent_search_04011_has_36_results_as_40_listings_with_building_units() {
    let page = parse(RENT_SEARCH);
    assert_eq!(page.posting_urls.len(), 36);
    assert_eq!(page.listings.len(), 40);
    assert_eq!(page.next_page_url, None, "the search has one page");
    assert_search_page_links(&page);
    assert!(
        page.listings
            .iter()
            .all(|listing| listing.listing_kind.as_deref() == Some("FOR_RENT"))
    );
    let unit_listings = page
        .listings
        .iter()
        .filter(|listing| extra(listing, "building_id").is_some())
        .count();
    assert_eq!(unit_listings, 10);

    // Atlantic Pointe: two unit groups, each its own listing with the building's address (not the
    // arbitrary unit in `addressStreet`), name, coordinates and URL.
    for (id, price, beds) in [
        ("43.90381--69.918846-1bd", "$2,225+", "1"),
        ("43.90381--69.918846-2bd", "$2,602+", "2"),
    ] {
        let unit = by_id(&page, id);
        check(
            unit,
            &Expected {
                id,
                url: "https://www.zillow.com/b/building/43.90381,-69.918846_ll/",
                kind: "FOR_RENT",
                property_type: None,
                price,
                beds: Some(beds),
                baths: None,
                area: None,
                street: Some("10 Townsend Ln"),
                city: "Brunswick",
                state: "ME",
                postal_code: Some("04011"),
                latitude: Some("43.90381"),
                longitude: Some("-69.918846"),
                title: Some("Atlantic Pointe"),
            },
        );
        assert_eq!(extra(unit, "lot_id"), Some(&2734488485_u64.into()));
        assert_eq!(extra(unit, "available_units"), Some(&21.into()));
    }
    assert_eq!(
        by_id(&page, "43.897823--69.91602-2bd")
            .list_price
            .as_deref(),
        Some("$2,490+")
    );

    let apartment = by_id(&page, "343985606");
    check(
        apartment,
        &Expected {
            id: "343985606",
            url: "https://www.zillow.com/apartments/brunswick-me/41-river-rd./CjNMfF/",
            kind: "FOR_RENT",
            property_type: Some("APARTMENT"),
            price: "$1,699/mo",
            beds: Some("2"),
            baths: Some("1"),
            area: Some("700"),
            street: Some("41 River Rd #A9"),
            city: "Brunswick",
            state: "ME",
            postal_code: Some("04011"),
            latitude: Some("43.914337"),
            longitude: Some("-69.98345"),
            title: None,
        },
    );
    assert_eq!(
        apartment.posted_at.as_deref(),
        Some(posted_before_fetch(2_758_807_000).as_str())
    );
    assert_eq!(
        extra_str(apartment, "available_from"),
        Some("2025-06-23 00:00:00")
    );
    assert_eq!(
        extra_str(apartment, "broker_name"),
        Some("Maine Real Estate Management LLC")
    );

    // An undisclosed address keeps its town but no street and no pin.
    let undisclosed = by_id(&page, "2085145720");
    check(
        undisclosed,
        &Expected {
            id: "2085145720",
            url: "https://www.zillow.com/homedetails/Brunswick-ME-04011/2085145720_zpid/",
            kind: "FOR_RENT",
            property_type: Some("TOWNHOUSE"),
            price: "$2,275/mo",
            beds: Some("3"),
            baths: Some("2"),
            area: Some("1200"),
            street: None,
            city: "Brunswick",
            state: "ME",
            postal_code: Some("04011"),
            latitude: None,
            longitude: None,
            title: None,
        },
    );
    assert_eq!(
        by_id(&page, "452051415").list_price.as_deref(),
        Some("$1,495+/mo")
    );
}

/// The same 2025 page read from its rendered cards alone (its first 9 results) agrees with its
/// JSON: same ids, prices and bedrooms, so a building's unit ids match across the two forms.
#[test]
fn rent_search_04011_cards_agree_with_its_json() {
    let html = read_page(RENT_SEARCH);
    let from_json = parse_page(&html, "file:///saved.html", fetched_at()).expect("JSON");
    let without_json = html.replace("id=\"__NEXT_DATA__\"", "id=\"removed\"");
    let from_cards =
        parse_page(&without_json, "file:///saved.html", fetched_at()).expect("cards parse");
    assert_eq!(from_cards.posting_urls.len(), 9);
    assert_eq!(from_cards.posting_urls[..], from_json.posting_urls[..9]);
    let card_ids: Vec<&str> = from_cards
        .listings
        .iter()
        .filter_map(|listing| listing.source_listing_id.as_deref())
        .collect();
    assert_eq!(
        card_ids,
        [
            "43.90381--69.918846-1bd",
            "43.90381--69.918846-2bd",
            "43.90244--69.92105-1bd",
            "43.90244--69.92105-2bd",
            "43.897823--69.91602-2bd",
            "343985606",
            "114300037",
            "452051415",
            "43.914524--69.96522-1bd",
            "43.914524--69.96522-2bd",
            "2055302227",
            "91830283",
        ]
    );
    let river_road = by_id(&from_cards, "343985606");
    assert_eq!(river_road.bedrooms_total.as_deref(), Some("2 bds"));
    assert_eq!(river_road.living_area_sqft.as_deref(), Some("700 sqft"));
    assert_eq!(
        extra_str(river_road, "status_text"),
        Some("Apartment for rent")
    );
    assert_eq!(
        river_road.street_address.as_deref(),
        Some("41 River Rd #A9")
    );
    for card in &from_cards.listings {
        let id = card.source_listing_id.as_deref().expect("id");
        let json = by_id(&from_json, id);
        assert_eq!(card.list_price, json.list_price, "{id}");
        assert_eq!(card.url, json.url, "{id}");
        assert_eq!(card.city, json.city, "{id}");
        assert_eq!(card.state_or_province, json.state_or_province, "{id}");
        // A card carries a pin only in a building's id; a home's card has none.
        if extra(card, "building_id").is_some() {
            assert_eq!(card.latitude, json.latitude, "{id}");
            assert_eq!(card.longitude, json.longitude, "{id}");
            assert_eq!(card.title, json.title, "{id}");
            assert_eq!(card.street_address, json.street_address, "{id}");
        } else {
            assert_eq!((&card.latitude, &card.longitude), (&None, &None), "{id}");
        }
        // The leading number, thousands commas dropped ("1,665 sqft" and 1665 agree).
        let digits = |text: &Option<String>| -> String {
            text.as_deref()
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect()
        };
        assert_eq!(
            digits(&card.bedrooms_total),
            digits(&json.bedrooms_total),
            "{id}"
        );
        assert_eq!(
            digits(&card.bathrooms_total),
            digits(&json.bathrooms_total),
            "{id}"
        );
        assert_eq!(
            digits(&card.living_area_sqft),
            digits(&json.living_area_sqft),
            "{id}"
        );
    }
}

#[test]
fn cards_only_boston_page_has_9_cards_as_14_listings() {
    let page = parse(CARDS_ONLY);
    // PROVENANCE counts 192 occurrences of "property-card" in class names; the page renders 9
    // cards (articles), 7 of them buildings.
    assert_eq!(page.posting_urls.len(), 9);
    let ids: Vec<&str> = page
        .listings
        .iter()
        .filter_map(|listing| listing.source_listing_id.as_deref())
        .collect();
    assert_eq!(
        ids,
        [
            "42.264652--71.15673-1bd",
            "42.264652--71.15673-2bd",
            "42.27969--71.08847-1bd",
            "42.27969--71.08847-2bd",
            "459362582",
            "42.31953--71.03987-2bd",
            "42.31953--71.03987-3bd",
            "42.35364--71.13968-2bd",
            "42.35364--71.13968-4bd",
            "42.348885--71.130974",
            "2072000832",
            "42.353363--71.12713-1bd",
            "42.353363--71.12713-2bd",
            "42.284348--71.0922",
        ]
    );
    assert_eq!(
        page.next_page_url.as_deref(),
        Some("https://www.zillow.com/boston-ma/rentals/2_p/")
    );
    assert_search_page_links(&page);
    assert!(
        page.listings
            .iter()
            .all(|listing| listing.listing_kind.as_deref() == Some("for rent"))
    );

    let harbor_point = by_id(&page, "42.31953--71.03987-3bd");
    check(
        harbor_point,
        &Expected {
            id: "42.31953--71.03987-3bd",
            url: "https://www.zillow.com/apartments/boston-ma/harbor-point/5XjQX9/",
            kind: "for rent",
            property_type: None,
            price: "$3,758+",
            beds: Some("3bd"),
            baths: None,
            area: None,
            street: Some("24 Oyster Bay Rd"),
            city: "Dorchester",
            state: "MA",
            postal_code: None,
            latitude: Some("42.31953"),
            longitude: Some("-71.03987"),
            title: Some("Harbor Point"),
        },
    );
    assert_eq!(harbor_point.contact_phone.as_deref(), Some("617-360-8806"));

    let malvern = by_id(&page, "2072000832");
    check(
        malvern,
        &Expected {
            id: "2072000832",
            url: "https://www.zillow.com/apartments/allston-ma/malvern-place-apartments/CjgyQ2/",
            kind: "for rent",
            property_type: None,
            price: "$3,000/mo",
            beds: Some("2 bds"),
            baths: Some("2 ba"),
            area: Some("800 sqft"),
            street: Some("40 Malvern St #105"),
            city: "Allston",
            state: "MA",
            postal_code: Some("02134"),
            latitude: None,
            longitude: None,
            title: None,
        },
    );
    assert_eq!(
        extra_str(malvern, "status_text"),
        Some("Apartment for rent")
    );
    assert_eq!(malvern.contact_phone, None);

    // "--" square feet is no area.
    let river_street = by_id(&page, "459362582");
    assert_eq!(river_street.list_price.as_deref(), Some("$1,950+/mo"));
    assert_eq!(river_street.bedrooms_total.as_deref(), Some("1 bd"));
    assert_eq!(river_street.bathrooms_total.as_deref(), Some("1 ba"));
    assert_eq!(river_street.living_area_sqft, None);
    assert_eq!(river_street.contact_phone.as_deref(), Some("8575202144"));
    assert_eq!(river_street.postal_code.as_deref(), Some("02126"));

    // A building card without unit boxes is one listing: the headline's price and bedrooms, and
    // the name from the card's detail line.
    let royce = by_id(&page, "42.348885--71.130974");
    check(
        royce,
        &Expected {
            id: "42.348885--71.130974",
            url: "https://www.zillow.com/apartments/allston-ma/24-royce-rd./CqyhYD/",
            kind: "for rent",
            property_type: None,
            price: "$2,795+",
            beds: Some("2 bds"),
            baths: None,
            area: None,
            street: Some("24 Royce Rd"),
            city: "Boston",
            state: "MA",
            postal_code: None,
            latitude: Some("42.348885"),
            longitude: Some("-71.130974"),
            title: Some("24 Royce Rd."),
        },
    );
    assert_eq!(
        by_id(&page, "42.284348--71.0922").title.as_deref(),
        Some("David at 775")
    );
}

#[test]
fn the_dispatcher_and_site_detection_route_every_file_to_this_parser() {
    for file in ALL_PAGES {
        let body = read_page(file);
        let url = format!("file://{PAGES}{file}");
        assert_eq!(
            detect_site(&body, Some(&url)),
            Some(Source::Zillow),
            "{file}"
        );
        let direct = parse_page(&body, &url, fetched_at()).expect("parses");
        let dispatched =
            aiq_connectors::parse_page(Source::Zillow, &body, &url, fetched_at()).expect("parses");
        assert_eq!(direct, dispatched, "{file}");
    }
}

#[test]
fn every_saved_file_is_covered_by_this_file() {
    let mut on_disk: Vec<String> = std::fs::read_dir(PAGES)
        .expect("shared data present")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".html") || name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = ALL_PAGES.iter().map(|name| (*name).to_owned()).collect();
    covered.sort();
    assert_eq!(on_disk, covered, "a new saved page needs a test here");
}

#[test]
fn off_market_and_empty_variants_of_real_files_are_no_listing() {
    let sold = read_page(PROPERTY_JSON).replacen(
        "\"homeStatus\": \"FOR_SALE\"",
        "\"homeStatus\": \"RECENTLY_SOLD\"",
        1,
    );
    let error = parse_page(&sold, "file:///x.json", fetched_at()).expect_err("sold");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Expired));

    let mut api: serde_json::Value =
        serde_json::from_str(&read_page(SEARCH_API)).expect("valid JSON");
    api["cat1"]["searchResults"]["listResults"] = serde_json::json!([]);
    let error = parse_page(&api.to_string(), "file:///x.json", fetched_at()).expect_err("empty");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
}

#[test]
fn non_zillow_inputs_are_errors_not_panics() {
    let url = "https://www.zillow.com/homes/";
    for body in [
        "",
        "<",
        "<html>",
        "\u{0}\u{fffd}",
        "{\"json\": true}",
        "[{\"a\": 1}]",
        "<html><head><title>Homes | Zillow</title></head></html>",
    ] {
        let error: Error = parse_page(body, url, fetched_at()).expect_err("no listing in junk");
        assert_eq!(error.code(), "unrecognised_page", "{body:?}");
    }
}

fn truncated_page_strategy() -> impl Strategy<Value = (usize, f64)> {
    (0..ALL_PAGES.len(), 0.0f64..1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(body in ".{0,400}") {
        let _ = parse_page(&body, "https://www.zillow.com/homes/", fetched_at());
    }

    /// Markup and JSON soup built from the tokens the parser looks for never panics it.
    #[test]
    fn marker_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("<script id=\"__NEXT_DATA__\" type=\"application/json\">"), Just("</script>"),
        Just("{\"props\":{\"pageProps\":{\"componentProps\":{\"gdpClientCache\":"),
        Just("{\"searchPageState\":{\"cat1\":{\"searchResults\":{\"listResults\":["),
        Just("{\"zpid\":\"43.9--69.9\",\"units\":[{\"price\":\"$1+\",\"beds\":\"1\"}],\"isBuilding\":true"),
        Just("\"detailUrl\":\"/b/x/\""), Just("\"latLong\":{}"), Just("\"address\":\"a, b, CA\""),
        Just("<article data-test=\"property-card\" id=\"zpid_42.3--71.1\" class=\"list-card_for-rent\">"),
        Just("</article>"), Just("<address>"), Just("</address>"), Just(" | "), Just(", MA 02134"),
        Just("<span data-test=\"property-card-price\">$2,045+ 1 bd</span>"),
        Just("<div data-testid=\"PropertyCardInventoryBox\"><span>$1</span><span>Studio</span></div>"),
        Just("<ul data-testid=\"property-card-details\"><li><b>--</b><abbr>sqft</abbr></li>"),
        Just("<a rel=\"next\" href=\""), Just("{"), Just("}"), Just("["), Just("]"), Just(","),
        Just(":"), Just("\""), Just("\\\""), Just("é"), Just("-"), Just("null"), Just("1e999"),
    ], 0..40)) {
        let body: String = parts.concat();
        let _ = parse_page(&body, "https://www.zillow.com/homes/", fetched_at());
    }

    /// Every saved file cut at an arbitrary point parses or errors, never panics.
    #[test]
    fn truncated_real_pages_never_panic((index, fraction) in truncated_page_strategy()) {
        let body = read_page(ALL_PAGES[index]);
        let mut cut = ((body.len() as f64) * fraction) as usize;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_page(&body[..cut], "https://www.zillow.com/homes/", fetched_at());
    }
}
