//! Finding JSON objects inside a large page by text search, without parsing the page.
//!
//! Facebook's item and search pages are 2-3 MB of markup and inline Relay payloads. The listing
//! objects are found by searching for their `{"__typename":"…ProductItem"` opening and cutting the
//! balanced object that starts there; only that slice goes through serde_json.

use memchr::memmem;

/// Byte ranges of every object that opens with `{"__typename":"<T>"` where `T` satisfies `wanted`,
/// in page order. An object that is cut short (a truncated page) is left out.
pub(super) fn typed_objects(body: &str, wanted: impl Fn(&str) -> bool) -> Vec<&str> {
    const OPENING: &[u8] = b"{\"__typename\":\"";
    let bytes = body.as_bytes();
    let mut objects = Vec::new();
    let mut from = 0;
    for start in memmem::find_iter(bytes, OPENING) {
        // Nested openings inside an object already taken are that object's own parts.
        if start < from {
            continue;
        }
        let name_start = start + OPENING.len();
        let Some(name_len) = memchr::memchr(b'"', &bytes[name_start..]) else {
            break;
        };
        let Some(typename) = body.get(name_start..name_start + name_len) else {
            continue;
        };
        if !wanted(typename) {
            continue;
        }
        if let Some(end) = balanced_end(bytes, start)
            && let Some(object) = body.get(start..end)
        {
            objects.push(object);
            from = end;
        }
    }
    objects
}

/// The object value of every `"key":{…}` in `body`, in page order.
pub(super) fn keyed_objects<'a>(body: &'a str, key: &str) -> Vec<&'a str> {
    let needle = format!("\"{key}\":{{");
    let bytes = body.as_bytes();
    memmem::find_iter(bytes, needle.as_bytes())
        .filter_map(|at| {
            let start = at + needle.len() - 1;
            let end = balanced_end(bytes, start)?;
            body.get(start..end)
        })
        .collect()
}

/// Every rendered item card: the item id from its `<a href=".../marketplace/item/<id>/...">` link
/// and the texts of the card's innermost `<span>`s, in order. One entry per id (the first link).
pub(super) fn rendered_cards(body: &str) -> Vec<(&str, Vec<&str>)> {
    const LINK: &[u8] = b"/marketplace/item/";
    let bytes = body.as_bytes();
    let mut cards: Vec<(&str, Vec<&str>)> = Vec::new();
    for at in memmem::find_iter(bytes, LINK) {
        // Only links in markup (`href="…`), not URLs inside JSON strings.
        // A card link's tag is a few hundred bytes of classes; looking back further is pointless.
        let window_start = at.saturating_sub(4096);
        let Some(tag_start) = memchr::memrchr(b'<', &bytes[window_start..at]) else {
            continue;
        };
        let Some(tag) = body.get(window_start + tag_start..at) else {
            continue;
        };
        let link_in_markup = tag.starts_with("<a ")
            && !tag.contains('>')
            && (tag.ends_with("href=\"") || tag.ends_with("facebook.com"));
        if !link_in_markup {
            continue;
        }
        let id_start = at + LINK.len();
        let id_len = bytes[id_start..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let Some(id) = body
            .get(id_start..id_start + id_len)
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        if cards.iter().any(|(seen, _)| *seen == id) {
            continue;
        }
        let Some(end) = memmem::find(&bytes[id_start..], b"</a>") else {
            continue;
        };
        let Some(anchor) = body.get(id_start..id_start + end) else {
            continue;
        };
        cards.push((id, span_texts(anchor)));
    }
    cards
}

/// Texts directly closed by `</span>` (`>text</span>`), in order.
fn span_texts(markup: &str) -> Vec<&str> {
    markup
        .split("</span>")
        .filter_map(|part| part.rsplit_once('>').map(|(_, text)| text))
        .filter(|text| !text.trim().is_empty() && !text.contains('<'))
        .collect()
}

/// The index just past the JSON object or array that opens at `start`, or `None` when the text ends
/// first. Strings (with escapes) are skipped so that braces inside them do not count.
pub(super) fn balanced_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.get(start..)?.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(start + offset + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_cut_whole_and_strings_do_not_confuse_the_count() {
        let body = r#"x {"__typename":"ProductItem","title":"a } b {","n":{"k":[1,{"m":2}]}} y {"__typename":"User","id":"1"} {"__typename":"GroupCommerceProductItem","id":"2""#;
        let found = typed_objects(body, |name| name.ends_with("ProductItem"));
        assert_eq!(
            found,
            vec![r#"{"__typename":"ProductItem","title":"a } b {","n":{"k":[1,{"m":2}]}}"#]
        );
    }

    #[test]
    fn escaped_quotes_stay_inside_strings() {
        let body = r#"{"a":"say \"}\" here","b":1} tail"#;
        assert_eq!(balanced_end(body.as_bytes(), 0), Some(body.len() - 5));
    }

    #[test]
    fn keyed_objects_are_found_by_key() {
        let body = r#"{"page":{"x":1},"other":2,"page":{"y":{"z":3}}}"#;
        assert_eq!(
            keyed_objects(body, "page"),
            vec![r#"{"x":1}"#, r#"{"y":{"z":3}}"#]
        );
    }
}
