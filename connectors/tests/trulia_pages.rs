//! The saved Trulia property pages (2016-2017 markup) in `shared/data/html/trulia`, parsed and checked
//! field by field. Expected values were read off the pages: the visible facts, the "Report Listing
//! Error" fact box, the "Listing Provided by" box and the `trulia.propertyData` JSON.

use aiq_connectors::page::PageKind;
use aiq_connectors::trulia::parse_page;
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/trulia/"
);

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{file}"))
        .unwrap_or_else(|error| panic!("cannot read {file}: {error}"))
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a str> {
    listing.extra.get(key).and_then(|value| value.as_str())
}

/// What a page shows; `None` where the page does not show the field.
struct Expected {
    file: &'static str,
    id: &'static str,
    url: &'static str,
    kind: Option<&'static str>,
    price: Option<&'static str>,
    property_type: Option<&'static str>,
    bedrooms: Option<&'static str>,
    bathrooms: &'static str,
    area: &'static str,
    street: &'static str,
    city: &'static str,
    state: &'static str,
    postal_code: &'static str,
    latitude: &'static str,
    longitude: &'static str,
    title: &'static str,
    contact_name: Option<&'static str>,
    contact_phone: Option<&'static str>,
    status: &'static str,
    year_built: &'static str,
    lot_size: Option<&'static str>,
    days_on_site: Option<&'static str>,
}

fn check(expected: &Expected) -> RawListing {
    // Parsed as a saved file: the listing URL comes from the page's canonical link.
    let url = format!("file://{DIR}{}", expected.file);
    let page = parse_page(&read(expected.file), &url, fetched_at())
        .unwrap_or_else(|error| panic!("{} should parse: {error}", expected.file));
    assert_eq!(page.kind, PageKind::Posting, "{}", expected.file);
    assert!(page.posting_urls.is_empty());
    assert_eq!(page.listings.len(), 1, "{}", expected.file);
    let listing = page.listings.into_iter().next().expect("one listing");
    let file = expected.file;
    assert_eq!(listing.source.as_deref(), Some("trulia"), "{file}");
    assert_eq!(listing.fetched_at, Some(fetched_at()), "{file}");
    assert_eq!(
        listing.source_listing_id.as_deref(),
        Some(expected.id),
        "{file}"
    );
    assert_eq!(listing.url.as_deref(), Some(expected.url), "{file}");
    assert_eq!(listing.listing_kind.as_deref(), expected.kind, "{file}");
    assert_eq!(listing.list_price.as_deref(), expected.price, "{file}");
    assert_eq!(
        listing.property_type.as_deref(),
        expected.property_type,
        "{file}"
    );
    assert_eq!(
        listing.bedrooms_total.as_deref(),
        expected.bedrooms,
        "{file}"
    );
    assert_eq!(
        listing.bathrooms_total.as_deref(),
        Some(expected.bathrooms),
        "{file}"
    );
    assert_eq!(
        listing.living_area_sqft.as_deref(),
        Some(expected.area),
        "{file}"
    );
    assert_eq!(
        listing.street_address.as_deref(),
        Some(expected.street),
        "{file}"
    );
    assert_eq!(listing.unit_number, None, "{file}");
    assert_eq!(listing.city.as_deref(), Some(expected.city), "{file}");
    assert_eq!(
        listing.state_or_province.as_deref(),
        Some(expected.state),
        "{file}"
    );
    assert_eq!(
        listing.postal_code.as_deref(),
        Some(expected.postal_code),
        "{file}"
    );
    assert_eq!(
        listing.latitude.as_deref(),
        Some(expected.latitude),
        "{file}"
    );
    assert_eq!(
        listing.longitude.as_deref(),
        Some(expected.longitude),
        "{file}"
    );
    assert_eq!(listing.title.as_deref(), Some(expected.title), "{file}");
    assert_eq!(
        listing.contact_name.as_deref(),
        expected.contact_name,
        "{file}"
    );
    assert_eq!(
        listing.contact_phone.as_deref(),
        expected.contact_phone,
        "{file}"
    );
    // The 2017 pages show no listing date, only an age ("N Days on Trulia").
    assert_eq!(listing.posted_at, None, "{file}");
    assert_eq!(extra(&listing, "status"), Some(expected.status), "{file}");
    assert_eq!(
        extra(&listing, "year_built"),
        Some(expected.year_built),
        "{file}"
    );
    assert_eq!(extra(&listing, "lot_size"), expected.lot_size, "{file}");
    assert_eq!(
        extra(&listing, "days_on_site"),
        expected.days_on_site,
        "{file}"
    );
    listing
}

