//! Source connectors: parsers that turn real pages into [`aiq_schemas::RawListing`]s, and the polite
//! crawler that fetches them.
//!
//! - [`decode`]: bytes to text, choosing the character encoding as a browser would.
//! - [`detect`]: which site a saved page came from.
//! - [`craigslist`]: Craigslist postings and search pages, every markup generation since 2009.
//! - [`facebook`]: Facebook Marketplace item and search pages (housing only; the rest is skipped).
//! - [`reso`]: RESO Web API feeds (OData JSON) and the client that pulls them with a bearer token.
//! - [`files`]: CSV and JSON-lines listing files.
//! - [`fsbo`]: ForSaleByOwner.com listing pages (JSON-LD, `__NEXT_DATA__`, Open Graph) and search
//!   API results.
//! - [`linkedin`]: LinkedIn posts announcing properties or seller intent, from the member data
//!   export and the Posts API (authorised access only, never scraped).
//! - [`error`]: the crate's [`Error`], with a stable [`Error::code`] for dead letters and a
//!   [`Error::retryable`] hint.

pub mod craigslist;
pub mod crawl;
pub mod decode;
pub mod detect;
pub mod error;
pub mod facebook;
pub mod files;
pub mod fsbo;
pub mod linkedin;
pub mod page;
pub mod realtor;
pub mod redfin;
pub mod reso;
pub mod trulia;
mod util;
pub mod zillow;

pub use error::{Error, ErrorClass, NoListingReason, Result};
pub use page::{Page, PageKind, SkippedItem, parse_page};
