//! Bedrooms, bathrooms and living area from the forms sites use: `"2br"`, `"Studio"`, `"1.5 ba"`,
//! `"1br - 750ft2"` (Craigslist's housing line holds all three), `"1,200 sq ft"`, `"85 m²"`.
//!
//! Out-of-range rule: a value outside the plausible range (more than [`MAX_ROOMS`] bedrooms or
//! bathrooms, a living area of zero or above [`MAX_LIVING_AREA_SQFT`]) becomes `None`. It is never a
//! rejection: a listing with a garbled room count is still a lead, and the fraud stage judges
//! implausible combinations with more context than a single field gives.

use super::money::scan_number;

/// Most bedrooms (or bathrooms) a single listing is believed to have.
pub const MAX_ROOMS: f64 = 50.0;
/// Largest living area taken as real, in square feet.
pub const MAX_LIVING_AREA_SQFT: f64 = 1e6;

const SQUARE_FEET_PER_SQUARE_METRE: f64 = 10.763_910_416_709_722;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Unit {
    Bedrooms,
    Bathrooms,
    SquareFeet,
    SquareMetres,
}

/// Unit spellings, longest first where one is a prefix of another; compared case-insensitively and
/// required to end a word.
const UNITS: &[(&str, Unit)] = &[
    ("bedrooms", Unit::Bedrooms),
    ("bedroom", Unit::Bedrooms),
    ("bdrms", Unit::Bedrooms),
    ("bdrm", Unit::Bedrooms),
    ("beds", Unit::Bedrooms),
    ("bed", Unit::Bedrooms),
    ("bdr", Unit::Bedrooms),
    ("bds", Unit::Bedrooms),
    ("brs", Unit::Bedrooms),
    ("bd", Unit::Bedrooms),
    ("br", Unit::Bedrooms),
    ("bathrooms", Unit::Bathrooms),
    ("bathroom", Unit::Bathrooms),
    ("baths", Unit::Bathrooms),
    ("bath", Unit::Bathrooms),
    ("bths", Unit::Bathrooms),
    ("bth", Unit::Bathrooms),
    ("ba", Unit::Bathrooms),
    ("square feet", Unit::SquareFeet),
    ("square foot", Unit::SquareFeet),
    ("square ft", Unit::SquareFeet),
    ("sq. ft.", Unit::SquareFeet),
    ("sq. ft", Unit::SquareFeet),
    ("sq.ft.", Unit::SquareFeet),
    ("sq.ft", Unit::SquareFeet),
    ("sq ft", Unit::SquareFeet),
    ("sqft", Unit::SquareFeet),
    ("ft²", Unit::SquareFeet),
    ("ft2", Unit::SquareFeet),
    ("feet", Unit::SquareFeet),
    ("ft", Unit::SquareFeet),
    ("sf", Unit::SquareFeet),
    ("square meters", Unit::SquareMetres),
    ("square metres", Unit::SquareMetres),
    ("sq. m", Unit::SquareMetres),
    ("sq m", Unit::SquareMetres),
    ("sqm", Unit::SquareMetres),
    ("m²", Unit::SquareMetres),
    ("m2", Unit::SquareMetres),
];

/// One number in a housing text and the unit written right after it, if any.
#[derive(Clone, Copy, Debug)]
struct Quantity {
    value: f64,
    unit: Option<Unit>,
}

/// Every number in `text` (up to a handful) with the unit that follows it.
fn quantities(text: &str) -> impl Iterator<Item = Quantity> + '_ {
    let bytes = text.as_bytes();
    let mut index = 0;
    std::iter::from_fn(move || {
        while index < bytes.len() {
            if !bytes[index].is_ascii_digit() {
                index += 1;
                continue;
            }
            // "1/2" and similar would read as two numbers; a digit glued to a letter before it
            // ("a1") is not a quantity either, but is rare enough to accept.
            let (value, end) = scan_number(bytes, index);
            index = end.max(index + 1);
            let Some(value) = value else { continue };
            return Some(Quantity {
                value,
                unit: unit_at(&text[end..]),
            });
        }
        None
    })
}

fn unit_at(rest: &str) -> Option<Unit> {
    let rest = rest.trim_start_matches([' ', '-']);
    let bytes = rest.as_bytes();
    // Every unit spelling starts with b, f, m or s; most numbers are followed by something else.
    let first = bytes.first()?.to_ascii_lowercase();
    if !matches!(first, b'b' | b'f' | b'm' | b's') {
        return None;
    }
    UNITS.iter().find_map(|&(spelling, unit)| {
        if spelling.as_bytes()[0] != first {
            return None;
        }
        let candidate = bytes.get(..spelling.len())?;
        let ends_word = bytes
            .get(spelling.len())
            .is_none_or(|next| !next.is_ascii_alphabetic());
        (candidate.eq_ignore_ascii_case(spelling.as_bytes()) && ends_word).then_some(unit)
    })
}

fn contains_word_ignore_case(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .any(|candidate| candidate.eq_ignore_ascii_case(word))
}

/// The quantity for `wanted`: a number followed by one of those units, else the only number in
/// the text when no number in it carries another unit (`"3"`, `"Bedrooms: 3"`).
fn quantity_for(text: &str, wanted: &[Unit], unit_required: bool) -> Option<Quantity> {
    let mut bare = None;
    let mut bare_count = 0;
    let mut other_unit = false;
    for quantity in quantities(text) {
        match quantity.unit {
            Some(unit) if wanted.contains(&unit) => return Some(quantity),
            Some(_) => other_unit = true,
            None => {
                bare_count += 1;
                bare = Some(quantity);
            }
        }
    }
    if bare_count == 1 && !other_unit && !unit_required {
        bare
    } else {
        None
    }
}

