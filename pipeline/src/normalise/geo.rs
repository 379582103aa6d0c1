//! Coordinates and their H3 cell.

use aiq_schemas::H3Cell;
use h3o::{LatLng, Resolution};

use super::NormaliseError;

/// Parsed, validated coordinates with their H3 cell at resolution 9 (about 0.1 km²).
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
    pub h3_cell: H3Cell,
}

/// Reads a latitude/longitude pair.
///
/// * Both missing, either missing, or either not a number at all (`"NA"`): `Ok(None)`; the listing
///   simply has no position.
/// * Numbers out of range (|lat| > 90, |lon| > 180), non-finite, or exactly (0, 0) (the "null
///   island" a broken geocoder writes): an `invalid_coordinates` error, since the record's
///   geography cannot be trusted.
pub fn parse_coordinates(
    latitude: Option<&str>,
    longitude: Option<&str>,
) -> Result<Option<Coordinates>, NormaliseError> {
    let (Some(latitude_text), Some(longitude_text)) = (latitude, longitude) else {
        return Ok(None);
    };
    let (Some(latitude), Some(longitude)) =
        (parse_degrees(latitude_text), parse_degrees(longitude_text))
    else {
        return Ok(None);
    };
    let invalid = |why: &str| NormaliseError::InvalidCoordinates {
        latitude: latitude_text.chars().take(40).collect(),
        longitude: longitude_text.chars().take(40).collect(),
        why: why.to_owned(),
    };
    if !latitude.is_finite() || !longitude.is_finite() {
        return Err(invalid("a coordinate is not a finite number"));
    }
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(invalid("a coordinate is out of range"));
    }
    if latitude == 0.0 && longitude == 0.0 {
        return Err(invalid("(0, 0) is a geocoding failure, not a place"));
    }
    let cell = LatLng::new(latitude, longitude)
        .map_err(|error| invalid(&error.to_string()))?
        .to_cell(Resolution::Nine);
    Ok(Some(Coordinates {
        latitude,
        longitude,
        h3_cell: H3Cell(u64::from(cell)),
    }))
}

fn parse_degrees(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_coordinates_get_a_resolution_nine_cell() {
        let coordinates = parse_coordinates(Some("42.3601"), Some(" -71.0589 "))
            .unwrap()
            .unwrap();
        assert_eq!(
            (coordinates.latitude, coordinates.longitude),
            (42.3601, -71.0589)
        );
        let cell = h3o::CellIndex::try_from(coordinates.h3_cell.0).unwrap();
        assert_eq!(cell.resolution(), Resolution::Nine);
        // A point a few metres away is in the same cell; one across town is not.
        let near = parse_coordinates(Some("42.36012"), Some("-71.05891"))
            .unwrap()
            .unwrap();
        let far = parse_coordinates(Some("42.3736"), Some("-71.1097"))
            .unwrap()
            .unwrap();
        assert_eq!(near.h3_cell, coordinates.h3_cell);
        assert_ne!(far.h3_cell, coordinates.h3_cell);
    }

    #[test]
    fn missing_or_unreadable_coordinates_are_none() {
        assert_eq!(parse_coordinates(None, None).unwrap(), None);
        assert_eq!(parse_coordinates(Some("42.36"), None).unwrap(), None);
        assert_eq!(parse_coordinates(Some("NA"), Some("NA")).unwrap(), None);
    }

    #[test]
    fn impossible_coordinates_are_rejected() {
        for (latitude, longitude) in [
            ("91", "10"),
            ("45", "-181"),
            ("0", "0"),
            ("0.0", "-0.0"),
            ("NaN", "1"),
            ("inf", "1"),
        ] {
            let error = parse_coordinates(Some(latitude), Some(longitude)).expect_err(latitude);
            assert_eq!(error.code(), "invalid_coordinates");
        }
    }
}
