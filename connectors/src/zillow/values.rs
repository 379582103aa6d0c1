//! Small readers shared by the Zillow parsers: JSON values as text, links, addresses, ids.

use aiq_schemas::RawListing;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;
use url::Url;

use crate::util::json::text;
use crate::util::links::is_web_url;

/// Zillow's own origin: links in Zillow JSON are relative to it.
pub(super) const ZILLOW_ORIGIN: &str = "https://www.zillow.com/";

/// What every listing built from one page shares.
pub(super) struct Context<'a> {
    /// Base for relative links: the page's own URL when it is a web URL (so a mirror or a test
    /// server keeps its links), otherwise Zillow's origin (a saved file opened from disk).
    pub(super) base: &'a Url,
    pub(super) fetched_at: DateTime<Utc>,
}

impl Context<'_> {
    /// A listing with the fields every Zillow listing has.
    pub(super) fn listing(&self, id: String, url: Option<String>) -> RawListing {
        RawListing {
            source: Some(aiq_schemas::Source::Zillow.as_str().to_owned()),
            source_listing_id: Some(id),
            url,
            fetched_at: Some(self.fetched_at),
            ..RawListing::default()
        }
    }

    /// `href` made absolute against the page (see [`Context::base`]).
    pub(super) fn absolute(&self, href: &str) -> Option<String> {
        let href = href.trim();
        if href.is_empty() {
            return None;
        }
        let url = self.base.join(href).ok()?;
        is_web_url(&url).then(|| url.to_string())
    }

    /// The moment a listing was first shown, from its age on Zillow in milliseconds at the time of
    /// the fetch (search results carry only that age, `timeOnZillow`).
    pub(super) fn posted_from_age(&self, age: Option<&Value>) -> Option<String> {
        let millis = age?.as_i64().filter(|millis| *millis > 0)?;
        let posted = self
            .fetched_at
            .checked_sub_signed(Duration::try_milliseconds(millis)?)?;
        Some(posted.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// The value at `keys` below `value`.
pub(super) fn at<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |current, key| current.get(key))
}

/// The first of several places that holds text.
pub(super) fn first_text(value: &Value, places: &[&[&str]]) -> Option<String> {
    places.iter().find_map(|keys| text(at(value, keys)))
}

pub(super) fn set_extra(listing: &mut RawListing, key: &str, value: Option<String>) {
    if let Some(value) = value {
        listing.extra.insert(key.to_owned(), Value::String(value));
    }
}

/// Copies a JSON scalar into `extra` as it is (number stays number, `true` stays `true`).
pub(super) fn copy_extra(listing: &mut RawListing, key: &str, value: Option<&Value>) {
    if let Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) = value {
        if value.as_str().is_some_and(|text| text.trim().is_empty()) {
            return;
        }
        listing.extra.insert(key.to_owned(), value.clone());
    }
}

/// A one-line US address as Zillow writes it, split from the end: `[name, ]street, city, ST[ ZIP]`.
#[derive(Debug, PartialEq)]
pub(super) struct AddressParts {
    /// Whatever precedes the street: a building or complex name (`"Malvern Place Apartments"`).
    pub(super) name: Option<String>,
    pub(super) street: Option<String>,
    pub(super) city: Option<String>,
    pub(super) state: Option<String>,
    pub(super) postal_code: Option<String>,
}

/// Splits `"Harbor Point | 24 Oyster Bay Rd, Dorchester, MA"` or
/// `"Malvern Place Apartments, 40 Malvern St #105, Allston, MA 02134"`; `None` when the text does
/// not end in a two-letter state (optionally with a ZIP code), so nothing is guessed.
pub(super) fn split_address(text: &str) -> Option<AddressParts> {
    let (name_before_bar, address) = match text.split_once('|') {
        Some((name, address)) => (non_blank(name), address),
        None => (None, text),
    };
    let parts: Vec<&str> = address.split(',').map(str::trim).collect();
    let (last, rest) = parts.split_last()?;
    let mut words = last.split_whitespace();
    let state = words
        .next()
        .filter(|state| state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase()))?;
    let postal_code = match (words.next(), words.next()) {
        (None, _) => None,
        (Some(zip), None) if is_zip(zip) => Some(zip.to_owned()),
        _ => return None,
    };
    let (city, rest) = rest.split_last()?;
    let (street, before_street) = match rest.split_last() {
        Some((street, before)) => (non_blank(street), before),
        None => (None, &[][..]),
    };
    let name = name_before_bar.or_else(|| non_blank(&before_street.join(", ")));
    Some(AddressParts {
        name,
        street,
        city: non_blank(city),
        state: Some(state.to_owned()),
        postal_code,
    })
}

