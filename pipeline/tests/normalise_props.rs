//! Properties of normalisation: it never panics, and its output is a fixed point (normalising a
//! normalised listing, written back as text, changes nothing).

use aiq_pipeline::address::{
    normalise_street, normalise_unit, normalise_zip, split_one_line_address, state_code,
};
use aiq_pipeline::normalise::{
    normalise, normalise_city, normalise_contact_name, normalise_email, normalise_phone,
    parse_bathrooms, parse_bedrooms, parse_coordinates, parse_listing_kind, parse_living_area_sqft,
    parse_posted_at, parse_price, parse_property_type,
};
use aiq_schemas::{Listing, PricePeriod, RawListing};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;

fn received() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 7, 30, 12, 0, 0).unwrap()
}

/// A normalised listing written back in the text forms a connector would produce.
fn to_raw(listing: &Listing) -> RawListing {
    let text = |value: &Option<String>| value.clone();
    RawListing {
        source: Some(listing.source.as_str().to_owned()),
        source_listing_id: Some(listing.source_listing_id.clone()),
        url: Some(listing.url.clone()),
        fetched_at: Some(listing.fetched_at),
        listing_kind: listing.listing_kind.map(|kind| kind.as_str().to_owned()),
        property_type: text(&listing.property_type),
        list_price: listing
            .list_price
            .map(|monthly| price_text(monthly, listing.price_period)),
        bedrooms_total: listing.bedrooms_total.map(|beds| beds.to_string()),
        bathrooms_total: listing.bathrooms_total.map(|baths| baths.to_string()),
        living_area_sqft: listing.living_area_sqft.map(|area| format!("{area} sq ft")),
        street_address: text(&listing.street_address),
        unit_number: text(&listing.unit_number),
        city: text(&listing.city),
        state_or_province: text(&listing.state_or_province),
        postal_code: text(&listing.postal_code),
        latitude: listing.latitude.map(|degrees| degrees.to_string()),
        longitude: listing.longitude.map(|degrees| degrees.to_string()),
        title: text(&listing.title),
        description: text(&listing.description),
        posted_at: listing.posted_at.map(|moment| moment.to_rfc3339()),
        contact_name: text(&listing.contact_name),
        contact_phone: text(&listing.contact_phone),
        contact_email: text(&listing.contact_email),
        extra: Default::default(),
    }
}

/// The price as the page would have quoted it: in its own period, not per month.
fn price_text(monthly: f64, period: Option<PricePeriod>) -> String {
    match period {
        Some(PricePeriod::Month) => format!("${monthly}/mo"),
        Some(PricePeriod::Week) => format!("{} per week", monthly * 12.0 / 52.0),
        Some(PricePeriod::Day) => format!("${}/night", monthly * 12.0 / 365.0),
        Some(PricePeriod::Year) => format!("${}/yr", monthly * 12.0),
        Some(PricePeriod::Once) | None => format!("${monthly}"),
    }
}

