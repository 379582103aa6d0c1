//! Posting pages: the current markup (2022 onwards) on a fast path, and the 2009 `userbody` markup.

use std::sync::LazyLock;

use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::fields::{
    AttributeSlot, append_extra, apply_json_ld_item, block_text, category_in_breadcrumbs,
    category_in_url, classify_attribute, collapse_whitespace, fill, find, find_email, find_phone,
    inline_text, is_area_token, listing_kind_for, non_empty, post_id_in_url, push_collapsed,
    resolve, script_json, set_extra, slot_for_search_parameter, snake_key, split_beds_baths,
    split_heading, split_housing, strip_parens, tidy_lines,
};
use crate::error::{Error, Result};

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector is valid CSS")
}

static TITLE_BOX: LazyLock<Selector> = LazyLock::new(|| selector(".postingtitle"));
static ATTRIBUTES_BOX: LazyLock<Selector> = LazyLock::new(|| selector(".mapAndAttrs"));
static INFOS_BOX: LazyLock<Selector> = LazyLock::new(|| selector(".postinginfos"));
static PRICE: LazyLock<Selector> =
    LazyLock::new(|| selector(".postingtitletext .price, .postingtitle .price"));
static HOUSING: LazyLock<Selector> = LazyLock::new(|| selector(".postingtitletext .housing"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("#titletextonly"));
static TITLE_LOCATION: LazyLock<Selector> = LazyLock::new(|| {
    selector(".postingtitletext > small, .postingtitletext > span:not([class]):not([id])")
});
static STREET_HEADING: LazyLock<Selector> = LazyLock::new(|| selector("h2.street-address"));
static MAP: LazyLock<Selector> = LazyLock::new(|| selector("#map"));
static MAP_ADDRESS: LazyLock<Selector> = LazyLock::new(|| selector("div.mapaddress"));
static ATTRIBUTE_ITEMS: LazyLock<Selector> =
    LazyLock::new(|| selector(".attrgroup > span, .attrgroup > div.attr"));
static LABEL: LazyLock<Selector> = LazyLock::new(|| selector(".labl"));
static VALUE: LazyLock<Selector> = LazyLock::new(|| selector(".valu"));
static BOLD: LazyLock<Selector> = LazyLock::new(|| selector("b"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));
static BODY: LazyLock<Selector> = LazyLock::new(|| selector("#postingbody"));
static POSTING_INFO: LazyLock<Selector> = LazyLock::new(|| selector(".postinginfo"));
static TIME: LazyLock<Selector> = LazyLock::new(|| selector("time[datetime]"));

/// Class of the print-only box ("QR Code Link to This Post") at the top of every posting body.
const PRINT_BOX_CLASS: &str = "print-information";

/// Parse a current-markup posting (anything with `section#postingbody`).
///
/// Why the slicing: html5ever tokenises at roughly 80 MB/s, so building a DOM of a whole 25-35 KB
/// posting page costs 400-600 microseconds, over the hot-path budget. Everything this parser reads
/// lives between the `<h1 class="postingtitle">` and the end of `div.postinginfos`, except the image
/// gallery (`<figure>`, often half the page) which is cut out, and the JSON-LD and canonical link in
/// `<head>`, which are found by scanning. The body is cut out too and rendered by
/// [`super::body::render`]; only the rest (about 3 KB) goes through html5ever.
pub(super) fn parse_current(
    html: &str,
    page_url: &Url,
    fetched_at: DateTime<Utc>,
) -> Result<RawListing> {
    let slices = relevant_slices(html);
    let fragment = Html::parse_fragment(&slices.dom);
    let root = fragment.root_element();

    let url = canonical_url(html, page_url).unwrap_or_else(|| page_url.clone());
    let mut listing = new_listing(&url, fetched_at);

    // Each lookup searches only its container: selecting from the root walks the whole fragment.
    let title_box = root.select(&TITLE_BOX).next().unwrap_or(root);
    let attributes_box = root.select(&ATTRIBUTES_BOX).next().unwrap_or(root);
    let infos_box = root.select(&INFOS_BOX).next().unwrap_or(root);

    listing.list_price = first_text(title_box, &PRICE);
    if let Some(housing) = title_box.select(&HOUSING).next() {
        let (bedrooms, area) = split_housing(&inline_text(housing));
        listing.bedrooms_total = bedrooms;
        listing.living_area_sqft = area;
    }
    listing.title = first_text(title_box, &TITLE);
    if let Some(location) = title_box.select(&TITLE_LOCATION).next()
        && let Some(neighbourhood) = non_empty(strip_parens(&inline_text(location)))
    {
        set_extra(&mut listing, "neighbourhood", neighbourhood);
    }
    if let Some(display_address) = first_text(root, &STREET_HEADING) {
        set_extra(&mut listing, "display_address", display_address);
    }
    if let Some(map) = attributes_box.select(&MAP).next() {
        listing.latitude = map
            .attr("data-latitude")
            .and_then(|v| non_empty(v.trim().to_owned()));
        listing.longitude = map
            .attr("data-longitude")
            .and_then(|v| non_empty(v.trim().to_owned()));
        if let Some(accuracy) = map
            .attr("data-accuracy")
            .and_then(|v| non_empty(v.trim().to_owned()))
        {
            set_extra(&mut listing, "map_accuracy", accuracy);
        }
    }
    let map_address = first_text(attributes_box, &MAP_ADDRESS);
    read_attributes(attributes_box, &mut listing);

    // The body either was cut out for the DOM-free renderer or, if it could not be cut cleanly,
    // is in the fragment.
    listing.description = match slices.body {
        Some(body_html) => non_empty(super::body::render(body_html, PRINT_BOX_CLASS)),
        None => root.select(&BODY).next().and_then(|body| {
            non_empty(block_text(body, |el| {
                el.classes().any(|class| class == PRINT_BOX_CLASS)
            }))
        }),
    };
    let mut post_id = None;
    for info in infos_box.select(&POSTING_INFO) {
        let text = inline_text(info);
        let lower = text.to_ascii_lowercase();
        // `to_ascii_lowercase` keeps byte offsets, so `text` can be sliced where `lower` matched.
        if lower.starts_with("post id:") {
            post_id = non_empty(text["post id:".len()..].trim().to_owned());
        } else if lower.starts_with("posted") {
            let shown = text.split_once(':').map(|(_, when)| when.trim().to_owned());
            listing.posted_at = info
                .select(&TIME)
                .next()
                .and_then(|t| t.attr("datetime"))
                .map(str::to_owned)
                .or_else(|| shown.and_then(non_empty));
        } else if lower.starts_with("updated")
            && let Some(updated) = info.select(&TIME).next().and_then(|t| t.attr("datetime"))
        {
            set_extra(&mut listing, "updated_at", updated.to_owned());
        }
    }

    // JSON-LD fills what the markup did not show (address parts, bedrooms on studio pages...).
    if let Some(posting_data) = script_json(html, "ld_posting_data") {
        apply_json_ld_item(&mut listing, &posting_data);
    }
    fill(&mut listing.street_address, map_address.clone());
    if let Some(map_address) = map_address
        && listing.street_address.as_deref() != Some(map_address.as_str())
    {
        set_extra(&mut listing, "map_address", map_address);
    }
    let category = category_in_url(&url).or_else(|| {
        script_json(html, "ld_breadcrumb_data")
            .as_ref()
            .and_then(category_in_breadcrumbs)
    });
    set_category(&mut listing, category);

    if let Some(description) = &listing.description {
        listing.contact_phone = find_phone(description);
        listing.contact_email = find_email(description);
    }
    listing.source_listing_id = post_id
        .or_else(|| post_id_in_url(&url))
        .or_else(|| post_id_in_url(page_url));
    if listing.source_listing_id.is_none() {
        return Err(Error::unrecognised(
            "a Craigslist posting page without a post id",
        ));
    }
    Ok(listing)
}

/// The part of the page the posting parser reads: `dom` for html5ever, without the image gallery
/// and, when it can be cut out cleanly, without the body's content, which is returned as `body` for
/// the DOM-free renderer.
struct Slices<'a> {
    dom: String,
    body: Option<&'a str>,
}

