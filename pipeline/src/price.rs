//! Lead pricing: `base * quality * demand * supply`, rounded to whole credits, clamped to
//! `[floor, ceiling]`. Every factor is in the [`PriceBreakdown`] so a buyer can see why a lead costs
//! what it does.
//!
//! * **Quality** is a weighted mean of completeness ([`completeness`]), freshness (halving every
//!   `freshness_half_life` since the listing was posted, or fetched when the post date is unknown) and
//!   trust (`1 - fraud score`), mapped linearly onto `[quality_min, quality_max]`.
//! * **Demand** compares the weighted views, cart adds and purchases in the listing's area over the
//!   sliding `demand_window` with the average area: `((area + 1) / (average + 1)) ^ elasticity`,
//!   clamped to `[demand_min, demand_max]`. With no demand events at all it is exactly 1.
//! * **Supply** does the same with new properties in the area over `supply_window`, inverted (more
//!   supply, cheaper leads) and clamped to `[supply_min, supply_max]`.
//!
//! Areas are resolution-7 H3 cells (about 5 km²) when the listing has coordinates, else ZIP codes.
//! Windows are rings of time buckets per area, so memory is bounded by `max_areas`.

mod window;

use std::time::Duration;

use aiq_schemas::{
    H3Cell, Listing, ListingKind, MarketplaceEvent, MarketplaceEventKind, PriceBreakdown,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use self::window::AreaWindows;
use crate::dedupe::geo;
use crate::fraud::FraudAssessment;

/// Lead pricing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// Credits for a rental lead before adjustments (also used when the kind is unknown). Default `10`.
    pub base_rent_credits: f32,
    /// Credits for a for-sale lead before adjustments. Default `25`.
    pub base_sale_credits: f32,
    /// Lowest price in credits. Default `2`.
    pub floor: u32,
    /// Highest price in credits. Default `100`.
    pub ceiling: u32,
    /// How far back demand counts, e.g. `"7d"`. Default 7 days.
    #[serde(with = "humantime_serde")]
    pub demand_window: Duration,
    /// How far back new properties count as current supply, e.g. `"30d"`. Default 30 days.
    #[serde(with = "humantime_serde")]
    pub supply_window: Duration,
    /// Buckets per window: the window slides in steps of `window / buckets`. Default `24`.
    pub window_buckets: u32,
    /// Freshness halves every this long since posting, e.g. `"7d"`. Default 7 days.
    #[serde(with = "humantime_serde")]
    pub freshness_half_life: Duration,
    /// Quality weights and range.
    pub quality: QualityWeights,
    /// Weight of each demand event kind: a view, a cart add, a purchase.
    pub demand_event_weights: DemandEventWeights,
    /// Demand multiplier = `(relative demand) ^ demand_elasticity`. Default `0.5`.
    pub demand_elasticity: f32,
    /// Lowest demand multiplier. Default `0.8`.
    pub demand_min: f32,
    /// Highest demand multiplier. Default `1.5`.
    pub demand_max: f32,
    /// Supply multiplier = `(relative supply) ^ -supply_elasticity`. Default `0.3`.
    pub supply_elasticity: f32,
    /// Lowest supply multiplier (a glut of listings). Default `0.7`.
    pub supply_min: f32,
    /// Highest supply multiplier (a scarce area). Default `1.3`.
    pub supply_max: f32,
    /// Most areas tracked for demand and for supply; beyond it new areas count as average. Default
    /// `200000`.
    pub max_areas: usize,
}

impl Default for PricingConfig {
    fn default() -> Self {
        PricingConfig {
            base_rent_credits: 10.0,
            base_sale_credits: 25.0,
            floor: 2,
            ceiling: 100,
            demand_window: Duration::from_secs(7 * 86_400),
            supply_window: Duration::from_secs(30 * 86_400),
            window_buckets: 24,
            freshness_half_life: Duration::from_secs(7 * 86_400),
            quality: QualityWeights::default(),
            demand_event_weights: DemandEventWeights::default(),
            demand_elasticity: 0.5,
            demand_min: 0.8,
            demand_max: 1.5,
            supply_elasticity: 0.3,
            supply_min: 0.7,
            supply_max: 1.3,
            max_areas: 200_000,
        }
    }
}