/// Pieces of real-looking field values, joined at random, so generated records exercise the rules
/// rather than only the "unreadable" paths that arbitrary strings mostly hit.
const ADDRESS_WORDS: &[&str] = &[
    "123",
    "12B",
    "1/2",
    "5th",
    "2ND",
    "N",
    "North",
    "se",
    "Southwest",
    "Main",
    "ELM",
    "o'brien",
    "Martin",
    "Luther",
    "King",
    "Street",
    "St.",
    "Ave",
    "Avenue",
    "Blvd",
    "Boulevard",
    "Cyn",
    "Hwy",
    "Route",
    "Apt",
    "Apartment",
    "#",
    "#4B",
    "Unit",
    "Suite",
    "Ste",
    "Fl",
    "Floor",
    "Rear",
    "Bsmt",
    "PH",
    "4b",
    "B",
    "2-N",
    "near",
    "between",
    "@",
    ",",
    ".",
    "Boston",
    "MA",
    "Massachusetts",
    "02134",
    "00601",
    "Puerto Rico",
    "NY",
    "10118",
    "Fl",
    "33101",
    "Key",
    "Lot",
    "&",
    "-",
    "St",
    "Court",
    "Ct",
    "West",
    "Virginia",
];
const PRICES: &[&str] = &[
    "$1,250/mo",
    "$1250 per month",
    "$325K",
    "1.2M",
    "$2,400",
    "350/week",
    "$95/night",
    "1250",
    "$1,200.50",
    "Price: $2,350 / month",
    "£",
    "Contact for price",
    "$24,000/yr",
    "$0",
    "$0.50/yr",
    "$5/yr",
    "2.5 million",
];
const HOUSING: &[&str] = &[
    "Studio",
    "2br",
    "2 BR",
    "2 beds",
    "3",
    "2.0",
    "1br - 750ft2",
    "2br/1.5ba - 900ft2",
    "75",
    "shared",
];
const BATHS: &[&str] = &["1.5 ba", "1Ba", "2 baths", "1.5", "shared", "split", "2.25"];
const AREAS: &[&str] = &[
    "1,200 ft²",
    "750ft2",
    "1200 sq ft",
    "1,200 sqft",
    "85 m²",
    "0",
    "2000000",
];
const KINDS: &[&str] = &[
    "rent",
    "for_rent",
    "FOR_RENT",
    "apa",
    "lease",
    "Residential Lease",
    "sale",
    "for_sale",
    "reb",
    "Residential",
    "?",
];
const TYPES: &[&str] = &[
    "apartment",
    "SINGLE_FAMILY",
    "condo",
    "townhome",
    "multi_family",
    "MANUFACTURED",
    "lot",
    "room",
    "farm",
    "igloo",
];
const CITIES: &[&str] = &[
    "BOSTON",
    "st. louis",
    "Boston (Dorchester)",
    "new castle, IN.",
    "(Fort Lauderdale)",
    "winston-salem",
];
const STATES: &[&str] = &[
    "Massachusetts",
    "mass.",
    "MA",
    "ma",
    "DC",
    "Puerto Rico",
    "PR",
    "Guam",
    "Narnia",
];
const ZIPS: &[&str] = &["02134", "02134-1234", "2134", "601", "00000", "9021"];
const PHONES: &[&str] = &[
    "(617) 555-0123",
    "617.555.0123",
    "1-617-555-0123",
    "+44 20 7946 0958",
    "555-0123",
];
const EMAILS: &[&str] = &["  Jane.Doe@Example.COM ", "bad@", "abc@hous.craigslist.org"];
const DATES: &[&str] = &[
    "2022-07-05T14:23:09-0500",
    "2022-07-05 14:23",
    "2009-05-05, 11:04AM EDT",
    "5/5/2009",
    "2014-10-13T00:00:00",
    "20141013T000000",
    "soon",
];
const COORDINATES: &[(&str, &str)] = &[
    ("42.3601", "-71.0589"),
    ("33.9", "-84.5"),
    ("NA", "NA"),
    ("47.5112", "-122.257"),
];
const URLS: &[&str] = &[
    "https://boston.craigslist.org/gbs/apa/d/belmont/7514890528.html",
    "https://www.zillow.com/homedetails/1_zpid/",
];

fn address_line() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(select(ADDRESS_WORDS), 0..10),
        select(&[" ", "  ", ", ", " . "][..]),
    )
        .prop_map(|(words, separator)| words.join(separator))
}

/// A field that is usually realistic, sometimes arbitrary text, sometimes missing.
fn field(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => select(values).prop_map(|value| Some(value.to_owned())),
        1 => "\\PC{0,20}".prop_map(Some),
        1 => Just(None),
    ]
}

fn raw_listing() -> impl Strategy<Value = RawListing> {
    let identity = (
        select(&["craigslist", "Zillow", "file", "realtor"][..]),
        "[0-9]{1,10}",
        prop::option::of(select(URLS).prop_map(str::to_owned)),
    );
    let money_and_rooms = (
        field(KINDS),
        field(TYPES),
        field(PRICES),
        field(HOUSING),
        field(BATHS),
        field(AREAS),
    );
    let place = (
        prop::option::of(address_line()),
        field(&[
            "4B",
            "#4b",
            "Apt 7",
            "Suite 200",
            "Rear",
            "Garden",
            "2nd Floor",
        ]),
        field(CITIES),
        field(STATES),
        field(ZIPS),
        prop::option::of(select(COORDINATES)),
    );
    let words = (
        field(&["  Sunny   2BR\n near park ", "Title"]),
        field(&["  line one\n\nline two  "]),
        field(DATES),
        field(&["  Jane   Doe "]),
        field(PHONES),
        field(EMAILS),
    );
    (identity, money_and_rooms, place, words).prop_map(
        |(
            (source, id, url),
            (kind, property_type, price, housing, baths, area),
            (street, unit, city, state, zip, coordinates),
            (title, description, posted_at, name, phone, email),
        )| RawListing {
            source: Some(source.to_owned()),
            source_listing_id: Some(id),
            url,
            fetched_at: None,
            listing_kind: kind,
            property_type,
            list_price: price,
            bedrooms_total: housing,
            bathrooms_total: baths,
            living_area_sqft: area,
            street_address: street,
            unit_number: unit,
            city,
            state_or_province: state,
            postal_code: zip,
            latitude: coordinates.map(|(latitude, _)| latitude.to_owned()),
            longitude: coordinates.map(|(_, longitude)| longitude.to_owned()),
            title,
            description,
            posted_at,
            contact_name: name,
            contact_phone: phone,
            contact_email: email,
            extra: Default::default(),
        },
    )
}