fn relevant_slices(html: &str) -> Slices<'_> {
    // The three markers appear in this order; the first one found is the earliest present.
    let start = [
        "class=\"postingtitle\"",
        "class=\"mapAndAttrs\"",
        "id=\"postingbody\"",
    ]
    .iter()
    .find_map(|marker| find(html, marker))
    .and_then(|at| html[..at].rfind('<'))
    .unwrap_or(0);
    let end = find(&html[start..], "class=\"postinginfos\"")
        .and_then(|at| {
            find(&html[start + at..], "</div>").map(|close| start + at + close + "</div>".len())
        })
        .unwrap_or(html.len());
    let region = &html[start..end];

    let mut cuts: Vec<(usize, usize)> = Vec::with_capacity(2);
    if let Some(figure_at) = find(region, "<figure")
        && let Some(figure_close) = find(&region[figure_at..], "</figure>")
    {
        cuts.push((figure_at, figure_at + figure_close + "</figure>".len()));
    }
    let mut body = None;
    if let Some(marker) = find(region, "id=\"postingbody\"")
        && let Some(open_end) = region[marker..].find('>').map(|gt| marker + gt + 1)
        && let Some(close) = find(&region[open_end..], "</section>").map(|at| open_end + at)
        && cuts
            .iter()
            .all(|&(from, to)| close <= from || open_end >= to)
    {
        cuts.push((open_end, close));
        body = Some(&region[open_end..close]);
    }
    cuts.sort_unstable();

    let mut dom = String::with_capacity(region.len());
    let mut kept_from = 0;
    for (from, to) in cuts {
        if from >= kept_from {
            dom.push_str(&region[kept_from..from]);
            kept_from = to;
        }
    }
    dom.push_str(&region[kept_from..]);
    Slices { dom, body }
}

