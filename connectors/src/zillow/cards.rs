//! Rendered search-result cards (`article[data-test=property-card]`), for pages saved without their
//! embedded JSON.
//!
//! A card is one home (`id="zpid_459362582"`: price, a bd/ba/sqft list, the address) or one
//! building (`id="zpid_42.264652--71.15673"`: a headline "$2,045+ 1 bd" and, usually, one link per
//! unit group: "$2,045+" "1bd", `href="...#bedrooms-1"`). Seen in the 2025 markup (`<address>`
//! inside `a[data-test=property-card-link]`, price below it) and the 2026 one (title and address
//! links, the price first, a `PropertyCardInventoryBox` inside each unit link). Buildings give one listing per unit group, as in the JSON (see
//! [`super::search::building_listings`]), with the same ids.

use std::sync::LazyLock;

use aiq_schemas::RawListing;
use scraper::{ElementRef, Html, Node, Selector};

use super::values::{
    Context, coordinates_in_building_id, non_blank, set_extra, split_address, unit_ids, zpid_in_url,
};

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector is valid CSS")
}

static CARDS: LazyLock<Selector> = LazyLock::new(|| {
    selector("article[data-test=\"property-card\"], article[data-testid=\"property-card\"]")
});
static CARD_LINK: LazyLock<Selector> = LazyLock::new(|| {
    selector(
        "a[data-test=\"property-card-link\"][href], a[data-test=\"property-card-title-link\"][href], \
         a[data-test=\"property-card-address-link\"][href], a[data-testid=\"property-card-link\"][href]",
    )
});
static PRICE: LazyLock<Selector> = LazyLock::new(|| {
    selector("[data-test=\"property-card-price\"], [data-testid=\"property-card-price\"]")
});
static ADDRESS: LazyLock<Selector> = LazyLock::new(|| selector("address"));
/// The facts list: `<li><b>2</b><abbr>bds</abbr></li>`, marked `property-card-details` in 2026 and
/// unmarked in 2025; a 2026 building's list holds only its name.
static DETAILS_LIST: LazyLock<Selector> = LazyLock::new(|| selector("ul"));
static ITEMS: LazyLock<Selector> = LazyLock::new(|| selector(":scope > li"));
static ABBR: LazyLock<Selector> = LazyLock::new(|| selector("abbr"));
static BOLD: LazyLock<Selector> = LazyLock::new(|| selector("b"));
/// A unit group's link ("#bedrooms-1") around its price and bedrooms; 2026 cards also mark the
/// box inside it.
static UNIT_LINK: LazyLock<Selector> = LazyLock::new(|| selector("a[href*=\"#bedrooms\"]"));
static UNIT_BOX: LazyLock<Selector> =
    LazyLock::new(|| selector("[data-testid=\"PropertyCardInventoryBox\"]"));
static SPAN: LazyLock<Selector> = LazyLock::new(|| selector("span"));
static CALL_BUTTON: LazyLock<Selector> = LazyLock::new(|| selector("button[title^=\"Call \"]"));
static NEXT_PAGE: LazyLock<Selector> = LazyLock::new(|| selector("a[rel=\"next\"][href]"));

/// Where the cards start; the parse skips the page head and navigation before them.
pub(super) fn first_card_offset(html: &str) -> Option<usize> {
    let marker = html
        .find("data-test=\"property-card\"")
        .or_else(|| html.find("data-testid=\"property-card\""))?;
    html[..marker].rfind("<article")
}

/// What the cards of a page yield.
pub(super) struct Cards {
    pub(super) card_count: usize,
    pub(super) listings: Vec<RawListing>,
    pub(super) posting_urls: Vec<String>,
    pub(super) next_page_url: Option<String>,
}

/// Parses the cards in `html` from the first card on (pagination follows the cards).
pub(super) fn parse(html: &str, context: &Context<'_>) -> Option<Cards> {
    let start = first_card_offset(html)?;
    let fragment = Html::parse_fragment(&html[start..]);
    let root = fragment.root_element();
    let mut cards = Cards {
        card_count: 0,
        listings: Vec::new(),
        posting_urls: Vec::new(),
        next_page_url: None,
    };
    for card in root.select(&CARDS) {
        cards.card_count += 1;
        let url = card
            .select(&CARD_LINK)
            .find_map(|link| context.absolute(link.attr("href")?));
        let Some(id) = card_id(card, url.as_deref()) else {
            continue;
        };
        if let Some(url) = &url
            && !cards.posting_urls.contains(url)
        {
            cards.posting_urls.push(url.clone());
        }
        cards.listings.extend(card_listings(card, id, url, context));
    }
    cards.next_page_url = root
        .select(&NEXT_PAGE)
        .filter(|link| link.attr("aria-disabled") != Some("true"))
        .find_map(|link| context.absolute(link.attr("href")?));
    (cards.card_count > 0).then_some(cards)
}

/// `id="zpid_459362582"` (or a building's `zpid_42.264652--71.15673`); else the zpid in the link.
fn card_id(card: ElementRef<'_>, url: Option<&str>) -> Option<String> {
    card.attr("id")
        .and_then(|id| id.strip_prefix("zpid_"))
        .and_then(non_blank)
        .or_else(|| url.and_then(zpid_in_url))
}