fn is_zip(text: &str) -> bool {
    let (five, plus_four) = text.split_once('-').unwrap_or((text, ""));
    five.len() == 5
        && five.bytes().all(|b| b.is_ascii_digit())
        && (plus_four.is_empty()
            || plus_four.len() == 4 && plus_four.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn non_blank(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Coordinates from a building id. Zillow names a building (a result with several units and no
/// zpid of its own) by its position, `"43.90381--69.918846"`: the latitude, a dash, the longitude
/// (itself negative west of Greenwich). The listing JSON confirms it: that building's `latLong` is
/// `(43.90381, -69.918846)`. Rendered cards carry only this id, so it is their one source of
/// coordinates.
pub(super) fn coordinates_in_building_id(id: &str) -> Option<(String, String)> {
    let separator = id.get(1..)?.find('-')? + 1;
    let (latitude, longitude) = (&id[..separator], &id[separator + 1..]);
    let lat: f64 = latitude.parse().ok()?;
    let long: f64 = longitude.parse().ok()?;
    let in_range = lat.is_finite()
        && long.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&long);
    in_range.then(|| (latitude.to_owned(), longitude.to_owned()))
}

/// The zpid in a home-details link (`/homedetails/.../2146993218_zpid/`).
pub(super) fn zpid_in_url(url: &str) -> Option<String> {
    let end = url.find("_zpid")?;
    let start = url[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |index| index + 1);
    let zpid = &url[start..end];
    (!zpid.is_empty()).then(|| zpid.to_owned())
}

/// Suffix naming one unit group of a building by its bedroom count (`"1bd"`, studio `"0bd"`), so
/// the same offer keeps its id from crawl to crawl and between the JSON and the rendered card.
pub(super) fn unit_suffix(beds: Option<&str>) -> Option<String> {
    let beds = beds?.trim();
    if beds.to_ascii_lowercase().starts_with("studio") {
        return Some("0bd".to_owned());
    }
    let digits: String = beds.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("{digits}bd"))
}

/// Ids for a building's unit groups, in order: `{building}-{beds}bd`, with the group's position
/// added when two groups share a bedroom count or one has none (`{building}-2bd-3`, `{building}-u1`).
pub(super) fn unit_ids(building: &str, beds: &[Option<String>]) -> Vec<String> {
    let suffixes: Vec<Option<String>> = beds.iter().map(|b| unit_suffix(b.as_deref())).collect();
    suffixes
        .iter()
        .enumerate()
        .map(|(index, suffix)| match suffix {
            Some(suffix)
                if suffixes
                    .iter()
                    .filter(|s| s.as_ref() == Some(suffix))
                    .count()
                    == 1 =>
            {
                format!("{building}-{suffix}")
            }
            Some(suffix) => format!("{building}-{suffix}-{}", index + 1),
            None => format!("{building}-u{}", index + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_from_the_end() {
        let parts =
            split_address("Malvern Place Apartments, 40 Malvern St #105, Allston, MA 02134")
                .expect("address");
        assert_eq!(parts.name.as_deref(), Some("Malvern Place Apartments"));
        assert_eq!(parts.street.as_deref(), Some("40 Malvern St #105"));
        assert_eq!(parts.city.as_deref(), Some("Allston"));
        assert_eq!(parts.state.as_deref(), Some("MA"));
        assert_eq!(parts.postal_code.as_deref(), Some("02134"));

        let parts = split_address("Harbor Point | 24 Oyster Bay Rd, Dorchester, MA").expect("bar");
        assert_eq!(parts.name.as_deref(), Some("Harbor Point"));
        assert_eq!(parts.street.as_deref(), Some("24 Oyster Bay Rd"));
        assert_eq!(parts.postal_code, None);

        let parts = split_address("Brunswick, ME 04011").expect("city only");
        assert_eq!(
            (parts.street, parts.city.as_deref()),
            (None, Some("Brunswick"))
        );

        assert_eq!(split_address("Homes Available Soon, Union House SF"), None);
        assert_eq!(split_address("1 Main St, Boston, Massachusetts"), None);
        assert_eq!(split_address(""), None);
    }

    #[test]
    fn building_ids_hold_coordinates() {
        assert_eq!(
            coordinates_in_building_id("43.90381--69.918846"),
            Some(("43.90381".to_owned(), "-69.918846".to_owned()))
        );
        assert_eq!(
            coordinates_in_building_id("-33.86-151.2"),
            Some(("-33.86".to_owned(), "151.2".to_owned()))
        );
        assert_eq!(coordinates_in_building_id("2146993218"), None);
        assert_eq!(coordinates_in_building_id("95.0--69.9"), None);
        assert_eq!(coordinates_in_building_id("-"), None);
        assert_eq!(coordinates_in_building_id(""), None);
    }

    #[test]
    fn unit_ids_are_stable_names_not_positions() {
        let beds =
            |list: &[&str]| -> Vec<Option<String>> { list.iter().map(|b| non_blank(b)).collect() };
        assert_eq!(unit_ids("b", &beds(&["1", "2bd"])), ["b-1bd", "b-2bd"]);
        assert_eq!(
            unit_ids("b", &beds(&["Studio", "2", "2", ""])),
            ["b-0bd", "b-2bd-2", "b-2bd-3", "b-u4"]
        );
    }

    #[test]
    fn zpid_is_read_from_links() {
        assert_eq!(
            zpid_in_url("/homedetails/6851-Roswell-Rd/2146993218_zpid/").as_deref(),
            Some("2146993218")
        );
        assert_eq!(zpid_in_url("/b/building/43.9,-69.9_ll/"), None);
        assert_eq!(zpid_in_url("_zpid"), None);
    }
}