/// The `<link rel="canonical">` URL in the page head, found by scanning.
fn canonical_url(html: &str, base: &Url) -> Option<Url> {
    let head_end = find(html, "</head>").unwrap_or(html.len());
    let head = &html[..head_end];
    let marker = find(head, "rel=\"canonical\"")?;
    let tag_start = head[..marker].rfind('<')?;
    let tag_end = marker + head[marker..].find('>')?;
    let tag = &head[tag_start..tag_end];
    let href_at = tag.find("href=\"")? + "href=\"".len();
    let href_len = tag[href_at..].find('"')?;
    // Canonical links are plain URLs; `&amp;` is the only entity they realistically carry.
    resolve(
        base,
        &tag[href_at..href_at + href_len].replace("&amp;", "&"),
    )
}

fn new_listing(url: &Url, fetched_at: DateTime<Utc>) -> RawListing {
    RawListing {
        source: Some("craigslist".to_owned()),
        url: Some(url.to_string()),
        fetched_at: Some(fetched_at),
        ..RawListing::default()
    }
}

fn set_category(listing: &mut RawListing, category: Option<&'static str>) {
    if let Some(category) = category {
        listing.listing_kind = listing_kind_for(category).map(str::to_owned);
        set_extra(listing, "category", category.to_owned());
    }
}

fn first_text(root: ElementRef<'_>, selector: &Selector) -> Option<String> {
    root.select(selector)
        .next()
        .and_then(|element| non_empty(inline_text(element)))
}

/// Read both attribute markups: 2022 `p.attrgroup > span` (bubbles, bare words, `label: <b>value</b>`)
/// and 2026 `div.attrgroup > span.attr` / `div.attr` (with `.labl`/`.valu`, values linking to the search
/// parameter they set).
fn read_attributes(root: ElementRef<'_>, listing: &mut RawListing) {
    let mut open_house_dates: Vec<String> = Vec::new();
    for item in root.select(&ATTRIBUTE_ITEMS) {
        let text = inline_text(item);
        if text.is_empty() {
            continue;
        }
        let classes: Vec<&str> = item.value().classes().collect();
        if classes.contains(&"otherpostings") {
            open_house_dates.push(text);
            continue;
        }
        let lower = text.to_ascii_lowercase();
        if let Some(date) = item.attr("data-date") {
            set_extra(listing, "available_date", date.to_owned());
            continue;
        }
        if lower.starts_with("available") {
            set_extra(listing, "available_date", text);
            continue;
        }
        let (bedrooms, bathrooms) = split_beds_baths(&text);
        if bedrooms.is_some() || bathrooms.is_some() {
            fill(&mut listing.bedrooms_total, bedrooms);
            fill(&mut listing.bathrooms_total, bathrooms);
            continue;
        }
        if is_area_token(&text) {
            fill(&mut listing.living_area_sqft, Some(text));
            continue;
        }
        if let (Some(label), Some(value)) = (item.select(&LABEL).next(), item.select(&VALUE).next())
        {
            let key = snake_key(&inline_text(label));
            if let Some(value) = non_empty(inline_text(value))
                && !key.is_empty()
            {
                set_extra(listing, &key, value);
            }
            continue;
        }
        if item.select(&BOLD).next().is_some()
            && let Some((label, value)) = text.split_once(':')
        {
            let key = snake_key(label);
            if let Some(value) = non_empty(value.trim().to_owned())
                && !key.is_empty()
            {
                set_extra(listing, &key, value);
            }
            continue;
        }
        let slot = classify_attribute(&text).or_else(|| search_parameter_slot(item));
        match slot {
            Some(AttributeSlot::PropertyType) => fill(&mut listing.property_type, Some(text)),
            Some(AttributeSlot::Extra("other_attributes")) | None => {
                append_extra(listing, "other_attributes", text)
            }
            Some(AttributeSlot::Extra(key)) => set_extra(listing, key, text),
        }
    }
    if !open_house_dates.is_empty() {
        set_extra(listing, "open_house_dates", open_house_dates.join(", "));
    }
}

