//! Listing files: CSV tables and JSON lines, the other legitimate feed brokerages hand over.
//!
//! - [`read_csv`]: a CSV with a header row. Columns are matched to [`RawListing`] fields by an
//!   optional operator mapping ([`ImportOptions::columns`]), then by our own names (`list_price`),
//!   RESO's (`ListPrice`, `BedroomsTotal`) and common spellings (`price`, `beds`, `sqft_living`,
//!   `zip_code`, `lng`...); every other column is kept in `extra` under its header.
//! - [`read_json_lines`]: one [`RawListing`] JSON object per line (the shape `aiqleads parse` prints).
//! - [`parse_page`]: a whole file body of either kind as one [`Page`] (the `file` source of
//!   [`crate::parse_page`]).
//!
//! Both readers yield one `Result` per row: a bad row is a [`RowError`] carrying its row and line
//! numbers and the reason, and reading goes on with the next row. Nothing is dropped silently and
//! nothing panics on any input.
//!
//! Cells are decoded as UTF-8 where they are valid UTF-8 and as Windows-1252 (the superset of
//! Latin-1 that spreadsheets write) where they are not; a UTF-8 byte-order mark is ignored. Cells in
//! [`ImportOptions::missing_values`] (`NA`, `N/A`, `NaN`, `NULL`, ... by default) are missing.
//!
//! Each listing's `source` is its `source` column, else [`ImportOptions::source`] (`file`). Its id is
//! its id column (`source_listing_id`, `id`, `post_id`, `ListingKey`, ...), else the last path segment
//! of its URL (`.../listing/_/647292b9...` -> `647292b9...`), else `<id_prefix>-<row>`, where the
//! prefix is usually the file stem: `kc_house_sales-17`.
//!
//! ```
//! use aiq_connectors::files::{ImportOptions, read_csv};
//!
//! let table = "\u{feff}id,price,beds,baths,sqft,zip,state\n1,250000,3,2,NA,601,Puerto Rico\n2,x\n";
//! let mut rows = read_csv(table.as_bytes(), ImportOptions::with_id_prefix("sample"));
//! let first = rows.next().unwrap()?;
//! assert_eq!(first.source.as_deref(), Some("file"));
//! assert_eq!(first.source_listing_id.as_deref(), Some("1"));
//! assert_eq!(first.bedrooms_total.as_deref(), Some("3"));
//! assert_eq!(first.living_area_sqft, None);
//! let bad = rows.next().unwrap().unwrap_err();
//! assert_eq!(bad.to_string(), "row 2 (line 3): the row has 2 fields but the header has 7");
//! assert!(rows.next().is_none());
//! # Ok::<(), aiq_connectors::files::RowError>(())
//! ```

mod columns;
mod csv_rows;
mod json_lines;

use std::collections::BTreeMap;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use encoding_rs::WINDOWS_1252;
use serde::Deserialize;

pub use csv_rows::{CsvRows, read_csv};
pub use json_lines::{JsonLines, read_json_lines};

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind, SkippedItem};

/// How to read a listing file (`[import]` in the config file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportOptions {
    /// Prefix of the ids given to rows without an id or URL: `<id_prefix>-<row>`. Usually the file
    /// stem; see [`ImportOptions::with_id_prefix`].
    pub id_prefix: String,
    /// Source of rows that do not name one.
    pub source: String,
    /// Column header (exactly as in the file) to a `RawListing` field name, `id`, `extra` (keep as an
    /// attribute) or `ignore` (leave out). Overrides the recognised names.
    pub columns: BTreeMap<String, String>,
    /// Cell values that mean "no value" (compared after trimming, case-sensitively).
    pub missing_values: Vec<String>,
    /// The CSV field delimiter (an ASCII character).
    pub delimiter: char,
    /// Stamped on listings whose row gives no `fetched_at`; not part of the config file.
    #[serde(skip)]
    pub fetched_at: Option<DateTime<Utc>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            id_prefix: "row".into(),
            source: Source::File.as_str().into(),
            columns: BTreeMap::new(),
            missing_values: [
                "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "-",
            ]
            .map(String::from)
            .to_vec(),
            delimiter: ',',
            fetched_at: None,
        }
    }
}

impl ImportOptions {
    /// The defaults, with row ids `<id_prefix>-<row>`.
    pub fn with_id_prefix(id_prefix: impl Into<String>) -> Self {
        ImportOptions {
            id_prefix: id_prefix.into(),
            ..ImportOptions::default()
        }
    }

    /// The defaults for a file at `path` (a path or URL): ids prefixed with its stem
    /// (`/data/kc_house_sales.csv` -> `kc_house_sales`).
    pub fn for_path(path: &str) -> Self {
        ImportOptions::with_id_prefix(file_stem(path))
    }

    fn is_missing(&self, cell: &str) -> bool {
        cell.is_empty() || self.missing_values.iter().any(|missing| missing == cell)
    }
}

/// One row that could not become a listing.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("row {row} (line {line}): {kind}")]
pub struct RowError {
    /// 1-based data row (the header is not a row; blank JSON lines are not rows); 0 for the header.
    pub row: u64,
    /// 1-based line of the file where the row starts.
    pub line: u64,
    pub kind: RowErrorKind,
}

/// Why a row could not become a listing.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RowErrorKind {
    #[error("the header cannot be used: {0}")]
    Header(String),
    #[error("the row has {found} fields but the header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("every cell is empty or missing")]
    EmptyRow,
    #[error("column `{column}`: {detail}")]
    InvalidValue { column: String, detail: String },
    #[error("not a listing object: {0}")]
    Json(String),
    #[error("the file cannot be read: {0}")]
    Read(String),
}

