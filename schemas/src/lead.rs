use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Listing, PropertyId};

/// A normalised listing as the marketplace sells it.
///
/// One lead per incoming listing; leads that share a [`PropertyId`] are the same property, and the
/// stores keep the survivor (most complete, then freshest) as the property's current lead.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Lead {
    #[serde(flatten)]
    pub listing: Listing,
    pub property_id: PropertyId,
    /// Probability-like score in `[0, 1]`; the sum of the reasons' contributions, capped at 1.
    pub fraud_score: f32,
    pub fraud_reasons: Vec<FraudReason>,
    /// In `[0, 1]`: completeness, freshness and inverse fraud, combined.
    pub quality_score: f32,
    /// Share of the fields buyers value that the listing fills, in `[0, 1]`.
    pub completeness: f32,
    /// Price in whole credits, after clamping to the configured floor and ceiling.
    pub lead_price: u32,
    pub price_breakdown: PriceBreakdown,
    pub status: LeadStatus,
    pub schema_version: u16,
}

impl Lead {
    /// Orders two leads of one property by the survivorship rule: more complete wins, then the more
    /// recently fetched, then the larger `(source, source_listing_id)` so that the winner never depends
    /// on arrival order.
    pub fn survivorship_key(&self) -> (u32, chrono::DateTime<chrono::Utc>, &str, &str) {
        (
            (self.completeness * 1000.0).round() as u32,
            self.listing.fetched_at,
            self.listing.source.as_str(),
            self.listing.source_listing_id.as_str(),
        )
    }
}

/// Why a listing looks fraudulent, with how much that reason added to the score.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct FraudReason {
    pub code: FraudCode,
    /// What this reason added to `fraud_score`.
    pub contribution: f32,
    /// A sentence a person can check, e.g. "asks for payment by wire transfer".
    pub detail: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudCode {
    /// Price per square foot (or per bedroom) far below local comparables.
    PriceBelowComparables,
    /// Scam phrasing: wire transfer, gift cards, owner abroad, keys by mail, deposit before viewing,
    /// credit-check links.
    ScamPhrase,
    /// One phone or e-mail used across many properties or cities.
    ContactReuse,
    /// The same description text on different addresses.
    DescriptionReuse,
    /// City, state and ZIP code that do not agree with each other or with the coordinates.
    LocationMismatch,
    /// No street address and no coordinates: nobody can go and see it.
    MissingAddress,
}

impl FraudCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FraudCode::PriceBelowComparables => "price_below_comparables",
            FraudCode::ScamPhrase => "scam_phrase",
            FraudCode::ContactReuse => "contact_reuse",
            FraudCode::DescriptionReuse => "description_reuse",
            FraudCode::LocationMismatch => "location_mismatch",
            FraudCode::MissingAddress => "missing_address",
        }
    }
}

impl fmt::Display for FraudCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a lead price was reached: `base * quality * demand * supply`, rounded, then clamped.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct PriceBreakdown {
    /// Credits for a lead of this kind before adjustments.
    pub base: f32,
    pub quality_multiplier: f32,
    pub demand_multiplier: f32,
    pub supply_multiplier: f32,
    /// `base * quality * demand * supply`, before clamping.
    pub unclamped: f32,
    pub floor: u32,
    pub ceiling: u32,
}

/// Where a lead is in its life. The pipeline produces `active` or `quarantined`; the marketplace moves
/// leads to `sold` and `expired`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Active,
    /// Fraud score at or above the quarantine threshold: kept for review, never sold.
    Quarantined,
    Sold,
    Expired,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Active => "active",
            LeadStatus::Quarantined => "quarantined",
            LeadStatus::Sold => "sold",
            LeadStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