/// The search parameter a 2026 attribute value links to (`?laundry=4` -> laundry).
fn search_parameter_slot(item: ElementRef<'_>) -> Option<AttributeSlot> {
    let href = item.select(&LINK).next()?.attr("href")?;
    let query = href.split_once('?')?.1;
    let parameter = query.split(['=', '&']).next()?;
    Some(slot_for_search_parameter(parameter))
}

static OLD_HEADING: LazyLock<Selector> = LazyLock::new(|| selector("h2"));
static OLD_TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static OLD_MAILTO: LazyLock<Selector> = LazyLock::new(|| selector("a[href^=\"mailto:\"]"));
static OLD_USERBODY: LazyLock<Selector> = LazyLock::new(|| selector("#userbody"));
static OLD_BODY: LazyLock<Selector> = LazyLock::new(|| selector("body"));
static OLD_CRUMBS: LazyLock<Selector> = LazyLock::new(|| selector(".bchead a[href]"));
static OLD_NOTICES: LazyLock<Selector> = LazyLock::new(|| selector("#userbody li"));

/// Parse a 2009 posting: `<h2>$price / Nbr - title (hood)</h2>`, "Reply to:" mailto, "Date:" line,
/// `div#userbody` with the map address line before its `<small>` map links, "PostingID:" after it.
pub(super) fn parse_2009(
    document: &Html,
    page_url: &Url,
    fetched_at: DateTime<Utc>,
) -> Result<RawListing> {
    let root = document.root_element();
    let mut listing = new_listing(page_url, fetched_at);

    let heading = root
        .select(&OLD_HEADING)
        .next()
        .map(inline_text)
        .or_else(|| first_text(root, &OLD_TITLE))
        .unwrap_or_default();
    let parts = split_heading(&heading);
    listing.list_price = parts.price;
    listing.bedrooms_total = parts.bedrooms;
    let (title, neighbourhood) = split_trailing_hood(&parts.title);
    listing.title = non_empty(title);
    if let Some(neighbourhood) = neighbourhood {
        set_extra(&mut listing, "neighbourhood", neighbourhood);
    }

    if let Some(mailto) = root.select(&OLD_MAILTO).next() {
        let shown = inline_text(mailto);
        let from_href = mailto
            .attr("href")
            .and_then(|href| href.strip_prefix("mailto:"))
            .map(|address| address.split('?').next().unwrap_or(address).to_owned());
        listing.contact_email = non_empty(shown).filter(|s| s.contains('@')).or(from_href);
    }

    // "Date:" and "PostingID:" are bare text nodes around the user body.
    let mut post_id = None;
    if let Some(body) = root.select(&OLD_BODY).next() {
        for piece in body.text() {
            let piece = piece.trim();
            if listing.posted_at.is_none()
                && let Some(date) = piece.strip_prefix("Date:")
            {
                listing.posted_at = non_empty(collapse_whitespace(date));
            } else if post_id.is_none()
                && let Some(id) = piece.strip_prefix("PostingID:")
            {
                post_id = non_empty(id.trim().to_owned());
            }
        }
    }

    if let Some(userbody) = root.select(&OLD_USERBODY).next() {
        read_2009_userbody(userbody, &mut listing);
    }
    for notice in root.select(&OLD_NOTICES) {
        let text = inline_text(notice);
        if let Some(location) = text.strip_prefix("Location:")
            && let Some(location) = non_empty(location.trim().to_owned())
        {
            set_extra(&mut listing, "location", location);
        }
    }

    let category = root
        .select(&OLD_CRUMBS)
        .filter_map(|crumb| resolve(page_url, crumb.attr("href")?))
        .filter_map(|link| category_in_url(&link))
        .last()
        .or_else(|| category_in_url(page_url));
    set_category(&mut listing, category);

    if let Some(description) = &listing.description {
        listing.contact_phone = find_phone(description);
        if listing.contact_email.is_none() {
            listing.contact_email = find_email(description);
        }
    }
    listing.source_listing_id = post_id.or_else(|| post_id_in_url(page_url));
    if listing.source_listing_id.is_none() {
        return Err(Error::unrecognised(
            "a 2009 Craigslist posting page without a PostingID",
        ));
    }
    Ok(listing)
}

