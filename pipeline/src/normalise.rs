//! Raw listing -> normalised listing: typed values, USPS addresses, E.164 phones, H3 cells.
//!
//! [`normalise`] is the stage's entry point; each field has its own public function so other
//! stages and tools can reuse one rule (and so each rule is tested on its own).
//!
//! What rejects a record (the [`RejectReason`] code is stable, dashboards group by it):
//!
//! | code                  | when |
//! |-----------------------|------|
//! | `unknown_source`      | `source` is missing or names no connector |
//! | `missing_listing_id`  | `source_listing_id` is missing or blank |
//! | `missing_url`         | `url` is missing and cannot be derived: Zillow (`zpid`) and Facebook item URLs are rebuilt from the id; `file` and `reso` records, which have no web page, get a `urn:aiqleads:<source>:<id>` identifier; other sites are rejected |
//! | `invalid_coordinates` | a latitude/longitude pair out of range, non-finite, or exactly (0, 0) |
//! | `invalid_price`       | a negative price or one above [`MAX_PLAUSIBLE_PRICE`] |
//!
//! Everything else that cannot be read degrades to `None`: a listing with an odd date or a garbled
//! room count is still a lead.
//!
//! Output is a fixed point: a normalised listing written back as text and normalised again comes
//! out unchanged (checked by property tests in `tests/normalise_props.rs`).
//!
//! ```
//! use aiq_pipeline::normalise::normalise;
//! use aiq_schemas::{ListingKind, PricePeriod, RawListing};
//! use chrono::{TimeZone, Utc};
//!
//! let raw = RawListing {
//!     source: Some("craigslist".into()),
//!     source_listing_id: Some("7514890528".into()),
//!     url: Some("https://boston.craigslist.org/gbs/apa/d/belmont/7514890528.html".into()),
//!     list_price: Some("$350/week".into()),
//!     street_address: Some("123 North Main Street, Apt. 4, Belmont, MA 02478".into()),
//!     ..RawListing::default()
//! };
//! let listing = normalise(&raw, Utc.with_ymd_and_hms(2022, 7, 30, 12, 0, 0).unwrap()).unwrap();
//! assert_eq!(listing.listing_kind, Some(ListingKind::Rent));
//! assert_eq!((listing.list_price, listing.price_period), (Some(1516.67), Some(PricePeriod::Week)));
//! assert_eq!(listing.street_address.as_deref(), Some("123 N Main St Apt 4"));
//! assert_eq!(listing.city.as_deref(), Some("Belmont"));
//! assert_eq!(listing.postal_code.as_deref(), Some("02478"));
//! ```

mod contact;
mod geo;
mod kind;
mod money;
mod rooms;
pub(crate) mod text;
mod time;

use aiq_schemas::{Listing, ListingKind, PricePeriod, RawListing, RejectReason, Source};
use chrono::{DateTime, SubsecRound, Utc};

pub use contact::{normalise_contact_name, normalise_email, normalise_phone};
pub use geo::{Coordinates, parse_coordinates};
pub use kind::{listing_kind_from_url, parse_listing_kind, parse_property_type};
pub use money::{MAX_PLAUSIBLE_PRICE, QuotedPrice, monthly_amount, parse_price};
pub use rooms::{
    MAX_LIVING_AREA_SQFT, MAX_ROOMS, parse_bathrooms, parse_bedrooms, parse_living_area_sqft,
};
pub use text::{collapse_whitespace, normalise_city, normalise_description, normalise_title};
pub use time::parse_posted_at;

use crate::address::{self, NormalisedStreet};

/// Why a raw listing cannot be normalised. [`NormaliseError::code`] is the stable reject code.
/// All variants are bad data: retrying the same record cannot help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormaliseError {
    #[error("the record names no source")]
    MissingSource,
    #[error(
        "unknown source `{0}` (known: craigslist, zillow, realtor, redfin, trulia, fsbo, facebook, linkedin, reso, file)"
    )]
    UnknownSource(String),
    #[error("the record has no source listing id")]
    MissingListingId,
    #[error("the {site} record has no url and none can be derived from its id")]
    MissingUrl { site: Source },
    #[error("invalid coordinates ({latitude}, {longitude}): {why}")]
    InvalidCoordinates {
        latitude: String,
        longitude: String,
        why: String,
    },
    #[error("invalid price `{text}`: {why}")]
    InvalidPrice { text: String, why: String },
}