/// How quality is made and what it does to the price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityWeights {
    /// Weight of completeness in the quality score. Default `0.5`.
    pub completeness: f32,
    /// Weight of freshness. Default `0.25`.
    pub freshness: f32,
    /// Weight of trust (`1 - fraud score`). Default `0.25`.
    pub trust: f32,
    /// Multiplier for a quality score of 0. Default `0.5`.
    pub multiplier_min: f32,
    /// Multiplier for a quality score of 1. Default `1.5`.
    pub multiplier_max: f32,
}

impl Default for QualityWeights {
    fn default() -> Self {
        QualityWeights {
            completeness: 0.5,
            freshness: 0.25,
            trust: 0.25,
            multiplier_min: 0.5,
            multiplier_max: 1.5,
        }
    }
}

/// Weight of each demand event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemandEventWeights {
    /// Default `1`.
    pub view: f32,
    /// Default `3`.
    pub cart_add: f32,
    /// Default `8`.
    pub purchase: f32,
}

impl Default for DemandEventWeights {
    fn default() -> Self {
        DemandEventWeights {
            view: 1.0,
            cart_add: 3.0,
            purchase: 8.0,
        }
    }
}

impl PricingConfig {
    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("base_rent_credits", self.base_rent_credits),
            ("base_sale_credits", self.base_sale_credits),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("pricing.{name} must be positive, got {value}"));
            }
        }
        if self.floor > self.ceiling {
            return Err(format!(
                "pricing.floor ({}) must not exceed pricing.ceiling ({})",
                self.floor, self.ceiling
            ));
        }
        for (name, window) in [
            ("demand_window", self.demand_window),
            ("supply_window", self.supply_window),
            ("freshness_half_life", self.freshness_half_life),
        ] {
            if window.is_zero() {
                return Err(format!("pricing.{name} must be longer than zero"));
            }
        }
        if self.window_buckets == 0 || self.window_buckets > 1024 {
            return Err(format!(
                "pricing.window_buckets must be in 1..=1024, got {}",
                self.window_buckets
            ));
        }
        let q = &self.quality;
        for (name, value) in [
            ("completeness", q.completeness),
            ("freshness", q.freshness),
            ("trust", q.trust),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "pricing.quality.{name} must be non-negative, got {value}"
                ));
            }
        }
        if q.completeness + q.freshness + q.trust <= 0.0 {
            return Err("pricing.quality weights cannot all be 0".to_owned());
        }
        if !(q.multiplier_min > 0.0
            && q.multiplier_min <= q.multiplier_max
            && q.multiplier_max.is_finite())
        {
            return Err(format!(
                "pricing.quality.multiplier_min ({}) must be positive and at most multiplier_max ({})",
                q.multiplier_min, q.multiplier_max
            ));
        }
        let d = &self.demand_event_weights;
        for (name, value) in [
            ("view", d.view),
            ("cart_add", d.cart_add),
            ("purchase", d.purchase),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "pricing.demand_event_weights.{name} must be non-negative, got {value}"
                ));
            }
        }
        for (name, min, max) in [
            ("demand", self.demand_min, self.demand_max),
            ("supply", self.supply_min, self.supply_max),
        ] {
            // 1 must be reachable: an average area is priced at base.
            if !(min > 0.0 && min <= 1.0 && max >= 1.0 && max.is_finite()) {
                return Err(format!(
                    "pricing.{name}_min ({min}) and pricing.{name}_max ({max}) must satisfy 0 < min <= 1 <= max"
                ));
            }
        }
        for (name, value) in [
            ("demand_elasticity", self.demand_elasticity),
            ("supply_elasticity", self.supply_elasticity),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("pricing.{name} must be non-negative, got {value}"));
            }
        }
        Ok(())
    }
}

/// What a buyer did with a lead: the marketplace's own event kinds.
pub type DemandKind = MarketplaceEventKind;

/// One buyer action, located by the lead's cell and/or ZIP code (the part of a [`MarketplaceEvent`]
/// pricing reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemandEvent {
    pub at: DateTime<Utc>,
    pub h3_cell: Option<H3Cell>,
    pub postal_code: Option<String>,
    pub kind: DemandKind,
}

