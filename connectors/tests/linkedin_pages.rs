//! LinkedIn export and Posts API fixtures (hand-written in the documented formats, see
//! `tests/fixtures/linkedin/README.md`), parsed and checked field by field.

use aiq_connectors::linkedin::parse_page;
use aiq_connectors::{Page, PageKind};
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/linkedin/");

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{file}"))
        .unwrap_or_else(|error| panic!("cannot read {file}: {error}"))
}

fn parse(file: &str, url: &str) -> Page {
    parse_page(&read(file), url, fetched_at())
        .unwrap_or_else(|error| panic!("{file} should parse: {error}"))
}

fn extra<'a>(listing: &'a RawListing, key: &str) -> Option<&'a serde_json::Value> {
    listing.extra.get(key)
}

#[test]
fn shares_export_keeps_listing_and_seller_posts() {
    let page = parse("Shares.csv", "file:///exports/Shares.csv");
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.next_page_url, None);
    assert_eq!(page.listings.len(), 3);
    let skipped: Vec<(&str, &str)> = page
        .skipped
        .iter()
        .map(|item| (item.id.as_str(), item.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                "urn:li:share:7181000000000000002",
                "no property announcement or seller intent"
            ),
            (
                "urn:li:share:7181000000000000004",
                "announces a closed deal, not an available property"
            ),
            (
                "urn:li:share:7181000000000000006",
                "a sale or rent phrase, but nothing says it is real estate"
            ),
        ]
    );

    let listed = &page.listings[0];
    assert_eq!(listed.source.as_deref(), Some("linkedin"));
    assert_eq!(
        listed.source_listing_id.as_deref(),
        Some("urn:li:share:7181000000000000001")
    );
    assert_eq!(
        listed.url.as_deref(),
        Some("https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7181000000000000001")
    );
    assert_eq!(listed.fetched_at, Some(fetched_at()));
    assert_eq!(listed.listing_kind.as_deref(), Some("sale"));
    assert_eq!(listed.list_price.as_deref(), Some("$649,900"));
    assert_eq!(listed.bedrooms_total.as_deref(), Some("4 bed"));
    assert_eq!(listed.bathrooms_total.as_deref(), Some("2.5 bath"));
    assert_eq!(listed.living_area_sqft.as_deref(), Some("2,350 sq ft"));
    assert_eq!(listed.street_address.as_deref(), Some("118 Maple Ridge Dr"));
    assert_eq!(listed.city.as_deref(), Some("Naperville"));
    assert_eq!(listed.state_or_province.as_deref(), Some("IL"));
    assert_eq!(listed.postal_code.as_deref(), Some("60540"));
    assert_eq!(listed.posted_at.as_deref(), Some("2024-04-02 15:10:44"));
    assert_eq!(listed.contact_phone.as_deref(), Some("630-555-0142"));
    assert_eq!(
        listed.contact_email.as_deref(),
        Some("jane.realtor@example.com")
    );
    assert_eq!(
        listed.title.as_deref(),
        Some(
            "JUST LISTED! 4 bed, 2.5 bath colonial with 2,350 sq ft at 118 Maple Ridge Dr, Naperville, IL 60540."
        )
    );
    assert!(
        listed
            .description
            .as_deref()
            .is_some_and(|text| text.contains("Open house Saturday"))
    );
    assert_eq!(
        extra(listed, "signal").and_then(|value| value.as_str()),
        Some("just listed")
    );
    assert_eq!(
        extra(listed, "shared_url").and_then(|value| value.as_str()),
        Some("https://www.example.com/listings/118-maple-ridge")
    );
    assert_eq!(
        extra(listed, "visibility").and_then(|value| value.as_str()),
        Some("PUBLIC")
    );

    let seller = &page.listings[1];
    assert_eq!(
        seller.source_listing_id.as_deref(),
        Some("urn:li:share:7181000000000000003")
    );
    assert_eq!(seller.listing_kind.as_deref(), Some("sale"));
    assert_eq!(
        extra(seller, "seller_intent"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(seller.bedrooms_total.as_deref(), Some("3 bedrooms"));
    assert_eq!(seller.bathrooms_total.as_deref(), Some("2 baths"));
    assert_eq!(seller.city.as_deref(), Some("Boise"));
    assert_eq!(seller.state_or_province.as_deref(), Some("ID"));
    assert_eq!(seller.list_price, None);
    assert_eq!(seller.street_address, None);

    let rental = &page.listings[2];
    assert_eq!(rental.listing_kind.as_deref(), Some("rent"));
    assert_eq!(rental.list_price.as_deref(), Some("$1,850/mo"));
    assert_eq!(rental.bedrooms_total.as_deref(), Some("2 bd"));
    assert_eq!(rental.bathrooms_total.as_deref(), Some("1 ba"));
    assert_eq!(rental.living_area_sqft.as_deref(), Some("900 sqft"));
    assert_eq!(
        rental.street_address.as_deref(),
        Some("77 Harbor View Ave Unit 4B")
    );
    assert_eq!(rental.city.as_deref(), Some("Portland"));
    assert_eq!(rental.state_or_province.as_deref(), Some("ME"));
    assert_eq!(rental.postal_code.as_deref(), Some("04101"));
}

#[test]
fn organization_posts_page_keeps_the_listing_and_links_the_next_page() {
    let page = parse(
        "posts_by_organization.json",
        "https://api.linkedin.com/rest/posts?author=urn%3Ali%3Aorganization%3A90000001&q=author&count=3",
    );
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(
        page.next_page_url.as_deref(),
        Some(
            "https://api.linkedin.com/rest/posts?author=urn%3Ali%3Aorganization%3A90000001&count=3&q=author&start=3"
        )
    );
    assert_eq!(page.listings.len(), 1);
    let listing = &page.listings[0];
    assert_eq!(
        listing.source_listing_id.as_deref(),
        Some("urn:li:share:7203000000000000011")
    );
    assert_eq!(
        listing.url.as_deref(),
        Some("https://www.linkedin.com/feed/update/urn:li:share:7203000000000000011/")
    );
    assert_eq!(listing.list_price.as_deref(), Some("$1.2M"));
    // "New listing" names no kind; "listed at" does.
    assert_eq!(listing.listing_kind.as_deref(), Some("sale"));
    assert_eq!(
        extra(listing, "signal").and_then(|value| value.as_str()),
        Some("new listing")
    );
    assert_eq!(listing.bedrooms_total.as_deref(), Some("5 bedroom"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("4 bath"));
    assert_eq!(listing.living_area_sqft.as_deref(), Some("3,900 sq ft"));
    assert_eq!(listing.city.as_deref(), Some("Madison"));
    assert_eq!(listing.state_or_province.as_deref(), Some("WI"));
    assert_eq!(listing.posted_at.as_deref(), Some("1717430460000"));
    assert_eq!(
        extra(listing, "author").and_then(|value| value.as_str()),
        Some("urn:li:organization:90000001")
    );
    assert_eq!(
        extra(listing, "shared_url").and_then(|value| value.as_str()),
        Some("https://www.example.com/listings/2204-lakeshore")
    );
    let skipped: Vec<(&str, &str)> = page
        .skipped
        .iter()
        .map(|item| (item.id.as_str(), item.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                "urn:li:share:7203000000000000012",
                "no property announcement or seller intent"
            ),
            (
                "urn:li:share:7203000000000000013",
                "lifecycle state DRAFT, not published"
            ),
        ]
    );
}

#[test]
fn single_post_response_is_one_seller_listing() {
    let page = parse(
        "post_single.json",
        "https://api.linkedin.com/rest/posts/urn%3Ali%3AugcPost%3A7206000000000000021",
    );
    assert_eq!(page.listings.len(), 1);
    assert!(page.skipped.is_empty());
    let listing = &page.listings[0];
    assert_eq!(
        listing.source_listing_id.as_deref(),
        Some("urn:li:ugcPost:7206000000000000021")
    );
    assert_eq!(
        extra(listing, "seller_intent"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(listing.list_price.as_deref(), Some("$489,000"));
    assert_eq!(listing.street_address.as_deref(), Some("904 Juniper Ct"));
    assert_eq!(listing.city.as_deref(), Some("Greeley"));
    assert_eq!(listing.state_or_province.as_deref(), Some("CO"));
    assert_eq!(listing.postal_code.as_deref(), Some("80634"));
    assert_eq!(listing.contact_phone.as_deref(), Some("970-555-0188"));
}

#[test]
fn truncated_fixtures_never_panic() {
    for file in [
        "Shares.csv",
        "posts_by_organization.json",
        "post_single.json",
    ] {
        let body = read(file);
        for cut in 0..body.len() {
            if let Some(prefix) = body.get(..cut) {
                let _ = parse_page(prefix, "file:///x", fetched_at());
            }
        }
    }
}

proptest! {
    #[test]
    fn any_text_never_panics(text in "\\PC{0,400}") {
        let csv = format!("Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n2024-01-01 00:00:00,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A1,\"{}\",,,PUBLIC\n", text.replace('"', "\"\""));
        let _ = parse_page(&csv, "file:///x", fetched_at());
        let json = serde_json::json!({"elements": [{"id": "urn:li:share:1", "commentary": text}]}).to_string();
        let _ = parse_page(&json, "file:///x", fetched_at());
    }
}
