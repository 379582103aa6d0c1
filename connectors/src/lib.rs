//! Source connectors: parsers that turn real pages into [`aiq_schemas::RawListing`]s, and the polite
//! crawler that fetches them.

pub mod craigslist;
pub mod decode;
