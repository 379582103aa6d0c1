//! What buyers do in the marketplace, published on `marketplace.events` for the pricing job's demand
//! signal (or kept in the `marketplace_events` table of the embedded default).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{H3Cell, PropertyId};

/// One buyer action on one lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketplaceEvent {
    pub kind: MarketplaceEventKind,
    pub property_id: PropertyId,
    /// The lead's H3 cell and postal code, so demand can be counted per area without a lookup.
    #[serde(default)]
    pub h3_cell: Option<H3Cell>,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// The lead's state: with Kafka the event joins the lead's listings in `listings.by-block`
    /// (keyed by state), where the enrich job prices them. Absent in events of older APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_province: Option<String>,
    /// A stable pseudonym of the agent (a keyed hash of the principal), never the principal itself.
    pub agent: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketplaceEventKind {
    /// A lead's detail was opened.
    View,
    /// A lead was reserved in a cart.
    CartAdd,
    /// A lead was bought.
    Purchase,
}

impl MarketplaceEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarketplaceEventKind::View => "view",
            MarketplaceEventKind::CartAdd => "cart_add",
            MarketplaceEventKind::Purchase => "purchase",
        }
    }

    /// The kind [`MarketplaceEventKind::as_str`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            MarketplaceEventKind::View,
            MarketplaceEventKind::CartAdd,
            MarketplaceEventKind::Purchase,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_with_hex_ids_and_snake_case_kinds() {
        let event = MarketplaceEvent {
            kind: MarketplaceEventKind::CartAdd,
            property_id: PropertyId(0xfedc_ba98_7654_3210),
            h3_cell: Some(H3Cell(0x0894_4c1a_ce57_ffff)),
            postal_code: Some("78701".into()),
            state_or_province: Some("TX".into()),
            agent: "a1b2".into(),
            at: DateTime::parse_from_rfc3339("2026-11-25T04:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains("\"kind\":\"cart_add\""), "{json}");
        assert!(
            json.contains("\"property_id\":\"fedcba9876543210\""),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<MarketplaceEvent>(&json).unwrap(),
            event
        );
        assert_eq!(
            MarketplaceEventKind::from_name(event.kind.as_str()),
            Some(event.kind)
        );
        assert_eq!(MarketplaceEventKind::from_name("stare"), None);
    }
}
