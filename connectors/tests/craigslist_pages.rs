//! Every saved Craigslist page in `shared/data/html/craigslist`, parsed and checked field by field.
//! Expected values were read off the pages themselves; the three `.parsed.json` files (a third party's
//! parse of the same pages) are used as an independent cross-check.

use aiq_connectors::craigslist::{CraigslistPage, PageKind, parse_page};
use aiq_connectors::decode::decode_html;
use aiq_connectors::{Error, NoListingReason};
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const PAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/html/craigslist/"
);

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

fn parse(file: &str, url: &str) -> CraigslistPage {
    parse_page(&read_page(file), url, fetched_at())
        .unwrap_or_else(|error| panic!("{file} should parse: {error}"))
}

fn parse_error(file: &str, url: &str) -> Error {
    match parse_page(&read_page(file), url, fetched_at()) {
        Ok(page) => panic!(
            "{file} should not parse, got {} listings",
            page.listings.len()
        ),
        Err(error) => error,
    }
}

fn only_listing(page: CraigslistPage) -> RawListing {
    assert_eq!(page.kind, PageKind::Posting);
    assert!(page.posting_urls.is_empty());
    assert_eq!(page.next_page_url, None);
    assert_eq!(page.listings.len(), 1);
    page.listings.into_iter().next().expect("one listing")
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a str> {
    listing.extra.get(key).and_then(|value| value.as_str())
}

/// What a 2022+ posting page shows; `None` where the page does not show the field.
struct Posting {
    file: &'static str,
    url: &'static str,
    id: &'static str,
    title: &'static str,
    price: &'static str,
    bedrooms: &'static str,
    bathrooms: &'static str,
    area: Option<&'static str>,
    street: Option<&'static str>,
    city: &'static str,
    state: &'static str,
    postal_code: &'static str,
    latitude: &'static str,
    longitude: &'static str,
    posted_at: &'static str,
    neighbourhood: Option<&'static str>,
    property_type: &'static str,
}

/// Parse a current-markup posting and check every field it shows; returns the listing for
/// page-specific checks.
fn check_posting(expected: &Posting) -> RawListing {
    let listing = only_listing(parse(expected.file, expected.url));
    let file = expected.file;
    assert_eq!(listing.source.as_deref(), Some("craigslist"), "{file}");
    assert_eq!(
        listing.source_listing_id.as_deref(),
        Some(expected.id),
        "{file}"
    );
    assert_eq!(listing.url.as_deref(), Some(expected.url), "{file}");
    assert_eq!(listing.fetched_at, Some(fetched_at()), "{file}");
    assert_eq!(listing.listing_kind.as_deref(), Some("rent"), "{file}");
    assert_eq!(extra(&listing, "category"), Some("apa"), "{file}");
    assert_eq!(
        listing.property_type.as_deref(),
        Some(expected.property_type),
        "{file}"
    );
    assert_eq!(listing.title.as_deref(), Some(expected.title), "{file}");
    assert_eq!(
        listing.list_price.as_deref(),
        Some(expected.price),
        "{file}"
    );
    assert_eq!(
        listing.bedrooms_total.as_deref(),
        Some(expected.bedrooms),
        "{file}"
    );
    assert_eq!(
        listing.bathrooms_total.as_deref(),
        Some(expected.bathrooms),
        "{file}"
    );
    assert_eq!(listing.living_area_sqft.as_deref(), expected.area, "{file}");
    assert_eq!(listing.street_address.as_deref(), expected.street, "{file}");
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
    assert_eq!(
        listing.posted_at.as_deref(),
        Some(expected.posted_at),
        "{file}"
    );
    assert_eq!(
        extra(&listing, "neighbourhood"),
        expected.neighbourhood,
        "{file}"
    );
    assert_eq!(extra(&listing, "country"), Some("US"), "{file}");
    let description = listing.description.as_deref().unwrap_or_default();
    assert!(
        description.len() > 40,
        "{file}: description too short: {description:?}"
    );
    assert!(
        !description.contains("QR Code Link to This Post"),
        "{file}: print boilerplate kept"
    );
    listing
}

#[test]
fn atlanta_7501755803_the_edison() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_atlanta_7501755803.html",
        url: "https://atlanta.craigslist.org/nat/apa/d/smyrna-the-edison-apartments/7501755803.html",
        id: "7501755803",
        title: "The Edison Apartments",
        price: "$1,606",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: Some("750ft2"),
        street: Some("5000 South Lincoln Trace Avenue"),
        city: "Smyrna",
        state: "GA",
        postal_code: "30081",
        latitude: "33.879600",
        longitude: "-84.502300",
        posted_at: "2022-06-27T10:07:49-0400",
        neighbourhood: Some("5000 South Lincoln Trace Avenue, Atlanta, GA"),
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "laundry"), Some("w/d in unit"));
    assert_eq!(extra(&listing, "parking"), Some("carport"));
    assert_eq!(extra(&listing, "rent_period"), Some("daily"));
    assert_eq!(extra(&listing, "available_date"), Some("2022-06-27"));
    assert_eq!(
        extra(&listing, "updated_at"),
        Some("2022-07-26T20:34:05-0400")
    );
    assert_eq!(extra(&listing, "map_accuracy"), Some("5"));
    // The map address is the street address, so it is not repeated in `extra`.
    assert_eq!(extra(&listing, "map_address"), None);
    let description = listing.description.as_deref().unwrap_or_default();
    assert!(description.starts_with(
        "Schedule a Tour Today: https://livezrs.com/krhwrhee/ashford-75\n\nDiscover the perfect place"
    ));
    assert!(description.contains("Amenities:\n-Swimming Pool\n-Ceiling Fans in Bedrooms\n"));
    assert!(description.ends_with("Equal Housing Opportunity"));
    // The phone sits behind "show contact info"; the page does not show one.
    assert_eq!(listing.contact_phone, None);
}

