//! Small pieces shared by the Craigslist posting and search parsers: text rendering, splitting the
//! compact "1br - 750ft2" notations, the attribute vocabulary, categories, JSON-LD and URL helpers.

use std::sync::LazyLock;

use aiq_schemas::RawListing;
use ego_tree::iter::Edge;
use regex::Regex;
use scraper::{ElementRef, Node};
use serde_json::Value;
use url::Url;

use crate::util::json::text_or_bool;

/// Collapse every run of whitespace to one space and trim, as a browser renders inline text.
pub(super) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The element's text as one line.
pub(super) fn inline_text(element: ElementRef<'_>) -> String {
    let mut raw = String::new();
    for piece in element.text() {
        raw.push_str(piece);
    }
    collapse_whitespace(&raw)
}

/// `Some(text)` unless blank.
pub(super) fn non_empty(text: String) -> Option<String> {
    if text.trim().is_empty() {
        None
    } else {
        Some(text)
    }
}

/// Render an element's text the way the page shows it: whitespace inside text collapses, `<br>` and
/// block element boundaries break lines, blank-line runs shrink to one. Descendants for which `skip` is true
/// are left out (the "QR Code Link to This Post" print box). Iterative, so hostile nesting depth
/// cannot overflow the stack.
pub(super) fn block_text(
    element: ElementRef<'_>,
    skip: impl Fn(&scraper::node::Element) -> bool,
) -> String {
    let mut out = String::new();
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in element.traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => push_collapsed(&mut out, text),
                    Node::Element(el) if node.id() != element.id() && skip(el) => {
                        skipping = Some(node.id())
                    }
                    Node::Element(el) if el.name() == "br" => out.push('\n'),
                    Node::Element(el) if is_block(el.name()) => break_line(&mut out),
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                } else if skipping.is_none()
                    && let Node::Element(el) = node.value()
                    && is_block(el.name())
                {
                    break_line(&mut out);
                }
            }
        }
    }
    tidy_lines(&out)
}

/// Start a new line unless already at one: a block boundary is one line break however many
/// elements open or close there (`<br>` always adds one, so `<br><br>` still makes a blank line).
pub(super) fn break_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// The block elements that break lines. The DOM-free body renderer ([`super::body`]) uses this same
/// list, so both render a body alike.
pub(super) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "section"
            | "blockquote"
    )
}

/// Append text with whitespace runs collapsed to single spaces (newlines in the source are not line
/// breaks in HTML).
pub(super) fn push_collapsed(out: &mut String, text: &str) {
    let at_break = out.is_empty() || out.ends_with(' ') || out.ends_with('\n');
    if !at_break && text.starts_with(char::is_whitespace) {
        out.push(' ');
    }
    let mut words = text.split_whitespace();
    if let Some(first) = words.next() {
        out.push_str(first);
        for word in words {
            out.push(' ');
            out.push_str(word);
        }
        if text.ends_with(char::is_whitespace) {
            out.push(' ');
        }
    }
}

/// Trim every line and keep at most one blank line between paragraphs.
pub(super) fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        blank_run = 0;
    }
    out
}

/// Strip one pair of surrounding parentheses: `" (Dania Beach)"` -> `"Dania Beach"`.
pub(super) fn strip_parens(text: &str) -> String {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(trimmed);
    collapse_whitespace(inner)
}