#[test]
fn marble_creek_houston_for_sale() {
    let listing = check(&Expected {
        file: "trulia_2017_property_13915-Marble-Creek-Ct.html",
        id: "3230234552",
        url: "http://www.trulia.com/property/3230234552-13915-Marble-Creek-Ct-Houston-TX-77077",
        kind: Some("For Sale"),
        price: Some("$815,000"),
        property_type: Some("Single-Family Home"),
        bedrooms: Some("4"),
        // "3 full, 1 partial Bathrooms"; the fact box says 3.5.
        bathrooms: "3.5",
        area: "4,479 sqft",
        street: "13915 Marble Creek Ct",
        city: "Houston",
        state: "TX",
        postal_code: "77077",
        latitude: "29.753643",
        longitude: "-95.635506",
        title: "13915 Marble Creek Court, Houston, TX For Sale",
        contact_name: Some("Heidi Dietrich"),
        contact_phone: Some("(281) 558-4114"),
        status: "For Sale",
        year_built: "1999",
        lot_size: Some("0.36 acres"),
        days_on_site: Some("<1"),
    });
    assert_eq!(extra(&listing, "mls_id"), Some("33148146"));
    assert_eq!(
        extra(&listing, "neighbourhood"),
        Some("Eldridge- West Oaks")
    );
    assert_eq!(extra(&listing, "county"), Some("Harris"));
    assert_eq!(extra(&listing, "broker_name"), Some("Dietrich Properties"));
    assert_eq!(extra(&listing, "updated_at"), Some("04/01/2016 12:00 AM"));
    assert_eq!(extra(&listing, "photo_count"), Some("32"));
    assert_eq!(extra(&listing, "record_type"), None);
    // `lo<wbr />cated` in the markup reads as one word.
    let description = listing.description.as_deref().expect("description");
    assert!(description.starts_with("You'll Fall in Love w/ this Magazine Picture Perfect"));
    assert!(description.contains("Kickerillo Home located on an intimate cul-de-sac"));
    assert!(description.ends_with("don t wait!"));
}

#[test]
fn franklin_court_newtown_for_sale() {
    let listing = check(&Expected {
        file: "trulia_2017_property_24-Franklin-Ct.html",
        id: "3229962415",
        url: "http://www.trulia.com/property/3229962415-24-Franklin-Ct-Newtown-CT-06470",
        kind: Some("For Sale"),
        price: Some("$445,000"),
        // Trulia shows "Unspecified property type": no type.
        property_type: None,
        bedrooms: Some("2"),
        bathrooms: "2.5",
        area: "1,940 sqft",
        street: "24 Franklin Ct",
        city: "Newtown",
        state: "CT",
        postal_code: "06470",
        latitude: "41.416267",
        longitude: "-73.37235",
        title: "24 Franklin Court, Newtown, CT For Sale",
        contact_name: Some("Jill Wolowitz"),
        // The agent's own phone, not the office's (203) 426-8426.
        contact_phone: Some("(203) 733-2198"),
        status: "For Sale",
        year_built: "2004",
        lot_size: None,
        days_on_site: Some("2"),
    });
    assert_eq!(extra(&listing, "broker_phone"), Some("(203) 426-8426"));
    assert_eq!(
        extra(&listing, "broker_name"),
        Some("Berkshire Hathaway HomeServices New England Properties")
    );
    assert_eq!(extra(&listing, "mls_id"), Some("99132252"));
}

#[test]
fn dorchester_chicago_for_sale() {
    let listing = check(&Expected {
        file: "trulia_2017_property_5403-S-Dorchester-Ave.html",
        id: "3116345297",
        url: "http://www.trulia.com/property/3116345297-5403-S-Dorchester-Ave-Chicago-IL-60615",
        kind: Some("For Sale"),
        price: Some("$550,000"),
        property_type: Some("Single-Family Home"),
        bedrooms: Some("4"),
        bathrooms: "1.5",
        area: "1,951 sqft",
        street: "5403 S Dorchester Ave",
        city: "Chicago",
        state: "IL",
        postal_code: "60615",
        latitude: "41.79789",
        longitude: "-87.59141",
        title: "5403 South Dorchester Avenue, Chicago, IL For Sale",
        contact_name: Some("Diane Silverman"),
        contact_phone: Some("(312) 541-5971"),
        status: "For Sale",
        year_built: "1885",
        lot_size: Some("2,017 sqft"),
        days_on_site: Some("180+"),
    });
    // The property id (in the URL) and the listing id differ on this page.
    assert_eq!(extra(&listing, "listing_id"), Some("3156883179"));
    assert_eq!(extra(&listing, "neighbourhood"), Some("Hyde Park"));
}

#[test]
fn arrowood_bethesda_public_record() {
    let listing = check(&Expected {
        file: "trulia_2017_property_7436-Arrowood-Rd.html",
        id: "105001",
        url: "http://www.trulia.com/homes/Maryland/Bethesda/sold/105001-7436-Arrowood-Rd-Bethesda-MD-20817",
        // A county record, not a listing: no kind and no asking price.
        kind: None,
        price: None,
        property_type: Some("Single-Family Home"),
        // The fact box says "Beds: n/a".
        bedrooms: None,
        bathrooms: "3.5",
        area: "3,680 sqft",
        street: "7436 Arrowood Rd",
        city: "Bethesda",
        state: "MD",
        postal_code: "20817",
        latitude: "39.002113",
        longitude: "-77.15346",
        title: "7436 Arrowood Rd, Bethesda, MD 20817",
        contact_name: None,
        contact_phone: None,
        status: "Assessor",
        year_built: "1975",
        lot_size: Some("0.47 acres"),
        days_on_site: None,
    });
    assert_eq!(extra(&listing, "record_type"), Some("public_record"));
    // The Price History's 09/15/2005 sale.
    assert_eq!(extra(&listing, "last_sale_price"), Some("1360000"));
    assert_eq!(extra(&listing, "mls_id"), None);
}