#[test]
fn atlanta_7515014866_one_bed_in_two_family() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_atlanta_7515014866.html",
        url: "https://atlanta.craigslist.org/atl/apa/d/atlanta-bed-in-famlaundry-parking-bus/7515014866.html",
        id: "7515014866",
        title: "****1 BED in 2 Fam******LAUNDRY & PARKING--BUS",
        price: "$700",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: None,
        // JSON-LD streetAddress is "" and there is no map address line.
        street: None,
        city: "Atlanta",
        state: "GA",
        postal_code: "30366",
        latitude: "33.887900",
        longitude: "-84.290500",
        posted_at: "2022-07-29T18:22:19-0400",
        neighbourhood: None,
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "pets_cat"), Some("cats are OK - purrr"));
    assert_eq!(extra(&listing, "pets_dog"), Some("dogs are OK - wooof"));
    assert_eq!(extra(&listing, "laundry"), Some("w/d hookups"));
    assert_eq!(extra(&listing, "parking"), Some("off-street parking"));
    assert_eq!(
        extra(&listing, "air_conditioning"),
        Some("air conditioning")
    );
    assert_eq!(extra(&listing, "no_smoking"), Some("no smoking"));
    assert_eq!(extra(&listing, "rent_period"), Some("monthly"));
    assert_eq!(extra(&listing, "map_accuracy"), Some("22"));
}

#[test]
fn atlanta_7515104203_weekly_special() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_atlanta_7515104203.html",
        url: "https://atlanta.craigslist.org/nat/apa/d/marietta-unbeatable-month-end-special/7515104203.html",
        id: "7515104203",
        title: "Unbeatable Month-End Special in Marietta!!!",
        price: "$250",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: Some("300ft2"),
        street: Some("2100 NW Pkwy SE"),
        city: "Marietta",
        state: "GA",
        postal_code: "30067",
        latitude: "33.928200",
        longitude: "-84.473300",
        posted_at: "2022-07-29T23:30:32-0400",
        neighbourhood: Some("Marietta, GA"),
        property_type: "apartment",
    });
    // The implausibly low price is a weekly rate: the rent period says so.
    assert_eq!(extra(&listing, "rent_period"), Some("weekly"));
    assert_eq!(extra(&listing, "furnished"), Some("furnished"));
    assert_eq!(
        extra(&listing, "open_house_dates"),
        Some("friday 2022-07-29, saturday 2022-07-30, sunday 2022-07-31")
    );
}

#[test]
fn boston_7514890528_belmont() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_boston_7514890528.html",
        url: "https://boston.craigslist.org/gbs/apa/d/watertown-belmont-no-broker-fee-easy/7514890528.html",
        id: "7514890528",
        title: "Belmont - NO BROKER FEE - Easy access to Cambridge - MOVE IN AUG 1!",
        price: "$2,400",
        bedrooms: "2br",
        bathrooms: "1Ba",
        area: None,
        street: Some("Trapelo Rd"),
        city: "Watertown",
        state: "MA",
        postal_code: "02472",
        latitude: "42.380509",
        longitude: "-71.174593",
        posted_at: "2022-07-29T13:59:42-0400",
        neighbourhood: None,
        // The attribute says "condo"; JSON-LD's generic @type "Apartment" only fills a gap.
        property_type: "condo",
    });
    assert_eq!(
        extra(&listing, "map_address"),
        Some("Trapelo Rd near Common St")
    );
    assert_eq!(extra(&listing, "available_date"), Some("2022-08-01"));
    assert_eq!(extra(&listing, "laundry"), Some("laundry on site"));
}

#[test]
fn boston_7514972380_sullivan_square() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_boston_7514972380.html",
        url: "https://boston.craigslist.org/gbs/apa/d/somerville-sullivan-square-august-move/7514972380.html",
        id: "7514972380",
        title: "***SULLIVAN SQUARE-AUGUST MOVE-IN-NO FEE BRAND NEW 4BED/2BATH PETS OK",
        price: "$4,700",
        bedrooms: "4br",
        bathrooms: "2Ba",
        area: None,
        street: Some("Cross St"),
        city: "Somerville",
        state: "MA",
        postal_code: "02143",
        latitude: "42.383114",
        longitude: "-71.089695",
        posted_at: "2022-07-29T16:43:55-0400",
        neighbourhood: Some("Somerville"),
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "laundry"), Some("w/d in unit"));
    assert_eq!(extra(&listing, "parking"), Some("street parking"));
    assert_eq!(
        extra(&listing, "map_address"),
        Some("Cross St near Tufuts St")
    );
}

#[test]
fn boston_7514980855_port_norfolk() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_boston_7514980855.html",
        url: "https://boston.craigslist.org/gbs/apa/d/dorchester-port-norfolk-dorchester-3000/7514980855.html",
        id: "7514980855",
        // `&gt;` entities decoded.
        title: ">>>>PORT NORFOLK-DORCHESTER 3000 SQFT 5 BED 6+ BATH WITH PARKING INCLD",
        price: "$7,500",
        bedrooms: "5br",
        bathrooms: "7Ba",
        area: None,
        street: Some("Taylor St"),
        city: "Dorchester",
        state: "MA",
        postal_code: "02122",
        latitude: "42.287729",
        longitude: "-71.039709",
        posted_at: "2022-07-29T17:01:51-0400",
        neighbourhood: Some("Boston"),
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "available_date"), Some("2022-08-15"));
}

#[test]
fn chicago_7496774171_studio_without_housing_line() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7496774171.html",
        url: "https://chicago.craigslist.org/chc/apa/d/chicago-blocks-to-the-granville-redline/7496774171.html",
        id: "7496774171",
        title: "3 Blocks To The Granville Redline! Updated Studio Ready 7/01",
        price: "$825",
        // No span.housing on this page: bedrooms come from the "0BR / 1Ba" attribute bubble.
        bedrooms: "0BR",
        bathrooms: "1Ba",
        area: None,
        street: Some("Hood"),
        city: "Chicago",
        state: "IL",
        postal_code: "60660",
        latitude: "41.993831",
        longitude: "-87.663156",
        posted_at: "2022-06-15T08:12:48-0500",
        neighbourhood: Some("Edgewater"),
        property_type: "apartment",
    });
    assert_eq!(listing.contact_phone.as_deref(), Some("630-709-1606"));
    assert_eq!(extra(&listing, "map_address"), Some("Hood near Lakewood"));
    assert_eq!(
        extra(&listing, "updated_at"),
        Some("2022-06-23T06:42:27-0500")
    );
}

