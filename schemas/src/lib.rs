//! Canonical record types every AIQLeads crate shares.
//!
//! Data moves through three shapes:
//!
//! 1. [`RawListing`]: what a connector extracted from a page or feed, values still as the source wrote
//!    them (`"$1,250/mo"`, `"Studio"`, `"1,200 ft²"`). This is what travels on `listings.raw`.
//! 2. [`Listing`]: the same listing normalised: typed values, canonical address, E.164 phone, H3 cell.
//! 3. [`Lead`]: a normalised listing plus what the marketplace sells it with: the property it belongs to
//!    (after dedupe), an explainable fraud score, a quality score and a lead price in credits.
//!
//! Field names follow the RESO Data Dictionary where one exists; see `docs/reso-mapping.md` in the
//! repository root for the mapping table.
//!
//! # Schema evolution
//!
//! [`SCHEMA_VERSION`] travels with every record (a Kafka header, a Parquet key-value metadata entry, a
//! column in SQL). The rule is *additive and nullable*: a new version may only add optional fields
//! (`Option<_>` with `#[serde(default)]`, a nullable Arrow column, a nullable SQL column added by a new
//! numbered migration). Renaming, removing or retyping a field is a new major schema and a new topic.
//! Readers accept every version up to their own and reject newer ones into the dead-letter destination.

mod arrow;
mod events;
mod ids;
mod lead;
mod listing;
pub mod migrations;
mod raw;

pub use arrow::{
    LEAD_PARQUET_COLUMNS, MARKETPLACE_EVENT_PARQUET_COLUMNS, PROPERTY_MERGE_PARQUET_COLUMNS,
    RAW_LISTING_PARQUET_COLUMNS, fraud_reason_fields, lead_arrow_schema,
    marketplace_event_arrow_schema, property_merge_arrow_schema, raw_listing_arrow_schema,
};
pub use events::{MarketplaceEvent, MarketplaceEventKind};
pub use ids::{H3Cell, PropertyId};
pub use lead::{FraudCode, FraudReason, Lead, LeadStatus, PriceBreakdown};
pub use listing::{Listing, ListingKind, PricePeriod, Source, UnknownSource};
pub use raw::{DeadLetter, RawListing, RejectReason};

/// Version of the record shapes in this crate; see the evolution rule in the crate docs.
pub const SCHEMA_VERSION: u16 = 1;
