//! CSV listing tables, one [`RawListing`] (or [`RowError`]) per row.

use std::io::Read;

use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::columns::{self, Target};
use super::{ImportOptions, RowError, RowErrorKind, decode_cell, fill_identity};

/// Reads a CSV with a header row; see the [module docs](super) for the column matching, the ids and
/// the decoding. A header that cannot be used (unreadable, or a mapping naming no field) is one
/// error with row 0, after which the iterator ends; so does a read error of the underlying reader.
pub fn read_csv<R: Read>(reader: R, options: ImportOptions) -> CsvRows<R> {
    let delimiter = u8::try_from(options.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .unwrap_or(b',');
    let reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        // Rows with the wrong number of fields are reported by us, with both counts.
        .flexible(true)
        .from_reader(reader);
    let delimiter_error = (u8::try_from(options.delimiter).ok() != Some(delimiter)).then(|| {
        format!(
            "the delimiter `{}` is not an ASCII character",
            options.delimiter
        )
    });
    CsvRows {
        reader,
        options,
        header: None,
        row: 0,
        finished: false,
        delimiter_error,
        record: ::csv::ByteRecord::new(),
    }
}

/// The iterator [`read_csv`] returns.
pub struct CsvRows<R> {
    reader: ::csv::Reader<R>,
    options: ImportOptions,
    header: Option<Header>,
    row: u64,
    finished: bool,
    delimiter_error: Option<String>,
    record: ::csv::ByteRecord,
}

struct Header {
    names: Vec<String>,
    targets: Vec<Target>,
}

impl<R: Read> CsvRows<R> {
    /// Reads the next record into `self.record`; `Ok(false)` at the end.
    fn read_record(&mut self) -> Result<bool, RowError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => Ok(more),
            Err(error) => {
                let line = error.position().map_or(0, ::csv::Position::line);
                if matches!(error.kind(), ::csv::ErrorKind::Io(_)) {
                    self.finished = true;
                }
                Err(RowError {
                    row: self.row + 1,
                    line,
                    kind: RowErrorKind::Read(error.to_string()),
                })
            }
        }
    }

    fn read_header(&mut self) -> Result<Option<Header>, RowError> {
        let header_error = |line: u64, detail: String| RowError {
            row: 0,
            line,
            kind: RowErrorKind::Header(detail),
        };
        if let Some(detail) = self.delimiter_error.take() {
            return Err(header_error(1, detail));
        }
        if !self
            .read_record()
            .map_err(|error| header_error(error.line, error.kind.to_string()))?
        {
            return Ok(None);
        }
        let mut names: Vec<String> = self.record.iter().map(decode_cell).collect();
        if let Some(first) = names.first_mut()
            && let Some(stripped) = first.strip_prefix('\u{feff}')
        {
            *first = stripped.to_owned();
        }
        let targets = columns::resolve(&names, &self.options.columns)
            .map_err(|detail| header_error(1, detail))?;
        Ok(Some(Header { names, targets }))
    }

    fn listing_from_record(&self, header: &Header, line: u64) -> Result<RawListing, RowError> {
        let row_error = |kind| RowError {
            row: self.row,
            line,
            kind,
        };
        if self.record.len() != header.names.len() {
            return Err(row_error(RowErrorKind::FieldCount {
                expected: header.names.len(),
                found: self.record.len(),
            }));
        }
        let mut listing = RawListing::default();
        let mut any_value = false;
        for ((cell, name), target) in self.record.iter().zip(&header.names).zip(&header.targets) {
            let text = decode_cell(cell);
            let value = text.trim();
            if self.options.is_missing(value) {
                continue;
            }
            any_value = true;
            match target {
                Target::Ignore => {}
                Target::Id => listing.source_listing_id = Some(value.to_owned()),
                Target::Source => listing.source = Some(value.to_owned()),
                Target::FetchedAt => {
                    let time = DateTime::parse_from_rfc3339(value).map_err(|error| {
                        row_error(RowErrorKind::InvalidValue {
                            column: name.clone(),
                            detail: format!("`{value}` is not an RFC 3339 time ({error})"),
                        })
                    })?;
                    listing.fetched_at = Some(time.with_timezone(&Utc));
                }
                Target::Text(field) => *field.slot(&mut listing) = Some(value.to_owned()),
                Target::Extra => {
                    // A repeated header keeps its first column's value under the plain name.
                    listing
                        .extra
                        .entry(name.clone())
                        .or_insert_with(|| Value::String(value.to_owned()));
                }
            }
        }
        if !any_value {
            return Err(row_error(RowErrorKind::EmptyRow));
        }
        fill_identity(&mut listing, self.row, &self.options);
        Ok(listing)
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Result<RawListing, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if self.header.is_none() {
            match self.read_header() {
                Ok(Some(header)) => self.header = Some(header),
                Ok(None) => {
                    self.finished = true;
                    return None;
                }
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
        }
        let more = match self.read_record() {
            Ok(more) => more,
            Err(error) => {
                self.row += 1;
                return Some(Err(error));
            }
        };
        if !more {
            self.finished = true;
            return None;
        }
        self.row += 1;
        let line = self.record.position().map_or(0, ::csv::Position::line);
        let header = self.header.as_ref()?;
        Some(self.listing_from_record(header, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(table: &[u8]) -> Vec<Result<RawListing, RowError>> {
        read_csv(table, ImportOptions::with_id_prefix("t")).collect()
    }

    #[test]
    fn quoted_fields_missing_markers_and_extra_columns() {
        let table =
            b"title,Price,Bed,notes,notes\n\"Big, \"\"sunny\"\" house\",\"$1,200\",NA,a,b\n";
        let got = rows(table);
        assert_eq!(got.len(), 1);
        let listing = got[0].as_ref().unwrap();
        assert_eq!(listing.title.as_deref(), Some("Big, \"sunny\" house"));
        assert_eq!(listing.list_price.as_deref(), Some("$1,200"));
        assert_eq!(listing.bedrooms_total, None);
        assert_eq!(listing.extra.len(), 1);
        assert_eq!(listing.extra["notes"], "a");
        assert_eq!(listing.source_listing_id.as_deref(), Some("t-1"));
    }

    #[test]
    fn bad_rows_are_errors_and_reading_goes_on() {
        let table =
            b"id,price,fetched_at\n1,10,2024-01-01T00:00:00Z\n2,20\n,NA,\n3,30,yesterday\n4,\"40\n";
        let got = rows(table);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(
            got[0].as_ref().unwrap().fetched_at.map(|t| t.to_rfc3339()),
            Some("2024-01-01T00:00:00+00:00".to_owned())
        );
        let error = got[1].as_ref().unwrap_err();
        assert_eq!(
            (error.row, error.line, error.code()),
            (2, 3, "file_field_count")
        );
        let error = got[2].as_ref().unwrap_err();
        assert_eq!((error.row, error.kind.clone()), (3, RowErrorKind::EmptyRow));
        let error = got[3].as_ref().unwrap_err();
        assert_eq!(error.code(), "file_invalid_value");
        assert!(
            error
                .to_string()
                .starts_with("row 4 (line 5): column `fetched_at`: `yesterday`")
        );
        // An unterminated quote runs to the end of the file: one short row, reported.
        assert_eq!(got[4].as_ref().unwrap_err().code(), "file_field_count");
    }

    #[test]
    fn headers_that_cannot_be_used_end_the_file_with_one_error() {
        let mapping = ImportOptions {
            columns: [("a".to_owned(), "nonsense".to_owned())].into(),
            ..ImportOptions::default()
        };
        let got: Vec<_> = read_csv(&b"a,b\n1,2\n"[..], mapping).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap_err().code(), "file_bad_header");
        let tab = ImportOptions {
            delimiter: '\u{2192}',
            ..ImportOptions::default()
        };
        let got: Vec<_> = read_csv(&b"a\n1\n"[..], tab).collect();
        assert_eq!(got.len(), 1);
        assert!(
            got[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("not an ASCII")
        );
        assert!(rows(b"").is_empty());
        assert!(rows(b"a,b\n").is_empty());
    }

    #[test]
    fn a_bom_latin1_bytes_and_other_delimiters() {
        let table = b"\xef\xbb\xbfcity;price\nSan Germ\xe1n;100\n";
        let options = ImportOptions {
            delimiter: ';',
            ..ImportOptions::default()
        };
        let got: Vec<_> = read_csv(&table[..], options).collect();
        let listing = got[0].as_ref().unwrap();
        assert_eq!(listing.city.as_deref(), Some("San Germ\u{e1}n"));
        assert_eq!(listing.list_price.as_deref(), Some("100"));
    }

    #[test]
    fn a_failing_reader_ends_with_an_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let got: Vec<_> = read_csv(Failing, ImportOptions::default()).collect();
        assert_eq!(got.len(), 1);
        assert!(
            got[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("disk gone")
        );
    }
}