#[test]
fn chicago_7496897671_south_shore() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7496897671.html",
        url: "https://chicago.craigslist.org/chc/apa/d/chicago-beautiful-one-bedroom/7496897671.html",
        id: "7496897671",
        title: "Beautiful One Bedroom - Apartments @7425 S South Shore - Available NOW",
        price: "$1,150",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: None,
        street: Some("7425 S South Shore Drive"),
        city: "Chicago",
        state: "IL",
        postal_code: "60649",
        latitude: "41.762019",
        longitude: "-87.558510",
        posted_at: "2022-06-15T12:27:05-0500",
        neighbourhood: Some("South Shore Neighborhood"),
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "laundry"), Some("laundry on site"));
}

#[test]
fn chicago_7498813750_furnished_studio() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7498813750.html",
        url: "https://chicago.craigslist.org/nwc/apa/d/elk-grove-village-furnished-studio/7498813750.html",
        id: "7498813750",
        title: "Furnished Studio - Great Monthly Rates!",
        price: "$2,100",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: None,
        street: Some("1207 E Touhy Ave"),
        city: "Elk Grove Village",
        state: "IL",
        postal_code: "60009",
        latitude: "42.007761",
        longitude: "-87.967844",
        posted_at: "2022-06-20T09:35:55-0500",
        // `&#39;` decoded.
        neighbourhood: Some("Chicago O'Hare Allstate Arena"),
        property_type: "apartment",
    });
    assert_eq!(listing.contact_phone.as_deref(), Some("888-844-0952"));
    assert_eq!(
        extra(&listing, "wheelchair_accessible"),
        Some("wheelchair accessible")
    );
    assert_eq!(extra(&listing, "furnished"), Some("furnished"));
}

#[test]
fn chicago_7501716924_extended_stay_hotel() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7501716924.html",
        url: "https://chicago.craigslist.org/nwc/apa/d/addison-woodspring-suites-new-guest/7501716924.html",
        id: "7501716924",
        title: "Woodspring Suites, New Guest Check In Special Going FAST $350",
        price: "$350",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: Some("315ft2"),
        street: Some("991 E . Lake Street"),
        city: "Addison",
        state: "IL",
        postal_code: "60101",
        latitude: "41.931723",
        longitude: "-87.987957",
        posted_at: "2022-06-27T07:16:43-0500",
        neighbourhood: Some("Addison"),
        property_type: "apartment",
    });
    assert_eq!(extra(&listing, "rent_period"), Some("weekly"));
    assert_eq!(
        extra(&listing, "open_house_dates"),
        Some("monday 2022-06-27")
    );
}

#[test]
fn chicago_7502236488_wicker_park() {
    let listing = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7502236488.html",
        url: "https://chicago.craigslist.org/chc/apa/d/chicago-amazing-bed-bath-close-to-blue/7502236488.html",
        id: "7502236488",
        title: "Amazing 2 Bed, 1 Bath ; Close to Blue LINE",
        price: "$1,700",
        bedrooms: "2br",
        bathrooms: "1Ba",
        area: Some("1100ft2"),
        street: Some("Erie"),
        city: "Chicago",
        state: "IL",
        postal_code: "60642",
        latitude: "41.893432",
        longitude: "-87.662353",
        posted_at: "2022-06-28T10:19:30-0500",
        neighbourhood: Some("Wicker Park"),
        property_type: "apartment",
    });
    assert_eq!(
        extra(&listing, "application_fee_details"),
        Some("$30 Application fee for Credit and Background Check")
    );
    assert_eq!(extra(&listing, "available_date"), Some("2022-09-01"));
}

#[test]
fn chicago_7511542524_repost_of_7496897671() {
    let repost = check_posting(&Posting {
        file: "cl_2022_post_apa_chicago_7511542524.html",
        url: "https://chicago.craigslist.org/chc/apa/d/chicago-beautiful-one-bedroom/7511542524.html",
        id: "7511542524",
        title: "Beautiful One Bedroom - Apartments @7425 S South Shore - Available NOW",
        price: "$1,150",
        bedrooms: "1br",
        bathrooms: "1Ba",
        area: None,
        street: Some("7425 S South Shore Drive"),
        city: "Chicago",
        state: "IL",
        postal_code: "60649",
        latitude: "41.762019",
        longitude: "-87.558510",
        posted_at: "2022-07-21T10:05:34-0500",
        neighbourhood: Some("South Shore Neighborhood"),
        property_type: "apartment",
    });
    let original = only_listing(parse(
        "cl_2022_post_apa_chicago_7496897671.html",
        "https://chicago.craigslist.org/chc/apa/d/chicago-beautiful-one-bedroom/7496897671.html",
    ));
    // Same flat, new post id: the dedupe stage needs both records to carry the same facts.
    assert_ne!(repost.source_listing_id, original.source_listing_id);
    assert_eq!(repost.description, original.description);
    assert_eq!(repost.street_address, original.street_address);
}

