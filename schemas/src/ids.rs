use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Stable identifier of one physical property (one dwelling unit), shared by every listing of it.
///
/// Serialised as 16 lowercase hex digits so it survives JSON readers that turn numbers into doubles.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct PropertyId(pub u64);

/// An H3 cell index (resolution chosen by the normaliser), serialised in the usual H3 hex form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct H3Cell(pub u64);

macro_rules! hex_id {
    ($ty:ident, $what:literal, $format:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $format, self.0)
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                u64::from_str_radix(s, 16)
                    .map($ty)
                    .map_err(|_| format!("`{s}` is not a valid {} (expected hex digits)", $what))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(PropertyId, "property id", "{:016x}");
// H3 writes cells without leading zeros (`8944c1ace57ffff`), as every H3 library reads them.
hex_id!(H3Cell, "H3 cell", "{:x}");

impl H3Cell {
    /// The index as the signed integer SQL databases store (bit-for-bit the same 64 bits).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

impl PropertyId {
    /// The id as the signed integer SQL databases store (bit-for-bit the same 64 bits).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    pub fn from_i64(value: i64) -> Self {
        PropertyId(value as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_id_round_trips_through_json_and_sql_integer() {
        let id = PropertyId(0xfedc_ba98_7654_3210);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"fedcba9876543210\"");
        assert_eq!(serde_json::from_str::<PropertyId>(&json).unwrap(), id);
        assert_eq!(PropertyId::from_i64(id.as_i64()), id);
    }

    #[test]
    fn h3_cells_use_the_canonical_h3_string() {
        let cell = H3Cell(0x0894_4c1a_ce57_ffff);
        assert_eq!(cell.to_string(), "8944c1ace57ffff");
        assert_eq!("8944c1ace57ffff".parse::<H3Cell>().unwrap(), cell);
    }

    #[test]
    fn malformed_hex_is_a_readable_error() {
        let err = serde_json::from_str::<H3Cell>("\"zz\"").unwrap_err();
        assert!(err.to_string().contains("not a valid H3 cell"), "{err}");
    }
}
