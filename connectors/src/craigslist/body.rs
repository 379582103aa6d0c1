//! Posting body HTML to text without building a DOM.
//!
//! Why: the body is the largest part of a posting (up to ~6 KB of the ~8 KB the posting parser reads)
//! and html5ever costs about 12 microseconds per KB. Bodies are flat text with `<br>`, a few inline
//! and list tags and character references, so one linear scan renders them exactly as
//! [`super::fields::block_text`] renders the parsed DOM (a unit test checks this on every saved
//! page), in a fraction of the time.

use markup5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

use super::fields::{break_line, is_block, push_collapsed, tidy_lines};

/// Render body HTML: text with whitespace collapsed, `<br>` and block tags as line breaks, comments,
/// `<script>`/`<style>` and any `<div>` whose class contains `skip_class` (with everything inside it)
/// left out, character references decoded.
pub(super) fn render(html: &str, skip_class: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut text = String::new();
    let bytes = html.as_bytes();
    let mut at = 0;
    while at < html.len() {
        let Some(lt) = memchr::memchr(b'<', &bytes[at..]).map(|offset| at + offset) else {
            flush_text(&mut out, &mut text, &html[at..]);
            break;
        };
        flush_text(&mut out, &mut text, &html[at..lt]);
        if html[lt..].starts_with("<!--") {
            at = html[lt + 4..]
                .find("-->")
                .map_or(html.len(), |end| lt + 4 + end + 3);
            continue;
        }
        let Some(tag) = Tag::read(html, lt) else {
            // A `<` that does not open a tag is text.
            push_collapsed(&mut out, "<");
            at = lt + 1;
            continue;
        };
        at = tag.end;
        if tag.closing {
            // `</br>` is a line break too (the HTML parser treats it as `<br>`).
            if tag.name == "br" {
                out.push('\n');
            } else if is_block(tag.name) {
                break_line(&mut out);
            }
            continue;
        }
        match tag.name {
            "br" => out.push('\n'),
            "script" | "style" => at = skip_raw_text(html, at, tag.name),
            "div" if tag.has_class(skip_class) => at = skip_element(html, at, "div"),
            name if is_block(name) => break_line(&mut out),
            _ => {}
        }
    }
    tidy_lines(&out)
}

fn flush_text(out: &mut String, scratch: &mut String, raw: &str) {
    if raw.is_empty() {
        return;
    }
    if raw.contains('&') {
        scratch.clear();
        decode_references(raw, scratch);
        push_collapsed(out, scratch);
    } else {
        push_collapsed(out, raw);
    }
}

/// One start or end tag.
struct Tag<'a> {
    /// Lower-case ASCII name; tags with other names are returned as `"other"`.
    name: &'a str,
    closing: bool,
    /// Attribute text between the name and `>`.
    attributes: &'a str,
    /// Byte offset just past the `>`.
    end: usize,
}

impl<'a> Tag<'a> {
    /// Read the tag starting at `html[lt] == '<'`; `None` when this `<` does not start a tag.
    fn read(html: &'a str, lt: usize) -> Option<Tag<'a>> {
        let bytes = html.as_bytes();
        let mut at = lt + 1;
        let closing = bytes.get(at) == Some(&b'/');
        if closing {
            at += 1;
        }
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let name_start = at;
        while bytes.get(at).is_some_and(|b| b.is_ascii_alphanumeric()) {
            at += 1;
        }
        let raw_name = &html[name_start..at];
        let attributes_start = at;
        // Find the closing `>` outside quoted attribute values.
        let mut quote: Option<u8> = None;
        while let Some(&byte) = bytes.get(at) {
            match (quote, byte) {
                (Some(open), b) if b == open => quote = None,
                (None, b'"' | b'\'') => quote = Some(byte),
                (None, b'>') => break,
                _ => {}
            }
            at += 1;
        }
        let attributes = &html[attributes_start..at.min(html.len())];
        let end = (at + 1).min(html.len());
        Some(Tag {
            name: known_name(raw_name),
            closing,
            attributes,
            end,
        })
    }

    fn has_class(&self, class: &str) -> bool {
        let Some(at) = self.attributes.find("class=") else {
            return false;
        };
        let value = &self.attributes[at + "class=".len()..];
        let value = match value.as_bytes().first() {
            Some(&quote @ (b'"' | b'\'')) => {
                let inner = &value[1..];
                &inner[..inner.find(quote as char).unwrap_or(inner.len())]
            }
            _ => {
                &value[..value
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(value.len())]
            }
        };
        value.split_whitespace().any(|name| name == class)
    }
}

/// The tag names this renderer acts on, matched case-insensitively without allocating.
fn known_name(raw: &str) -> &'static str {
    const NAMES: [&str; 18] = [
        "br",
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "blockquote",
        "script",
        "style",
    ];
    NAMES
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(raw))
        .unwrap_or("other")
}

