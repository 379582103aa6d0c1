use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A listing as a connector extracted it, before normalisation.
///
/// Keys are the same RESO-style names as [`crate::Listing`]; values are kept as the source wrote them
/// (`"$1,250/mo"`, `"Studio"`, `"1.5 ba"`). JSON numbers and booleans are accepted wherever text is, so a
/// file of already-clean records (for example the output of `aiqleads parse`) is valid input too.
/// Keys this type does not know are kept in [`RawListing::extra`] rather than dropped.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct RawListing {
    #[serde(default, deserialize_with = "loose_text")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub source_listing_id: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub url: Option<String>,
    #[serde(default)]
    pub fetched_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "loose_text")]
    pub listing_kind: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub property_type: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub list_price: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub bedrooms_total: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub bathrooms_total: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub living_area_sqft: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub street_address: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub unit_number: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub state_or_province: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub postal_code: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub latitude: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub longitude: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub description: Option<String>,
    /// Any date form the source used; the normaliser understands RFC 3339 and the common site formats.
    #[serde(default, deserialize_with = "loose_text")]
    pub posted_at: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub contact_name: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub contact_phone: Option<String>,
    #[serde(default, deserialize_with = "loose_text")]
    pub contact_email: Option<String>,
    /// Site-specific attributes (`laundry`, `parking`, `pets`...) and unknown keys, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Accepts a string, a number or a boolean as text; `null` and blank strings become `None`.
fn loose_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Text(String),
        Integer(i64),
        Float(f64),
        Bool(bool),
    }
    let value = Option::<Loose>::deserialize(deserializer)?;
    Ok(match value {
        None => None,
        Some(Loose::Text(text)) => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                None
            } else if trimmed.len() == text.len() {
                Some(text)
            } else {
                Some(trimmed.to_owned())
            }
        }
        Some(Loose::Integer(n)) => Some(n.to_string()),
        Some(Loose::Float(n)) => Some(n.to_string()),
        Some(Loose::Bool(b)) => Some(b.to_string()),
    })
}

/// Why a record could not become a listing. The code is stable (dashboards group by it); the detail
/// is for a person.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RejectReason {
    pub code: String,
    pub detail: String,
}

impl RejectReason {
    pub fn new(code: impl Into<String>, detail: impl Into<String>) -> Self {
        RejectReason {
            code: code.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// A record that a stage could not process, kept with everything needed to inspect and replay it.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The stage that rejected it: `decode`, `parse`, `normalise`, ...
    pub stage: String,
    pub reason: RejectReason,
    pub source: Option<String>,
    pub source_listing_id: Option<String>,
    /// Where the original came from: a URL, a file path and line, or a topic/partition/offset.
    pub reference: String,
    /// The original record or page excerpt, as text (invalid UTF-8 replaced).
    pub original: String,
    pub rejected_at: DateTime<Utc>,
    pub schema_version: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text_are_both_accepted_and_unknown_keys_kept() {
        let raw: RawListing = serde_json::from_str(
            r#"{"source":"craigslist","source_listing_id":7501755803,"list_price":"$1,606",
                "bedrooms_total":1,"bathrooms_total":1.5,"latitude":33.9,"city":"  ","laundry":"w/d in unit"}"#,
        )
        .unwrap();
        assert_eq!(raw.source_listing_id.as_deref(), Some("7501755803"));
        assert_eq!(raw.list_price.as_deref(), Some("$1,606"));
        assert_eq!(raw.bedrooms_total.as_deref(), Some("1"));
        assert_eq!(raw.bathrooms_total.as_deref(), Some("1.5"));
        assert_eq!(raw.latitude.as_deref(), Some("33.9"));
        assert_eq!(raw.city, None);
        assert_eq!(raw.extra["laundry"], "w/d in unit");
    }
}