/// A priced lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricedLead {
    /// Share of buyer-valued fields filled, in `[0, 1]`.
    pub completeness: f32,
    /// Completeness, freshness and trust combined, in `[0, 1]`.
    pub quality_score: f32,
    /// Whole credits, within `[floor, ceiling]`.
    pub lead_price: u32,
    pub breakdown: PriceBreakdown,
}

/// The fields buyers value and their weights in [`completeness`] (they sum to 1).
pub const COMPLETENESS_WEIGHTS: [(&str, f32); 17] = [
    ("list_price", 0.14),
    ("street_address", 0.14),
    ("coordinates", 0.08),
    ("postal_code", 0.05),
    ("city", 0.03),
    ("state_or_province", 0.02),
    ("bedrooms_total", 0.08),
    ("bathrooms_total", 0.06),
    ("living_area_sqft", 0.07),
    ("property_type", 0.04),
    ("listing_kind", 0.03),
    ("description (40+ characters)", 0.06),
    ("title", 0.02),
    ("posted_at", 0.03),
    ("contact_phone", 0.08),
    ("contact_email", 0.05),
    ("contact_name", 0.02),
];

fn filled(text: &Option<String>) -> bool {
    text.as_deref().is_some_and(|t| !t.trim().is_empty())
}

/// Share of buyer-valued fields the listing fills, weighted by [`COMPLETENESS_WEIGHTS`].
pub fn completeness(listing: &Listing) -> f32 {
    let present = [
        listing.list_price.is_some_and(|p| p.is_finite() && p > 0.0),
        filled(&listing.street_address),
        geo::coordinates(listing).is_some(),
        filled(&listing.postal_code),
        filled(&listing.city),
        filled(&listing.state_or_province),
        listing.bedrooms_total.is_some(),
        listing
            .bathrooms_total
            .is_some_and(|b| b.is_finite() && b >= 0.0),
        listing.living_area_sqft.is_some_and(|a| a > 0),
        filled(&listing.property_type),
        listing.listing_kind.is_some(),
        listing
            .description
            .as_deref()
            .is_some_and(|d| d.trim().chars().count() >= 40),
        filled(&listing.title),
        listing.posted_at.is_some(),
        filled(&listing.contact_phone),
        filled(&listing.contact_email),
        filled(&listing.contact_name),
    ];
    let score: f32 = COMPLETENESS_WEIGHTS
        .iter()
        .zip(present)
        .filter(|(_, present)| *present)
        .map(|((_, weight), _)| *weight)
        .sum();
    score.clamp(0.0, 1.0)
}

/// Prices leads; remembers recent demand and supply per area.
pub struct Pricer {
    config: PricingConfig,
    demand: AreaWindows,
    supply: AreaWindows,
}

impl Pricer {
    pub fn new(config: PricingConfig) -> Self {
        let demand = AreaWindows::new(
            config.demand_window,
            config.window_buckets,
            config.max_areas,
        );
        let supply = AreaWindows::new(
            config.supply_window,
            config.window_buckets,
            config.max_areas,
        );
        Pricer {
            config,
            demand,
            supply,
        }
    }

    pub fn config(&self) -> &PricingConfig {
        &self.config
    }

    /// Approximate heap bytes of the demand and supply windows.
    pub fn state_bytes(&self) -> usize {
        self.demand.heap_bytes() + self.supply.heap_bytes()
    }

    pub fn record_demand(&mut self, event: &DemandEvent) {
        self.record(
            event.kind,
            event.at,
            event.h3_cell,
            event.postal_code.as_deref(),
        );
    }

    /// Counts a marketplace event (what the jobs read from `marketplace.events` or the store).
    pub fn record_event(&mut self, event: &MarketplaceEvent) {
        self.record(
            event.kind,
            event.at,
            event.h3_cell,
            event.postal_code.as_deref(),
        );
    }

    fn record(
        &mut self,
        kind: DemandKind,
        at: DateTime<Utc>,
        h3_cell: Option<H3Cell>,
        postal_code: Option<&str>,
    ) {
        let weights = &self.config.demand_event_weights;
        let weight = match kind {
            DemandKind::View => weights.view,
            DemandKind::CartAdd => weights.cart_add,
            DemandKind::Purchase => weights.purchase,
        };
        // An event is counted in both area spaces it names, so that listings located either way see it.
        if let Some(area) = h3_cell.and_then(cell_area) {
            self.demand.add(area, at, weight);
        }
        if let Some(area) = zip_area(postal_code) {
            self.demand.add(area, at, weight);
        }
    }