/// Text of an element, whitespace collapsed.
fn inline_text(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn card_listings(
    card: ElementRef<'_>,
    id: String,
    url: Option<String>,
    context: &Context<'_>,
) -> Vec<RawListing> {
    let mut listing = context.listing(id.clone(), url);
    let classes = card.attr("class").unwrap_or_default();
    let building =
        classes.contains("list-card_building") || !id.bytes().all(|b| b.is_ascii_digit());

    // The headline's first text is the price, sometimes followed by the cheapest unit's bedrooms
    // ("$2,045+ 1 bd"); the rest of the price element is a fee note.
    let headline = card
        .select(&PRICE)
        .next()
        .and_then(|price| price.text().find_map(non_blank));
    if let Some(headline) = headline {
        match headline.split_once(' ') {
            Some((price, beds)) if beds.contains("bd") || beds.contains("Studio") => {
                listing.list_price = Some(price.to_owned());
                listing.bedrooms_total = non_blank(beds);
            }
            _ => listing.list_price = Some(headline),
        }
    }

    let details = card.select(&DETAILS_LIST).find(|list| {
        list.attr("data-testid") == Some("property-card-details")
            || list.attr("data-test") == Some("property-card-details")
            || list.select(&ABBR).next().is_some()
    });
    let mut name = None;
    for item in details.iter().flat_map(|list| list.select(&ITEMS)) {
        let unit = item.select(&ABBR).next().map(inline_text);
        let value = item.select(&BOLD).next().map(inline_text);
        match (unit.as_deref(), value) {
            // "--" stands for a value the listing does not give.
            (Some(_), Some(value)) if value == "--" => {}
            (Some(unit), Some(value)) => {
                let shown = Some(format!("{value} {unit}"));
                match unit {
                    "bd" | "bds" | "Studio" => listing.bedrooms_total = shown,
                    "ba" | "bas" => listing.bathrooms_total = shown,
                    "sqft" => listing.living_area_sqft = shown,
                    _ => {}
                }
            }
            // A bare item is the building's name ("David at 775").
            (None, _) => name = non_blank(&inline_text(item)),
            _ => {}
        }
    }
    // What follows the list says what and how: "Apartment for rent" (2026, a span), "- House for
    // sale" (2025, bare text).
    let status_text = details
        .map(|list| {
            list.next_siblings()
                .map(|node| match node.value() {
                    Node::Text(text) => text.to_string(),
                    Node::Element(_) => ElementRef::wrap(node).map(inline_text).unwrap_or_default(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .and_then(|text| non_blank(text.trim().trim_start_matches('-')));
    listing.listing_kind = if classes.contains("list-card_for-rent") {
        Some("for rent".to_owned())
    } else if classes.contains("list-card_for-sale") {
        Some("for sale".to_owned())
    } else {
        status_text.as_deref().and_then(kind_in_status)
    };

    let address = card.select(&ADDRESS).next().map(inline_text);
    let parts = address
        .as_deref()
        .and_then(split_address)
        .or_else(|| card.attr("aria-label").and_then(split_address));
    if let Some(parts) = parts {
        listing.street_address = parts.street;
        listing.city = parts.city;
        listing.state_or_province = parts.state;
        listing.postal_code = parts.postal_code;
        name = name.or(parts.name);
    } else {
        listing.street_address = address;
    }
    if building {
        listing.title = name.or_else(|| {
            card.attr("aria-label")
                .and_then(|label| label.split_once('|'))
                .and_then(|(name, _)| non_blank(name))
        });
        if let Some((latitude, longitude)) = coordinates_in_building_id(&id) {
            listing.latitude = Some(latitude);
            listing.longitude = Some(longitude);
        }
        set_extra(&mut listing, "building_id", Some(id));
    }
    listing.contact_phone = card
        .select(&CALL_BUTTON)
        .next()
        .and_then(|button| button.attr("title")?.strip_prefix("Call "))
        .and_then(non_blank);
    set_extra(&mut listing, "status_text", status_text);

    let mut unit_elements: Vec<ElementRef<'_>> = card.select(&UNIT_LINK).collect();
    if unit_elements.is_empty() {
        unit_elements = card.select(&UNIT_BOX).collect();
    }
    let units: Vec<(Option<String>, Option<String>)> = unit_elements
        .into_iter()
        .map(|unit| {
            let mut spans = unit.select(&SPAN).map(inline_text);
            let price = spans.next().and_then(|text| non_blank(&text));
            let beds = spans.next().and_then(|text| non_blank(&text));
            (price, beds)
        })
        .collect();
    if units.is_empty() {
        return vec![listing];
    }
    let beds: Vec<Option<String>> = units.iter().map(|(_, beds)| beds.clone()).collect();
    let building_id = listing.source_listing_id.clone().unwrap_or_default();
    units
        .into_iter()
        .zip(unit_ids(&building_id, &beds))
        .map(|((price, beds), unit_id)| {
            let mut unit = listing.clone();
            unit.source_listing_id = Some(unit_id);
            unit.list_price = price;
            unit.bedrooms_total = beds;
            unit.bathrooms_total = None;
            unit.living_area_sqft = None;
            unit
        })
        .collect()
}

/// "Apartment for rent" -> "for rent"; the normaliser reads the rest.
fn kind_in_status(status: &str) -> Option<String> {
    let lower = status.to_ascii_lowercase();
    ["for rent", "for sale"]
        .into_iter()
        .find(|kind| lower.contains(kind))
        .map(str::to_owned)
}