impl NormaliseError {
    /// The stable snake_case code stored with the dead letter.
    pub fn code(&self) -> &'static str {
        match self {
            NormaliseError::MissingSource | NormaliseError::UnknownSource(_) => "unknown_source",
            NormaliseError::MissingListingId => "missing_listing_id",
            NormaliseError::MissingUrl { .. } => "missing_url",
            NormaliseError::InvalidCoordinates { .. } => "invalid_coordinates",
            NormaliseError::InvalidPrice { .. } => "invalid_price",
        }
    }
}

impl From<NormaliseError> for RejectReason {
    fn from(error: NormaliseError) -> Self {
        RejectReason::new(error.code(), error.to_string())
    }
}

/// Normalises one raw listing.
///
/// `received_at` is used as fetched_at when the raw record has none (the pipeline never reads a clock).
pub fn normalise(raw: &RawListing, received_at: DateTime<Utc>) -> Result<Listing, RejectReason> {
    normalise_listing(raw, received_at).map_err(RejectReason::from)
}

/// [`normalise`] with the typed error.
pub fn normalise_listing(
    raw: &RawListing,
    received_at: DateTime<Utc>,
) -> Result<Listing, NormaliseError> {
    let source = parse_source(raw.source.as_deref())?;
    let source_listing_id = non_blank(raw.source_listing_id.as_deref())
        .ok_or(NormaliseError::MissingListingId)?
        .to_owned();
    let url = match non_blank(raw.url.as_deref()) {
        Some(url) => url.to_owned(),
        None => derive_url(source, &source_listing_id)
            .ok_or(NormaliseError::MissingUrl { site: source })?,
    };

    let quoted = raw
        .list_price
        .as_deref()
        .map(parse_price)
        .transpose()?
        .flatten();
    let coordinates = parse_coordinates(raw.latitude.as_deref(), raw.longitude.as_deref())?;

    let listing_kind = raw
        .listing_kind
        .as_deref()
        .and_then(parse_listing_kind)
        .or_else(|| {
            quoted
                .and_then(|price| price.period)
                .filter(|period| *period != PricePeriod::Once)
                .map(|_| ListingKind::Rent)
        })
        .or_else(|| listing_kind_from_url(&url));
    let (list_price, price_period) = price_fields(listing_kind, quoted);

    let housing = raw.bedrooms_total.as_deref();
    let bedrooms_total = housing.and_then(parse_bedrooms);
    let bathrooms_total = raw
        .bathrooms_total
        .as_deref()
        .and_then(parse_bathrooms)
        .or_else(|| housing.and_then(rooms::bathrooms_with_unit));
    let living_area_sqft = raw
        .living_area_sqft
        .as_deref()
        .and_then(parse_living_area_sqft)
        .or_else(|| housing.and_then(rooms::living_area_with_unit));

    let place = normalise_place(raw);

    // Times keep whole microseconds: what Parquet, Postgres and SQLite all hold, so every sink and
    // a backfill from the lake agree to the last digit.
    let mut listing = Listing::new(
        source,
        source_listing_id,
        url,
        raw.fetched_at.unwrap_or(received_at).trunc_subsecs(6),
    );
    listing.listing_kind = listing_kind;
    listing.property_type = raw
        .property_type
        .as_deref()
        .and_then(parse_property_type)
        .map(str::to_owned);
    listing.list_price = list_price;
    listing.price_period = price_period;
    listing.bedrooms_total = bedrooms_total;
    listing.bathrooms_total = bathrooms_total;
    listing.living_area_sqft = living_area_sqft;
    listing.street_address = place.street_address;
    listing.unit_number = place.unit_number;
    listing.city = place.city;
    listing.state_or_province = place.state.map(str::to_owned);
    listing.postal_code = place.postal_code;
    if let Some(coordinates) = coordinates {
        listing.latitude = Some(coordinates.latitude);
        listing.longitude = Some(coordinates.longitude);
        listing.h3_cell = Some(coordinates.h3_cell);
    }
    listing.title = raw.title.as_deref().and_then(normalise_title);
    listing.description = raw.description.as_deref().and_then(normalise_description);
    listing.posted_at = raw
        .posted_at
        .as_deref()
        .and_then(parse_posted_at)
        .map(|t| t.trunc_subsecs(6));
    listing.contact_name = raw.contact_name.as_deref().and_then(normalise_contact_name);
    listing.contact_phone = raw.contact_phone.as_deref().and_then(normalise_phone);
    listing.contact_email = raw.contact_email.as_deref().and_then(normalise_email);
    Ok(listing)
}

fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// Source by name, case-insensitively, without allocating (this runs for every record).
fn parse_source(text: Option<&str>) -> Result<Source, NormaliseError> {
    let text = non_blank(text).ok_or(NormaliseError::MissingSource)?;
    Source::ALL
        .into_iter()
        .find(|source| source.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| NormaliseError::UnknownSource(text.chars().take(40).collect()))
}

/// A URL for a record that came without one, where the id determines it (see the module table).
fn derive_url(source: Source, id: &str) -> Option<String> {
    let numeric = id.bytes().all(|byte| byte.is_ascii_digit());
    match source {
        Source::Zillow if numeric => Some(format!("https://www.zillow.com/homedetails/{id}_zpid/")),
        Source::Facebook if numeric => {
            Some(format!("https://www.facebook.com/marketplace/item/{id}/"))
        }
        Source::File | Source::Reso => Some(format!("urn:aiqleads:{}:{id}", source.as_str())),
        _ => None,
    }
}

/// `list_price` and `price_period` from the quoted price and the listing kind.
///
/// * Rentals: per month, converted from the quoted period (a rental quoted without one is taken as
///   monthly); `price_period` keeps the quoted period.
/// * Sales: the amount once. A sale quoted per period (`"$2,000/mo"` on a for-sale listing) is a
///   payment estimate, not the price: both fields are `None`.
/// * Kind unknown: the amount as quoted, period `None`.
///
/// A converted price below a dollar is `None` (it only arises from a tiny yearly amount).
fn price_fields(
    kind: Option<ListingKind>,
    quoted: Option<QuotedPrice>,
) -> (Option<f64>, Option<PricePeriod>) {
    let Some(quoted) = quoted else {
        return (None, None);
    };
    let (amount, period) = match (kind, quoted.period) {
        (Some(ListingKind::Rent), period) => {
            let period = period.unwrap_or(PricePeriod::Month);
            (monthly_amount(quoted.amount, period), Some(period))
        }
        (Some(ListingKind::Sale), None | Some(PricePeriod::Once)) => {
            (money::round_cents(quoted.amount), Some(PricePeriod::Once))
        }
        (Some(ListingKind::Sale), Some(_)) => return (None, None),
        (None, period) => (money::round_cents(quoted.amount), period),
    };
    if money::is_real_price(amount) {
        (Some(amount), period)
    } else {
        (None, None)
    }
}

/// The normalised address fields of a listing.
struct Place {
    street_address: Option<String>,
    unit_number: Option<String>,
    city: Option<String>,
    state: Option<&'static str>,
    postal_code: Option<String>,
}

