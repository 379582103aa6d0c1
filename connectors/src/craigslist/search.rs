//! Search and category result pages, in the three markups Craigslist has served.

use std::sync::LazyLock;

use aiq_schemas::RawListing;
use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

use super::fields::{
    apply_json_ld_item, category_in_url, collapse_whitespace, inline_text, listing_kind_for,
    non_empty, post_id_in_url, resolve, script_json, set_extra, split_heading, split_housing,
    strip_parens,
};

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector is valid CSS")
}

static STATIC_ROWS: LazyLock<Selector> = LazyLock::new(|| selector("li.cl-static-search-result"));
static STATIC_TITLE: LazyLock<Selector> = LazyLock::new(|| selector(".title"));
static STATIC_PRICE: LazyLock<Selector> = LazyLock::new(|| selector(".price"));
static STATIC_LOCATION: LazyLock<Selector> = LazyLock::new(|| selector(".location"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));

static RESULT_ROWS: LazyLock<Selector> = LazyLock::new(|| selector("li.result-row"));
static RESULT_TITLE: LazyLock<Selector> = LazyLock::new(|| selector("a.result-title[href]"));
static RESULT_PRICE: LazyLock<Selector> =
    LazyLock::new(|| selector(".result-meta .result-price, .result-price"));
static RESULT_HOUSING: LazyLock<Selector> = LazyLock::new(|| selector(".housing"));
static RESULT_HOOD: LazyLock<Selector> = LazyLock::new(|| selector(".result-hood"));
static RESULT_TIME: LazyLock<Selector> =
    LazyLock::new(|| selector("time.result-date[datetime], time[datetime]"));

static OLD_ROWS_AND_DAYS: LazyLock<Selector> = LazyLock::new(|| selector("h4, p"));
static OLD_ROW_LINK: LazyLock<Selector> = LazyLock::new(|| selector(":scope > a[href]"));
static OLD_HOOD: LazyLock<Selector> = LazyLock::new(|| selector(":scope > font"));

static NEXT_LINK: LazyLock<Selector> = LazyLock::new(|| {
    selector("link[rel=next][href], a[rel=next][href], a.next[href], a.cl-next-page[href]")
});
static ANY_LINK: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));
static CANONICAL: LazyLock<Selector> = LazyLock::new(|| selector("link[rel=canonical][href]"));

/// What a search page yields.
pub(super) struct SearchResults {
    pub(super) listings: Vec<RawListing>,
    pub(super) next_page_url: Option<Url>,
}

/// Parse whichever result rows the page has; `None` when it has none of any generation.
pub(super) fn parse(
    document: &Html,
    html: &str,
    page_url: &Url,
    fetched_at: DateTime<Utc>,
) -> Option<SearchResults> {
    let root = document.root_element();
    let page_category = category_in_url(page_url).or_else(|| {
        let canonical = root.select(&CANONICAL).next()?.attr("href")?;
        category_in_url(&resolve(page_url, canonical)?)
    });
    let context = RowContext {
        page_url,
        page_category,
        fetched_at,
    };

    let mut listings = static_rows(root, html, &context);
    if listings.is_empty() {
        listings = result_rows(root, &context);
    }
    if listings.is_empty() {
        listings = rows_2009(root, &context);
    }
    if listings.is_empty() {
        return None;
    }
    Some(SearchResults {
        listings,
        next_page_url: next_page(root, page_url),
    })
}

struct RowContext<'a> {
    page_url: &'a Url,
    page_category: Option<&'static str>,
    fetched_at: DateTime<Utc>,
}

impl RowContext<'_> {
    /// A listing for the posting at `href`, or `None` if the link is not a posting link.
    fn listing_for(&self, href: &str) -> Option<RawListing> {
        let url = resolve(self.page_url, href)?;
        let id = post_id_in_url(&url)?;
        let mut listing = RawListing {
            source: Some("craigslist".to_owned()),
            source_listing_id: Some(id),
            url: Some(url.to_string()),
            fetched_at: Some(self.fetched_at),
            ..RawListing::default()
        };
        if let Some(category) = category_in_url(&url).or(self.page_category) {
            listing.listing_kind = listing_kind_for(category).map(str::to_owned);
            set_extra(&mut listing, "category", category.to_owned());
        }
        Some(listing)
    }
}

fn first_text(row: ElementRef<'_>, selector: &Selector) -> Option<String> {
    row.select(selector)
        .next()
        .and_then(|element| non_empty(inline_text(element)))
}

/// 2025+ static rows (`li.cl-static-search-result`: title, price, location), merged with the
/// `ld_searchpage_results` ItemList, which carries coordinates, bedrooms, bathrooms and address
/// parts. The two lists are in the same order; each pairing is confirmed by the name, and a row whose
/// partner does not match is paired by name instead (or left without JSON-LD data).
fn static_rows(root: ElementRef<'_>, html: &str, context: &RowContext<'_>) -> Vec<RawListing> {
    let items = json_ld_items(html);
    let mut used = vec![false; items.len()];
    let mut listings = Vec::new();
    for (index, row) in root.select(&STATIC_ROWS).enumerate() {
        let Some(mut listing) = row
            .select(&LINK)
            .next()
            .and_then(|a| context.listing_for(a.attr("href")?))
        else {
            continue;
        };
        listing.title = first_text(row, &STATIC_TITLE).or_else(|| {
            row.attr("title")
                .and_then(|t| non_empty(collapse_whitespace(t)))
        });
        listing.list_price = first_text(row, &STATIC_PRICE);
        if let Some(location) = first_text(row, &STATIC_LOCATION) {
            set_extra(&mut listing, "neighbourhood", location);
        }
        let title = listing.title.clone().unwrap_or_default();
        let names_match = |slot: usize| !used[slot] && items[slot].0 == title;
        let partner = if index < items.len() && names_match(index) {
            Some(index)
        } else {
            (0..items.len()).find(|&slot| names_match(slot))
        };
        if let Some(slot) = partner {
            used[slot] = true;
            apply_json_ld_item(&mut listing, &items[slot].1);
        }
        listings.push(listing);
    }
    listings
}

