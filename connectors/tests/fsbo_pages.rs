//! ForSaleByOwner fixtures: markup hand-built, values from real rows of the shared FSBO table (see
//! `tests/fixtures/fsbo/README.md`). The search response is also checked row by row against the
//! table itself.

use aiq_connectors::fsbo::parse_page;
use aiq_connectors::{NoListingReason, Page, PageKind};
use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fsbo/");
const TABLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/tables/fsbo_forsalebyowner_2023_ca.csv"
);

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

fn only_listing(page: Page) -> RawListing {
    assert_eq!(page.kind, PageKind::Posting);
    assert_eq!(page.listings.len(), 1);
    page.listings.into_iter().next().expect("one listing")
}

fn check_common(listing: &RawListing, id: &str) {
    assert_eq!(listing.source.as_deref(), Some("fsbo"));
    assert_eq!(listing.source_listing_id.as_deref(), Some(id));
    assert_eq!(listing.fetched_at, Some(fetched_at()));
    assert_eq!(listing.listing_kind.as_deref(), Some("sale"));
}

#[test]
fn search_response_matches_the_table_rows_it_was_built_from() {
    let page = parse(
        "search_listings.json",
        "https://directory.forsalebyowner.com/search/listings",
    );
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 5);
    assert_eq!(page.posting_urls.len(), 5);

    let mut table = csv::Reader::from_path(TABLE).expect("shared FSBO table present");
    for (listing, row) in page.listings.iter().zip(table.records()) {
        let row = row.expect("readable row");
        // Name,URL,Address,City,Zip,State,Price,Bath,Bed,SquareFt
        let url = &row[1];
        let id = url.rsplit('/').next().expect("id in URL");
        check_common(listing, id);
        assert_eq!(listing.url.as_deref(), Some(url));
        assert_eq!(listing.title.as_deref(), Some(&row[0]));
        assert_eq!(listing.street_address.as_deref(), Some(&row[2]));
        assert_eq!(listing.city.as_deref(), Some(&row[3]));
        assert_eq!(listing.postal_code.as_deref(), Some(&row[4]));
        assert_eq!(listing.state_or_province.as_deref(), Some(&row[5]));
        assert_eq!(listing.list_price.as_deref(), Some(&row[6]));
        assert_eq!(listing.bathrooms_total.as_deref(), Some(&row[7]));
        assert_eq!(listing.bedrooms_total.as_deref(), Some(&row[8]));
        assert_eq!(listing.living_area_sqft.as_deref(), Some(&row[9]));
    }
    assert_eq!(
        page.posting_urls[0],
        "https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314"
    );
}

#[test]
fn json_ld_listing_page() {
    let listing = only_listing(parse(
        "listing_json_ld.html",
        "https://www.forsalebyowner.com/listing/3930-olmsted-avenue-los-angeles-ca-90008/6466b101e5e6c9815c0c52f8",
    ));
    check_common(&listing, "6466b101e5e6c9815c0c52f8");
    assert_eq!(
        listing.url.as_deref(),
        Some(
            "https://www.forsalebyowner.com/listing/3930-olmsted-avenue-los-angeles-ca-90008/6466b101e5e6c9815c0c52f8"
        )
    );
    assert_eq!(listing.list_price.as_deref(), Some("999000"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(listing.living_area_sqft.as_deref(), Some("1468 sqft"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("3930 Olmsted Avenue")
    );
    assert_eq!(listing.city.as_deref(), Some("Los Angeles"));
    assert_eq!(listing.state_or_province.as_deref(), Some("CA"));
    assert_eq!(listing.postal_code.as_deref(), Some("90008"));
    assert_eq!(
        listing.title.as_deref(),
        Some("3930 Olmsted Avenue Los Angeles, CA 90008")
    );
    assert_eq!(listing.latitude, None);
}

#[test]
fn next_data_listing_page_saved_as_a_file() {
    // No listing URL to go by: the id comes from the page's own data.
    let listing = only_listing(parse(
        "listing_next_data.html",
        "file:///saved/listing_next_data.html",
    ));
    check_common(&listing, "62f648bc81c2f0cb130b254c");
    assert_eq!(
        listing.url.as_deref(),
        Some("https://www.forsalebyowner.com/listing/_/62f648bc81c2f0cb130b254c")
    );
    assert_eq!(listing.list_price.as_deref(), Some("299900"));
    assert_eq!(listing.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(listing.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(listing.living_area_sqft.as_deref(), Some("1624"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("13691 Gavina Ave UNIT 480, Sylmar, CA 91342")
    );
    assert_eq!(listing.city.as_deref(), Some("Sylmar"));
    assert_eq!(listing.postal_code.as_deref(), Some("91342"));
}

#[test]
fn open_graph_listing_page() {
    let listing = only_listing(parse(
        "listing_open_graph.html",
        "https://www.forsalebyowner.com/listing/_/6441aea1b93ac3b91d0d79e1",
    ));
    check_common(&listing, "6441aea1b93ac3b91d0d79e1");
    assert_eq!(listing.list_price.as_deref(), Some("799000"));
    assert_eq!(
        listing.street_address.as_deref(),
        Some("13644 Danbrook Drive")
    );
    assert_eq!(listing.city.as_deref(), Some("Whittier"));
    assert_eq!(listing.state_or_province.as_deref(), Some("CA"));
    assert_eq!(listing.postal_code.as_deref(), Some("90605"));
    assert_eq!(
        listing.description.as_deref(),
        Some("4 beds & 2.5 baths, 1,141 sq ft home for sale by owner in Whittier, CA.")
    );
    // Open Graph has no room or area properties; the description's numbers are not taken apart.
    assert_eq!(listing.bedrooms_total, None);
    assert_eq!(listing.living_area_sqft, None);
}

#[test]
fn removed_and_foreign_pages_say_why() {
    let error = parse_page(
        &read("listing_removed.html"),
        "https://www.forsalebyowner.com/listing/_/6441aea1b93ac3b91d0d79e1",
        fetched_at(),
    )
    .expect_err("removed");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Expired));
    let error = parse_page(
        "<html><p>hi</p></html>",
        "https://example.com/",
        fetched_at(),
    )
    .expect_err("no data");
    assert_eq!(error.code(), "unrecognised_page");
    let error = parse_page(
        r#"{"data":{"listings":[],"paging":{"totalItemCount":0}}}"#,
        "https://directory.forsalebyowner.com/search/listings",
        fetched_at(),
    )
    .expect_err("empty search");
    assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
}

#[test]
fn truncated_fixtures_never_panic() {
    for file in [
        "search_listings.json",
        "listing_json_ld.html",
        "listing_next_data.html",
        "listing_open_graph.html",
    ] {
        let body = read(file);
        for cut in 0..body.len() {
            if let Some(prefix) = body.get(..cut) {
                let _ = parse_page(prefix, "https://www.forsalebyowner.com/", fetched_at());
            }
        }
    }
}

proptest! {
    #[test]
    fn garbled_markup_never_panics(noise in "\\PC{0,300}") {
        let html = format!(r#"<head><meta property="og:title" content="{noise}"><script type="application/ld+json">{noise}</script><script id="__NEXT_DATA__">{noise}"#);
        let _ = parse_page(&html, "https://www.forsalebyowner.com/listing/_/x", fetched_at());
        let _ = parse_page(&format!("{{{noise}"), "https://www.forsalebyowner.com/", fetched_at());
    }
}