/// Split the housing notation `"/ 1br - 750ft2 - "` into bedrooms (`"1br"`) and area (`"750ft2"`).
pub(super) fn split_housing(text: &str) -> (Option<String>, Option<String>) {
    let mut bedrooms = None;
    let mut area = None;
    for token in text
        .split(['-', '/'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let token = collapse_whitespace(token);
        if bedrooms.is_none() && is_bedroom_token(&token) {
            bedrooms = Some(token);
        } else if area.is_none() && is_area_token(&token) {
            area = Some(token);
        }
    }
    (bedrooms, area)
}

/// Split the attribute bubble `"1BR / 1Ba"` into bedrooms and bathrooms.
pub(super) fn split_beds_baths(text: &str) -> (Option<String>, Option<String>) {
    let mut bedrooms = None;
    let mut bathrooms = None;
    for token in text.split('/').map(str::trim).filter(|t| !t.is_empty()) {
        let lower = token.to_ascii_lowercase();
        if bedrooms.is_none() && is_bedroom_token(token) {
            bedrooms = Some(collapse_whitespace(token));
        } else if bathrooms.is_none() && starts_with_number(token) && lower.ends_with("ba") {
            bathrooms = Some(collapse_whitespace(token));
        }
    }
    (bedrooms, bathrooms)
}

pub(super) fn is_bedroom_token(token: &str) -> bool {
    starts_with_number(token) && token.to_ascii_lowercase().ends_with("br")
}

pub(super) fn is_area_token(token: &str) -> bool {
    starts_with_number(token) && token.to_ascii_lowercase().contains("ft")
}

fn starts_with_number(token: &str) -> bool {
    token.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// The parts of an old-style heading such as `"$189900 / 4br - Investment Property -"`.
#[derive(Debug, Default, PartialEq)]
pub(super) struct HeadingParts {
    pub(super) price: Option<String>,
    pub(super) bedrooms: Option<String>,
    pub(super) title: String,
}

/// Split the `"$price / Nbr - title -"` heading used by 2009 search rows and posting titles. Rows
/// without a leading price (`"Design Place - ... $900/month -"`) keep their whole text as title.
pub(super) fn split_heading(text: &str) -> HeadingParts {
    let mut rest = collapse_whitespace(text);
    while rest.ends_with('-') {
        rest.pop();
        rest.truncate(rest.trim_end().len());
    }
    let mut parts = HeadingParts::default();
    let mut remaining = rest.as_str();
    if let Some(after_dollar) = remaining.strip_prefix('$') {
        let end = after_dollar
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(after_dollar.len());
        let amount = &after_dollar[..end];
        if !amount.is_empty()
            && amount
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        {
            parts.price = Some(format!("${amount}"));
            remaining = after_dollar[end..].trim_start();
        }
    }
    if let Some(after_slash) = remaining.strip_prefix('/') {
        let after_slash = after_slash.trim_start();
        let end = after_slash
            .find(char::is_whitespace)
            .unwrap_or(after_slash.len());
        if is_bedroom_token(&after_slash[..end]) {
            parts.bedrooms = Some(after_slash[..end].to_owned());
            remaining = after_slash[end..].trim_start();
        } else {
            remaining = after_slash;
        }
    }
    if parts.price.is_some() || parts.bedrooms.is_some() {
        remaining = remaining
            .strip_prefix('-')
            .unwrap_or(remaining)
            .trim_start();
    }
    parts.title = remaining.trim().to_owned();
    parts
}

/// Where a posting attribute goes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AttributeSlot {
    /// The housing type ("apartment", "house"...), which is `RawListing::property_type`.
    PropertyType,
    /// An `extra` key.
    Extra(&'static str),
}

/// Craigslist's fixed housing attribute vocabulary (the options of its posting form), lower case.
const HOUSING_TYPES: [&str; 12] = [
    "apartment",
    "condo",
    "cottage/cabin",
    "duplex",
    "flat",
    "house",
    "in-law",
    "loft",
    "townhouse",
    "manufactured",
    "assisted living",
    "land",
];
const LAUNDRY: [&str; 5] = [
    "w/d in unit",
    "w/d hookups",
    "laundry in bldg",
    "laundry on site",
    "no laundry on site",
];
const PARKING: [&str; 7] = [
    "carport",
    "attached garage",
    "detached garage",
    "off-street parking",
    "street parking",
    "valet parking",
    "no parking",
];
const FLAGS: [(&str, &str); 7] = [
    ("cats are ok - purrr", "pets_cat"),
    ("dogs are ok - wooof", "pets_dog"),
    ("furnished", "furnished"),
    ("no smoking", "no_smoking"),
    ("wheelchair accessible", "wheelchair_accessible"),
    ("air conditioning", "air_conditioning"),
    ("ev charging", "ev_charging"),
];

/// Place a bare attribute such as "w/d in unit" by Craigslist's vocabulary.
pub(super) fn classify_attribute(text: &str) -> Option<AttributeSlot> {
    let lower = text.to_lowercase();
    if HOUSING_TYPES.contains(&lower.as_str()) {
        return Some(AttributeSlot::PropertyType);
    }
    if LAUNDRY.contains(&lower.as_str()) {
        return Some(AttributeSlot::Extra("laundry"));
    }
    if PARKING.contains(&lower.as_str()) {
        return Some(AttributeSlot::Extra("parking"));
    }
    FLAGS
        .iter()
        .find(|(flag, _)| *flag == lower)
        .map(|(_, key)| AttributeSlot::Extra(key))
}

/// Place an attribute by the search parameter its link uses in the 2026 markup
/// (`/search/apa?laundry=4`).
pub(super) fn slot_for_search_parameter(parameter: &str) -> AttributeSlot {
    match parameter {
        "housing_type" => AttributeSlot::PropertyType,
        "laundry" => AttributeSlot::Extra("laundry"),
        "parking" => AttributeSlot::Extra("parking"),
        "pets_cat" => AttributeSlot::Extra("pets_cat"),
        "pets_dog" => AttributeSlot::Extra("pets_dog"),
        "is_furnished" => AttributeSlot::Extra("furnished"),
        "no_smoking" => AttributeSlot::Extra("no_smoking"),
        "wheelchaccess" => AttributeSlot::Extra("wheelchair_accessible"),
        "airconditioning" => AttributeSlot::Extra("air_conditioning"),
        "ev_charging" => AttributeSlot::Extra("ev_charging"),
        "rent_period" => AttributeSlot::Extra("rent_period"),
        _ => AttributeSlot::Extra("other_attributes"),
    }
}

/// A label such as `"rent period:"` as an `extra` key: `"rent_period"`.
pub(super) fn snake_key(label: &str) -> String {
    let mut key = String::with_capacity(label.len());
    for ch in label.trim().trim_end_matches(':').chars() {
        if ch.is_alphanumeric() {
            key.extend(ch.to_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    while key.ends_with('_') {
        key.pop();
    }
    key
}

/// Craigslist housing category codes this connector knows. Subarea codes (`nat`, `brw`, `mnh`) are
/// also three letters, so a path segment only counts as a category when it is in this list.
const HOUSING_CATEGORIES: [&str; 17] = [
    "apa", "hhh", "roo", "sub", "vac", "prk", "off", "swp", "rea", "reb", "reo", "hou", "rew",
    "sha", "sbw", "hsw", "rts",
];

/// The housing category a Craigslist URL points into: the `cat` query parameter
/// (`/search/subarea/mnh?cat=apa`) or the last known category segment of the path
/// (`/nat/apa/d/slug/7501755803.html`, `/search/nat/apa`, `/brw/reb/1131242195.html`).
pub(super) fn category_in_url(url: &Url) -> Option<&'static str> {
    let from_query = url
        .query_pairs()
        .find(|(name, _)| name == "cat")
        .and_then(|(_, value)| known_category(&value));
    from_query.or_else(|| url.path_segments()?.rev().find_map(known_category))
}

fn known_category(segment: &str) -> Option<&'static str> {
    HOUSING_CATEGORIES
        .iter()
        .copied()
        .find(|category| *category == segment)
}

/// Rent or sale, from the category: apartments, rooms, sublets, vacation rentals and parking are
/// let; the real-estate categories sell.
pub(super) fn listing_kind_for(category: &str) -> Option<&'static str> {
    match category {
        "apa" | "hhh" | "roo" | "sub" | "vac" | "prk" => Some("rent"),
        "rea" | "reb" | "reo" => Some("sale"),
        _ => None,
    }
}

/// The posting id in a posting URL: digits of `.../7501755803.html`, or the opaque last segment of the
/// 2025 `/view/d/slug/mfYChGx8GdfQTDbasSzkQq` links (also `.../lqQX5Lls8RGFG_5gwHiFcQ`).
pub(super) fn post_id_in_url(url: &Url) -> Option<String> {
    let last = url
        .path_segments()?
        .rev()
        .find(|segment| !segment.is_empty())?;
    let stem = last.strip_suffix(".html").unwrap_or(last);
    // The opaque ids are base64url: letters, digits, `_` and `-`.
    let is_id = stem.len() >= 6
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let is_posting = stem.chars().all(|c| c.is_ascii_digit()) || url.path().contains("/d/");
    (is_id && is_posting).then(|| stem.to_owned())
}

/// Resolve a possibly relative link; `None` for empty links, fragments and unparsable values.
pub(super) fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') || href.starts_with("javascript:") {
        return None;
    }
    base.join(href).ok()
}

