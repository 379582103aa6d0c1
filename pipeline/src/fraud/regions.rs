//! Static US geography for location checks: which state each three-digit ZIP prefix belongs to, and a
//! coarse bounding box per state.
//!
//! Sources: USPS ZIP-3 prefix assignments (the "sectional center facility" ranges published in USPS
//! Publication 65 / the National Five-Digit ZIP Code and Post Office Directory) and the Census
//! Bureau's state extents, rounded outward to a hundredth of a degree. Both are deliberately coarse:
//! they only need to catch listings that are hundreds of kilometres off.

/// Inclusive ZIP-3 ranges and the state (or territory, or military "state") they belong to.
/// Prefixes not listed are unassigned and never judged.
const ZIP3_RANGES: &[(u16, u16, &str)] = &[
    (5, 5, "NY"),
    (6, 7, "PR"),
    (8, 8, "VI"),
    (9, 9, "PR"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (90, 99, "AE"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (340, 340, "AA"),
    (341, 349, "FL"),
    (350, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 528, "IA"),
    (530, 549, "WI"),
    (550, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 629, "IL"),
    (630, 658, "MO"),
    (660, 679, "KS"),
    (680, 693, "NE"),
    (700, 714, "LA"),
    (716, 729, "AR"),
    (730, 732, "OK"),
    (733, 733, "TX"),
    (734, 749, "OK"),
    (750, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 865, "AZ"),
    (870, 884, "NM"),
    (885, 885, "TX"),
    (889, 898, "NV"),
    (900, 961, "CA"),
    (962, 966, "AP"),
    (967, 968, "HI"),
    (969, 969, "GU"),
    (970, 979, "OR"),
    (980, 994, "WA"),
    (995, 999, "AK"),
];

/// The state a five-digit ZIP code belongs to, by its first three digits.
pub(crate) fn state_of_zip(zip5: &str) -> Option<&'static str> {
    let prefix: u16 = zip5.get(..3)?.parse().ok()?;
    ZIP3_RANGES
        .iter()
        .find(|(low, high, _)| (*low..=*high).contains(&prefix))
        .map(|(_, _, state)| *state)
}

/// (south, north, west, east) in degrees.
type BoundingBox = (f64, f64, f64, f64);

const STATE_BOXES: &[(&str, BoundingBox)] = &[
    ("AL", (30.14, 35.01, -88.48, -84.89)),
    // Alaska's Aleutians cross the antimeridian; the box covers the mainland and is widened below.
    ("AK", (51.20, 71.44, -179.99, -129.97)),
    ("AZ", (31.33, 37.01, -114.82, -109.04)),
    ("AR", (33.00, 36.50, -94.62, -89.64)),
    ("CA", (32.53, 42.01, -124.48, -114.13)),
    ("CO", (36.99, 41.01, -109.06, -102.04)),
    ("CT", (40.95, 42.06, -73.73, -71.78)),
    ("DE", (38.45, 39.84, -75.79, -75.05)),
    ("DC", (38.79, 39.00, -77.12, -76.91)),
    ("FL", (24.39, 31.00, -87.64, -79.97)),
    ("GA", (30.36, 35.00, -85.61, -80.84)),
    ("HI", (18.91, 28.41, -178.34, -154.81)),
    ("ID", (41.99, 49.00, -117.24, -111.04)),
    ("IL", (36.97, 42.51, -91.52, -87.02)),
    ("IN", (37.77, 41.77, -88.10, -84.78)),
    ("IA", (40.38, 43.50, -96.64, -90.14)),
    ("KS", (36.99, 40.00, -102.05, -94.59)),
    ("KY", (36.50, 39.15, -89.57, -81.96)),
    ("LA", (28.93, 33.02, -94.04, -88.82)),
    ("ME", (42.98, 47.46, -71.08, -66.95)),
    ("MD", (37.91, 39.72, -79.49, -75.05)),
    ("MA", (41.24, 42.89, -73.51, -69.93)),
    ("MI", (41.70, 48.31, -90.42, -82.41)),
    ("MN", (43.50, 49.38, -97.24, -89.49)),
    ("MS", (30.17, 35.00, -91.66, -88.10)),
    ("MO", (35.99, 40.61, -95.77, -89.10)),
    ("MT", (44.36, 49.00, -116.05, -104.04)),
    ("NE", (40.00, 43.00, -104.05, -95.31)),
    ("NV", (35.00, 42.00, -120.01, -114.04)),
    ("NH", (42.70, 45.31, -72.56, -70.61)),
    ("NJ", (38.93, 41.36, -75.56, -73.89)),
    ("NM", (31.33, 37.00, -109.05, -103.00)),
    ("NY", (40.50, 45.02, -79.76, -71.86)),
    ("NC", (33.84, 36.59, -84.32, -75.46)),
    ("ND", (45.94, 49.00, -104.05, -96.55)),
    ("OH", (38.40, 41.98, -84.82, -80.52)),
    ("OK", (33.62, 37.00, -103.00, -94.43)),
    ("OR", (41.99, 46.29, -124.57, -116.46)),
    ("PA", (39.72, 42.27, -80.52, -74.69)),
    ("RI", (41.15, 42.02, -71.91, -71.12)),
    ("SC", (32.03, 35.22, -83.35, -78.54)),
    ("SD", (42.48, 45.95, -104.06, -96.44)),
    ("TN", (34.98, 36.68, -90.31, -81.65)),
    ("TX", (25.84, 36.50, -106.65, -93.51)),
    ("UT", (37.00, 42.00, -114.05, -109.04)),
    ("VT", (42.73, 45.02, -73.44, -71.46)),
    ("VA", (36.54, 39.47, -83.68, -75.24)),
    ("WA", (45.54, 49.00, -124.85, -116.92)),
    ("WV", (37.20, 40.64, -82.64, -77.72)),
    ("WI", (42.49, 47.08, -92.89, -86.25)),
    ("WY", (40.99, 45.01, -111.06, -104.05)),
    ("PR", (17.88, 18.52, -67.95, -65.22)),
    ("VI", (17.67, 18.42, -65.09, -64.56)),
    ("GU", (13.23, 13.66, 144.61, 144.96)),
];

/// How far (kilometres, approximately) a point lies outside the state's box; 0 inside. `None` for a
/// state without a box (military codes, unknown codes).
pub(crate) fn km_outside_state(state: &str, lat: f64, lon: f64) -> Option<f64> {
    let (_, (south, north, west, east)) = STATE_BOXES
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(state))?;
    if state.eq_ignore_ascii_case("AK") && lon > 170.0 && (51.0..=56.0).contains(&lat) {
        // Western Aleutians, east of the antimeridian.
        return Some(0.0);
    }
    let nearest_lat = lat.clamp(*south, *north);
    let nearest_lon = lon.clamp(*west, *east);
    Some(crate::dedupe::geo::haversine_m(lat, lon, nearest_lat, nearest_lon) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_prefixes_map_to_their_states() {
        for (zip, state) in [
            ("02134", "MA"),
            ("02903", "RI"),
            ("06103", "CT"),
            ("75201", "TX"),
            ("73301", "TX"),
            ("73102", "OK"),
            ("47303", "IN"),
            ("78666", "TX"),
            ("10001", "NY"),
            ("90210", "CA"),
            ("99501", "AK"),
            ("00901", "PR"),
            ("20001", "DC"),
            ("05501", "MA"),
        ] {
            assert_eq!(state_of_zip(zip), Some(state), "{zip}");
        }
        assert_eq!(state_of_zip("00000"), None);
        assert_eq!(state_of_zip("71500"), None, "715 is unassigned");
    }

    #[test]
    fn ranges_are_sorted_and_disjoint() {
        for pair in ZIP3_RANGES.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn points_inside_and_outside_states() {
        // Providence, RI and Dallas, TX are inside; Dallas is far outside Rhode Island.
        assert_eq!(km_outside_state("RI", 41.824, -71.412), Some(0.0));
        assert_eq!(km_outside_state("tx", 32.78, -96.80), Some(0.0));
        let far = km_outside_state("RI", 32.78, -96.80).unwrap();
        assert!(far > 2_000.0, "{far}");
        assert_eq!(km_outside_state("AE", 50.0, 8.0), None);
        assert_eq!(km_outside_state("AK", 52.9, 173.2), Some(0.0));
    }
}