    /// `new_property` = the dedupe assignment did not join an existing property (supply counts
    /// properties).
    pub fn price(
        &mut self,
        listing: &Listing,
        fraud: &FraudAssessment,
        new_property: bool,
        now: DateTime<Utc>,
    ) -> PricedLead {
        let area = listing_area(listing);
        if new_property && let Some(area) = area {
            self.supply.add(area, now, 1.0);
        }

        let completeness = completeness(listing);
        let freshness = self.freshness(listing, now);
        let trust = 1.0 - fraud.score.clamp(0.0, 1.0);
        let q = &self.config.quality;
        let quality_score =
            ((q.completeness * completeness + q.freshness * freshness + q.trust * trust)
                / (q.completeness + q.freshness + q.trust))
                .clamp(0.0, 1.0);
        let quality_multiplier =
            q.multiplier_min + (q.multiplier_max - q.multiplier_min) * quality_score;

        let demand_multiplier = match area {
            Some(area) => relative_multiplier(
                self.demand.relative(area, now),
                self.config.demand_elasticity,
                self.config.demand_min,
                self.config.demand_max,
            ),
            None => 1.0,
        };
        let supply_multiplier = match area {
            Some(area) => relative_multiplier(
                self.supply.relative(area, now),
                -self.config.supply_elasticity,
                self.config.supply_min,
                self.config.supply_max,
            ),
            None => 1.0,
        };

        let base = match listing.listing_kind {
            Some(ListingKind::Sale) => self.config.base_sale_credits,
            Some(ListingKind::Rent) | None => self.config.base_rent_credits,
        };
        let unclamped = base * quality_multiplier * demand_multiplier * supply_multiplier;
        let rounded = if unclamped.is_finite() {
            unclamped.round().max(0.0) as u32
        } else {
            self.config.ceiling
        };
        let lead_price = rounded.clamp(self.config.floor, self.config.ceiling);
        PricedLead {
            completeness,
            quality_score,
            lead_price,
            breakdown: PriceBreakdown {
                base,
                quality_multiplier,
                demand_multiplier,
                supply_multiplier,
                unclamped,
                floor: self.config.floor,
                ceiling: self.config.ceiling,
            },
        }
    }

    /// 1 when just posted (or dated in the future), halving every `freshness_half_life`.
    fn freshness(&self, listing: &Listing, now: DateTime<Utc>) -> f32 {
        let posted = listing.posted_at.unwrap_or(listing.fetched_at);
        let age_seconds = (now - posted).num_seconds().max(0) as f64;
        let half_life = self.config.freshness_half_life.as_secs_f64();
        0.5f64.powf(age_seconds / half_life) as f32
    }
}

/// `relative ^ elasticity` clamped to `[min, max]`; exactly 1 when there is nothing to compare.
fn relative_multiplier(relative: Option<f64>, elasticity: f32, min: f32, max: f32) -> f32 {
    match relative {
        Some(relative) if relative.is_finite() && relative > 0.0 => {
            (relative.powf(f64::from(elasticity)) as f32).clamp(min, max)
        }
        _ => 1.0,
    }
}

/// Areas live in two key spaces (H3 parents and ZIP codes) tagged apart.
fn cell_area(cell: H3Cell) -> Option<u64> {
    let cell = h3o::CellIndex::try_from(cell.0).ok()?;
    let parent = geo::cell_parent_res7(cell)?;
    Some(xxh3_64(
        &[&[b'h'][..], &u64::from(parent).to_le_bytes()].concat(),
    ))
}

fn zip_area(postal_code: Option<&str>) -> Option<u64> {
    let zip = geo::zip5(postal_code)?;
    Some(xxh3_64(&[&[b'z'][..], zip.as_bytes()].concat()))
}

/// The listing's pricing area: its H3 resolution-7 parent, else its ZIP code.
fn listing_area(listing: &Listing) -> Option<u64> {
    if let Some(cell) = geo::cell_of(listing) {
        return cell_area(H3Cell(u64::from(cell)));
    }
    zip_area(listing.postal_code.as_deref())
}