#[test]
fn milwaukee_7936415355_2026_markup() {
    let listing = check_posting(&Posting {
        file: "cl_2026_post_apa_milwaukee_7936415355.html",
        url: "https://milwaukee.craigslist.org/apa/d/milwaukee-wauwatosa-bdrm-bath-near-mcw/7936415355.html",
        id: "7936415355",
        title: "Wauwatosa 2 Bdrm, 1 Bath Near MCW",
        price: "$1,325",
        bedrooms: "2br",
        bathrooms: "1Ba",
        area: Some("925ft2"),
        street: Some("1506 N. 116th Street"),
        city: "Milwaukee",
        state: "WI",
        postal_code: "53226",
        latitude: "43.049222",
        longitude: "-88.057494",
        posted_at: "2026-05-24T08:45:51-0500",
        neighbourhood: Some("Wauwatosa"),
        property_type: "apartment",
    });
    // The 2026 attribute markup: values link to the search parameter they set.
    assert_eq!(extra(&listing, "rent_period"), Some("monthly"));
    assert_eq!(extra(&listing, "laundry"), Some("w/d hookups"));
    assert_eq!(extra(&listing, "parking"), Some("detached garage"));
    assert_eq!(extra(&listing, "pets_cat"), Some("cats are OK - purrr"));
    assert_eq!(
        extra(&listing, "air_conditioning"),
        Some("air conditioning")
    );
    assert_eq!(extra(&listing, "available_date"), Some("available jun 1"));
    assert_eq!(
        extra(&listing, "display_address"),
        Some("1506 N. 116th Street, Wauwatosa, WI 53226")
    );
    assert!(
        listing
            .description
            .as_deref()
            .unwrap_or_default()
            .starts_with("Beautifully updated, clean, quiet 2 bedroom")
    );
}

#[test]
fn posting_url_comes_from_the_canonical_link_and_the_fetch_url_is_a_fallback() {
    let html = read_page("cl_2022_post_apa_chicago_7502236488.html");
    let fetched = "https://chicago.craigslist.org/chc/apa/d/chicago-amazing-bed-bath-close-to-blue/7502236488.html?lang=en&cc=us";
    let page = parse_page(&html, fetched, fetched_at()).expect("parses");
    assert_eq!(
        page.listings[0].url.as_deref(),
        Some(
            "https://chicago.craigslist.org/chc/apa/d/chicago-amazing-bed-bath-close-to-blue/7502236488.html"
        )
    );
    // Without the canonical link, the fetch URL is the posting URL; without the "post id:" line the id
    // comes from it too.
    let stripped = html
        .replace("rel=\"canonical\"", "rel=\"x\"")
        .replace("post id: 7502236488", "");
    let page = parse_page(&stripped, fetched, fetched_at()).expect("parses");
    assert_eq!(page.listings[0].url.as_deref(), Some(fetched));
    assert_eq!(
        page.listings[0].source_listing_id.as_deref(),
        Some("7502236488")
    );
}

// ---- Cross-checks against the third party's parse of three pages -------------------------------

