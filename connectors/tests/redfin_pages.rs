//! The saved Redfin data in `shared/data/html/redfin`, parsed and checked field by field. Expected
//! values were read off the files themselves; the search file and the scraped property records share
//! two homes, which serve as a cross-check between the two parsers.

use aiq_connectors::page::PageKind;
use aiq_connectors::redfin::parse_page;
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/redfin/"
);
const SEARCH: &str = "redfin_2023_search_scrapfly.json";
const PROPERTIES: &str = "redfin_2023_properties_for_sale_scrapfly.json";
const KENMORE: &str = "redfin_2025_property_kenmore_wa.html";
const KENMORE_URL: &str = "https://www.redfin.com/WA/Kenmore/7718-NE-183rd-St-98028/home/282664";
const SEARCH_URL: &str = "https://www.redfin.com/city/16163/WA/Seattle";

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{file}"))
        .unwrap_or_else(|error| panic!("cannot read {file}: {error}"))
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
fn search_results_count_and_shared_fields() {
    let page = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    assert_eq!(page.kind, PageKind::Search);
    // PROVENANCE.md: 89 Redfin search-result objects for Seattle, WA.
    assert_eq!(page.listings.len(), 89);
    assert!(page.skipped.is_empty());
    assert_eq!(page.posting_urls.len(), 89);
    for listing in &page.listings {
        assert_eq!(listing.source.as_deref(), Some("redfin"));
        assert_eq!(listing.fetched_at, Some(fetched_at()));
        let url = listing.url.as_deref().expect("url");
        let id = listing.source_listing_id.as_deref().expect("id");
        assert!(url.starts_with("https://www.redfin.com/WA/"), "{url}");
        assert!(url.ends_with(&format!("/home/{id}")), "{url} vs {id}");
        assert_eq!(listing.state_or_province.as_deref(), Some("WA"));
        assert_eq!(listing.listing_kind.as_deref(), Some("for sale"));
        assert_eq!(extra(listing, "status"), Some("Active"));
        assert!(listing.latitude.is_some() && listing.longitude.is_some());
        assert!(listing.list_price.is_some() && listing.street_address.is_some());
    }
    let count = |kind: &str| {
        page.listings
            .iter()
            .filter(|l| l.property_type.as_deref() == Some(kind))
            .count()
    };
    assert_eq!(
        (
            count("House"),
            count("Condo"),
            count("Townhouse"),
            count("Multi-family")
        ),
        (47, 18, 20, 4)
    );
}

#[test]
fn search_condo_field_by_field() {
    let page = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    let condo = &page.listings[0];
    assert_eq!(condo.source_listing_id.as_deref(), Some("46456"));
    assert_eq!(
        condo.url.as_deref(),
        Some("https://www.redfin.com/WA/Seattle/506-E-Howell-St-98122/unit-W303/home/46456")
    );
    assert_eq!(condo.list_price.as_deref(), Some("360000"));
    assert_eq!(condo.bedrooms_total.as_deref(), Some("1"));
    assert_eq!(condo.bathrooms_total.as_deref(), Some("1.0"));
    assert_eq!(condo.living_area_sqft.as_deref(), Some("566"));
    assert_eq!(
        condo.street_address.as_deref(),
        Some("506 E Howell St Unit W303")
    );
    assert_eq!(condo.unit_number.as_deref(), Some("Unit W303"));
    assert_eq!(condo.city.as_deref(), Some("Seattle"));
    assert_eq!(condo.postal_code.as_deref(), Some("98122"));
    assert_eq!(condo.latitude.as_deref(), Some("47.6180415"));
    assert_eq!(condo.longitude.as_deref(), Some("-122.3249551"));
    assert_eq!(condo.property_type.as_deref(), Some("Condo"));
    assert_eq!(condo.contact_name.as_deref(), Some("Earnest Watts"));
    assert!(
        condo
            .description
            .as_deref()
            .is_some_and(|text| text.starts_with("Welcome home to this stunning light-filled unit"))
    );
    assert_eq!(extra(condo, "listing_id"), Some("178262671"));
    assert_eq!(extra(condo, "mls_id"), Some("2180345"));
    assert_eq!(extra(condo, "hoa_fee"), Some("427"));
    assert_eq!(extra(condo, "year_built"), Some("1992"));
    assert_eq!(extra(condo, "days_on_market"), Some("1"));
    assert_eq!(extra(condo, "neighbourhood"), Some("Broadway"));
    assert_eq!(extra(condo, "broker_name"), Some("Redfin"));
    // Search results carry no listing date.
    assert_eq!(condo.posted_at, None);
}

