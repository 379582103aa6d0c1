//! CSV and JSON-lines import on the real shared tables (../shared/data/tables, PROVENANCE.md there),
//! plus malformed files, and the normaliser run over imported rows.

use std::fs::File;
use std::io::BufReader;

use aiq_connectors::files::{ImportOptions, RowError, read_csv, read_json_lines};
use aiq_pipeline::normalise::normalise;
use aiq_schemas::{ListingKind, RawListing, Source};
use chrono::{TimeZone, Utc};

fn table(name: &str) -> String {
    format!(
        "{}/../../shared/data/tables/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Every row of a shared table, with the default options for its path.
fn import(name: &str) -> Vec<Result<RawListing, RowError>> {
    let path = table(name);
    let file = File::open(&path).unwrap_or_else(|error| panic!("cannot open {path}: {error}"));
    read_csv(BufReader::new(file), ImportOptions::for_path(&path)).collect()
}

fn all_ok(rows: Vec<Result<RawListing, RowError>>) -> Vec<RawListing> {
    rows.into_iter()
        .map(|row| row.unwrap_or_else(|error| panic!("unexpected bad row: {error}")))
        .collect()
}

fn received() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

#[test]
fn king_county_sales() {
    let rows = all_ok(import("kc_house_sales_2014_2015.csv"));
    assert_eq!(rows.len(), 15_000);
    let first = &rows[0];
    assert_eq!(first.source.as_deref(), Some("file"));
    assert_eq!(first.source_listing_id.as_deref(), Some("7129300520"));
    assert_eq!(first.posted_at.as_deref(), Some("20141013T000000"));
    assert_eq!(first.list_price.as_deref(), Some("221900"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("1"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("1180"));
    assert_eq!(first.postal_code.as_deref(), Some("98178"));
    assert_eq!(first.latitude.as_deref(), Some("47.5112"));
    assert_eq!(first.longitude.as_deref(), Some("-122.257"));
    assert_eq!(first.extra["sqft_lot"], "5650");
    assert_eq!(first.extra["yr_built"], "1955");
    // 21 columns: 9 mapped, 12 kept as attributes.
    assert_eq!(first.extra.len(), 12, "{:?}", first.extra.keys());
    let second = &rows[1];
    assert_eq!(second.source_listing_id.as_deref(), Some("6414100192"));
    assert_eq!(second.bathrooms_total.as_deref(), Some("2.25"));

    let listing = normalise(first, received()).expect("normalises");
    assert_eq!(listing.url, "urn:aiqleads:file:7129300520");
    assert_eq!(listing.list_price, Some(221_900.0));
    assert_eq!(listing.living_area_sqft, Some(1180));
    assert_eq!(
        listing.posted_at,
        Some(Utc.with_ymd_and_hms(2014, 10, 13, 0, 0, 0).unwrap())
    );
    assert_eq!(listing.postal_code.as_deref(), Some("98178"));
    assert_eq!(second.bathrooms_total.as_deref(), Some("2.25"));
    let rejected = rows
        .iter()
        .filter(|row| normalise(row, received()).is_err())
        .count();
    assert_eq!(rejected, 0, "every King County row normalises");
}

#[test]
fn realtor_sample_with_its_bom() {
    let rows = all_ok(import("realtor_usa_real_estate_sample_new_schema.csv"));
    assert_eq!(rows.len(), 999);
    let first = &rows[0];
    // The BOM is not part of the first header: `brokered_by` is recognised as a plain column.
    assert_eq!(first.extra["brokered_by"], "103378");
    assert!(!first.extra.keys().any(|key| key.starts_with('\u{feff}')));
    assert_eq!(
        first.source_listing_id.as_deref(),
        Some("realtor_usa_real_estate_sample_new_schema-1")
    );
    assert_eq!(first.listing_kind.as_deref(), Some("for_sale"));
    assert_eq!(first.list_price.as_deref(), Some("105000"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("3"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("920"));
    assert_eq!(first.street_address.as_deref(), Some("1962661"));
    assert_eq!(first.city.as_deref(), Some("Adjuntas"));
    assert_eq!(first.state_or_province.as_deref(), Some("Puerto Rico"));
    assert_eq!(first.postal_code.as_deref(), Some("601"));
    assert_eq!(first.extra["acre_lot"], "0.12");
    assert!(
        !first.extra.contains_key("prev_sold_date"),
        "an empty cell is missing"
    );

    let listing = normalise(first, received()).expect("normalises");
    assert_eq!(listing.postal_code.as_deref(), Some("00601"));
    assert_eq!(listing.state_or_province.as_deref(), Some("PR"));
    assert_eq!(listing.listing_kind, Some(ListingKind::Sale));
    assert_eq!(listing.list_price, Some(105_000.0));
    assert_eq!(listing.living_area_sqft, Some(920));
    // The data set's `street` is an encoded id, not an address; the normaliser does not take it.
    assert_eq!(listing.street_address, None);
}

#[test]
fn fsbo_listings_take_their_id_from_the_url() {
    let rows = all_ok(import("fsbo_forsalebyowner_2023_ca.csv"));
    assert_eq!(rows.len(), 230);
    let first = &rows[0];
    assert_eq!(
        first.source_listing_id.as_deref(),
        Some("647292b98b2f3108b4051314")
    );
    assert_eq!(
        first.url.as_deref(),
        Some("https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314")
    );
    assert_eq!(
        first.title.as_deref(),
        Some("14249 Burbank Boulevard Sherman Oaks, CA 91401")
    );
    assert_eq!(
        first.street_address.as_deref(),
        Some("14249 Burbank Boulevard")
    );
    assert_eq!(first.city.as_deref(), Some("Sherman Oaks"));
    assert_eq!(first.postal_code.as_deref(), Some("91401"));
    assert_eq!(first.state_or_province.as_deref(), Some("CA"));
    assert_eq!(first.list_price.as_deref(), Some("1697000"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("7"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("7"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("0"));
    assert!(first.extra.is_empty(), "{:?}", first.extra);
    let second = &rows[1];
    assert_eq!(
        second.street_address.as_deref(),
        Some("24303 Woolsey Cyn #6, Canoga Park, CA 91304")
    );
    assert_eq!(second.living_area_sqft.as_deref(), Some("1142"));

    let listing = normalise(second, received()).expect("normalises");
    assert_eq!(
        listing.street_address.as_deref(),
        Some("24303 Woolsey Cyn Apt 6")
    );
    assert_eq!(listing.unit_number.as_deref(), Some("6"));
    assert_eq!(listing.city.as_deref(), Some("Canoga Park"));
    assert_eq!(listing.postal_code.as_deref(), Some("91304"));
    assert_eq!(listing.list_price, Some(159_900.0));
    let mut ids: Vec<_> = rows
        .iter()
        .filter_map(|row| row.source_listing_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 230, "URL-derived ids are unique");
}

#[test]
fn craigslist_muncie_rentals_with_na_cells() {
    let rows = all_ok(import("craigslist_housing_2022_muncie.csv"));
    assert_eq!(rows.len(), 92);
    let first = &rows[0];
    assert_eq!(first.source_listing_id.as_deref(), Some("7514609223"));
    assert_eq!(
        first.title.as_deref(),
        Some("You Can Afford To Dwell Well. NEXT MONTH FREE")
    );
    assert_eq!(first.list_price.as_deref(), Some("916"));
    assert_eq!(
        first.street_address.as_deref(),
        Some("3833 Hoosier Woods Ct")
    );
    assert_eq!(first.extra["map_address"], "3833 Hoosier Woods Ct");
    assert_eq!(first.latitude.as_deref(), Some("40.076582"));
    assert_eq!(first.posted_at.as_deref(), Some("2022-07-28 18:40"));
    assert_eq!(first.property_type.as_deref(), Some("apartment"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("2"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("2.0"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("940"));
    assert_eq!(first.extra["rent_period"], "monthly");
    assert!(!first.extra.contains_key("flooring"), "NA is missing");
    assert!(
        first
            .description
            .as_deref()
            .is_some_and(|body| body.starts_with("['Hoosier Woods Apartments'"))
    );
    let third = &rows[2];
    assert_eq!(third.source_listing_id.as_deref(), Some("7516043801"));
    assert_eq!(third.living_area_sqft, None, "sqft NA");

    let listing = normalise(first, received()).expect("normalises");
    assert_eq!(
        listing.listing_kind,
        Some(ListingKind::Rent),
        "from the /apa/ URL"
    );
    assert_eq!(listing.list_price, Some(916.0));
    assert_eq!(listing.bedrooms_total, Some(2));
    assert_eq!(
        listing.posted_at,
        Some(Utc.with_ymd_and_hms(2022, 7, 28, 18, 40, 0).unwrap())
    );
}

#[test]
fn a_source_column_and_an_operator_mapping() {
    let table = "site,listing,asking,street\ncraigslist,7514609223,$916,3833 Hoosier Woods Ct\n";
    let options = ImportOptions {
        columns: [
            ("listing".to_owned(), "id".to_owned()),
            ("asking".to_owned(), "list_price".to_owned()),
            ("street".to_owned(), "ignore".to_owned()),
        ]
        .into(),
        ..ImportOptions::with_id_prefix("x")
    };
    let rows = all_ok(read_csv(table.as_bytes(), options).collect());
    assert_eq!(rows[0].source.as_deref(), Some("craigslist"));
    assert_eq!(rows[0].source_listing_id.as_deref(), Some("7514609223"));
    assert_eq!(rows[0].list_price.as_deref(), Some("$916"));
    assert_eq!(rows[0].street_address, None);
    assert!(rows[0].extra.is_empty());
}

#[test]
fn malformed_rows_carry_their_row_number_and_reason() {
    // A real FSBO header and first row, then damage: a short row, an empty row, a row with an
    // unclosed quote that swallows the rest of the file.
    let table = "Name,URL,Address,City,Zip,State,Price,Bath,Bed,SquareFt\n\
        \"14249 Burbank Boulevard Sherman Oaks, CA 91401\",https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314,14249 Burbank Boulevard,Sherman Oaks,91401,CA,1697000,7,7,0\n\
        Only a name,https://www.forsalebyowner.com/listing/_/1\n\
        NA,NA,NA,NA,NA,NA,NA,NA,NA,NA\n\
        \"unclosed,x,y,z,91401,CA,1,1,1,1\n\
        next,row\n";
    let rows: Vec<_> = read_csv(table.as_bytes(), ImportOptions::with_id_prefix("fsbo")).collect();
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert!(rows[0].is_ok());
    let errors: Vec<String> = rows[1..]
        .iter()
        .map(|row| row.as_ref().expect_err("a bad row").to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "row 2 (line 3): the row has 2 fields but the header has 10",
            "row 3 (line 4): every cell is empty or missing",
            "row 4 (line 5): the row has 1 fields but the header has 10",
        ]
    );
}

#[test]
fn latin1_tables_are_decoded() {
    // A Windows-1252 export as spreadsheets write it: é = 0xE9, ñ = 0xF1.
    let table = b"city,state,zip_code,price\nSan Germ\xe1n,Puerto Rico,683,89000\nCata\xf1o,Puerto Rico,962,120000\n";
    let rows = all_ok(read_csv(&table[..], ImportOptions::with_id_prefix("pr")).collect());
    assert_eq!(rows[0].city.as_deref(), Some("San Germ\u{e1}n"));
    assert_eq!(rows[1].city.as_deref(), Some("Cata\u{f1}o"));
    let listing = normalise(&rows[1], received()).expect("normalises");
    assert_eq!(listing.city.as_deref(), Some("Cata\u{f1}o"));
    assert_eq!(listing.postal_code.as_deref(), Some("00962"));
}

#[test]
fn json_lines_round_trip_the_import() {
    // Import real rows, write them as JSON lines (what `aiqleads parse` prints), read them back.
    let rows = all_ok(import("fsbo_forsalebyowner_2023_ca.csv"));
    let mut file = String::new();
    for row in &rows[..20] {
        file.push_str(&serde_json::to_string(row).expect("serialises"));
        file.push('\n');
    }
    file.push_str("{\"list_price\": [1]}\n");
    let back: Vec<_> =
        read_json_lines(file.as_bytes(), ImportOptions::with_id_prefix("j")).collect();
    assert_eq!(back.len(), 21);
    for (original, read) in rows[..20].iter().zip(&back) {
        assert_eq!(read.as_ref().expect("a listing"), original);
    }
    let error = back[20].as_ref().expect_err("an array is not a price");
    assert_eq!(
        (error.row, error.line, error.code()),
        (21, 21, "file_invalid_json")
    );
}

#[test]
fn a_file_body_through_the_shared_dispatcher() {
    let path = table("fsbo_forsalebyowner_2023_ca.csv");
    let body = std::fs::read_to_string(&path).expect("readable");
    let page = aiq_connectors::parse_page(Source::File, &body, &path, received()).expect("a page");
    assert_eq!(page.listings.len(), 230);
    assert!(page.skipped.is_empty());
    assert_eq!(page.listings[0].fetched_at, Some(received()));
}

#[test]
fn truncated_tables_never_panic() {
    let body = std::fs::read(table("craigslist_housing_2022_muncie.csv")).expect("readable");
    for end in (0..body.len()).step_by(4099) {
        let rows: Vec<_> = read_csv(&body[..end], ImportOptions::default()).collect();
        assert!(rows.len() <= 92);
        let _ = read_json_lines(&body[..end], ImportOptions::default()).count();
    }
}