/// Fill `slot` only when it is still empty: the page markup is preferred, JSON-LD fills the gaps.
pub(super) fn fill(slot: &mut Option<String>, value: Option<String>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// Copy what a schema.org `Apartment`/`House` object says into the listing, without overwriting
/// what the markup already gave.
pub(super) fn apply_json_ld_item(listing: &mut RawListing, item: &Value) {
    fill(&mut listing.title, text_or_bool(item.get("name")));
    fill(&mut listing.latitude, text_or_bool(item.get("latitude")));
    fill(&mut listing.longitude, text_or_bool(item.get("longitude")));
    fill(
        &mut listing.bedrooms_total,
        text_or_bool(item.get("numberOfBedrooms")),
    );
    fill(
        &mut listing.bathrooms_total,
        text_or_bool(item.get("numberOfBathroomsTotal")),
    );
    if let Some(geo) = item.get("geo") {
        fill(&mut listing.latitude, text_or_bool(geo.get("latitude")));
        fill(&mut listing.longitude, text_or_bool(geo.get("longitude")));
    }
    fill(&mut listing.property_type, text_or_bool(item.get("@type")));
    if let Some(address) = item.get("address") {
        fill(
            &mut listing.street_address,
            text_or_bool(address.get("streetAddress")),
        );
        fill(
            &mut listing.city,
            text_or_bool(address.get("addressLocality")),
        );
        fill(
            &mut listing.state_or_province,
            text_or_bool(address.get("addressRegion")),
        );
        fill(
            &mut listing.postal_code,
            text_or_bool(address.get("postalCode")),
        );
        if let Some(country) = text_or_bool(address.get("addressCountry")) {
            set_extra(listing, "country", country);
        }
    }
}

/// Set an `extra` attribute unless one is already there.
pub(super) fn set_extra(listing: &mut RawListing, key: &str, value: String) {
    listing
        .extra
        .entry(key.to_owned())
        .or_insert(Value::String(value));
}

/// Add a value to a `"; "`-separated `extra` attribute (for attributes the vocabulary does not know).
pub(super) fn append_extra(listing: &mut RawListing, key: &str, value: String) {
    match listing.extra.get_mut(key) {
        Some(Value::String(existing)) => {
            existing.push_str("; ");
            existing.push_str(&value);
        }
        _ => {
            listing.extra.insert(key.to_owned(), Value::String(value));
        }
    }
}

/// Byte offset of `needle` in `haystack`. `memchr`'s SIMD search: `str::find` is several times slower
/// and the posting hot path scans whole pages for a handful of markers.
pub(super) fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// The JSON inside `<script ... id="{id}">...</script>`, found by scanning rather than parsing the
/// whole document (the hot path never builds a DOM of the `<head>`). Malformed JSON is ignored.
pub(super) fn script_json(html: &str, id: &str) -> Option<Value> {
    let marker = format!("id=\"{id}\"");
    let at = find(html, &marker)?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</script")?;
    match serde_json::from_str(&html[open_end..close]) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::debug!(script = id, %error, "Ignoring malformed JSON-LD on a Craigslist page.");
            None
        }
    }
}

