//! Recognising block pages: answers that refuse us (a captcha, "access denied", "your request has been
//! blocked") rather than carry data. The crawler treats them as a signal to back off from the host,
//! never as a page to parse.

/// Bodies of a successful (2xx) answer longer than this are real pages even if they mention a
/// captcha (a posting's reply form may); block pages are short.
const TINY_BODY: usize = 16 * 1024;

/// Only the start of an error page is searched: the marker is in the title or the first paragraph.
const SEARCHED_PREFIX: usize = 64 * 1024;

/// Phrases of block and challenge pages from the common bot shields (Craigslist's own, Cloudflare,
/// PerimeterX, Distil, Incapsula, Akamai), lower case.
const MARKERS: &[&str] = &[
    "<title>blocked</title>",
    "your request has been blocked",
    "captcha",
    "access denied",
    "access to this page has been denied",
    "are you a robot",
    "are you a human",
    "verify you are human",
    "unusual traffic",
    "pardon our interruption",
    "attention required",
    "request unsuccessful. incapsula",
    "cf-chl",
];

/// Whether an answer with `status` and `body` is a block page.
///
/// 403, 429 and 503 answers are block pages when they carry a marker; 2xx answers only when they are
/// also tiny (a full page that mentions a captcha is still a page). Other statuses are never block
/// pages: a 404 is a deleted posting, a 500 a failure of the site.
pub fn is_block_page(status: u16, body: &str) -> bool {
    let searched = match status {
        403 | 429 | 503 => prefix(body, SEARCHED_PREFIX),
        200..=299 if body.len() <= TINY_BODY => body,
        _ => return false,
    };
    let lower = searched.to_ascii_lowercase();
    MARKERS.iter().any(|marker| lower.contains(marker))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRAIGSLIST_BLOCKED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/html/craigslist/cl_2022_blocked_response.html"
    ));
    const CRAIGSLIST_POSTING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/html/craigslist/cl_2026_post_apa_milwaukee_7936415355.html"
    ));

    #[test]
    fn craigslist_block_page_is_recognised_under_any_blocking_status() {
        for status in [200, 403, 429, 503] {
            assert!(is_block_page(status, CRAIGSLIST_BLOCKED), "{status}");
        }
    }

    #[test]
    fn real_pages_and_plain_errors_are_not_block_pages() {
        assert!(!is_block_page(200, CRAIGSLIST_POSTING));
        assert!(!is_block_page(429, "Too Many Requests"));
        assert!(!is_block_page(
            404,
            "<title>blocked</title> this is a 404 page"
        ));
        let long_page_mentioning_captcha = format!("{}captcha", "x".repeat(TINY_BODY));
        assert!(!is_block_page(200, &long_page_mentioning_captcha));
        assert!(is_block_page(403, &long_page_mentioning_captcha));
    }

    #[test]
    fn challenge_pages_of_common_shields_are_recognised() {
        let cloudflare =
            "<html><head><title>Attention Required! | Cloudflare</title></head></html>";
        let perimeterx =
            r#"<div id="px-captcha"></div><p>Press & Hold to confirm you are a human</p>"#;
        assert!(is_block_page(403, cloudflare));
        assert!(is_block_page(200, perimeterx));
    }

    #[test]
    fn prefix_never_splits_a_character() {
        let text = "é".repeat(10);
        assert_eq!(prefix(&text, 5), "éé");
        assert_eq!(prefix(&text, 100), text);
    }
}