/// Skip past `</name>` for raw-text elements.
fn skip_raw_text(html: &str, from: usize, name: &str) -> usize {
    let closing = format!("</{name}");
    let lower = &html[from..];
    match find_ascii_ci(lower, &closing) {
        Some(offset) => {
            let close_at = from + offset;
            html[close_at..]
                .find('>')
                .map_or(html.len(), |gt| close_at + gt + 1)
        }
        None => html.len(),
    }
}

/// Skip past the end tag matching an already-opened `name` element, counting nested ones.
fn skip_element(html: &str, from: usize, name: &'static str) -> usize {
    let mut depth = 1;
    let mut at = from;
    while let Some(offset) = memchr::memchr(b'<', &html.as_bytes()[at..]) {
        let lt = at + offset;
        match Tag::read(html, lt) {
            Some(tag) if tag.name == name => {
                depth += if tag.closing { -1 } else { 1 };
                at = tag.end;
                if depth == 0 {
                    return at;
                }
            }
            Some(tag) => at = tag.end,
            None => at = lt + 1,
        }
    }
    html.len()
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Decode character references in text content, following the HTML rules for text: `&name;`,
/// legacy names without `;` (`&amp`, `&nbsp`), `&#NNN;` and `&#xHH;` (with the Windows-1252
/// remapping of 0x80-0x9F); anything else stays literal.
fn decode_references(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match decode_one(after) {
            Some((decoded, consumed)) => {
                out.push_str(&decoded);
                rest = &after[consumed..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Decode the reference after an `&`; returns the text and how many bytes of `after` it used.
fn decode_one(after: &str) -> Option<(String, usize)> {
    if let Some(numeric) = after.strip_prefix('#') {
        let (digits, radix, prefix) = match numeric.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 2),
            None => (numeric, 10, 1),
        };
        let len = digits
            .bytes()
            .take_while(|b| (*b as char).is_digit(radix))
            .count();
        if len == 0 {
            return None;
        }
        let value = u32::from_str_radix(&digits[..len], radix).unwrap_or(u32::MAX);
        let semicolon = usize::from(digits[len..].starts_with(';'));
        return Some((numeric_char(value).to_string(), prefix + len + semicolon));
    }
    let name_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if name_len == 0 {
        return None;
    }
    if after[name_len..].starts_with(';')
        && let Some((first, second)) = named_entity(&after[..=name_len])
    {
        return Some((entity_text(first, second), name_len + 1));
    }
    // Legacy references without `;`: the longest known prefix.
    (1..=name_len.min(32)).rev().find_map(|len| {
        named_entity(&after[..len]).map(|(first, second)| (entity_text(first, second), len))
    })
}

/// The code points of a named reference. The table also lists every prefix of every name with code
/// point 0 (the tokenizer uses them to keep reading); those are not references.
fn named_entity(name: &str) -> Option<(u32, u32)> {
    NAMED_ENTITIES
        .get(name)
        .copied()
        .filter(|&(first, _)| first != 0)
}

fn numeric_char(value: u32) -> char {
    match value {
        0x80..=0x9F => C1_REPLACEMENTS[(value - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(value).unwrap_or('\u{fffd}')),
        0 => '\u{fffd}',
        _ => char::from_u32(value).unwrap_or('\u{fffd}'),
    }
}

fn entity_text(first: u32, second: u32) -> String {
    let mut text = String::new();
    text.extend(char::from_u32(first));
    if second != 0 {
        text.extend(char::from_u32(second));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_breaks_blocks_and_references() {
        let html = "Line one<br>\n<br>\nLine &amp; two &lt;3 &#39;x&#x27; &nbsp;caf&eacute; &hearts;<ul><li>a</li><li>b</li></ul>tail";
        assert_eq!(
            render(html, "print-information"),
            // `&nbsp;` is whitespace and collapses like any other.
            "Line one\n\nLine & two <3 'x' caf\u{e9} \u{2665}\na\nb\ntail"
        );
    }

    #[test]
    fn skips_the_print_box_comments_and_scripts() {
        let html = "<div class=\"print-information print-qrcode-container\"><p>QR Code Link to This Post</p>\
                    <div class=\"print-qrcode\" data-location=\"x\"></div></div>Body <!-- note --> text<script>var a = '<b>';</script>!";
        assert_eq!(render(html, "print-information"), "Body text!");
    }

    #[test]
    fn odd_input_is_text_not_a_panic() {
        assert_eq!(
            render("a < b & c &#; &zz; &#x110000; &#128;", "x"),
            "a < b & c &#; &zz; \u{fffd} \u{20ac}"
        );
        assert_eq!(
            render("&ampx &notit; &notin;", "x"),
            "&x \u{ac}it; \u{2209}"
        );
        assert_eq!(render("<div class=\"x\">never closed", "x"), "");
        assert_eq!(render("<b unterminated", "x"), "");
        assert_eq!(render("<!-- open comment", "x"), "");
        assert_eq!(render("", "x"), "");
    }
}