/// Every text field filled with arbitrary text (any Unicode, control characters included).
fn arbitrary_raw_listing() -> impl Strategy<Value = RawListing> {
    let text = || prop::option::of(any::<String>());
    (
        (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
        ),
        (text(), text(), text(), text(), text(), text(), text()),
    )
        .prop_map(|(a, b, c)| RawListing {
            source: a.0,
            source_listing_id: a.1,
            url: a.2,
            fetched_at: None,
            listing_kind: a.3,
            property_type: a.4,
            list_price: a.5,
            bedrooms_total: a.6,
            bathrooms_total: a.7,
            living_area_sqft: b.0,
            street_address: b.1,
            unit_number: b.2,
            city: b.3,
            state_or_province: b.4,
            postal_code: b.5,
            latitude: b.6,
            longitude: b.7,
            title: c.0,
            description: c.1,
            posted_at: c.2,
            contact_name: c.3,
            contact_phone: c.4,
            contact_email: c.5,
            extra: Default::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalising_a_normalised_listing_changes_nothing(raw in raw_listing()) {
        if let Ok(listing) = normalise(&raw, received()) {
            let again = normalise(&to_raw(&listing), received());
            prop_assert_eq!(again, Ok(listing));
        }
    }

    #[test]
    fn realistic_records_are_mostly_accepted(raw in raw_listing()) {
        // Only the documented rejections can happen to a record with a known source and an id.
        if let Err(reason) = normalise(&raw, received()) {
            prop_assert!(["invalid_price", "missing_url", "invalid_coordinates"].contains(&reason.code.as_str()), "{reason}");
        }
    }

    #[test]
    fn price_parsing_is_idempotent_on_its_own_output(text in prop_oneof![select(PRICES).prop_map(str::to_owned), "\\PC{0,16}", "[-$0-9,. ]{1,12}(K|M|/mo|/week| per night|/yr)?"]) {
        if let Ok(Some(price)) = parse_price(&text) {
            prop_assert_eq!(parse_price(&price.to_string()), Ok(Some(price)));
        }
    }

    #[test]
    fn street_display_is_a_fixed_point(line in prop_oneof![address_line(), "\\PC{0,30}", any::<String>()]) {
        if let Some(street) = normalise_street(&line) {
            prop_assert_eq!(normalise_street(&street.display()), Some(street));
        }
    }

    #[test]
    fn street_and_unit_parts_are_canonical(line in address_line()) {
        if let Some(street) = normalise_street(&line) {
            let shown = street.display();
            prop_assert!(!shown.contains([',', '.', '#']), "{}", shown);
            prop_assert!(!shown.contains("  ") && shown.trim() == shown, "{}", shown);
            // A number never comes without its designator (`Rear` comes without a number).
            prop_assert!(street.unit_number.is_none() || street.unit_designator.is_some());
        }
    }

    #[test]
    fn field_normalisers_are_idempotent(text in prop_oneof![select(CITIES).prop_map(str::to_owned), "\\PC{0,24}", any::<String>()]) {
        if let Some(city) = normalise_city(&text) {
            prop_assert_eq!(normalise_city(&city), Some(city));
        }
        if let Some(phone) = normalise_phone(&text) {
            prop_assert_eq!(normalise_phone(&phone), Some(phone));
        }
        if let Some(email) = normalise_email(&text) {
            prop_assert_eq!(normalise_email(&email), Some(email));
        }
        if let Some(name) = normalise_contact_name(&text) {
            prop_assert_eq!(normalise_contact_name(&name), Some(name));
        }
        if let Some(code) = state_code(&text) {
            prop_assert_eq!(state_code(code), Some(code));
        }
        if let Some(moment) = parse_posted_at(&text) {
            prop_assert_eq!(parse_posted_at(&moment.to_rfc3339()), Some(moment));
        }
    }

    #[test]
    fn nothing_panics_on_arbitrary_records(raw in arbitrary_raw_listing()) {
        let _ = normalise(&raw, received());
    }

    #[test]
    fn no_field_function_panics_on_arbitrary_text(text in any::<String>(), other in any::<String>()) {
        let _ = parse_price(&text);
        let _ = parse_bedrooms(&text);
        let _ = parse_bathrooms(&text);
        let _ = parse_living_area_sqft(&text);
        let _ = parse_listing_kind(&text);
        let _ = parse_property_type(&text);
        let _ = parse_posted_at(&text);
        let _ = parse_coordinates(Some(&text), Some(&other));
        let _ = normalise_phone(&text);
        let _ = normalise_email(&text);
        let _ = normalise_city(&text);
        let _ = normalise_street(&text);
        let _ = normalise_unit(&text);
        let _ = normalise_zip(&text, state_code(&other));
        let _ = split_one_line_address(&text);
    }
}