/// The category named by a `ld_breadcrumb_data` list: the last crumb linking to a search in a
/// known category. Both 2022 (`item: {"@id": url}`) and 2026 (`item: url`) shapes are read.
pub(super) fn category_in_breadcrumbs(breadcrumbs: &Value) -> Option<&'static str> {
    let crumbs = breadcrumbs.get("itemListElement")?.as_array()?;
    crumbs.iter().rev().find_map(|crumb| {
        let item = crumb.get("item")?;
        let link = item.as_str().or_else(|| item.get("@id")?.as_str())?;
        category_in_url(&Url::parse(link).ok()?)
    })
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    // ASCII classes and word boundaries: Unicode `\b` makes the regex engine fall back to its slow
    // path on any non-ASCII text, which most descriptions contain.
    Regex::new(r"(?-u:(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\b\d{3}[ .-]?)\d{3}[ .-]\d{4}\b)")
        .expect("phone pattern is valid")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b)")
        .expect("email pattern is valid")
});

/// The first North American phone number written in `text`, as written.
pub(super) fn find_phone(text: &str) -> Option<String> {
    PHONE
        .find(text)
        .map(|found| found.as_str().trim().to_owned())
}

/// The first e-mail address written in `text`.
pub(super) fn find_email(text: &str) -> Option<String> {
    if !text.contains('@') {
        return None;
    }
    EMAIL.find(text).map(|found| found.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn housing_notation_splits_into_bedrooms_and_area() {
        assert_eq!(
            split_housing("/ 1br - 750ft2 - "),
            (Some("1br".into()), Some("750ft2".into()))
        );
        assert_eq!(split_housing("/ 4br - "), (Some("4br".into()), None));
        assert_eq!(split_housing("551ft2 -"), (None, Some("551ft2".into())));
        assert_eq!(split_housing(""), (None, None));
    }

    #[test]
    fn beds_baths_bubble_splits() {
        assert_eq!(
            split_beds_baths("1BR / 1Ba"),
            (Some("1BR".into()), Some("1Ba".into()))
        );
        assert_eq!(
            split_beds_baths("0BR / 1.5Ba"),
            (Some("0BR".into()), Some("1.5Ba".into()))
        );
        assert_eq!(split_beds_baths("available jun 27"), (None, None));
    }

    #[test]
    fn old_headings_split_into_price_bedrooms_title() {
        let full = split_heading("$800 / 1br - COTTAGE FOR RENT ALL UTILITIES INCLUDED -");
        assert_eq!(full.price.as_deref(), Some("$800"));
        assert_eq!(full.bedrooms.as_deref(), Some("1br"));
        assert_eq!(full.title, "COTTAGE FOR RENT ALL UTILITIES INCLUDED");
        let no_beds = split_heading("$1465 Icon Brickell 674 Sq. Ft. See Now 786-877-6201 -");
        assert_eq!(no_beds.price.as_deref(), Some("$1465"));
        assert_eq!(no_beds.bedrooms, None);
        assert_eq!(
            no_beds.title,
            "Icon Brickell 674 Sq. Ft. See Now 786-877-6201"
        );
        let no_price =
            split_heading("Design Place- Suburban Living in the Heart of Miami $900/month -");
        assert_eq!(no_price.price, None);
        assert_eq!(
            no_price.title,
            "Design Place- Suburban Living in the Heart of Miami $900/month"
        );
        assert_eq!(split_heading("$ -").title, "$");
        assert_eq!(split_heading("-").title, "");
    }

    #[test]
    fn attributes_follow_the_vocabulary() {
        assert_eq!(
            classify_attribute("apartment"),
            Some(AttributeSlot::PropertyType)
        );
        assert_eq!(
            classify_attribute("w/d in unit"),
            Some(AttributeSlot::Extra("laundry"))
        );
        assert_eq!(
            classify_attribute("carport"),
            Some(AttributeSlot::Extra("parking"))
        );
        assert_eq!(
            classify_attribute("cats are OK - purrr"),
            Some(AttributeSlot::Extra("pets_cat"))
        );
        assert_eq!(classify_attribute("something new"), None);
        assert_eq!(snake_key("rent period:"), "rent_period");
        assert_eq!(
            snake_key("application fee details:"),
            "application_fee_details"
        );
    }

    #[test]
    fn categories_and_kinds_come_from_urls() {
        let url = |s: &str| Url::parse(s).expect("test URL");
        assert_eq!(
            category_in_url(&url(
                "https://atlanta.craigslist.org/nat/apa/d/x/7501755803.html"
            )),
            Some("apa")
        );
        assert_eq!(
            category_in_url(&url(
                "https://www.craigslist.org/search/subarea/mnh?cat=apa"
            )),
            Some("apa")
        );
        assert_eq!(
            category_in_url(&url("http://miami.craigslist.org/brw/reb/1131242195.html")),
            Some("reb")
        );
        assert_eq!(
            category_in_url(&url("https://charleston.craigslist.org/cto/")),
            None
        );
        assert_eq!(listing_kind_for("apa"), Some("rent"));
        assert_eq!(listing_kind_for("reo"), Some("sale"));
        assert_eq!(listing_kind_for("hou"), None);
        assert_eq!(
            post_id_in_url(&url("https://x.craigslist.org/apa/d/slug/7936415355.html")).as_deref(),
            Some("7936415355")
        );
        assert_eq!(
            post_id_in_url(&url(
                "https://www.craigslist.org/view/d/new-york-real/mfYChGx8GdfQTDbasSzkQq"
            ))
            .as_deref(),
            Some("mfYChGx8GdfQTDbasSzkQq")
        );
        assert_eq!(
            post_id_in_url(&url(
                "https://www.craigslist.org/view/d/new-york-cozy/4mk_Ee1k8RGnO5-kAiTQUQ"
            ))
            .as_deref(),
            Some("4mk_Ee1k8RGnO5-kAiTQUQ")
        );
        assert_eq!(
            post_id_in_url(&url("https://www.craigslist.org/search/apa")),
            None
        );
    }

    #[test]
    fn contacts_are_found_in_text() {
        assert_eq!(
            find_phone("Blaunch can be reached at 954-593-0077. For").as_deref(),
            Some("954-593-0077")
        );
        assert_eq!(
            find_phone("call (312) 555-0100 now").as_deref(),
            Some("(312) 555-0100")
        );
        assert_eq!(find_phone("post id 7501755803, zip 60660, $1,606"), None);
        assert_eq!(
            find_email("mail 1971CJS@Bellsouth.net today").as_deref(),
            Some("1971CJS@Bellsouth.net")
        );
    }

    #[test]
    fn malformed_json_ld_is_ignored() {
        let page = r#"<script type="application/ld+json" id="ld_posting_data">{"name": </script>"#;
        assert_eq!(script_json(page, "ld_posting_data"), None);
        let page =
            r#"<script type="application/ld+json" id="ld_posting_data" >{"name":"x"}</script>"#;
        assert_eq!(
            script_json(page, "ld_posting_data"),
            Some(serde_json::json!({"name": "x"}))
        );
        assert_eq!(
            script_json("<script id=\"ld_posting_data\"", "ld_posting_data"),
            None
        );
    }

    #[test]
    fn lines_are_tidied() {
        assert_eq!(tidy_lines("  a \n\n\n\n b\nc  \n"), "a\n\nb\nc");
        assert_eq!(
            strip_parens(" (Vancouver burnaby/newwest )"),
            "Vancouver burnaby/newwest"
        );
    }
}