/// Street, unit, city, state and ZIP. A full one-line address in `street_address` (one with a
/// comma) is split, and its city, state and ZIP fill the fields the record left empty (or unreadable). A unit given in
/// `unit_number` is added to a street line that has none.
fn normalise_place(raw: &RawListing) -> Place {
    let line = raw.street_address.as_deref();
    // Only lines with a comma are split: a standard delivery line never has one, so normalised
    // output is never split again (and "123 Main St Fl 33101" stays a floor, not Florida).
    let split = line
        .filter(|line| line.contains(','))
        .and_then(address::split_one_line_address);
    let street_line = split.map(|parts| parts.street).or(line);

    let state = raw
        .state_or_province
        .as_deref()
        .and_then(address::state_code)
        .or_else(|| split.and_then(|parts| parts.state));
    let city = raw
        .city
        .as_deref()
        .and_then(normalise_city)
        .or_else(|| split.and_then(|parts| parts.city).and_then(normalise_city));
    let postal_code = raw
        .postal_code
        .as_deref()
        .and_then(|zip| address::normalise_zip(zip, state))
        .or_else(|| {
            split
                .and_then(|parts| parts.postal_code)
                .and_then(|zip| address::normalise_zip(zip, state))
        });

    let mut street = street_line.and_then(address::normalise_street);
    let separate_unit = raw.unit_number.as_deref().and_then(address::normalise_unit);
    if let (Some(street), Some((designator, number))) = (street.as_mut(), &separate_unit)
        && street.unit_designator.is_none()
    {
        street.unit_designator = Some(designator);
        street.unit_number = Some(number.clone());
    }
    let unit_number = match &street {
        Some(street) => street.unit_number.clone(),
        None => separate_unit.map(|(_, number)| number),
    };
    Place {
        street_address: street.as_ref().map(NormalisedStreet::display),
        unit_number,
        city,
        state,
        postal_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn received() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 7, 30, 12, 0, 0).unwrap()
    }

    fn raw(source: &str, id: &str) -> RawListing {
        RawListing {
            source: Some(source.to_owned()),
            source_listing_id: Some(id.to_owned()),
            url: Some(format!("https://example.org/{id}")),
            ..RawListing::default()
        }
    }

    #[test]
    fn rejections_have_stable_codes() {
        let code = |raw: &RawListing| normalise(raw, received()).unwrap_err().code;
        assert_eq!(code(&RawListing::default()), "unknown_source");
        assert_eq!(code(&raw("myspace", "1")), "unknown_source");
        assert_eq!(code(&raw("zillow", "  ")), "missing_listing_id");
        let mut no_url = raw("craigslist", "7514890528");
        no_url.url = None;
        assert_eq!(code(&no_url), "missing_url");
        let mut bad_price = raw("zillow", "1");
        bad_price.list_price = Some("-$5".to_owned());
        assert_eq!(code(&bad_price), "invalid_price");
        let mut null_island = raw("zillow", "1");
        null_island.latitude = Some("0".to_owned());
        null_island.longitude = Some("0".to_owned());
        assert_eq!(code(&null_island), "invalid_coordinates");
        let reason = normalise(&null_island, received()).unwrap_err();
        assert!(reason.detail.contains("(0, 0)"), "{}", reason.detail);
    }

    #[test]
    fn urls_are_derived_where_the_id_determines_them() {
        let mut zillow = raw("Zillow", "2077444454");
        zillow.url = None;
        let listing = normalise(&zillow, received()).unwrap();
        assert_eq!(listing.source, Source::Zillow);
        assert_eq!(
            listing.url,
            "https://www.zillow.com/homedetails/2077444454_zpid/"
        );
        let mut table_row = raw("file", "7129300520");
        table_row.url = None;
        assert_eq!(
            normalise(&table_row, received()).unwrap().url,
            "urn:aiqleads:file:7129300520"
        );
    }

    #[test]
    fn fetched_at_falls_back_to_received_at() {
        let listing = normalise(&raw("zillow", "1"), received()).unwrap();
        assert_eq!(listing.fetched_at, received());
        let mut fetched = raw("zillow", "1");
        let earlier = Utc.with_ymd_and_hms(2022, 7, 1, 0, 0, 0).unwrap();
        fetched.fetched_at = Some(earlier);
        assert_eq!(normalise(&fetched, received()).unwrap().fetched_at, earlier);
    }

    #[test]
    fn prices_follow_the_listing_kind() {
        let price = |kind: Option<&str>, price: &str| {
            let mut record = raw("zillow", "1");
            record.listing_kind = kind.map(str::to_owned);
            record.list_price = Some(price.to_owned());
            let listing = normalise(&record, received()).unwrap();
            (
                listing.listing_kind,
                listing.list_price,
                listing.price_period,
            )
        };
        use ListingKind::*;
        use PricePeriod::*;
        assert_eq!(
            price(None, "$1,250/mo"),
            (Some(Rent), Some(1250.0), Some(Month))
        );
        assert_eq!(
            price(None, "350/week"),
            (Some(Rent), Some(1516.67), Some(Week))
        );
        assert_eq!(
            price(Some("for_rent"), "$2,400"),
            (Some(Rent), Some(2400.0), Some(Month))
        );
        assert_eq!(
            price(Some("FOR_SALE"), "$325K"),
            (Some(Sale), Some(325_000.0), Some(Once))
        );
        assert_eq!(price(Some("sale"), "$2,000/mo"), (Some(Sale), None, None));
        assert_eq!(price(None, "$2,400"), (None, Some(2400.0), None));
        assert_eq!(
            price(Some("rent"), "Contact for price"),
            (Some(Rent), None, None)
        );
        assert_eq!(price(Some("rent"), "$5/yr"), (Some(Rent), None, None));
    }

    #[test]
    fn craigslist_url_gives_the_kind() {
        let mut record = raw("craigslist", "7514890528");
        record.url =
            Some("https://boston.craigslist.org/gbs/apa/d/belmont/7514890528.html".to_owned());
        record.list_price = Some("$2,400".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.listing_kind, Some(ListingKind::Rent));
        assert_eq!(listing.price_period, Some(PricePeriod::Month));
    }

    #[test]
    fn housing_line_fills_rooms_and_area() {
        let mut record = raw("craigslist", "7501755803");
        record.bedrooms_total = Some("1br - 750ft2".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.bedrooms_total, Some(1));
        assert_eq!(listing.bathrooms_total, None);
        assert_eq!(listing.living_area_sqft, Some(750));
        record.bedrooms_total = Some("2br/1.5ba".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(
            (listing.bedrooms_total, listing.bathrooms_total),
            (Some(2), Some(1.5))
        );
    }

    #[test]
    fn address_fields_are_split_and_filled() {
        let mut record = raw("fsbo", "647292b98b2f3108b4051314");
        record.street_address = Some("24303 Woolsey Cyn #6, Canoga Park, CA 91304".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(
            listing.street_address.as_deref(),
            Some("24303 Woolsey Cyn Apt 6")
        );
        assert_eq!(listing.unit_number.as_deref(), Some("6"));
        assert_eq!(listing.city.as_deref(), Some("Canoga Park"));
        assert_eq!(listing.state_or_province.as_deref(), Some("CA"));
        assert_eq!(listing.postal_code.as_deref(), Some("91304"));

        // Fields the record gave win over the split.
        record.city = Some("CANOGA PARK (West Hills)".to_owned());
        record.state_or_province = Some("California".to_owned());
        record.postal_code = Some("91307".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.city.as_deref(), Some("Canoga Park"));
        assert_eq!(listing.postal_code.as_deref(), Some("91307"));
    }

    #[test]
    fn separate_unit_joins_the_street_line() {
        let mut record = raw("zillow", "1");
        record.street_address = Some("123 Main Street".to_owned());
        record.unit_number = Some("#4b".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(
            listing.street_address.as_deref(),
            Some("123 Main St Apt 4B")
        );
        assert_eq!(listing.unit_number.as_deref(), Some("4B"));

        record.street_address = Some("123 Main Street Suite 9".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.street_address.as_deref(), Some("123 Main St Ste 9"));
        assert_eq!(listing.unit_number.as_deref(), Some("9"));

        record.street_address = None;
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.unit_number.as_deref(), Some("4B"));
    }

    #[test]
    fn puerto_rico_zip_regains_its_leading_zeros() {
        let mut record = raw("realtor", "1");
        record.city = Some("Adjuntas".to_owned());
        record.state_or_province = Some("Puerto Rico".to_owned());
        record.postal_code = Some("601".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.state_or_province.as_deref(), Some("PR"));
        assert_eq!(listing.postal_code.as_deref(), Some("00601"));
    }

    fn shared_table(name: &str) -> String {
        let path = format!(
            "{}/../../shared/data/tables/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// A record the Craigslist scraper of the source repository extracted from a saved 2022 page.
    #[test]
    fn craigslist_2022_scraped_record() {
        let path = format!(
            "{}/../../shared/data/html/craigslist/cl_2022_post_apa_chicago_7498813750.parsed.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let scraped: serde_json::Value = serde_json::from_str(&text).unwrap();
        let field = |key: &str| match &scraped[key] {
            serde_json::Value::String(text) if text != "NA" => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            _ => None,
        };
        let record = RawListing {
            source: Some("craigslist".to_owned()),
            source_listing_id: field("post_id"),
            url: field("url"),
            title: field("title"),
            list_price: field("price"),
            street_address: field("map_address"),
            latitude: field("latitude"),
            longitude: field("longitude"),
            posted_at: field("posted"),
            property_type: field("housing_type"),
            bedrooms_total: field("bedrooms"),
            bathrooms_total: field("bathrooms"),
            living_area_sqft: field("sqft"),
            ..RawListing::default()
        };
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(listing.source_listing_id, "7498813750");
        // The URL's `apa` category says rent, so the bare price is per month.
        assert_eq!(listing.listing_kind, Some(ListingKind::Rent));
        assert_eq!(
            (listing.list_price, listing.price_period),
            (Some(2100.0), Some(PricePeriod::Month))
        );
        assert_eq!(listing.street_address.as_deref(), Some("1207 E Touhy Ave"));
        assert_eq!(listing.property_type.as_deref(), Some("apartment"));
        assert_eq!(
            (listing.bedrooms_total, listing.bathrooms_total),
            (Some(1), Some(1.0))
        );
        assert_eq!(listing.living_area_sqft, None);
        assert_eq!(
            listing.posted_at,
            Some(Utc.with_ymd_and_hms(2022, 6, 20, 9, 35, 0).unwrap())
        );
        assert!(listing.h3_cell.is_some());
    }

    /// Every row of the King County sales table (unquoted CSV) as its connector would send it.
    #[test]
    fn king_county_sales_table_normalises_completely() {
        let table = shared_table("kc_house_sales_2014_2015.csv");
        let mut rows = 0;
        for line in table.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let text = |index: usize| Some(cells[index].to_owned());
            let record = RawListing {
                source: Some("file".to_owned()),
                source_listing_id: text(0),
                posted_at: text(1),
                list_price: text(2),
                bedrooms_total: text(3),
                bathrooms_total: text(4),
                living_area_sqft: text(5),
                postal_code: text(16),
                latitude: text(17),
                longitude: text(18),
                listing_kind: Some("sale".to_owned()),
                state_or_province: Some("WA".to_owned()),
                ..RawListing::default()
            };
            let listing =
                normalise(&record, received()).unwrap_or_else(|reason| panic!("{line}: {reason}"));
            assert!(listing.posted_at.is_some(), "{line}");
            assert!(
                listing.list_price.is_some() && listing.price_period == Some(PricePeriod::Once),
                "{line}"
            );
            assert!(
                listing.bedrooms_total.is_some() && listing.bathrooms_total.is_some(),
                "{line}"
            );
            assert!(listing.living_area_sqft.is_some(), "{line}");
            assert!(
                listing
                    .postal_code
                    .as_deref()
                    .is_some_and(|zip| zip.starts_with("98")),
                "{line}"
            );
            assert!(listing.h3_cell.is_some(), "{line}");
            rows += 1;
        }
        assert!(rows > 10_000, "{rows} rows");
    }

    /// The Realtor table stores ZIPs as numbers, so Puerto Rico's `00601` arrives as `601`.
    #[test]
    fn realtor_puerto_rico_zips_regain_their_zeros_only_where_they_belong() {
        let table = shared_table("realtor_usa_real_estate_old_schema_puerto_rico.csv");
        let (mut padded, mut refused) = (0, 0);
        for line in table.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let record = RawListing {
                source: Some("realtor".to_owned()),
                source_listing_id: Some("1".to_owned()),
                url: Some("https://www.realtor.com/".to_owned()),
                listing_kind: Some(cells[0].to_owned()),
                city: Some(cells[4].to_owned()),
                state_or_province: Some(cells[5].to_owned()),
                postal_code: Some(cells[6].to_owned()),
                ..RawListing::default()
            };
            let listing = normalise(&record, received()).unwrap();
            assert_eq!(listing.listing_kind, Some(ListingKind::Sale));
            assert_eq!(listing.state_or_province.as_deref(), Some("PR"));
            let zip = cells[6];
            match (zip.len(), zip.chars().next()) {
                (3, Some('6' | '7' | '9')) => {
                    assert_eq!(listing.postal_code, Some(format!("00{zip}")));
                    padded += 1;
                }
                // 008xx is the US Virgin Islands, not Puerto Rico: no guess.
                (3, Some('8')) | (0, _) => {
                    assert_eq!(listing.postal_code, None, "{line}");
                    refused += 1;
                }
                _ => assert_eq!(listing.postal_code.as_deref(), Some(zip), "{line}"),
            }
        }
        assert!(
            padded > 20_000 && refused > 0,
            "{padded} padded, {refused} refused"
        );
    }

    #[test]
    fn unreadable_optional_fields_degrade_to_none() {
        let mut record = raw("craigslist", "1");
        record.posted_at = Some("last tuesday".to_owned());
        record.bedrooms_total = Some("lots".to_owned());
        record.contact_phone = Some("call me".to_owned());
        record.contact_email = Some("not an email".to_owned());
        record.state_or_province = Some("Narnia".to_owned());
        record.postal_code = Some("ABCDE".to_owned());
        record.property_type = Some("spaceship".to_owned());
        let listing = normalise(&record, received()).unwrap();
        assert_eq!(
            listing,
            Listing::new(Source::Craigslist, "1", "https://example.org/1", received())
        );
    }
}
