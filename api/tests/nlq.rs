//! Natural-language queries as agents type them, and the filters they must become.

use aiq_api::nlq::parse;

#[derive(Default)]
struct Expect {
    kind: Option<&'static str>,
    property_type: Option<&'static str>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    min_beds: Option<u8>,
    min_baths: Option<f32>,
    city: Option<&'static str>,
    state: Option<&'static str>,
    postal_code: Option<&'static str>,
    place: Option<&'static str>,
    radius_miles: Option<f64>,
    text: Option<&'static str>,
    max_age_days: Option<u32>,
}

#[test]
fn real_phrasings_become_filters() {
    let cases: Vec<(&str, Expect)> = vec![
        (
            "3-bedroom house under $300k within 5 miles of downtown Austin",
            Expect {
                kind: Some("sale"),
                property_type: Some("house"),
                max_price: Some(300_000.0),
                min_beds: Some(3),
                place: Some("Austin, TX"),
                radius_miles: Some(5.0),
                ..Default::default()
            },
        ),
        (
            "2 bed 1 bath apartment for rent under $1,500/mo in Chicago",
            Expect {
                kind: Some("rent"),
                property_type: Some("apartment"),
                max_price: Some(1500.0),
                min_beds: Some(2),
                min_baths: Some(1.0),
                city: Some("Chicago"),
                state: Some("IL"),
                ..Default::default()
            },
        ),
        (
            "condos between $400k and $650k near Miami",
            Expect {
                kind: Some("sale"),
                property_type: Some("condo"),
                min_price: Some(400_000.0),
                max_price: Some(650_000.0),
                place: Some("Miami, FL"),
                radius_miles: Some(10.0),
                ..Default::default()
            },
        ),
        (
            "4br 2.5 ba single family home with a pool in Phoenix, AZ",
            Expect {
                kind: None,
                property_type: Some("house"),
                min_beds: Some(4),
                min_baths: Some(2.5),
                city: Some("Phoenix"),
                state: Some("AZ"),
                text: Some("pool"),
                ..Default::default()
            },
        ),
        (
            "townhouse for sale over 250k within 10 km of Seattle posted this week",
            Expect {
                kind: Some("sale"),
                property_type: Some("townhouse"),
                min_price: Some(250_000.0),
                place: Some("Seattle, WA"),
                radius_miles: Some(10.0 / 1.609_344),
                max_age_days: Some(7),
                ..Default::default()
            },
        ),
        (
            "studio apartments to rent in 78701 listed in the last 3 days",
            Expect {
                kind: Some("rent"),
                property_type: Some("apartment"),
                postal_code: Some("78701"),
                max_age_days: Some(3),
                ..Default::default()
            },
        ),
        (
            "duplex under 1.2m in San Francisco",
            Expect {
                kind: Some("sale"),
                property_type: Some("multi_family"),
                max_price: Some(1_200_000.0),
                city: Some("San Francisco"),
                state: Some("CA"),
                ..Default::default()
            },
        ),
        (
            "three bedroom homes in texas under $250,000",
            Expect {
                kind: Some("sale"),
                property_type: Some("house"),
                max_price: Some(250_000.0),
                min_beds: Some(3),
                state: Some("TX"),
                ..Default::default()
            },
        ),
        (
            "land for sale within 25 miles of Nashville",
            Expect {
                kind: Some("sale"),
                property_type: Some("land"),
                place: Some("Nashville, TN"),
                radius_miles: Some(25.0),
                ..Default::default()
            },
        ),
        (
            "rooms for rent near st. louis with parking",
            Expect {
                kind: Some("rent"),
                property_type: Some("room"),
                place: Some("St Louis, MO"),
                radius_miles: Some(10.0),
                text: Some("parking"),
                ..Default::default()
            },
        ),
    ];
    for (query, expect) in cases {
        let parsed = parse(query);
        let f = &parsed.filters;
        let ctx = format!("{query}: {parsed:?}");
        assert_eq!(f.kind.as_deref(), expect.kind, "kind in {ctx}");
        assert_eq!(
            f.property_type.as_deref(),
            expect.property_type,
            "type in {ctx}"
        );
        assert_eq!(f.min_price, expect.min_price, "min_price in {ctx}");
        assert_eq!(f.max_price, expect.max_price, "max_price in {ctx}");
        assert_eq!(f.min_beds, expect.min_beds, "min_beds in {ctx}");
        assert_eq!(f.min_baths, expect.min_baths, "min_baths in {ctx}");
        assert_eq!(f.city.as_deref(), expect.city, "city in {ctx}");
        assert_eq!(f.state.as_deref(), expect.state, "state in {ctx}");
        assert_eq!(
            f.postal_code.as_deref(),
            expect.postal_code,
            "postal_code in {ctx}"
        );
        assert_eq!(f.place.as_deref(), expect.place, "place in {ctx}");
        match (f.radius_miles, expect.radius_miles) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "radius in {ctx}"),
            (a, b) => assert_eq!(a, b, "radius in {ctx}"),
        }
        assert_eq!(f.text.as_deref(), expect.text, "text in {ctx}");
        assert_eq!(f.max_age_days, expect.max_age_days, "freshness in {ctx}");
        if expect.place.is_some() {
            assert!(f.lat.is_some() && f.lon.is_some(), "centre in {ctx}");
        }
    }
}

#[test]
fn unknown_places_and_words_are_reported_not_guessed() {
    let parsed = parse("2 bedroom near Springfield with a moat");
    assert_eq!(parsed.filters.min_beds, Some(2));
    assert!(parsed.filters.lat.is_none());
    assert!(
        parsed.unparsed.iter().any(|w| w.contains("springfield")),
        "{parsed:?}"
    );
    assert!(parsed.unparsed.iter().any(|w| w == "moat"), "{parsed:?}");
}
