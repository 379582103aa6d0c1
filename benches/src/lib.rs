//! Realistic workloads for benchmarks, built from the real listing tables in
//! `../shared/data/tables` (Craigslist rentals, King County and realtor.com sales, ForSaleByOwner).
//!
//! Each table row becomes a [`RawListing`] with values in the text forms sites use (`"$1,606"`,
//! `"1br"`), so the normaliser does its real work. [`workload`] then repeats the rows as reposts with
//! new ids and nudged prices, the way the same homes recur across sites and weeks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aiq_schemas::RawListing;
use chrono::{DateTime, TimeZone, Utc};

/// `../shared/data/tables` as seen from this crate.
pub fn shared_tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/tables")
}

/// A fixed fetch time, so workloads are identical run to run.
pub fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 8, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

type Row = BTreeMap<String, String>;

fn read_rows(path: &Path) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(rows)
}

fn text(row: &Row, column: &str) -> Option<String> {
    row.get(column)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && *v != "NA")
        .map(str::to_owned)
}

fn listing(source: &str, id: String, url: String) -> RawListing {
    RawListing {
        source: Some(source.into()),
        source_listing_id: Some(id),
        url: Some(url),
        fetched_at: Some(fetched_at()),
        ..RawListing::default()
    }
}

/// Craigslist rentals as the site shows them.
fn craigslist(rows: &[Row]) -> Vec<RawListing> {
    rows.iter()
        .filter_map(|row| {
            let id = text(row, "post_id")?;
            let mut raw = listing(
                "craigslist",
                id.clone(),
                text(row, "url").unwrap_or_else(|| format!("https://craigslist.org/{id}.html")),
            );
            raw.listing_kind = Some("apa".into());
            raw.title = text(row, "title");
            raw.list_price = text(row, "price").map(|p| format!("${p}"));
            raw.bedrooms_total = text(row, "bedrooms").map(|b| format!("{b}br"));
            raw.bathrooms_total = text(row, "bathrooms").map(|b| format!("{b}Ba"));
            raw.living_area_sqft = text(row, "sqft").map(|s| format!("{s}ft2"));
            raw.street_address = text(row, "street_address");
            raw.latitude = text(row, "latitude");
            raw.longitude = text(row, "longitude");
            raw.posted_at = text(row, "posted");
            raw.property_type = text(row, "housing_type");
            raw.description = text(row, "posting_body");
            Some(raw)
        })
        .collect()
}

/// King County house sales.
fn king_county(rows: &[Row]) -> Vec<RawListing> {
    rows.iter()
        .filter_map(|row| {
            let id = text(row, "id")?;
            let mut raw = listing(
                "file",
                format!("kc-{id}"),
                format!("file://kc_house_sales/{id}"),
            );
            raw.listing_kind = Some("sale".into());
            raw.property_type = Some("house".into());
            raw.list_price = text(row, "price");
            raw.bedrooms_total = text(row, "bedrooms");
            raw.bathrooms_total = text(row, "bathrooms");
            raw.living_area_sqft = text(row, "sqft_living");
            raw.postal_code = text(row, "zipcode");
            raw.state_or_province = Some("WA".into());
            raw.latitude = text(row, "lat");
            raw.longitude = text(row, "long");
            raw.posted_at = text(row, "date");
            Some(raw)
        })
        .collect()
}

/// realtor.com sales (both schemas); ZIP codes lost their leading zeros in the source CSV.
fn realtor(rows: &[Row], prefix: &str) -> Vec<RawListing> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            let mut raw = listing(
                "realtor",
                format!("{prefix}-{index}"),
                format!("https://www.realtor.com/{prefix}/{index}"),
            );
            raw.listing_kind = text(row, "status");
            raw.list_price = text(row, "price");
            raw.bedrooms_total = text(row, "bed");
            raw.bathrooms_total = text(row, "bath");
            raw.living_area_sqft = text(row, "house_size");
            raw.city = text(row, "city");
            raw.state_or_province = text(row, "state");
            raw.postal_code =
                text(row, "zip_code").map(|zip| format!("{:0>5}", zip.trim_end_matches(".0")));
            raw
        })
        .collect()
}

/// ForSaleByOwner listings.
fn fsbo(rows: &[Row]) -> Vec<RawListing> {
    rows.iter()
        .filter_map(|row| {
            let url = text(row, "URL")?;
            let id = url.rsplit('/').next().unwrap_or_default().to_owned();
            let mut raw = listing("fsbo", id, url);
            raw.listing_kind = Some("sale".into());
            raw.street_address = text(row, "Address");
            raw.city = text(row, "City");
            raw.postal_code = text(row, "Zip");
            raw.state_or_province = text(row, "State");
            raw.list_price = text(row, "Price");
            raw.bathrooms_total = text(row, "Bath");
            raw.bedrooms_total = text(row, "Bed");
            raw.living_area_sqft = text(row, "SquareFt").filter(|s| s != "0");
            Some(raw)
        })
        .collect()
}

/// Every row of the shared listing tables, as raw listings.
pub fn table_listings(dir: &Path) -> Result<Vec<RawListing>, String> {
    let mut all = Vec::new();
    for region in ["dallas", "hartford", "muncie", "providence", "sanmarcos"] {
        all.extend(craigslist(&read_rows(
            &dir.join(format!("craigslist_housing_2022_{region}.csv")),
        )?));
    }
    all.extend(king_county(&read_rows(
        &dir.join("kc_house_sales_2014_2015.csv"),
    )?));
    all.extend(realtor(
        &read_rows(&dir.join("realtor_usa_real_estate_old_schema_puerto_rico.csv"))?,
        "pr-old",
    ));
    all.extend(realtor(
        &read_rows(&dir.join("realtor_usa_real_estate_sample_new_schema.csv"))?,
        "pr-new",
    ));
    all.extend(fsbo(&read_rows(
        &dir.join("fsbo_forsalebyowner_2023_ca.csv"),
    )?));
    Ok(all)
}

/// `count` raw listings: the table rows in order, then again as reposts (new id, price moved by a
/// few percent), until `count` is reached.
pub fn workload(tables: &[RawListing], count: usize) -> Vec<RawListing> {
    let mut out = Vec::with_capacity(count);
    let mut round = 0usize;
    while out.len() < count && !tables.is_empty() {
        for (index, raw) in tables.iter().enumerate() {
            if out.len() == count {
                break;
            }
            let mut copy = raw.clone();
            if round > 0 {
                copy.source_listing_id = copy.source_listing_id.map(|id| format!("{id}-r{round}"));
                // Deterministic price nudge of -3%..+3% per repost.
                let nudge = 1.0 + (((index * 7 + round * 13) % 7) as f64 - 3.0) / 100.0;
                copy.list_price = copy.list_price.map(|p| {
                    let digits: String = p
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '.')
                        .collect();
                    digits
                        .parse::<f64>()
                        .map(|v| format!("${:.0}", v * nudge))
                        .unwrap_or(p)
                });
            }
            out.push(copy);
        }
        round += 1;
    }
    out
}