fn third_party(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{PAGES}{file}")).expect("parsed.json present");
    serde_json::from_str(&text).expect("parsed.json is JSON")
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn cross_check(html_file: &str, json_file: &str) {
    let reference = third_party(json_file);
    let url = reference["url"].as_str().expect("url");
    let listing = only_listing(parse(html_file, url));
    assert_eq!(
        listing.source_listing_id.as_deref(),
        Some(reference["post_id"].to_string().as_str())
    );
    assert_eq!(listing.title.as_deref(), reference["title"].as_str());
    assert_eq!(
        digits(listing.list_price.as_deref().unwrap_or_default()),
        reference["price"].to_string()
    );
    assert_eq!(
        extra(&listing, "neighbourhood"),
        reference["neighborhood"].as_str()
    );
    assert_eq!(
        extra(&listing, "map_address"),
        reference["map_address"].as_str()
    );
    let latitude: f64 = listing
        .latitude
        .as_deref()
        .unwrap_or_default()
        .parse()
        .expect("latitude");
    let longitude: f64 = listing
        .longitude
        .as_deref()
        .unwrap_or_default()
        .parse()
        .expect("longitude");
    assert!((latitude - reference["latitude"].as_f64().expect("lat")).abs() < 1e-9);
    assert!((longitude - reference["longitude"].as_f64().expect("lon")).abs() < 1e-9);
    // The third party kept the displayed "YYYY-MM-DD HH:MM"; we keep the machine-readable datetime.
    let posted = reference["posted"]
        .as_str()
        .expect("posted")
        .replace(' ', "T");
    assert!(
        listing
            .posted_at
            .as_deref()
            .unwrap_or_default()
            .starts_with(&posted)
    );
    assert_eq!(
        listing.property_type.as_deref(),
        reference["housing_type"].as_str()
    );
    assert_eq!(
        digits(listing.bedrooms_total.as_deref().unwrap_or_default()),
        reference["bedrooms"].to_string()
    );
    let baths: f64 = digits(listing.bathrooms_total.as_deref().unwrap_or_default())
        .parse()
        .expect("bathrooms");
    assert_eq!(Some(baths), reference["bathrooms"].as_f64());
    assert_eq!(extra(&listing, "laundry"), reference["laundry"].as_str());
    assert_eq!(extra(&listing, "parking"), reference["parking"].as_str());
    assert_eq!(
        extra(&listing, "rent_period"),
        reference["rent_period"].as_str()
    );
    let expect_flag = |key: &str, reference_key: &str| {
        let flagged = reference[reference_key] == serde_json::Value::Bool(true);
        assert_eq!(
            extra(&listing, key).is_some(),
            flagged,
            "{html_file}: {key} vs {reference_key}"
        );
    };
    expect_flag("pets_cat", "cats_ok");
    expect_flag("pets_dog", "dogs_ok");
    expect_flag("no_smoking", "no_smoking");
    expect_flag("furnished", "furnished");
    expect_flag("wheelchair_accessible", "wheelchair_access");
    match reference["sqft"].as_u64() {
        Some(sqft) => assert_eq!(
            digits(listing.living_area_sqft.as_deref().unwrap_or_default()),
            format!("{sqft}2")
        ),
        None => assert_eq!(listing.living_area_sqft, None),
    }
    if let Some(available) = reference["available"].as_str().filter(|a| *a != "NA") {
        assert_eq!(extra(&listing, "available_date"), Some(available));
    }
    // Every body line the third party kept appears in our description, in order.
    let description = listing.description.as_deref().unwrap_or_default();
    let mut from = 0;
    for line in reference["posting_body"].as_array().expect("posting_body") {
        let line = line.as_str().expect("line").trim();
        let found = description[from..]
            .find(line)
            .unwrap_or_else(|| panic!("{html_file}: body line {line:?} missing or out of order"));
        from += found + line.len();
    }
}

#[test]
fn cross_check_chicago_7496774171_with_third_party_parse() {
    cross_check(
        "cl_2022_post_apa_chicago_7496774171.html",
        "cl_2022_post_apa_chicago_7496774171.parsed.json",
    );
}

#[test]
fn cross_check_chicago_7498813750_with_third_party_parse() {
    cross_check(
        "cl_2022_post_apa_chicago_7498813750.html",
        "cl_2022_post_apa_chicago_7498813750.parsed.json",
    );
}

#[test]
fn cross_check_chicago_7502236488_with_third_party_parse() {
    cross_check(
        "cl_2022_post_apa_chicago_7502236488.html",
        "cl_2022_post_apa_chicago_7502236488.parsed.json",
    );
}

// ---- 2009 postings ------------------------------------------------------------------------------

#[test]
fn posting_2009_broward_1131242195_duplex_for_sale() {
    let url = "http://miami.craigslist.org/brw/reb/1131242195.html";
    let listing = only_listing(parse("cl_2009_post_reb_broward_1131242195.html", url));
    assert_eq!(listing.source.as_deref(), Some("craigslist"));
    assert_eq!(listing.source_listing_id.as_deref(), Some("1131242195"));
    assert_eq!(listing.url.as_deref(), Some(url));
    assert_eq!(listing.fetched_at, Some(fetched_at()));
    assert_eq!(listing.listing_kind.as_deref(), Some("sale"));
    assert_eq!(extra(&listing, "category"), Some("reb"));
    assert_eq!(listing.list_price.as_deref(), Some("$189900"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("4br"));
    assert_eq!(listing.bathrooms_total, None);
    assert_eq!(listing.living_area_sqft, None);
    assert_eq!(
        listing.title.as_deref(),
        Some("Investment Property--Duplex in Fort Lauderdale")
    );
    assert_eq!(listing.street_address.as_deref(), Some("1000 NE 14th Pl"));
    assert_eq!(listing.city.as_deref(), Some("Fort Lauderdale"));
    assert_eq!(listing.state_or_province.as_deref(), Some("FL"));
    assert_eq!(listing.postal_code, None);
    assert_eq!(listing.latitude, None);
    assert_eq!(listing.posted_at.as_deref(), Some("2009-04-20, 1:33PM EDT"));
    // The reply address is written with character references in the page.
    assert_eq!(
        listing.contact_email.as_deref(),
        Some("hous-5nzhq-1131242195@craigslist.org")
    );
    assert_eq!(listing.contact_phone.as_deref(), Some("954-593-0077"));
    let description = listing.description.as_deref().unwrap_or_default();
    // Windows-1252 bytes decoded: 0x97 em dash and 0xE7 c cedilla.
    assert!(
        description
            .starts_with("Residential income property\u{2014}Investors this property is for you!")
    );
    assert!(description.contains("\n\nJe parle le Fran\u{e7}ais\n\n"));
    assert!(description.ends_with("you may also visit www.garylanham.com"));
    // The map address line, map links, notices and images are not part of the description.
    assert!(!description.contains("1000 NE 14th Pl"));
    assert!(!description.contains("google map"));
    assert!(!description.contains("NOT ok to contact"));
}

#[test]
fn posting_2009_broward_1224008903_house_in_sunrise() {
    let url = "http://miami.craigslist.org/brw/reb/1224008903.html";
    let listing = only_listing(parse("cl_2009_post_reb_broward_1224008903.html", url));
    assert_eq!(listing.source_listing_id.as_deref(), Some("1224008903"));
    assert_eq!(listing.listing_kind.as_deref(), Some("sale"));
    assert_eq!(listing.list_price.as_deref(), Some("$189999"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("3br"));
    assert_eq!(
        listing.title.as_deref(),
        Some("Nice 3 Bedroom/ 2 Bathroom House with Garage in Sunrise")
    );
    assert_eq!(extra(&listing, "neighbourhood"), Some("Sunrise"));
    assert_eq!(extra(&listing, "location"), Some("Sunrise"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("Sunrise Boulevard at Pine Island Road")
    );
    assert_eq!(listing.city.as_deref(), Some("Sunrise"));
    assert_eq!(listing.state_or_province.as_deref(), Some("FL"));
    assert_eq!(listing.posted_at.as_deref(), Some("2009-06-16, 6:43PM EDT"));
    assert_eq!(
        listing.contact_email.as_deref(),
        Some("1971CJS@Bellsouth.net")
    );
    assert_eq!(listing.contact_phone.as_deref(), Some("954-478-4784"));
    let description = listing.description.as_deref().unwrap_or_default();
    assert!(description.starts_with("Nice 3 Bedroom/ 2 Bathroom/ Garage Home in Sunrise."));
    assert!(description.ends_with("to the property- 9163 N.W. 26th Street, Sunrise, FL 33322"));
}

// ---- Pages without a listing --------------------------------------------------------------------

#[test]
fn expired_2009_posting_is_no_listing_expired() {
    let error = parse_error(
        "cl_2009_post_expired.html",
        "http://charleston.craigslist.org/cto/1968731193.html",
    );
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Expired));
    assert_eq!(error.code(), "no_listing_expired");
    assert!(!error.retryable());
    assert_eq!(
        error.to_string(),
        "no listing: this posting has expired (This posting has expired.)"
    );
}

#[test]
fn blocked_response_is_no_listing_blocked_and_retryable() {
    let error = parse_error(
        "cl_2022_blocked_response.html",
        "https://atlanta.craigslist.org/nat/apa/d/x/7501837771.html",
    );
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Blocked));
    assert_eq!(error.code(), "no_listing_blocked");
    assert!(error.retryable());
}

// ---- Search pages -------------------------------------------------------------------------------

