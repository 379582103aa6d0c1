//! Turning a fetched body into text: pick the character encoding the way a browser would, but never
//! fail. Old Craigslist pages (2009) declare no charset and carry Windows-1252 bytes (`0x97` for an em
//! dash), so "assume UTF-8" would garble them.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How far into the body to look for a `<meta>` charset declaration: the HTML standard's prescan
/// window.
const META_PRESCAN_BYTES: usize = 1024;

/// Decode an HTML body into a `String`.
///
/// The encoding is chosen in this order: a byte-order mark; the `charset` parameter of the HTTP
/// `Content-Type`; a `<meta charset>` or `<meta http-equiv="Content-Type" content="...charset=...">` in
/// the first 1024 bytes; UTF-8 if the bytes are valid UTF-8; otherwise Windows-1252 (which browsers
/// also use for the `ISO-8859-1` label, and which maps every byte, so nothing is lost). Labels follow
/// the WHATWG Encoding Standard (`latin1` means Windows-1252; a `<meta>` saying UTF-16 means UTF-8).
/// Malformed sequences become U+FFFD. Never panics.
///
/// ```
/// use aiq_connectors::decode::decode_html;
/// let body = b"<p>Je parle le Fran\xe7ais</p>";
/// assert_eq!(decode_html(body, None), "<p>Je parle le Fran\u{e7}ais</p>");
/// assert_eq!(decode_html("<p>caf\u{e9}</p>".as_bytes(), Some("text/html; charset=utf-8")), "<p>caf\u{e9}</p>");
/// ```
pub fn decode_html(body: &[u8], content_type: Option<&str>) -> String {
    // `Encoding::decode` sniffs a BOM first and lets it override the label, as browsers do.
    let encoding = content_type
        .and_then(charset_from_content_type)
        .or_else(|| charset_from_meta(body))
        .unwrap_or_else(|| {
            if std::str::from_utf8(body).is_ok() {
                UTF_8
            } else {
                WINDOWS_1252
            }
        });
    let (text, _used, _had_errors) = encoding.decode(body);
    text.into_owned()
}

/// The encoding named by the `charset` parameter of a `Content-Type` header value, if it is a known
/// label.
fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    let label = charset_label_after(content_type.as_bytes())?;
    Encoding::for_label(label)
}

/// The encoding declared by a `<meta>` tag near the start of the body.
fn charset_from_meta(body: &[u8]) -> Option<&'static Encoding> {
    let prefix = &body[..body.len().min(META_PRESCAN_BYTES)];
    let mut rest = prefix;
    while let Some(start) = find_ascii_ci(rest, b"<meta") {
        let tag_and_after = &rest[start + 5..];
        let tag_end = tag_and_after
            .iter()
            .position(|&b| b == b'>')
            .unwrap_or(tag_and_after.len());
        let tag = &tag_and_after[..tag_end];
        if let Some(encoding) = charset_label_after(tag).and_then(Encoding::for_label) {
            // A document cannot really be UTF-16 if we could read this ASCII tag: the standard says
            // to treat the declaration as UTF-8 (`output_encoding` does exactly that).
            return Some(encoding.output_encoding());
        }
        rest = &tag_and_after[tag_end..];
    }
    None
}

/// The label following `charset=` (case-insensitive, optional quotes and spaces) in `text`.
fn charset_label_after(text: &[u8]) -> Option<&[u8]> {
    let at = find_ascii_ci(text, b"charset")?;
    let mut rest = &text[at + b"charset".len()..];
    rest = trim_start_ascii(rest);
    rest = rest.strip_prefix(b"=")?;
    rest = trim_start_ascii(rest);
    if let Some(unquoted) = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")) {
        rest = unquoted;
    }
    let len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(rest.len());
    (len > 0).then(|| &rest[..len])
}

fn trim_start_ascii(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[skip..]
}