/// `"Nice House in Sunrise (Sunrise) (map)"` -> (`"Nice House in Sunrise"`, `Some("Sunrise")`).
fn split_trailing_hood(title: &str) -> (String, Option<String>) {
    let mut title = title.trim();
    if let Some(before) = title.strip_suffix("(map)") {
        title = before.trim_end();
    }
    if title.ends_with(')')
        && let Some(open) = title.rfind(" (")
    {
        let hood = strip_parens(&title[open..]);
        return (title[..open].trim_end().to_owned(), non_empty(hood));
    }
    (title.to_owned(), None)
}

/// The user body: description text up to the map block; the address line just before the `<small>`
/// holding the Google/Yahoo map links; city and state from the Yahoo link's `csz` parameter.
fn read_2009_userbody(userbody: ElementRef<'_>, listing: &mut RawListing) {
    let mut text = String::new();
    for child in userbody.children() {
        match child.value() {
            Node::Text(piece) => push_collapsed(&mut text, piece),
            Node::Element(element) => match element.name() {
                "br" => text.push('\n'),
                "small" | "ul" | "table" => {
                    if element.name() == "small"
                        && let Some(small) = ElementRef::wrap(child)
                    {
                        take_map_address(&mut text, small, listing);
                    }
                    break;
                }
                _ => {
                    if let Some(inner) = ElementRef::wrap(child) {
                        push_collapsed(&mut text, &inline_text(inner));
                    }
                }
            },
            _ => {}
        }
    }
    listing.description = non_empty(tidy_lines(&text));
}

