use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::H3Cell;

/// Where a listing came from. One variant per connector.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Craigslist,
    Zillow,
    Realtor,
    Redfin,
    Trulia,
    Fsbo,
    Facebook,
    Linkedin,
    Reso,
    File,
}

impl Source {
    pub const ALL: [Source; 10] = [
        Source::Craigslist,
        Source::Zillow,
        Source::Realtor,
        Source::Redfin,
        Source::Trulia,
        Source::Fsbo,
        Source::Facebook,
        Source::Linkedin,
        Source::Reso,
        Source::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Craigslist => "craigslist",
            Source::Zillow => "zillow",
            Source::Realtor => "realtor",
            Source::Redfin => "redfin",
            Source::Trulia => "trulia",
            Source::Fsbo => "fsbo",
            Source::Facebook => "facebook",
            Source::Linkedin => "linkedin",
            Source::Reso => "reso",
            Source::File => "file",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source name that no connector owns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown source `{0}` (known: craigslist, zillow, realtor, redfin, trulia, fsbo, facebook, linkedin, reso, file)"
)]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lowered = s.trim().to_ascii_lowercase();
        Source::ALL
            .into_iter()
            .find(|source| source.as_str() == lowered)
            .ok_or_else(|| UnknownSource(s.to_owned()))
    }
}

/// Whether the listing offers the property for rent or for sale (RESO: the lease vs sale split of
/// `PropertyType`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingKind {
    Rent,
    Sale,
}

impl ListingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListingKind::Rent => "rent",
            ListingKind::Sale => "sale",
        }
    }
}

impl fmt::Display for ListingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The period a price was quoted for on the source page. `list_price` itself is always per month for
/// rentals and a one-off amount for sales; this keeps what the page said.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricePeriod {
    Once,
    Day,
    Week,
    Month,
    Year,
}

impl PricePeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            PricePeriod::Once => "once",
            PricePeriod::Day => "day",
            PricePeriod::Week => "week",
            PricePeriod::Month => "month",
            PricePeriod::Year => "year",
        }
    }
}

/// A listing after normalisation: typed values, canonical address and contact forms.
///
/// `None` means the source did not say. Field names follow RESO (`ListPrice` -> `list_price`).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Listing {
    pub source: Source,
    pub source_listing_id: String,
    pub url: String,
    /// When the connector fetched the page (or the runner received the record, if the source gave none).
    pub fetched_at: DateTime<Utc>,
    pub listing_kind: Option<ListingKind>,
    /// Lower-case RESO-style property type: `apartment`, `house`, `condo`, `townhouse`, `multi_family`,
    /// `manufactured`, `land`, `room`, `other`.
    pub property_type: Option<String>,
    /// Dollars; per month for rentals (converted from the quoted period), total for sales.
    pub list_price: Option<f64>,
    pub price_period: Option<PricePeriod>,
    /// RESO `BedroomsTotal`; a studio is 0.
    pub bedrooms_total: Option<u8>,
    /// RESO `BathroomsTotalDecimal` (1.5 = one full and one half bath).
    pub bathrooms_total: Option<f32>,
    /// RESO `LivingArea` in square feet.
    pub living_area_sqft: Option<u32>,
    /// USPS-style delivery line in title case with standard abbreviations, unit included:
    /// `123 N Main St Apt 4`.
    pub street_address: Option<String>,
    /// RESO `UnitNumber`, without its designator (`4B` for `Apt #4B`).
    pub unit_number: Option<String>,
    pub city: Option<String>,
    /// Two-letter USPS state or territory code.
    pub state_or_province: Option<String>,
    /// Five-digit ZIP code.
    pub postal_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// H3 cell of the coordinates at resolution 9 (about 0.1 km²).
    pub h3_cell: Option<H3Cell>,
    pub title: Option<String>,
    /// RESO `PublicRemarks`.
    pub description: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    pub contact_name: Option<String>,
    /// E.164 (`+16175550123`).
    pub contact_phone: Option<String>,
    /// Lower-cased.
    pub contact_email: Option<String>,
}

impl Listing {
    /// A listing that says nothing beyond who it is; the starting point for tests and builders.
    pub fn new(
        source: Source,
        source_listing_id: impl Into<String>,
        url: impl Into<String>,
        fetched_at: DateTime<Utc>,
    ) -> Self {
        Listing {
            source,
            source_listing_id: source_listing_id.into(),
            url: url.into(),
            fetched_at,
            listing_kind: None,
            property_type: None,
            list_price: None,
            price_period: None,
            bedrooms_total: None,
            bathrooms_total: None,
            living_area_sqft: None,
            street_address: None,
            unit_number: None,
            city: None,
            state_or_province: None,
            postal_code: None,
            latitude: None,
            longitude: None,
            h3_cell: None,
            title: None,
            description: None,
            posted_at: None,
            contact_name: None,
            contact_phone: None,
            contact_email: None,
        }
    }
}
