//! LinkedIn posts that announce a property or a seller's intent, read from the formats an operator
//! with authorised access exports or fetches, to [`RawListing`]s.
//!
//! # Access
//!
//! LinkedIn is never scraped. This module reads only what an operator obtains through LinkedIn's own
//! channels with their own authorisation: the member data export ("Get a copy of your data") and
//! the Posts API called with the operator's OAuth token for the members or organisations (company
//! pages) that granted it. There is no log-in automation, no session reuse and no way around
//! LinkedIn's access control here or in the crawler.
//!
//! # Formats
//!
//! | Format | Recognised by | Read from |
//! |--------|---------------|-----------|
//! | Member data export `Shares.csv` | header `Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility` | one post per row; the id is the share URN in `ShareLink` |
//! | Posts API (`GET /rest/posts?q=author&author=…`) | JSON object with `elements` | `id` (`urn:li:share:…`/`urn:li:ugcPost:…`), `author` (`urn:li:person:…` or, for company pages, `urn:li:organization:…`), `commentary`, `createdAt`, `lifecycleState`, `visibility`, `content.article.source`; `paging.links` `rel=next` is the next page |
//! | Posts API, one post (`GET /rest/posts/{urn}`) | JSON object with `id` and `commentary` | as above |
//!
//! # Which posts become listings
//!
//! A post becomes a listing when its text announces a property for sale or rent ("just listed",
//! "for sale", "for rent", "open house", "price reduced"...) and says it is real estate (a word
//! such as home, condo, acres, bedrooms, sq ft), or when a seller tells of their own plan to sell
//! ("selling our home", "thinking about selling my house"). Everything else goes to
//! [`Page::skipped`] with the reason: no such phrase, a sale phrase about something else ("tickets
//! for sale"), a deal already closed ("just sold"), a draft or deleted post. Price, rooms, area,
//! street, city, state, ZIP, phone and e-mail are taken where the text states them, as written.
//!
//! Extra keys: `signal` (the phrase that qualified the post), `seller_intent`, `author`,
//! `visibility`, `shared_url`, `media_url`.

mod facts;

use facts::judge;

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::error::{Error, NoListingReason, Result};
use crate::page::{Page, PageKind, SkippedItem};
use crate::util::links::parse_page_url;

/// The header of the member data export's `Shares.csv`, as LinkedIn writes it.
pub const SHARES_CSV_COLUMNS: [&str; 6] = [
    "Date",
    "ShareLink",
    "ShareCommentary",
    "SharedUrl",
    "MediaUrl",
    "Visibility",
];

/// Where the Posts API lives; `paging.links` hrefs are relative to it.
const API_BASE: &str = "https://api.linkedin.com";

/// Parse a `Shares.csv` export or a Posts API response fetched from (or saved at) `url`.
///
/// Returns a [`PageKind::Search`] page: one listing per qualifying post, the other posts in
/// `skipped`, and for an API page the next page's URL. Errors: [`Error::NoListing`] (`Empty`) for
/// an export or response without posts, [`Error::Unrecognised`] for any other body,
/// [`Error::InvalidUrl`] when `url` is not absolute.
///
/// ```
/// use aiq_connectors::linkedin::parse_page;
/// use chrono::Utc;
///
/// let export = "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n\
///     2024-04-02 15:10:44,https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7181000000000000001,\
///     \"Just listed: 3 bed, 2 bath home at 42 Elm St, Dayton, OH 45402 for $215,000.\",,,MEMBER_NETWORK\n";
/// let page = parse_page(export, "file:///exports/Shares.csv", Utc::now())?;
/// let listing = &page.listings[0];
/// assert_eq!(listing.source_listing_id.as_deref(), Some("urn:li:share:7181000000000000001"));
/// assert_eq!(listing.list_price.as_deref(), Some("$215,000"));
/// assert_eq!(listing.street_address.as_deref(), Some("42 Elm St"));
/// # Ok::<(), aiq_connectors::Error>(())
/// ```
pub fn parse_page(body: &str, url: &str, fetched_at: DateTime<Utc>) -> Result<Page> {
    parse_page_url(url)?;
    let body = body.trim_start_matches('\u{feff}').trim_start();
    let (posts, next_page_url) = if body.starts_with('{') {
        api_posts(body)?
    } else if is_shares_csv(body) {
        (shares_csv_posts(body)?, None)
    } else {
        return Err(Error::unrecognised(
            "neither a LinkedIn Shares.csv export nor a Posts API response",
        ));
    };
    if posts.is_empty() {
        return Err(Error::no_listing(
            NoListingReason::Empty,
            "the export or response holds no posts",
        ));
    }
    let mut page = Page {
        kind: PageKind::Search,
        next_page_url,
        ..Page::default()
    };
    for post in posts {
        match post.listing(fetched_at) {
            Ok(listing) => page.listings.push(listing),
            Err(reason) => page.skipped.push(SkippedItem {
                id: post.id.unwrap_or_default(),
                reason,
            }),
        }
    }
    Ok(page)
}