fn take_map_address(text: &mut String, small: ElementRef<'_>, listing: &mut RawListing) {
    let line_start = text.trim_end().rfind('\n').map_or(0, |at| at + 1);
    let address = collapse_whitespace(&text[line_start..]);
    text.truncate(line_start);
    if !address.is_empty() {
        listing.street_address = Some(address);
    }
    for link in small.select(&LINK) {
        let Some(href) = link.attr("href").and_then(|h| Url::parse(h).ok()) else {
            continue;
        };
        if let Some((_, csz)) = href.query_pairs().find(|(name, _)| name == "csz") {
            let csz = collapse_whitespace(&csz);
            match csz.rsplit_once(' ') {
                Some((city, state))
                    if state.len() == 2 && state.chars().all(|c| c.is_ascii_uppercase()) =>
                {
                    listing.city = non_empty(city.to_owned());
                    listing.state_or_province = Some(state.to_owned());
                }
                _ => listing.city = non_empty(csz),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_neighbourhood_and_map_marker_are_split_off() {
        assert_eq!(
            split_trailing_hood("Nice 3 Bedroom House with Garage in Sunrise (Sunrise) (map)"),
            (
                "Nice 3 Bedroom House with Garage in Sunrise".to_owned(),
                Some("Sunrise".to_owned())
            )
        );
        assert_eq!(
            split_trailing_hood("Duplex in Fort Lauderdale"),
            ("Duplex in Fort Lauderdale".to_owned(), None)
        );
    }

    #[test]
    fn relevant_slices_skip_the_gallery_and_head_and_cut_out_the_body() {
        let page = "<head><style>x</style></head><h1 class=\"postingtitle\">T</h1><figure>IMAGES</figure>\
                    <section id=\"postingbody\">B<br>C</section><div class=\"postinginfos\"><p>p</p></div><footer>F</footer>";
        let slices = relevant_slices(page);
        assert!(slices.dom.starts_with("<h1"));
        assert!(!slices.dom.contains("IMAGES"));
        assert!(
            slices
                .dom
                .contains("<section id=\"postingbody\"></section>")
        );
        assert!(slices.dom.ends_with("</div>"));
        assert!(!slices.dom.contains("<footer>"));
        assert_eq!(slices.body, Some("B<br>C"));
        // An unterminated body stays in the DOM part.
        let open =
            relevant_slices("<section id=\"postingbody\">B<div class=\"postinginfos\"></div>");
        assert_eq!(open.body, None);
        assert!(open.dom.contains(">B<"));
    }

    /// The DOM-free body renderer gives exactly what rendering the parsed DOM gives, on every saved
    /// current-markup posting.
    #[test]
    fn body_renderer_matches_the_dom_renderer_on_every_saved_posting() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/html/craigslist"
        );
        let mut compared = 0;
        for entry in std::fs::read_dir(dir).expect("shared data present") {
            let path = entry.expect("dir entry").path();
            let html = std::fs::read_to_string(&path).unwrap_or_default();
            let Some(body_html) = relevant_slices(&html).body else {
                continue;
            };
            let document = Html::parse_document(&html);
            let body = document.select(&BODY).next().expect("body element");
            let from_dom = block_text(body, |el| {
                el.classes().any(|class| class == PRINT_BOX_CLASS)
            });
            assert_eq!(
                super::super::body::render(body_html, PRINT_BOX_CLASS),
                from_dom,
                "{}",
                path.display()
            );
            compared += 1;
        }
        assert_eq!(compared, 13);
    }

    proptest::proptest! {
        /// On well-formed bodies built from the markup postings use, the DOM-free renderer and the
        /// DOM renderer agree.
        #[test]
        fn body_renderer_matches_the_dom_renderer_on_generated_bodies(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("word"), proptest::strategy::Just(" "), proptest::strategy::Just("\n  "),
                proptest::strategy::Just("<br>"), proptest::strategy::Just("<br/>"), proptest::strategy::Just("&amp;"),
                proptest::strategy::Just("&nbsp;"), proptest::strategy::Just("&#39;"), proptest::strategy::Just("&hearts;"),
                proptest::strategy::Just("&amp"), proptest::strategy::Just("&#x2014;"), proptest::strategy::Just("&#150;"),
                proptest::strategy::Just("<b>bold</b>"), proptest::strategy::Just("<a href=\"/reply\" class=\"show-contact\">show contact info</a>"),
                proptest::strategy::Just("<p>para</p>"), proptest::strategy::Just("<ul><li>one</li><li>two</li></ul>"),
                proptest::strategy::Just("<div class=\"print-information\"><p>QR Code Link to This Post</p><div class=\"print-qrcode\"></div></div>"),
                proptest::strategy::Just("<!-- c -->"), proptest::strategy::Just("caf\u{e9}"), proptest::strategy::Just("$1,500/mo"),
            ],
            0..30,
        )) {
            let body_html: String = parts.concat();
            let page = format!("<section id=\"postingbody\">{body_html}</section>");
            let document = Html::parse_fragment(&page);
            let body = document.select(&BODY).next().expect("body element");
            let from_dom = block_text(body, |el| el.classes().any(|class| class == PRINT_BOX_CLASS));
            proptest::prop_assert_eq!(super::super::body::render(&body_html, PRINT_BOX_CLASS), from_dom);
        }
    }

    #[test]
    fn canonical_link_is_found_by_scanning() {
        let base = Url::parse("https://example.craigslist.org/").expect("static URL");
        let head = r#"<head><link rel="canonical" href="/apa/d/x/123456.html?a=1&amp;b=2"></head>"#;
        assert_eq!(
            canonical_url(head, &base).map(|u| u.to_string()).as_deref(),
            Some("https://example.craigslist.org/apa/d/x/123456.html?a=1&b=2")
        );
        assert_eq!(canonical_url("<head></head>", &base), None);
    }
}