impl RowError {
    /// Stable snake_case code for the dead-letter destination.
    pub fn code(&self) -> &'static str {
        match self.kind {
            RowErrorKind::Header(_) => "file_bad_header",
            RowErrorKind::FieldCount { .. } => "file_field_count",
            RowErrorKind::EmptyRow => "file_empty_row",
            RowErrorKind::InvalidValue { .. } => "file_invalid_value",
            RowErrorKind::Json(_) => "file_invalid_json",
            RowErrorKind::Read(_) => "file_unreadable",
        }
    }
}

/// Parses a whole listing file body (JSON lines when its first character is `{`, CSV otherwise)
/// read from `url` (a URL or a path: its stem prefixes generated ids). Bad rows are
/// [`Page::skipped`] with their row number and reason. A file without rows is
/// [`Error::NoListing`] (`Empty`).
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let options = ImportOptions {
        fetched_at: Some(fetched_at),
        ..ImportOptions::for_path(url)
    };
    let text = body.trim_start_matches('\u{feff}');
    let rows: Box<dyn Iterator<Item = Result<RawListing, RowError>>> =
        if text.trim_start().starts_with('{') {
            Box::new(read_json_lines(text.as_bytes(), options))
        } else {
            Box::new(read_csv(text.as_bytes(), options))
        };
    let mut page = Page {
        kind: PageKind::Search,
        ..Page::default()
    };
    for row in rows {
        match row {
            Ok(listing) => page.listings.push(listing),
            Err(error) => page.skipped.push(SkippedItem {
                id: format!("row {}", error.row),
                reason: error.to_string(),
            }),
        }
    }
    if page.listings.is_empty() && page.skipped.is_empty() {
        return Err(Error::no_listing(
            NoListingReason::Empty,
            "the listing file holds no rows",
        ));
    }
    Ok(page)
}

/// The stem of the last path segment of a path or URL: `file:///d/kc.csv?x=1` -> `kc`.
fn file_stem(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let name = path
        .rsplit(['/', '\\'])
        .find(|segment| !segment.is_empty())
        .unwrap_or("");
    let stem = match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    };
    if stem.is_empty() {
        "row".to_owned()
    } else {
        stem.to_owned()
    }
}

/// Bytes as text: UTF-8 when valid, else Windows-1252 (every byte maps, so nothing is lost).
fn decode_cell(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// Fills what a row did not say: the source, the id (from the URL, else generated) and fetched_at.
fn fill_identity(listing: &mut RawListing, row: u64, options: &ImportOptions) {
    if listing.source.is_none() {
        listing.source = Some(options.source.clone());
    }
    if listing.source_listing_id.is_none() {
        listing.source_listing_id = Some(
            listing
                .url
                .as_deref()
                .and_then(id_from_url)
                .unwrap_or_else(|| format!("{}-{row}", options.id_prefix)),
        );
    }
    if listing.fetched_at.is_none() {
        listing.fetched_at = options.fetched_at;
    }
}

/// The last path segment of a listing URL, without an extension:
/// `https://muncie.craigslist.org/apa/d/x/7514609223.html` -> `7514609223`. Only for URLs with a
/// path beyond the host.
fn id_from_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let segment = parsed.path_segments()?.rev().find(|s| !s.is_empty())?;
    let stem = segment.split('.').next().unwrap_or(segment);
    (!stem.is_empty()).then(|| stem.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stems_and_url_ids() {
        assert_eq!(
            file_stem("/data/tables/kc_house_sales_2014_2015.csv"),
            "kc_house_sales_2014_2015"
        );
        assert_eq!(file_stem("file:///d/feed.jsonl?x=1"), "feed");
        assert_eq!(file_stem("C:\\exports\\fsbo.csv"), "fsbo");
        assert_eq!(file_stem(".hidden"), ".hidden");
        assert_eq!(file_stem(""), "row");
        assert_eq!(
            id_from_url("https://www.forsalebyowner.com/listing/_/647292b98b2f3108b4051314")
                .as_deref(),
            Some("647292b98b2f3108b4051314")
        );
        assert_eq!(
            id_from_url("https://muncie.craigslist.org/apa/d/x/7514609223.html").as_deref(),
            Some("7514609223")
        );
        assert_eq!(id_from_url("https://example.org/"), None);
        assert_eq!(id_from_url("not a url"), None);
    }

    #[test]
    fn latin1_cells_are_decoded() {
        assert_eq!(
            decode_cell(b"Caf\xe9 \x96 Ma\xf1ana"),
            "Caf\u{e9} \u{2013} Ma\u{f1}ana"
        );
        assert_eq!(decode_cell("Café".as_bytes()), "Café");
    }

    #[test]
    fn a_file_body_is_a_page_with_its_bad_rows_skipped() {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        let page = parse_page("price,beds\n100,2\n1,2,3\n", "/x/mine.csv", at).unwrap();
        assert_eq!(page.listings.len(), 1);
        assert_eq!(
            page.listings[0].source_listing_id.as_deref(),
            Some("mine-1")
        );
        assert_eq!(page.listings[0].fetched_at, Some(at));
        assert_eq!(page.skipped.len(), 1);
        assert_eq!(page.skipped[0].id, "row 2");
        let jsonl = parse_page("{\"list_price\": 5}\n\n[1]\n", "feed.jsonl", at).unwrap();
        assert_eq!(
            jsonl.listings[0].source_listing_id.as_deref(),
            Some("feed-1")
        );
        assert_eq!(jsonl.skipped[0].id, "row 2");
        let empty = parse_page("price,beds\n", "x.csv", at).unwrap_err();
        assert_eq!(empty.no_listing_reason(), Some(NoListingReason::Empty));
        assert!(parse_page("", "x.csv", at).is_err());
    }
}
