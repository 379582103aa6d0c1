//! The one shape every site parser returns, so the crawler and the CLI treat all sites alike.

use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, Utc};

use crate::error::Result;

/// What kind of page was parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum PageKind {
    /// One listing's own page (a posting, a home-details page, a marketplace item).
    Posting,
    /// A search or category results page (or a feed page): one listing per result.
    #[default]
    Search,
}

/// Everything one page (or one feed response) yields.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Page {
    pub kind: PageKind,
    pub listings: Vec<RawListing>,
    /// Absolute URLs of the listing pages a search page links to, in page order (empty for a
    /// listing page). The crawler follows them for the full record.
    pub posting_urls: Vec<String>,
    /// Absolute URL of the next results page, when the page links one.
    pub next_page_url: Option<String>,
    /// Items the page holds that are deliberately not listings (a car on Facebook Marketplace).
    pub skipped: Vec<SkippedItem>,
}

/// An item recognised and left out on purpose, with why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SkippedItem {
    pub id: String,
    pub reason: String,
}

/// Parses a page of `source` fetched from `url` at `fetched_at`. The body may be HTML or, for sites
/// whose data arrives as JSON (search APIs, feeds), JSON text.
pub fn parse_page(
    source: Source,
    body: &str,
    url: &str,
    fetched_at: DateTime<Utc>,
) -> Result<Page> {
    match source {
        Source::Craigslist => crate::craigslist::parse_page(body, url, fetched_at),
        Source::Facebook => crate::facebook::parse_page(body, url, fetched_at),
        Source::Linkedin => crate::linkedin::parse_page(body, url, fetched_at),
        Source::Fsbo => crate::fsbo::parse_page(body, url, fetched_at),
        Source::Realtor => crate::realtor::parse_page(body, url, fetched_at),
        Source::Redfin => crate::redfin::parse_page(body, url, fetched_at),
        Source::Trulia => crate::trulia::parse_page(body, url, fetched_at),
        Source::Zillow => crate::zillow::parse_page(body, url, fetched_at),
        Source::Reso => crate::reso::parse_page(body, url, fetched_at),
        Source::File => crate::files::parse_page(body, url, fetched_at),
    }
}
