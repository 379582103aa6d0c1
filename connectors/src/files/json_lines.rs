//! JSON-lines listing files: one [`RawListing`] object per line, keys as in `aiq_schemas`.

use std::io::BufRead;

use aiq_schemas::RawListing;
use serde_json::Value;

use super::{ImportOptions, RowError, RowErrorKind, decode_cell, fill_identity};

/// Reads one listing object per line. Blank lines are skipped (they are not rows); a line that is
/// not a JSON object, or whose values do not fit a [`RawListing`], is a [`RowError`]. Keys a
/// `RawListing` does not know are kept in `extra`. A read error of the underlying reader is one
/// error, after which the iterator ends.
pub fn read_json_lines<R: BufRead>(reader: R, options: ImportOptions) -> JsonLines<R> {
    JsonLines {
        reader,
        options,
        line: 0,
        row: 0,
        buffer: Vec::new(),
        finished: false,
    }
}

/// The iterator [`read_json_lines`] returns.
pub struct JsonLines<R> {
    reader: R,
    options: ImportOptions,
    line: u64,
    row: u64,
    buffer: Vec<u8>,
    finished: bool,
}

impl<R: BufRead> Iterator for JsonLines<R> {
    type Item = Result<RawListing, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            self.buffer.clear();
            match self.reader.read_until(b'\n', &mut self.buffer) {
                Ok(0) => self.finished = true,
                Ok(_) => {
                    self.line += 1;
                    let text = decode_cell(&self.buffer);
                    let text = text.trim_start_matches('\u{feff}').trim();
                    if text.is_empty() {
                        continue;
                    }
                    self.row += 1;
                    return Some(self.listing_from_line(text));
                }
                Err(error) => {
                    self.finished = true;
                    return Some(Err(RowError {
                        row: self.row + 1,
                        line: self.line + 1,
                        kind: RowErrorKind::Read(error.to_string()),
                    }));
                }
            }
        }
        None
    }
}

impl<R> JsonLines<R> {
    fn listing_from_line(&self, text: &str) -> Result<RawListing, RowError> {
        let error = |detail: String| RowError {
            row: self.row,
            line: self.line,
            kind: RowErrorKind::Json(detail),
        };
        // Checked as a value first so a line holding an array or a number gets a plain reason.
        let value: Value = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
        if !value.is_object() {
            return Err(error(format!(
                "the line holds a JSON {} instead of an object",
                match value {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "boolean",
                    _ => "null",
                }
            )));
        }
        let mut listing: RawListing =
            serde_json::from_value(value).map_err(|e| error(e.to_string()))?;
        fill_identity(&mut listing, self.row, &self.options);
        Ok(listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_become_listings_and_the_rest_row_errors() {
        let file = "\u{feff}{\"source\": \"craigslist\", \"source_listing_id\": 7501755803, \"list_price\": \"$1,606\", \"laundry\": \"w/d\"}\n\
                    \n\
                    {\"list_price\": 5, \"url\": \"https://example.org/homes/77.html\"}\r\n\
                    [1, 2]\n\
                    {\"fetched_at\": \"last week\"}\n\
                    {\"list_price\": \n\
                    {\"title\": \"caf\u{e9}\"}";
        let got: Vec<_> =
            read_json_lines(file.as_bytes(), ImportOptions::with_id_prefix("feed")).collect();
        assert_eq!(got.len(), 6, "{got:?}");
        let first = got[0].as_ref().unwrap();
        assert_eq!(first.source.as_deref(), Some("craigslist"));
        assert_eq!(first.source_listing_id.as_deref(), Some("7501755803"));
        assert_eq!(first.extra["laundry"], "w/d");
        let second = got[1].as_ref().unwrap();
        assert_eq!(second.source.as_deref(), Some("file"));
        assert_eq!(second.source_listing_id.as_deref(), Some("77"));
        assert_eq!(second.list_price.as_deref(), Some("5"));
        let array = got[2].as_ref().unwrap_err();
        assert_eq!((array.row, array.line), (3, 4));
        assert_eq!(
            array.to_string(),
            "row 3 (line 4): not a listing object: the line holds a JSON array instead of an object"
        );
        assert_eq!(got[3].as_ref().unwrap_err().code(), "file_invalid_json");
        assert_eq!(got[4].as_ref().unwrap_err().line, 6);
        assert_eq!(got[5].as_ref().unwrap().title.as_deref(), Some("caf\u{e9}"));
    }

    #[test]
    fn latin1_lines_are_decoded() {
        let got: Vec<_> = read_json_lines(
            &b"{\"city\": \"San Germ\xe1n\"}\n"[..],
            ImportOptions::default(),
        )
        .collect();
        assert_eq!(
            got[0].as_ref().unwrap().city.as_deref(),
            Some("San Germ\u{e1}n")
        );
        assert_eq!(
            got[0].as_ref().unwrap().source_listing_id.as_deref(),
            Some("row-1")
        );
    }
}