/// One post, whichever format it came in.
#[derive(Default)]
struct Post {
    id: Option<String>,
    url: Option<String>,
    author: Option<String>,
    text: Option<String>,
    created: Option<String>,
    visibility: Option<String>,
    lifecycle_state: Option<String>,
    shared_url: Option<String>,
    media_url: Option<String>,
}

impl Post {
    fn listing(&self, fetched_at: DateTime<Utc>) -> std::result::Result<RawListing, String> {
        if let Some(state) = self
            .lifecycle_state
            .as_deref()
            .filter(|state| !state.eq_ignore_ascii_case("PUBLISHED"))
        {
            return Err(format!("lifecycle state {state}, not published"));
        }
        let Some(id) = &self.id else {
            return Err("no post id (ShareLink or id) to identify it".to_owned());
        };
        let Some(text) = self.text.as_deref().filter(|text| !text.trim().is_empty()) else {
            return Err("no text".to_owned());
        };
        let facts = judge(text).map_err(str::to_owned)?;
        let mut listing = RawListing {
            source: Some(Source::Linkedin.as_str().to_owned()),
            source_listing_id: Some(id.clone()),
            url: self.url.clone(),
            fetched_at: Some(fetched_at),
            listing_kind: facts.kind.map(str::to_owned),
            list_price: facts.price,
            bedrooms_total: facts.bedrooms,
            bathrooms_total: facts.bathrooms,
            living_area_sqft: facts.area,
            street_address: facts.street,
            city: facts.city,
            state_or_province: facts.state,
            postal_code: facts.postal_code,
            title: Some(title_of(text)),
            description: Some(text.trim().to_owned()),
            posted_at: self.created.clone(),
            contact_phone: facts.phone,
            contact_email: facts.email,
            ..RawListing::default()
        };
        let extra = &mut listing.extra;
        extra.insert("signal".to_owned(), Value::from(facts.signal));
        extra.insert("seller_intent".to_owned(), Value::from(facts.seller_intent));
        for (key, value) in [
            ("author", &self.author),
            ("visibility", &self.visibility),
            ("shared_url", &self.shared_url),
            ("media_url", &self.media_url),
        ] {
            if let Some(value) = value {
                extra.insert(key.to_owned(), Value::from(value.clone()));
            }
        }
        Ok(listing)
    }
}

/// The first line of the post, cut at a word near 120 characters.
fn title_of(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= 120 {
        return line.to_owned();
    }
    let cut: String = line.chars().take(120).collect();
    match cut.rsplit_once(' ') {
        Some((head, _)) if !head.is_empty() => format!("{head}…"),
        _ => format!("{cut}…"),
    }
}

fn is_shares_csv(body: &str) -> bool {
    let header = body.lines().next().unwrap_or_default();
    let columns: Vec<&str> = header
        .split(',')
        .map(|column| column.trim().trim_matches('"'))
        .collect();
    columns.contains(&"ShareLink") && columns.contains(&"ShareCommentary")
}

