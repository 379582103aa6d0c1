//! Small geographic helpers shared by dedupe, fraud scoring and pricing.

use aiq_schemas::{H3Cell, Listing};
use h3o::{CellIndex, LatLng, Resolution};

/// Mean Earth radius in metres (IUGG), the usual constant for haversine distances.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance between two points in metres.
pub(crate) fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// The listing's coordinates when both are present and plausible.
pub(crate) fn coordinates(listing: &Listing) -> Option<(f64, f64)> {
    match (listing.latitude, listing.longitude) {
        (Some(lat), Some(lon))
            if lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon) =>
        {
            Some((lat, lon))
        }
        _ => None,
    }
}

/// The listing's resolution-9 H3 cell: the normaliser's when present and valid, otherwise computed from
/// the coordinates (a listing can arrive with coordinates but no cell from older producers).
pub(crate) fn cell_of(listing: &Listing) -> Option<CellIndex> {
    if let Some(H3Cell(raw)) = listing.h3_cell
        && let Ok(cell) = CellIndex::try_from(raw)
    {
        return Some(cell);
    }
    let (lat, lon) = coordinates(listing)?;
    LatLng::new(lat, lon)
        .ok()
        .map(|point| point.to_cell(Resolution::Nine))
}

/// The resolution-7 parent (about 5 km²) of the listing's cell: the "area" used when there is no ZIP code.
pub(crate) fn area_cell_of(listing: &Listing) -> Option<CellIndex> {
    cell_parent_res7(cell_of(listing)?)
}

/// The resolution-7 parent of any cell at resolution 7 or finer.
pub(crate) fn cell_parent_res7(cell: CellIndex) -> Option<CellIndex> {
    if cell.resolution() == Resolution::Seven {
        Some(cell)
    } else {
        cell.parent(Resolution::Seven)
    }
}

/// A five-digit ZIP code, or `None` for anything else (ZIP+4 is cut to its first five digits).
pub(crate) fn zip5(postal_code: Option<&str>) -> Option<&str> {
    let code = postal_code?.trim();
    let head = code.get(..5)?;
    let rest = &code[5..];
    let rest_ok =
        rest.is_empty() || (rest.starts_with('-') && rest[1..].bytes().all(|b| b.is_ascii_digit()));
    (head.bytes().all(|b| b.is_ascii_digit()) && rest_ok).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_a_known_distance() {
        // Boston Common to Harvard Yard is about 4.7 km.
        let d = haversine_m(42.3550, -71.0656, 42.3744, -71.1169);
        assert!((d - 4_700.0).abs() < 400.0, "{d}");
        assert_eq!(haversine_m(10.0, 10.0, 10.0, 10.0), 0.0);
    }

    #[test]
    fn zip5_accepts_five_digits_and_zip_plus_four_only() {
        assert_eq!(zip5(Some("02134")), Some("02134"));
        assert_eq!(zip5(Some("02134-1234")), Some("02134"));
        assert_eq!(zip5(Some("2134")), None);
        assert_eq!(zip5(Some("0213A")), None);
        assert_eq!(zip5(Some("021345")), None);
        assert_eq!(zip5(None), None);
    }
}