#[test]
fn search_2009_south_florida_has_100_rows() {
    let url = "http://miami.craigslist.org/apa/index800.html";
    let page = parse("cl_2009_listing_apa_southflorida.html", url);
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 100);
    assert_eq!(page.posting_urls.len(), 100);
    assert_eq!(
        page.next_page_url.as_deref(),
        Some("http://miami.craigslist.org/apa/index900.html")
    );
    for listing in &page.listings {
        assert_eq!(listing.source.as_deref(), Some("craigslist"));
        assert_eq!(listing.listing_kind.as_deref(), Some("rent"));
        assert_eq!(listing.posted_at.as_deref(), Some("Sun Apr 19"));
        assert_eq!(listing.fetched_at, Some(fetched_at()));
        assert!(listing.title.is_some());
    }

    let first = &page.listings[0];
    assert_eq!(first.source_listing_id.as_deref(), Some("1129196334"));
    assert_eq!(
        first.url.as_deref(),
        Some("http://miami.craigslist.org/brw/apa/1129196334.html")
    );
    assert_eq!(first.list_price.as_deref(), Some("$800"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("1br"));
    assert_eq!(
        first.title.as_deref(),
        Some("COTTAGE FOR RENT ALL UTILITIES INCLUDED")
    );
    assert_eq!(extra(first, "neighbourhood"), Some("Dania Beach"));
    assert_eq!(
        page.posting_urls[0],
        "http://miami.craigslist.org/brw/apa/1129196334.html"
    );

    // A row with the price inside the title and no neighbourhood.
    let second = &page.listings[1];
    assert_eq!(second.list_price, None);
    assert_eq!(
        second.title.as_deref(),
        Some("Design Place- Suburban Living in the Heart of Miami $900/month")
    );
    assert_eq!(extra(second, "neighbourhood"), None);

    let last = &page.listings[99];
    assert_eq!(last.source_listing_id.as_deref(), Some("1129893859"));
    assert_eq!(last.list_price.as_deref(), Some("$2500"));
    assert_eq!(last.bedrooms_total.as_deref(), Some("2br"));
    assert_eq!(
        extra(last, "neighbourhood"),
        Some("Brickell, Downtown, Biscayne, Miami")
    );
    // Character references in titles are decoded.
    let vacant = page
        .listings
        .iter()
        .find(|l| l.source_listing_id.as_deref() == Some("1129895231"))
        .expect("row 1129895231");
    assert_eq!(
        vacant.title.as_deref(),
        Some("\u{25ba}\u{25ba}\u{25ba}VACANT 5 BEDS, 2.5 BATH. 2 CAR GARAGE. SINGLE FAMILY HOME.!")
    );
}