fn shares_csv_posts(body: &str) -> Result<Vec<Post>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| Error::unrecognised(format!("Shares.csv header unreadable: {error}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|header| header.trim() == name);
    let [date, link, commentary, shared, media, visibility] = SHARES_CSV_COLUMNS.map(column);
    let mut posts = Vec::new();
    for record in reader.records() {
        // A broken row (an unterminated quote) ends the readable part of the export; what came
        // before it still counts.
        let Ok(record) = record else { break };
        let cell = |index: Option<usize>| {
            index
                .and_then(|index| record.get(index))
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let share_link = cell(link);
        posts.push(Post {
            id: share_link.as_deref().and_then(urn_from_share_link),
            url: share_link,
            text: cell(commentary),
            created: cell(date),
            visibility: cell(visibility),
            shared_url: cell(shared),
            media_url: cell(media),
            ..Post::default()
        });
    }
    Ok(posts)
}

/// `urn:li:share:123` from `https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A123/`.
fn urn_from_share_link(link: &str) -> Option<String> {
    let segment = link
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|segment| !segment.is_empty())?;
    let decoded = segment.replace("%3A", ":").replace("%3a", ":");
    decoded.starts_with("urn:li:").then_some(decoded)
}

#[derive(Deserialize)]
struct ApiPage {
    #[serde(default)]
    elements: Option<Vec<Value>>,
    #[serde(default)]
    paging: Option<Value>,
}

fn api_posts(body: &str) -> Result<(Vec<Post>, Option<String>)> {
    let page: Value = serde_json::from_str(body)
        .map_err(|error| Error::unrecognised(format!("Posts API JSON unreadable: {error}")))?;
    let is_single_post = page.get("id").is_some() && page.get("commentary").is_some();
    if is_single_post {
        return Ok((vec![api_post(&page)], None));
    }
    let page: ApiPage = serde_json::from_value(page)
        .map_err(|error| Error::unrecognised(format!("not a Posts API response: {error}")))?;
    let Some(elements) = page.elements else {
        return Err(Error::unrecognised(
            "a JSON object without `elements`: not a Posts API response",
        ));
    };
    let next = page
        .paging
        .as_ref()
        .and_then(|paging| paging.get("links"))
        .and_then(Value::as_array)
        .and_then(|links| {
            links
                .iter()
                .find(|link| link.get("rel").and_then(Value::as_str) == Some("next"))
        })
        .and_then(|link| link.get("href").and_then(Value::as_str))
        .and_then(|href| Url::parse(API_BASE).ok()?.join(href).ok())
        .map(String::from);
    Ok((elements.iter().map(api_post).collect(), next))
}

fn api_post(element: &Value) -> Post {
    let text = |pointer: &str| -> Option<String> {
        match element.pointer(pointer)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    };
    let id = text("/id");
    Post {
        url: id
            .as_deref()
            .map(|urn| format!("https://www.linkedin.com/feed/update/{urn}/")),
        id,
        author: text("/author"),
        text: text("/commentary"),
        created: text("/publishedAt").or_else(|| text("/createdAt")),
        visibility: text("/visibility"),
        lifecycle_state: text("/lifecycleState"),
        shared_url: text("/content/article/source"),
        media_url: text("/content/media/id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_links_give_the_urn() {
        assert_eq!(
            urn_from_share_link(
                "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7012345678901234567"
            )
            .as_deref(),
            Some("urn:li:share:7012345678901234567")
        );
        assert_eq!(
            urn_from_share_link("https://www.linkedin.com/feed/update/urn:li:ugcPost:42/")
                .as_deref(),
            Some("urn:li:ugcPost:42")
        );
        assert_eq!(urn_from_share_link("https://example.com/"), None);
    }

    #[test]
    fn long_first_lines_are_cut_at_a_word() {
        let long = "word ".repeat(40);
        let title = title_of(&long);
        assert!(title.chars().count() <= 121, "{title}");
        assert!(title.ends_with("word…"), "{title}");
        assert_eq!(title_of("\n  Just listed!\nmore"), "Just listed!");
    }

    #[test]
    fn other_bodies_are_unrecognised() {
        let error = parse_page("<html></html>", "https://www.linkedin.com/", Utc::now())
            .expect_err("not an export");
        assert_eq!(error.code(), "unrecognised_page");
        let error = parse_page(
            r#"{"elements":[]}"#,
            "https://api.linkedin.com/rest/posts",
            Utc::now(),
        )
        .expect_err("no posts");
        assert_eq!(error.no_listing_reason(), Some(NoListingReason::Empty));
    }
}