#[test]
fn ridgeley_los_angeles_public_record() {
    let listing = check(&Expected {
        file: "trulia_2017_property_824-S-Ridgeley-Dr.html",
        id: "3910533",
        url: "http://www.trulia.com/homes/California/Los_Angeles/sold/3910533-824-S-Ridgeley-Dr-Los-Angeles-CA-90036",
        kind: None,
        price: None,
        property_type: Some("Single-Family Home"),
        bedrooms: Some("3"),
        bathrooms: "1",
        area: "2,112 sqft",
        street: "824 S Ridgeley Dr",
        city: "Los Angeles",
        state: "CA",
        postal_code: "90036",
        latitude: "34.05988",
        longitude: "-118.35115",
        title: "824 S Ridgeley Dr, Los Angeles, CA 90036",
        contact_name: None,
        contact_phone: None,
        status: "Assessor",
        year_built: "1924",
        lot_size: Some("6,734 sqft"),
        days_on_site: None,
    });
    assert_eq!(extra(&listing, "record_type"), Some("public_record"));
    assert_eq!(extra(&listing, "last_sale_price"), None);
    assert_eq!(extra(&listing, "neighbourhood"), Some("Miracle Mile"));
}

/// Without the embedded JSON (stripped here), the microdata still gives address and price.
#[test]
fn microdata_fallback_on_a_real_page() {
    let html = read("trulia_2017_property_13915-Marble-Creek-Ct.html")
        .replace("trulia.propertyData.set(", "stripped(");
    let page = parse_page(&html, "https://www.trulia.com/x", fetched_at()).expect("parses");
    let listing = &page.listings[0];
    assert_eq!(listing.source_listing_id.as_deref(), Some("3230234552"));
    assert_eq!(listing.list_price.as_deref(), Some("$815,000"));
    assert_eq!(listing.listing_kind.as_deref(), Some("For Sale"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("13915 Marble Creek Ct")
    );
    assert_eq!(listing.city.as_deref(), Some("Houston"));
    assert_eq!(listing.state_or_province.as_deref(), Some("TX"));
    assert_eq!(listing.postal_code.as_deref(), Some("77077"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("3.5"));
    assert_eq!(listing.latitude, None);
}

#[test]
fn dispatcher_routes_trulia() {
    let page = aiq_connectors::parse_page(
        aiq_schemas::Source::Trulia,
        &read("trulia_2017_property_24-Franklin-Ct.html"),
        "https://www.trulia.com/property/3229962415-24-Franklin-Ct-Newtown-CT-06470",
        fetched_at(),
    )
    .expect("dispatches");
    assert_eq!(
        page.listings[0].source_listing_id.as_deref(),
        Some("3229962415")
    );
}

const ALL: [&str; 5] = [
    "trulia_2017_property_13915-Marble-Creek-Ct.html",
    "trulia_2017_property_24-Franklin-Ct.html",
    "trulia_2017_property_5403-S-Dorchester-Ave.html",
    "trulia_2017_property_7436-Arrowood-Rd.html",
    "trulia_2017_property_824-S-Ridgeley-Dr.html",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every saved page cut at any point parses or errors, never panics.
    #[test]
    fn truncated_pages_never_panic(index in 0..ALL.len(), fraction in 0.0f64..1.0) {
        let html = read(ALL[index]);
        let mut cut = ((html.len() as f64) * fraction) as usize;
        while !html.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_page(&html[..cut], "https://www.trulia.com/x", fetched_at());
    }

    /// Soup of the markers the parser looks for never panics it.
    #[test]
    fn marker_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("trulia.propertyData.set("), Just("{"), Just("}"), Just("\"id\":"), Just("\"1\""),
        Just("\"status\":\"Assessor\""), Just(","), Just("itemprop=\"streetAddress\">"), Just("</span>"),
        Just("Listing Provided by</h2>"), Just("Agent Phone: (281) 558-4114"), Just("<li>"), Just("</li>"),
        Just("listBulleted listingDetails"), Just("</ul>"), Just("property_info_row_label\">Baths:</div>"),
        Just("property_info_row_org_val\">"), Just("</div>"), Just("<title>"), Just("</title>"),
        Just("Information last updated on"), Just("id=\"corepropertydescription\">"), Just("<"), Just(">"),
        Just("é"), Just("rel=\"canonical\" href=\"/property/12-x\""),
    ], 0..60)) {
        let _ = parse_page(&parts.concat(), "https://www.trulia.com/x", fetched_at());
    }

    #[test]
    fn arbitrary_text_never_panics(body in ".{0,300}") {
        let _ = parse_page(&body, "https://www.trulia.com/x", fetched_at());
    }
}