#[test]
fn scraped_properties_field_by_field() {
    let page = parse_page(
        &read(PROPERTIES),
        "file:///saved/properties.json",
        fetched_at(),
    )
    .expect("parses");
    // PROVENANCE.md: 3 Redfin for-sale property records.
    assert_eq!(page.listings.len(), 3);
    assert_eq!(page.kind, PageKind::Search);

    let house = find(&page.listings, "186647");
    assert_eq!(
        house.url.as_deref(),
        Some("https://www.redfin.com/WA/Seattle/10116-Myers-Way-S-98168/home/186647")
    );
    assert_eq!(house.list_price.as_deref(), Some("$649,950"));
    assert_eq!(house.listing_kind.as_deref(), Some("for sale"));
    assert_eq!(house.property_type.as_deref(), Some("Single-family"));
    assert_eq!(house.bedrooms_total.as_deref(), Some("4"));
    // One full and one three-quarter bath: two baths as Redfin counts them.
    assert_eq!(house.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(house.living_area_sqft.as_deref(), Some("1,368"));
    assert_eq!(house.street_address.as_deref(), Some("10116 Myers Way S"));
    assert_eq!(house.city.as_deref(), Some("Seattle"));
    assert_eq!(house.state_or_province.as_deref(), Some("WA"));
    assert_eq!(house.postal_code.as_deref(), Some("98168"));
    assert_eq!(
        house.posted_at.as_deref(),
        Some("Thursday, November 9, 2023")
    );
    assert_eq!(extra(house, "days_on_market"), Some("6"));
    assert_eq!(
        extra(house, "estimated_monthly_payment"),
        Some("Est. $4,556/mo")
    );
    assert_eq!(extra(house, "photo_count"), Some("3"));
    assert_eq!(house.latitude, None);

    let condo = find(&page.listings, "12305595");
    assert_eq!(condo.street_address.as_deref(), Some("1105 Spring St #405"));
    assert_eq!(condo.living_area_sqft.as_deref(), Some("600"));
    assert_eq!(condo.property_type.as_deref(), Some("Condo"));
    assert_eq!(condo.bathrooms_total.as_deref(), Some("1"));
}

/// The same two homes in the search results and in the scraped property records agree.
#[test]
fn search_and_scraped_records_agree() {
    let search = parse_page(&read(SEARCH), SEARCH_URL, fetched_at()).expect("search parses");
    let scraped = parse_page(&read(PROPERTIES), SEARCH_URL, fetched_at()).expect("parses");
    for id in ["12305595", "46456"] {
        let (a, b) = (find(&search.listings, id), find(&scraped.listings, id));
        assert_eq!(a.url, b.url, "{id}");
        assert_eq!(a.bedrooms_total, b.bedrooms_total, "{id}");
        assert_eq!(a.city, b.city, "{id}");
        assert_eq!(a.postal_code, b.postal_code, "{id}");
        assert_eq!(a.living_area_sqft, b.living_area_sqft, "{id}");
        let digits = |price: &Option<String>| -> String {
            price
                .as_deref()
                .unwrap_or("")
                .chars()
                .filter(char::is_ascii_digit)
                .collect()
        };
        assert_eq!(digits(&a.list_price), digits(&b.list_price), "{id}");
    }
}

#[test]
fn kenmore_property_page_field_by_field() {
    let page = parse_page(&read(KENMORE), KENMORE_URL, fetched_at()).expect("page parses");
    assert_eq!(page.kind, PageKind::Posting);
    assert!(page.posting_urls.is_empty());
    assert_eq!(page.listings.len(), 1);
    let home = &page.listings[0];
    assert_eq!(home.source.as_deref(), Some("redfin"));
    assert_eq!(home.source_listing_id.as_deref(), Some("282664"));
    assert_eq!(home.url.as_deref(), Some(KENMORE_URL));
    // Sold on Sep 4, 2025 for $1,150,000 (the status banner and the price box).
    assert_eq!(home.listing_kind.as_deref(), Some("sold"));
    assert_eq!(home.list_price.as_deref(), Some("1150000"));
    assert_eq!(extra(home, "price_label"), Some("Sold Price"));
    assert_eq!(extra(home, "status"), Some("Closed"));
    assert_eq!(extra(home, "sold_date"), Some("1756969200000"));
    assert_eq!(home.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(home.bathrooms_total.as_deref(), Some("3.0"));
    assert_eq!(home.living_area_sqft.as_deref(), Some("2000"));
    assert_eq!(home.property_type.as_deref(), Some("Single-family"));
    assert_eq!(home.street_address.as_deref(), Some("7718 NE 183rd St"));
    assert_eq!(home.unit_number, None);
    assert_eq!(home.city.as_deref(), Some("Kenmore"));
    assert_eq!(home.state_or_province.as_deref(), Some("WA"));
    assert_eq!(home.postal_code.as_deref(), Some("98028"));
    assert_eq!(home.latitude.as_deref(), Some("47.7610285"));
    assert_eq!(home.longitude.as_deref(), Some("-122.2367863"));
    assert_eq!(
        home.title.as_deref(),
        Some("7718 NE 183rd St, Kenmore, WA 98028")
    );
    // Listed 2025-06-26 (Pacific) under MLS# 2398635: the history's "Listed" event of that number,
    // not the 2018 sale's.
    assert_eq!(home.posted_at.as_deref(), Some("1750921200000"));
    assert_eq!(home.contact_name.as_deref(), Some("Carmen Guo"));
    assert_eq!(
        extra(home, "broker_name"),
        Some("Kelly Right RE of Seattle LLC")
    );
    assert_eq!(extra(home, "listing_id"), Some("204726029"));
    assert_eq!(extra(home, "mls_id"), Some("2398635"));
    assert_eq!(extra(home, "year_built"), Some("1996"));
    assert_eq!(extra(home, "lot_size_sqft"), Some("93654"));
    assert!(
        home.description
            .as_deref()
            .is_some_and(|text| text.starts_with("Rare opportunity to own a private, gated estate"))
    );
}

/// Without the embedded state (stripped here), the JSON-LD and meta tags still give the basics.
#[test]
fn kenmore_without_embedded_state_falls_back_to_meta() {
    let html = read(KENMORE).replace("__reactServerState.InitialContext", "__stripped__");
    let page = parse_page(&html, "file:///saved/kenmore.html", fetched_at()).expect("parses");
    let home = &page.listings[0];
    assert_eq!(home.source_listing_id.as_deref(), Some("282664"));
    assert_eq!(home.url.as_deref(), Some(KENMORE_URL));
    assert_eq!(home.list_price.as_deref(), Some("1150000"));
    assert_eq!(home.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(home.bathrooms_total.as_deref(), Some("3"));
    assert_eq!(home.living_area_sqft.as_deref(), Some("2,000"));
    assert_eq!(home.street_address.as_deref(), Some("7718 NE 183rd St"));
    assert_eq!(home.city.as_deref(), Some("Kenmore"));
    assert_eq!(home.postal_code.as_deref(), Some("98028"));
    assert_eq!(home.latitude.as_deref(), Some("47.7610285"));
    assert_eq!(home.property_type.as_deref(), Some("SingleFamilyResidence"));
    assert_eq!(home.posted_at, None);
}

#[test]
fn dispatcher_routes_redfin() {
    let page = aiq_connectors::parse_page(
        aiq_schemas::Source::Redfin,
        &read(KENMORE),
        KENMORE_URL,
        fetched_at(),
    )
    .expect("dispatches");
    assert_eq!(
        page.listings[0].source_listing_id.as_deref(),
        Some("282664")
    );
}

const ALL: [&str; 3] = [SEARCH, PROPERTIES, KENMORE];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every saved file cut at any point parses or errors, never panics.
    #[test]
    fn truncated_files_never_panic(index in 0..ALL.len(), fraction in 0.0f64..1.0) {
        let body = read(ALL[index]);
        let mut cut = ((body.len() as f64) * fraction) as usize;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_page(&body[..cut], SEARCH_URL, fetched_at());
    }

    /// Soup of the markers and keys the parser looks for never panics it.
    #[test]
    fn marker_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("{}&&"), Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"),
        Just("\"propertyId\""), Just("\"latLong\""), Just("\"value\""), Just("\"propertyUrl\""),
        Just("\"address\""), Just("\"features\""), Just("\"homes\""), Just("1"), Just("\"/home/1\""),
        Just("__reactServerState.InitialContext = "), Just("<meta name=\"twitter:text:city\" content=\""),
        Just("<script type=\"application/ld+json\">"), Just("</script>"), Just("<title>"), Just("\""),
        Just("<meta property=\"og:url\" content=\"https://www.redfin.com/a/home/9\">"),
    ], 0..60)) {
        let _ = parse_page(&parts.concat(), SEARCH_URL, fetched_at());
    }

    #[test]
    fn arbitrary_text_never_panics(body in ".{0,300}") {
        let _ = parse_page(&body, SEARCH_URL, fetched_at());
    }
}