/// Byte offset of the first ASCII case-insensitive match of `needle` (itself lower case) in `haystack`.
fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_bytes_without_a_declaration_fall_back_to_windows_1252() {
        // The two non-ASCII bytes of the 2009 broward posting: 0x97 (em dash), 0xE7 (c cedilla).
        let body = b"income property\x97Investors ... Je parle le Fran\xe7ais";
        assert_eq!(
            decode_html(body, None),
            "income property\u{2014}Investors ... Je parle le Fran\u{e7}ais"
        );
    }

    #[test]
    fn the_saved_2009_posting_decodes_its_windows_1252_bytes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/html/craigslist/cl_2009_post_reb_broward_1131242195.html"
        );
        let body = std::fs::read(path).expect("shared data present");
        let text = decode_html(&body, Some("text/html"));
        assert!(text.contains("income property\u{2014}Investors"));
        assert!(text.contains("Je parle le Fran\u{e7}ais"));
        assert!(!text.contains('\u{fffd}'));
    }

    #[test]
    fn http_charset_wins_over_meta_and_sniffing() {
        let body = b"<meta charset=\"utf-8\"><p>\xe9t\xe9</p>";
        assert_eq!(
            decode_html(body, Some("text/html; charset=ISO-8859-1")),
            "<meta charset=\"utf-8\"><p>\u{e9}t\u{e9}</p>"
        );
        assert_eq!(
            decode_html(body, Some("text/html;charset=\"latin1\"")),
            "<meta charset=\"utf-8\"><p>\u{e9}t\u{e9}</p>"
        );
    }

    #[test]
    fn meta_charset_forms_are_recognised() {
        let short = b"<html><head><META CHARSET='windows-1252'></head><body>\x93hi\x94</body>";
        assert!(decode_html(short, None).contains("\u{201c}hi\u{201d}"));
        let http_equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><b>\xfc</b>";
        assert!(decode_html(http_equiv, Some("text/html")).ends_with("<b>\u{fc}</b>"));
        // A meta declaration that claims UTF-16 is read as UTF-8 (WHATWG rule).
        let utf16_claim = "<meta charset=utf-16><p>\u{e9}</p>".as_bytes();
        assert_eq!(
            decode_html(utf16_claim, None),
            "<meta charset=utf-16><p>\u{e9}</p>"
        );
    }

    #[test]
    fn unknown_labels_are_ignored() {
        let body = "<meta charset=\"no-such-encoding\"><p>\u{e9}</p>".as_bytes();
        assert_eq!(
            decode_html(body, Some("text/html; charset=bogus")),
            "<meta charset=\"no-such-encoding\"><p>\u{e9}</p>"
        );
    }

    #[test]
    fn valid_utf8_without_declaration_stays_utf8() {
        let text = "Top-Floor FiDi 1BR + Home Office \u{2013} Private Terrace";
        assert_eq!(decode_html(text.as_bytes(), None), text);
    }

    #[test]
    fn a_bom_overrides_labels() {
        let mut body = vec![0xEF, 0xBB, 0xBF];
        body.extend_from_slice("caf\u{e9}".as_bytes());
        assert_eq!(
            decode_html(&body, Some("text/html; charset=windows-1252")),
            "caf\u{e9}"
        );
    }

    #[test]
    fn declared_utf8_with_bad_bytes_uses_replacement_characters() {
        assert_eq!(
            decode_html(b"a\xffb", Some("text/html; charset=utf-8")),
            "a\u{fffd}b"
        );
    }

    #[test]
    fn charset_labels_are_parsed_leniently() {
        assert_eq!(
            charset_label_after(b"text/html; Charset = \"UTF-8\""),
            Some(&b"UTF-8"[..])
        );
        assert_eq!(charset_label_after(b"text/html"), None);
        assert_eq!(charset_label_after(b"charset="), None);
        assert_eq!(find_ascii_ci(b"ab", b"abc"), None);
    }
}