#[test]
fn search_2021_burnaby_has_5_result_rows() {
    let url = "https://vancouver.craigslist.org/d/burnaby-bc/search/apa";
    let page = parse("cl_2021_search_apa_burnaby_result-row.html", url);
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 5);
    // The "next" link has an empty href on the last page.
    assert_eq!(page.next_page_url, None);
    let ids: Vec<_> = page
        .listings
        .iter()
        .map(|l| l.source_listing_id.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        [
            "7389436000",
            "7391409874",
            "7388747820",
            "7380919502",
            "7380919325"
        ]
    );

    let first = &page.listings[0];
    assert_eq!(
        first.url.as_deref(),
        Some(
            "https://vancouver.craigslist.org/bnc/apa/d/burnaby-metrotown-bed-bath-condo-huge/7389436000.html"
        )
    );
    assert_eq!(
        first.title.as_deref(),
        Some("Metrotown 1 Bed 1 Bath Condo w/ Huge 120sf Sundeck @ Maywood Park")
    );
    assert_eq!(first.list_price.as_deref(), Some("$1,790"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("1br"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("615ft2"));
    assert_eq!(first.posted_at.as_deref(), Some("2021-10-09 09:30"));
    assert_eq!(first.listing_kind.as_deref(), Some("rent"));
    assert_eq!(
        extra(first, "neighbourhood"),
        Some("Vancouver burnaby/newwest")
    );
    assert_eq!(extra(first, "repost_of"), None);

    // Area without bedrooms.
    let second = &page.listings[1];
    assert_eq!(second.bedrooms_total, None);
    assert_eq!(second.living_area_sqft.as_deref(), Some("551ft2"));
    assert_eq!(extra(second, "repost_of"), Some("6753207003"));

    let fourth = &page.listings[3];
    assert_eq!(fourth.list_price.as_deref(), Some("$1,765"));
    assert_eq!(fourth.posted_at.as_deref(), Some("2021-09-15 17:39"));
    assert_eq!(
        extra(fourth, "neighbourhood"),
        Some("Burnaby, Near Patterson Skytrain burnaby/newwest")
    );
}

#[test]
fn search_2025_manhattan_has_153_rows_merged_with_json_ld() {
    let url = "https://www.craigslist.org/search/subarea/mnh?cat=apa";
    let page = parse("cl_2025_search_apa_manhattan.html", url);
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 153);
    assert_eq!(page.next_page_url, None);
    for listing in &page.listings {
        assert!(listing.latitude.is_some(), "{:?}", listing.title);
        assert!(listing.longitude.is_some(), "{:?}", listing.title);
        assert!(listing.city.is_some(), "{:?}", listing.title);
        // Empty JSON-LD address parts stay absent.
        assert_eq!(listing.street_address, None);
        assert_eq!(listing.postal_code, None);
        assert_eq!(listing.listing_kind.as_deref(), Some("rent"));
    }

    // A Manhattan search still returns a few rows from across the river.
    let states: Vec<_> = page
        .listings
        .iter()
        .map(|l| l.state_or_province.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "NY").count(), 149);
    assert_eq!(
        (states[15], states[26], states[78], states[151]),
        ("NJ", "NJ", "CT", "NJ")
    );
    assert_eq!(page.listings[78].city.as_deref(), Some("Norwalk"));
    let in_new_york = page
        .listings
        .iter()
        .filter(|l| l.city.as_deref() == Some("New York"))
        .count();
    assert_eq!(in_new_york, 145);

    let first = &page.listings[0];
    assert_eq!(
        first.source_listing_id.as_deref(),
        Some("mfYChGx8GdfQTDbasSzkQq")
    );
    assert_eq!(
        first.url.as_deref(),
        Some(
            "https://www.craigslist.org/view/d/new-york-real-beautysee-515pm3rd-st2nd/mfYChGx8GdfQTDbasSzkQq"
        )
    );
    assert_eq!(
        first.title.as_deref(),
        Some("REAL __B_E_A_U_T_Y___.SEE 5:15PM_____3RD ST___2nd Ave_")
    );
    assert_eq!(first.list_price.as_deref(), Some("$3,499"));
    assert_eq!(extra(first, "neighbourhood"), Some("East Village"));
    assert_eq!(first.latitude.as_deref(), Some("40.7255833906158"));
    assert_eq!(first.longitude.as_deref(), Some("-73.9898685852499"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("1"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("1"));
    assert_eq!(first.property_type.as_deref(), Some("Apartment"));

    // Two rows share a title; position keeps each with its own coordinates and price.
    let second = &page.listings[1];
    let third = &page.listings[2];
    assert_eq!(second.title, third.title);
    assert_eq!(second.list_price.as_deref(), Some("$1,350"));
    assert_eq!(third.list_price.as_deref(), Some("$1,154"));
    assert_eq!(second.latitude.as_deref(), Some("40.7076715840254"));

    // Ids with `_` and `-` (base64url).
    assert!(
        page.listings
            .iter()
            .any(|l| l.source_listing_id.as_deref() == Some("4mk_Ee1k8RGnO5-kAiTQUQ"))
    );
    let with_bedrooms = page
        .listings
        .iter()
        .filter(|l| l.bedrooms_total.is_some())
        .count();
    assert_eq!(
        with_bedrooms, 93,
        "JSON-LD gives numberOfBedrooms for 93 of 153 items"
    );
    let houses = page
        .listings
        .iter()
        .filter(|l| l.property_type.as_deref() == Some("House"))
        .count();
    assert_eq!(houses, 1);
    assert_eq!(page.posting_urls.len(), 153);
    assert_eq!(page.posting_urls[0], first.url.clone().unwrap_or_default());
}

#[test]
fn search_2026_milwaukee_has_37_rows_and_matches_the_posting_page() {
    let url = "https://milwaukee.craigslist.org/search/apa?query=wauwatosa";
    let page = parse("cl_2026_search_apa_milwaukee_wauwatosa.html", url);
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 37);
    assert_eq!(page.next_page_url, None);
    let without_location = page
        .listings
        .iter()
        .filter(|l| extra(l, "neighbourhood").is_none())
        .count();
    assert_eq!(without_location, 7);

    let first = &page.listings[0];
    assert_eq!(first.source_listing_id.as_deref(), Some("7936415355"));
    assert_eq!(
        first.title.as_deref(),
        Some("Wauwatosa 2 Bdrm, 1 Bath Near MCW")
    );
    assert_eq!(first.list_price.as_deref(), Some("$1,325"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("2"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("1"));
    assert_eq!(first.city.as_deref(), Some("Milwaukee"));
    assert_eq!(first.state_or_province.as_deref(), Some("WI"));
    assert_eq!(first.latitude.as_deref(), Some("43.0492206041374"));

    let townhouse = &page.listings[2];
    assert_eq!(townhouse.source_listing_id.as_deref(), Some("7936415882"));
    assert_eq!(townhouse.property_type.as_deref(), Some("House"));
    assert_eq!(townhouse.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(townhouse.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(townhouse.list_price.as_deref(), Some("$2,095"));

    // The first row is the saved posting page: same id, URL, price; coordinates agree to ~1 m
    // (search results blur them slightly).
    let posting = only_listing(parse(
        "cl_2026_post_apa_milwaukee_7936415355.html",
        "https://milwaukee.craigslist.org/apa/d/milwaukee-wauwatosa-bdrm-bath-near-mcw/7936415355.html",
    ));
    assert_eq!(first.source_listing_id, posting.source_listing_id);
    assert_eq!(first.url, posting.url);
    assert_eq!(first.list_price, posting.list_price);
    assert_eq!(first.title, posting.title);
    let coordinate = |value: &Option<String>| -> f64 {
        value
            .as_deref()
            .unwrap_or_default()
            .parse()
            .expect("coordinate")
    };
    assert!((coordinate(&first.latitude) - coordinate(&posting.latitude)).abs() < 1e-4);
    assert!((coordinate(&first.longitude) - coordinate(&posting.longitude)).abs() < 1e-4);
}

#[test]
fn json_ld_is_merged_by_name_when_positions_disagree_and_malformed_json_ld_is_ignored() {
    let html = read_page("cl_2026_search_apa_milwaukee_wauwatosa.html");
    let url = "https://milwaukee.craigslist.org/search/apa?query=wauwatosa";
    // Swap the first two JSON-LD positions: names still pair each row with its own item.
    let swapped = html
        .replacen("\"position\":\"0\"", "\"position\":\"X\"", 1)
        .replacen("\"position\":\"1\"", "\"position\":\"0\"", 1)
        .replacen("\"position\":\"X\"", "\"position\":\"1\"", 1);
    let page = parse_page(&swapped, url, fetched_at()).expect("parses");
    assert_eq!(
        page.listings[0].latitude.as_deref(),
        Some("43.0492206041374")
    );
    assert_eq!(page.listings[1].bedrooms_total.as_deref(), Some("1"));

    let broken = html.replacen("{\"@type\":\"ItemList\"", "{\"@type\":\"ItemList\",,", 1);
    let page = parse_page(&broken, url, fetched_at()).expect("malformed JSON-LD is not fatal");
    assert_eq!(page.listings.len(), 37);
    assert_eq!(page.listings[0].list_price.as_deref(), Some("$1,325"));
    assert_eq!(page.listings[0].latitude, None);
}

#[test]
fn malformed_posting_json_ld_is_ignored() {
    let html = read_page("cl_2022_post_apa_atlanta_7501755803.html").replacen(
        "{\"numberOfBedrooms\"",
        "{{\"numberOfBedrooms\"",
        1,
    );
    let listing = only_listing(
        parse_page(
            &html,
            "https://atlanta.craigslist.org/nat/apa/d/smyrna-the-edison-apartments/7501755803.html",
            fetched_at(),
        )
        .expect("parses"),
    );
    assert_eq!(listing.list_price.as_deref(), Some("$1,606"));
    // The markup still gives the map address and coordinates; the city came only from JSON-LD.
    assert_eq!(
        listing.street_address.as_deref(),
        Some("5000 South Lincoln Trace Avenue")
    );
    assert_eq!(listing.latitude.as_deref(), Some("33.879600"));
    assert_eq!(listing.city, None);
}

// ---- Robustness ---------------------------------------------------------------------------------

const ALL_PAGES: [&str; 21] = [
    "cl_2009_listing_apa_southflorida.html",
    "cl_2009_post_expired.html",
    "cl_2009_post_reb_broward_1131242195.html",
    "cl_2009_post_reb_broward_1224008903.html",
    "cl_2021_search_apa_burnaby_result-row.html",
    "cl_2022_blocked_response.html",
    "cl_2022_post_apa_atlanta_7501755803.html",
    "cl_2022_post_apa_atlanta_7515014866.html",
    "cl_2022_post_apa_atlanta_7515104203.html",
    "cl_2022_post_apa_boston_7514890528.html",
    "cl_2022_post_apa_boston_7514972380.html",
    "cl_2022_post_apa_boston_7514980855.html",
    "cl_2022_post_apa_chicago_7496774171.html",
    "cl_2022_post_apa_chicago_7496897671.html",
    "cl_2022_post_apa_chicago_7498813750.html",
    "cl_2022_post_apa_chicago_7501716924.html",
    "cl_2022_post_apa_chicago_7502236488.html",
    "cl_2022_post_apa_chicago_7511542524.html",
    "cl_2025_search_apa_manhattan.html",
    "cl_2026_post_apa_milwaukee_7936415355.html",
    "cl_2026_search_apa_milwaukee_wauwatosa.html",
];

#[test]
fn every_saved_page_is_covered_by_this_file() {
    let mut on_disk: Vec<String> = std::fs::read_dir(PAGES)
        .expect("shared data present")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".html"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = ALL_PAGES.iter().map(|name| (*name).to_owned()).collect();
    covered.sort();
    assert_eq!(on_disk, covered, "a new saved page needs a test here");
}

#[test]
fn non_listing_inputs_are_errors_not_panics() {
    let url = "https://chicago.craigslist.org/chc/apa/d/x/7496774171.html";
    for html in ["", "<", "<html>", "\u{0}\u{fffd}", "{\"json\": true}"] {
        let error = parse_page(html, url, fetched_at()).expect_err("no listing in junk");
        assert_eq!(error.code(), "unrecognised_page", "{html:?}");
    }
    // A posting page whose id is nowhere (not on the page, not in the URL) is unrecognised.
    let html = "<section id=\"postingbody\">text</section>";
    let error =
        parse_page(html, "https://chicago.craigslist.org/", fetched_at()).expect_err("no id");
    assert_eq!(error.code(), "unrecognised_page");
}

fn truncated_page_strategy() -> impl Strategy<Value = (usize, f64)> {
    (0..ALL_PAGES.len(), 0.0f64..1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(html in ".{0,400}") {
        let _ = parse_page(&html, "https://x.craigslist.org/apa/d/y/7000000000.html", fetched_at());
    }

    /// Markup soup built from the tokens the parser looks for never panics it.
    #[test]
    fn marker_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("<section id=\"postingbody\">"), Just("</section>"), Just("<h1 class=\"postingtitle\">"),
        Just("<span class=\"housing\">/ 1br - "), Just("<figure>"), Just("</figure>"),
        Just("<div class=\"postinginfos\">"), Just("<p class=\"postinginfo\">post id: "), Just("</div>"),
        Just("<script type=\"application/ld+json\" id=\"ld_posting_data\">{\"address\":"), Just("</script>"),
        Just("<link rel=\"canonical\" href=\""), Just("<div id=\"userbody\">"), Just("<small>"),
        Just("<li class=\"cl-static-search-result\"><a href=\"/view/d/x/"), Just("<li class=\"result-row\">"),
        Just("<p><a href=\"/apa/123456.html\">$"), Just("<h4>"), Just("$"), Just("/"), Just("-"), Just(">"),
        Just("<"), Just("\""), Just("é"), Just("1234567"), Just("<br>"), Just("<b>x:</b>"),
        Just("<div class=\"attrgroup\"><span>"), Just("(map)"), Just("Date:"), Just("PostingID:"),
    ], 0..40)) {
        let html: String = parts.concat();
        let _ = parse_page(&html, "https://x.craigslist.org/apa/d/y/7000000000.html", fetched_at());
    }

    /// Every saved page cut at an arbitrary point parses or errors, never panics.
    #[test]
    fn truncated_real_pages_never_panic((index, fraction) in truncated_page_strategy()) {
        let html = read_page(ALL_PAGES[index]);
        let mut cut = ((html.len() as f64) * fraction) as usize;
        while !html.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = parse_page(&html[..cut], "https://x.craigslist.org/apa/d/y/7000000000.html", fetched_at());
    }

    /// Decoding never panics and always yields text, whatever the bytes and the header.
    #[test]
    fn decoding_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600),
                             header in proptest::option::of("[ -~]{0,40}")) {
        let text = decode_html(&body, header.as_deref());
        // Plain ASCII with no declaration comes back unchanged.
        if header.is_none() && body.is_ascii() && !body.windows(7).any(|w| w.eq_ignore_ascii_case(b"charset")) {
            prop_assert_eq!(text.as_bytes(), &body[..]);
        }
    }
}
