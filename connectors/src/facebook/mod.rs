//! Facebook Marketplace item and search pages to [`RawListing`]s, housing only.
//!
//! Marketplace pages carry their data as inline Relay/GraphQL JSON inside `<script>` tags, not as
//! semantic markup. A page is 2-3 MB, so no DOM is built: listing objects are found by text search
//! for their `{"__typename":"…ProductItem"` opening and only those slices go through serde_json (see
//! `scan`). Cards the page rendered beyond what its inline JSON holds (a search page scrolled
//! further) are read from their `<a href="/marketplace/item/…">` markup: price, title, city. The
//! same search works on a GraphQL response body saved as JSON. A JSON array of
//! exported item records (`id`, `title`, `price`, `location`, `is_sold`, `category_id`, as the
//! Scrapfly example scraper writes them) is read as well.
//!
//! # Housing only
//!
//! Marketplace sells everything; only housing becomes a listing. An item is housing when its
//! category is Facebook's "Property Rentals" (`1468271819871448`, kind `rent`) or "Home Sales"
//! (`821056594720130`, kind `sale`), or, with no category at all, when its title is one of the
//! titles Facebook generates for housing ("3 Beds 2 Baths - House"). Every other item goes to
//! [`Page::skipped`] with a reason ("category vehicles", "category electronics").
//!
//! On an item page the seller's category is checked against how Facebook itself files the item
//! (`product_details_type` and the `seo_virtual_category` taxonomy path): a phone a seller put under
//! "Rentals" is filed under `electronics > cell-phones` and is skipped, not taken as a rental.
//!
//! # Related items are listings too
//!
//! An item page also carries 20-odd related items ("Today's picks") as full cards: id, title,
//! price, city and state, category. Housing among them becomes listings as well (after the main
//! item, with `extra.related_to` naming the page's item): they are real, live listings, and the
//! card holds what a search result would. Non-housing related items are skipped like any other.
//!
//! # Fields
//!
//! `source_listing_id` is the item id and `url` the canonical item URL built from it. Values stay
//! as Facebook gives them: `list_price` is the formatted price (`"$28,000"`), `posted_at` the Unix
//! `creation_time`, rooms the words of the generated title (`"3 Beds"`, `"2 Baths"`),
//! `property_type` its last part (`"House"`). Extra keys: `category_id`, `category`,
//! `custom_title`, `currency`, `location`, `sold`, `pending`, `seller_id`, `related_to`.
//!
//! Nothing here logs in or works around access control: pages are what the operator's own session
//! saved or fetched.

mod item;
mod scan;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind, SkippedItem};
use crate::util::links::parse_page_url;
use item::{ExportRecord, Item, ItemJson, MainItemContext, Verdict};

/// Parse one Marketplace page (HTML, a GraphQL JSON response, or a JSON export of items) fetched
/// from `url` at `fetched_at`.
///
/// Returns a [`PageKind::Posting`] page for an item page (the main item first, then related
/// items) and a [`PageKind::Search`] page otherwise. Errors: [`Error::NoListing`] (`Blocked`) for
/// Facebook's log-in wall, (`Empty`) for a Marketplace page without items; [`Error::Unrecognised`]
/// when no Marketplace data is found; [`Error::InvalidUrl`] when `url` is not absolute.
///
/// ```
/// use aiq_connectors::facebook::parse_page;
/// use aiq_connectors::PageKind;
/// use chrono::Utc;
///
/// let body = r#"<script>{"data":{"edges":[{"node":{"listing":{"__typename":"GroupCommerceProductItem",
///   "id":"1797467624420648","formatted_price":{"text":"$28,000"},
///   "location":{"reverse_geocode":{"city":"Amory","state":"MS"}},
///   "marketplace_listing_category_id":"821056594720130",
///   "marketplace_listing_title":"3 Beds 2 Baths - House"}}},
///   {"node":{"listing":{"__typename":"GroupCommerceProductItem","id":"574264948878889",
///   "marketplace_listing_category_id":"1792291877663080","marketplace_listing_title":"Drone"}}}]}}</script>"#;
/// let page = parse_page(body, "https://www.facebook.com/marketplace/search/?query=x", Utc::now())?;
/// assert_eq!(page.kind, PageKind::Search);
/// assert_eq!(page.listings[0].list_price.as_deref(), Some("$28,000"));
/// assert_eq!(page.listings[0].listing_kind.as_deref(), Some("sale"));
/// assert_eq!(page.skipped[0].reason, "category electronics");
/// # Ok::<(), aiq_connectors::Error>(())
/// ```
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    let page_url = parse_page_url(url)?;
    let trimmed = body.trim_start();
    if trimmed.starts_with('[')
        && let Ok(records) = serde_json::from_str::<Vec<ExportRecord>>(trimmed)
    {
        let items = records.into_iter().filter_map(Item::from_export).collect();
        return Ok(assemble(items, None, None, fetched_at));
    }

    let items = relay_items(body);
    let details = details_page(body);
    let main_id = details
        .as_ref()
        .and_then(|(id, _)| id.clone())
        .or_else(|| item_id_from_url(&page_url));
    let main_context = details.map(|(_, context)| context);

    if let Some(main_id) = &main_id {
        if !items.iter().any(|item| &item.id == main_id) {
            return Err(Error::unrecognised(format!(
                "a Marketplace item page without the data of item {main_id}"
            )));
        }
    } else if items.is_empty() {
        return Err(no_items_error(body));
    }
    Ok(assemble(items, main_id, main_context, fetched_at))
}