/// RESO `BedroomsTotal`: `"Studio"` is 0; `"2br"`, `"2 BR"`, `"2 beds"`, `"3"`, `"2.0"`, and the
/// bedroom part of `"1br - 750ft2"`. Fractions and values above [`MAX_ROOMS`] are `None`.
pub fn parse_bedrooms(text: &str) -> Option<u8> {
    let value = quantity_for(text, &[Unit::Bedrooms], false)
        .map(|quantity| quantity.value)
        .or_else(|| {
            (contains_word_ignore_case(text, "studio")
                || contains_word_ignore_case(text, "efficiency"))
            .then_some(0.0)
        })?;
    (value.fract() == 0.0 && (0.0..=MAX_ROOMS).contains(&value)).then_some(value as u8)
}

/// RESO `BathroomsTotalDecimal`: `"1.5 ba"`, `"1Ba"`, `"2 baths"`, `"1.5"`. `"shared"` and
/// `"split"` say nothing about the count and are `None`, as are values above [`MAX_ROOMS`].
pub fn parse_bathrooms(text: &str) -> Option<f32> {
    bathrooms(text, false)
}

/// Bathrooms only when written with their unit, for reading them out of a combined housing line
/// such as `"2br/1ba - 900ft2"` that was given as the bedroom count.
pub(crate) fn bathrooms_with_unit(text: &str) -> Option<f32> {
    bathrooms(text, true)
}

fn bathrooms(text: &str, unit_required: bool) -> Option<f32> {
    let value = quantity_for(text, &[Unit::Bathrooms], unit_required)?.value;
    (0.0..=MAX_ROOMS).contains(&value).then_some(value as f32)
}

/// RESO `LivingArea` in square feet: `"1,200 ft²"`, `"750ft2"`, `"1200 sq ft"`, `"1,200 sqft"`,
/// `"85 m²"` (converted), or a bare number (taken as square feet). Zero (sites' "unknown") and values
/// above [`MAX_LIVING_AREA_SQFT`] are `None`.
pub fn parse_living_area_sqft(text: &str) -> Option<u32> {
    living_area(text, false)
}

/// Living area only when written with its unit (see [`bathrooms_with_unit`]).
pub(crate) fn living_area_with_unit(text: &str) -> Option<u32> {
    living_area(text, true)
}

fn living_area(text: &str, unit_required: bool) -> Option<u32> {
    let quantity = quantity_for(text, &[Unit::SquareFeet, Unit::SquareMetres], unit_required)?;
    let feet = match quantity.unit {
        Some(Unit::SquareMetres) => quantity.value * SQUARE_FEET_PER_SQUARE_METRE,
        _ => quantity.value,
    };
    let rounded = feet.round();
    (1.0..=MAX_LIVING_AREA_SQFT)
        .contains(&rounded)
        .then_some(rounded as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrooms() {
        assert_eq!(parse_bedrooms("Studio"), Some(0));
        assert_eq!(parse_bedrooms("2br"), Some(2));
        assert_eq!(parse_bedrooms("2 BR"), Some(2));
        assert_eq!(parse_bedrooms("2 beds"), Some(2));
        assert_eq!(parse_bedrooms("3"), Some(3));
        assert_eq!(parse_bedrooms("2.0"), Some(2));
        assert_eq!(parse_bedrooms("1br - 750ft2"), Some(1));
        assert_eq!(parse_bedrooms("Bedrooms: 4"), Some(4));
        assert_eq!(parse_bedrooms("3 bed / 2 bath"), Some(3));
        assert_eq!(parse_bedrooms("2.5"), None);
        assert_eq!(parse_bedrooms("75 bedrooms"), None);
        assert_eq!(parse_bedrooms("750ft2"), None);
        assert_eq!(parse_bedrooms("2 baths"), None);
        assert_eq!(parse_bedrooms("call"), None);
    }

    #[test]
    fn bathrooms() {
        assert_eq!(parse_bathrooms("1.5 ba"), Some(1.5));
        assert_eq!(parse_bathrooms("1Ba"), Some(1.0));
        assert_eq!(parse_bathrooms("2 baths"), Some(2.0));
        assert_eq!(parse_bathrooms("1.5"), Some(1.5));
        assert_eq!(parse_bathrooms("2.25"), Some(2.25));
        assert_eq!(parse_bathrooms("1br/1ba"), Some(1.0));
        assert_eq!(parse_bathrooms("shared"), None);
        assert_eq!(parse_bathrooms("split"), None);
        assert_eq!(parse_bathrooms("2br"), None);
        assert_eq!(parse_bathrooms("99 baths"), None);
    }

    #[test]
    fn living_area() {
        assert_eq!(parse_living_area_sqft("1,200 ft²"), Some(1200));
        assert_eq!(parse_living_area_sqft("750ft2"), Some(750));
        assert_eq!(parse_living_area_sqft("1200 sq ft"), Some(1200));
        assert_eq!(parse_living_area_sqft("1,200 sqft"), Some(1200));
        assert_eq!(parse_living_area_sqft("1,200 Sq. Ft."), Some(1200));
        assert_eq!(parse_living_area_sqft("85 m²"), Some(915));
        assert_eq!(parse_living_area_sqft("1br - 750ft2"), Some(750));
        assert_eq!(parse_living_area_sqft("1142"), Some(1142));
        assert_eq!(parse_living_area_sqft("0"), None);
        assert_eq!(parse_living_area_sqft("2000000 sqft"), None);
        assert_eq!(parse_living_area_sqft("2br"), None);
    }
}