/// The ItemList entries in position order, each with its whitespace-collapsed name.
fn json_ld_items(html: &str) -> Vec<(String, Value)> {
    let Some(list) = script_json(html, "ld_searchpage_results") else {
        return Vec::new();
    };
    let Some(elements) = list.get("itemListElement").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut positioned: Vec<(usize, String, Value)> = elements
        .iter()
        .enumerate()
        .filter_map(|(index, element)| {
            let item = element.get("item")?.clone();
            let position = match element.get("position") {
                Some(Value::String(text)) => text.trim().parse().unwrap_or(index),
                Some(Value::Number(number)) => number
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(index),
                _ => index,
            };
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .map(collapse_whitespace)
                .unwrap_or_default();
            Some((position, name, item))
        })
        .collect();
    positioned.sort_by_key(|(position, _, _)| *position);
    positioned
        .into_iter()
        .map(|(_, name, item)| (name, item))
        .collect()
}

/// 2021 rows: `li.result-row[data-pid]` with `a.result-title`, `span.result-price`, `span.housing`
/// ("1br - 615ft2 -"), `span.result-hood` and `time.result-date`.
fn result_rows(root: ElementRef<'_>, context: &RowContext<'_>) -> Vec<RawListing> {
    let mut listings = Vec::new();
    for row in root.select(&RESULT_ROWS) {
        let link = row
            .select(&RESULT_TITLE)
            .next()
            .or_else(|| row.select(&LINK).next());
        let Some(link) = link else { continue };
        let Some(mut listing) = link.attr("href").and_then(|href| context.listing_for(href)) else {
            continue;
        };
        if let Some(pid) = row
            .attr("data-pid")
            .and_then(|pid| non_empty(pid.trim().to_owned()))
        {
            listing.source_listing_id = Some(pid);
        }
        listing.title = non_empty(inline_text(link));
        listing.list_price = first_text(row, &RESULT_PRICE);
        if let Some(housing) = row.select(&RESULT_HOUSING).next() {
            let (bedrooms, area) = split_housing(&inline_text(housing));
            listing.bedrooms_total = bedrooms;
            listing.living_area_sqft = area;
        }
        if let Some(hood) = row
            .select(&RESULT_HOOD)
            .next()
            .and_then(|h| non_empty(strip_parens(&inline_text(h))))
        {
            set_extra(&mut listing, "neighbourhood", hood);
        }
        listing.posted_at = row
            .select(&RESULT_TIME)
            .next()
            .and_then(|t| t.attr("datetime"))
            .map(str::to_owned);
        if let Some(original) = row.attr("data-repost-of") {
            set_extra(&mut listing, "repost_of", original.to_owned());
        }
        listings.push(listing);
    }
    listings
}

/// 2009 rows: bare `<p><a href="/brw/apa/1129196334.html">$800 / 1br - TITLE -</a><font> (hood)</font>`
/// under `<h4>` day headings ("Sun Apr 19"), which are the only posting date the list shows.
fn rows_2009(root: ElementRef<'_>, context: &RowContext<'_>) -> Vec<RawListing> {
    let mut listings = Vec::new();
    let mut day: Option<String> = None;
    for element in root.select(&OLD_ROWS_AND_DAYS) {
        if element.value().name() == "h4" {
            day = non_empty(inline_text(element));
            continue;
        }
        let Some(link) = element.select(&OLD_ROW_LINK).next() else {
            continue;
        };
        let Some(mut listing) = link.attr("href").and_then(|href| context.listing_for(href)) else {
            continue;
        };
        let heading = split_heading(&inline_text(link));
        listing.list_price = heading.price;
        listing.bedrooms_total = heading.bedrooms;
        listing.title = non_empty(heading.title);
        if let Some(hood) = element
            .select(&OLD_HOOD)
            .next()
            .and_then(|f| non_empty(strip_parens(&inline_text(f))))
        {
            set_extra(&mut listing, "neighbourhood", hood);
        }
        listing.posted_at = day.clone();
        listings.push(listing);
    }
    listings
}

/// The next results page: a `rel=next`/`.next` link with a real target, or the 2009 "next 100
/// postings" link.
fn next_page(root: ElementRef<'_>, page_url: &Url) -> Option<Url> {
    let marked = root
        .select(&NEXT_LINK)
        .find_map(|link| resolve(page_url, link.attr("href")?));
    marked.or_else(|| {
        root.select(&ANY_LINK)
            .find(|link| {
                let text = inline_text(*link).to_ascii_lowercase();
                text.starts_with("next") && text.contains("postings")
            })
            .and_then(|link| resolve(page_url, link.attr("href")?))
    })
}