/// Every listing object on the page, merged by id, in page order (stubs without content dropped).
fn relay_items(body: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    for object in scan::typed_objects(body, |typename| typename.ends_with("ProductItem")) {
        let Ok(json) = serde_json::from_str::<ItemJson>(object) else {
            continue;
        };
        let Some(item) = Item::from_json(json) else {
            continue;
        };
        match positions.get(&item.id) {
            Some(&at) => items[at].merge(item),
            None => {
                positions.insert(item.id.clone(), items.len());
                items.push(item);
            }
        }
    }
    items.retain(Item::has_content);
    for (id, texts) in scan::rendered_cards(body) {
        if !positions.contains_key(id) {
            positions.insert(id.to_owned(), items.len());
            items.push(Item::from_card(id, &texts));
        }
    }
    items
}

#[derive(Deserialize)]
struct DetailsPage {
    #[serde(default)]
    product_details_type: Option<String>,
    #[serde(default)]
    marketplace_listing_renderable_target: Option<RenderableTarget>,
    #[serde(default)]
    target: Option<IdOnly>,
}

#[derive(Deserialize)]
struct RenderableTarget {
    #[serde(default)]
    seo_virtual_category: Option<Value>,
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

/// The item page's main item id and what Facebook says about it, from the
/// `marketplace_product_details_page` object (the one with a page type; an item page has a second,
/// smaller one for its photo viewer).
fn details_page(body: &str) -> Option<(Option<String>, MainItemContext)> {
    let mut found: Option<(Option<String>, MainItemContext)> = None;
    for object in scan::keyed_objects(body, "marketplace_product_details_page") {
        let Ok(page) = serde_json::from_str::<DetailsPage>(object) else {
            continue;
        };
        let id = page.target.and_then(|target| target.id);
        let taxonomy_path = page
            .marketplace_listing_renderable_target
            .and_then(|target| target.seo_virtual_category)
            .and_then(|category| category.get("taxonomy_path").cloned())
            .and_then(|path| match path {
                Value::Array(steps) => Some(steps),
                _ => None,
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|step| {
                step.pointer("/seo_info/seo_url")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        let context = MainItemContext {
            details_type: page.product_details_type,
            taxonomy_path,
        };
        let complete = context.details_type.is_some();
        match &mut found {
            None => found = Some((id, context)),
            Some((found_id, found_context)) => {
                if found_id.is_none() {
                    *found_id = id;
                }
                if complete && found_context.details_type.is_none() {
                    *found_context = context;
                }
            }
        }
    }
    found
}

static ITEM_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/marketplace/item/(\d+)").expect("valid regex"));

fn item_id_from_url(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    if !(host == "facebook.com" || host.ends_with(".facebook.com")) {
        return None;
    }
    ITEM_PATH
        .captures(url.path())
        .and_then(|captures| captures.get(1))
        .map(|id| id.as_str().to_owned())
}

/// Sorts items into listings and skipped items; the main item (if any) comes first.
fn assemble(
    mut items: Vec<Item>,
    main_id: Option<String>,
    main_context: Option<MainItemContext>,
    fetched_at: DateTime<Utc>,
) -> Page {
    let kind = if main_id.is_some() {
        PageKind::Posting
    } else {
        PageKind::Search
    };
    if let Some(main_id) = &main_id
        && let Some(at) = items.iter().position(|item| &item.id == main_id)
    {
        let main = items.remove(at);
        items.insert(0, main);
    }
    let mut page = Page {
        kind,
        ..Page::default()
    };
    for item in &items {
        let is_main = main_id.as_deref() == Some(item.id.as_str());
        let context = if is_main {
            Some(main_context.clone().unwrap_or_default())
        } else {
            None
        };
        match item.verdict(context.as_ref()) {
            Verdict::Housing(listing_kind) => {
                let related_to = main_id.as_deref().filter(|_| !is_main);
                page.listings
                    .push(item.to_listing(listing_kind, fetched_at, related_to));
            }
            Verdict::NotHousing(reason) => page.skipped.push(SkippedItem {
                id: item.id.clone(),
                reason,
            }),
        }
    }
    if kind == PageKind::Search {
        page.posting_urls = page
            .listings
            .iter()
            .filter_map(|listing| listing.url.clone())
            .collect();
    }
    page
}

/// Why a page with no Marketplace items holds none.
fn no_items_error(body: &str) -> Error {
    let login_wall = ["id=\"login_form\"", "You must log in to continue"]
        .iter()
        .any(|marker| body.contains(marker));
    if login_wall {
        return Error::no_listing(
            NoListingReason::Blocked,
            "Facebook served its log-in page; Marketplace needs the session the operator configures",
        );
    }
    let marketplace = ["marketplace_search", "\"marketplace_feed", "/marketplace/"]
        .iter()
        .any(|marker| body.contains(marker));
    if marketplace {
        Error::no_listing(
            NoListingReason::Empty,
            "a Marketplace page without listing data",
        )
    } else {
        Error::unrecognised("no Facebook Marketplace listing data")
    }
}
