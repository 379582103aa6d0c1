//! Explainable fraud scoring.
//!
//! Each check that fires adds a [`FraudReason`] with its contribution and a sentence a person can
//! verify; the score is the sum of contributions, capped at 1. A listing at or above
//! [`FraudConfig::quarantine_threshold`] is quarantined (kept for review, never sold).
//!
//! The defaults are tuned so that one weak signal never quarantines on its own, while one strong
//! signal (two families of scam phrasing, or a price far below its neighbours together with any other
//! signal) does. On the 2,268 real 2022 Craigslist rentals in `shared/data/tables` the default
//! configuration quarantines well under 3% (studies put rental scams at 1-2% of Craigslist posts).
//!
//! The scorer learns as it goes (local price levels, contact and description reuse), so it is
//! stateful; all state is bounded by the `max_*` settings.

mod comparables;
mod phrases;
mod regions;

use aiq_schemas::{FraudCode, FraudReason, Listing, ListingKind, PropertyId};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use self::comparables::Comparables;
use self::phrases::PhraseMatcher;
pub use self::phrases::ScamCategory;
use crate::dedupe::geo;
use crate::dedupe::hashing::{U64Map, map_heap_bytes};

/// Fraud scoring settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudConfig {
    /// Listings scoring at or above this are quarantined. Default `0.5`.
    pub quarantine_threshold: f32,
    /// Contribution of each reason (see [`FraudWeights`]).
    pub weights: FraudWeights,
    /// A price is compared with its area only when the area has at least this many distinct
    /// comparable properties. Default `10`.
    pub min_comparables: usize,
    /// Values kept per (area, kind, metric) group: the most recent distinct properties. Default `32`.
    pub comparables_window: usize,
    /// Flag prices at least this far below the area median (`0.5` = half price or less). Default `0.5`.
    pub price_discount: f32,
    /// Whole-dwelling rents below this many dollars a month are implausible even without comparables
    /// (rooms are exempt). Default `300`.
    pub min_monthly_rent: f64,
    /// Sale prices below this many dollars are implausible (land is exempt). Default `10000`.
    pub min_sale_price: f64,
    /// One phone or e-mail in at least this many different cities is suspicious. Default `3`.
    pub contact_min_cities: usize,
    /// One phone or e-mail on at least this many different properties is suspicious (property
    /// managers list many homes, so this weighs less than the city spread). Default `8`.
    pub contact_min_properties: usize,
    /// Descriptions shorter than this many characters (after normalising) are too generic to compare.
    /// Default `80`.
    pub min_description_chars: usize,
    /// Coordinates further than this outside the listing's state (coarse bounding box) are a mismatch.
    /// Default `50` km.
    pub state_margin_km: f64,
    /// Most (area, kind, metric) price groups tracked. Default `200000`.
    pub max_price_groups: usize,
    /// Most phone numbers and e-mail addresses tracked. Default `500000`.
    pub max_contacts: usize,
    /// Most description hashes remembered. Default `1000000`.
    pub max_descriptions: usize,
}

impl Default for FraudConfig {
    fn default() -> Self {
        FraudConfig {
            quarantine_threshold: 0.5,
            weights: FraudWeights::default(),
            min_comparables: 10,
            comparables_window: 32,
            price_discount: 0.5,
            min_monthly_rent: 300.0,
            min_sale_price: 10_000.0,
            contact_min_cities: 3,
            contact_min_properties: 8,
            min_description_chars: 80,
            state_margin_km: 50.0,
            max_price_groups: 200_000,
            max_contacts: 500_000,
            max_descriptions: 1_000_000,
        }
    }
}

/// What each reason contributes to the score (each in `[0, 1]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudWeights {
    /// Price far below comparables: the full weight at 100% below the median, half of it at exactly
    /// `price_discount` below, linear in between. Default `0.45`.
    pub price_below_comparables: f32,
    /// Price under the static plausibility floor (`min_monthly_rent`, `min_sale_price`). Default `0.3`.
    pub implausible_price: f32,
    /// Per family of scam phrasing found; families add up (see [`ScamPhraseWeights`]).
    pub scam_phrases: ScamPhraseWeights,
    /// Contact seen in `contact_min_cities` or more cities. Default `0.25`.
    pub contact_reuse_cities: f32,
    /// Contact seen on `contact_min_properties` or more properties (in fewer cities). Default `0.1`.
    pub contact_reuse_properties: f32,
    /// Same description text already used for a different property. Default `0.2`.
    pub description_reuse: f32,
    /// ZIP code belongs to a different state than the listing says. Default `0.25`.
    pub zip_state_mismatch: f32,
    /// Coordinates lie outside the listing's state. Default `0.25`.
    pub coordinates_outside_state: f32,
    /// Neither street address nor coordinates. Default `0.2`.
    pub missing_address: f32,
}

impl Default for FraudWeights {
    fn default() -> Self {
        FraudWeights {
            price_below_comparables: 0.45,
            implausible_price: 0.3,
            scam_phrases: ScamPhraseWeights::default(),
            contact_reuse_cities: 0.25,
            contact_reuse_properties: 0.1,
            description_reuse: 0.2,
            zip_state_mismatch: 0.25,
            coordinates_outside_state: 0.25,
            missing_address: 0.2,
        }
    }
}

/// Contribution of each family of scam phrasing; the reason's contribution is the sum over the
/// families found, capped at `cap`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScamPhraseWeights {
    /// Wire transfer, Western Union, MoneyGram. Default `0.35`.
    pub wire_transfer: f32,
    /// Gift or prepaid cards as payment. Default `0.35`.
    pub gift_cards: f32,
    /// Owner abroad, deployed, missionary. Default `0.3`.
    pub owner_away: f32,
    /// Keys by mail or courier. Default `0.35`.
    pub keys_by_mail: f32,
    /// Can't show, drive by only, deposit before viewing. Default `0.3`.
    pub no_viewing: f32,
    /// Credit report through a link. Default `0.25`.
    pub credit_check_link: f32,
    /// Zelle / Cash App / Venmo / PayPal only. Default `0.2`.
    pub payment_app_only: f32,
    /// E-mail-only contact. Default `0.15`.
    pub email_only: f32,
    /// Most the phrasing reason can contribute. Default `0.9`.
    pub cap: f32,
}

impl Default for ScamPhraseWeights {
    fn default() -> Self {
        ScamPhraseWeights {
            wire_transfer: 0.35,
            gift_cards: 0.35,
            owner_away: 0.3,
            keys_by_mail: 0.35,
            no_viewing: 0.3,
            credit_check_link: 0.25,
            payment_app_only: 0.2,
            email_only: 0.15,
            cap: 0.9,
        }
    }
}

impl ScamPhraseWeights {
    pub fn weight(&self, category: ScamCategory) -> f32 {
        match category {
            ScamCategory::WireTransfer => self.wire_transfer,
            ScamCategory::GiftCards => self.gift_cards,
            ScamCategory::OwnerAway => self.owner_away,
            ScamCategory::KeysByMail => self.keys_by_mail,
            ScamCategory::NoViewing => self.no_viewing,
            ScamCategory::CreditCheckLink => self.credit_check_link,
            ScamCategory::PaymentAppOnly => self.payment_app_only,
            ScamCategory::EmailOnly => self.email_only,
        }
    }
}

impl FraudConfig {
    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.quarantine_threshold > 0.0 && self.quarantine_threshold <= 1.0) {
            return Err(format!(
                "fraud.quarantine_threshold must be in (0, 1], got {}",
                self.quarantine_threshold
            ));
        }
        let w = &self.weights;
        let p = &w.scam_phrases;
        let weights = [
            ("price_below_comparables", w.price_below_comparables),
            ("implausible_price", w.implausible_price),
            ("contact_reuse_cities", w.contact_reuse_cities),
            ("contact_reuse_properties", w.contact_reuse_properties),
            ("description_reuse", w.description_reuse),
            ("zip_state_mismatch", w.zip_state_mismatch),
            ("coordinates_outside_state", w.coordinates_outside_state),
            ("missing_address", w.missing_address),
            ("scam_phrases.wire_transfer", p.wire_transfer),
            ("scam_phrases.gift_cards", p.gift_cards),
            ("scam_phrases.owner_away", p.owner_away),
            ("scam_phrases.keys_by_mail", p.keys_by_mail),
            ("scam_phrases.no_viewing", p.no_viewing),
            ("scam_phrases.credit_check_link", p.credit_check_link),
            ("scam_phrases.payment_app_only", p.payment_app_only),
            ("scam_phrases.email_only", p.email_only),
            ("scam_phrases.cap", p.cap),
        ];
        for (name, value) in weights {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!(
                    "fraud.weights.{name} must be in [0, 1], got {value}"
                ));
            }
        }
        if self.min_comparables < 3 {
            return Err(format!(
                "fraud.min_comparables must be at least 3 (a median of fewer is noise), got {}",
                self.min_comparables
            ));
        }
        if self.comparables_window < self.min_comparables {
            return Err(format!(
                "fraud.comparables_window ({}) must be at least fraud.min_comparables ({})",
                self.comparables_window, self.min_comparables
            ));
        }
        if !(self.price_discount > 0.0 && self.price_discount < 1.0) {
            return Err(format!(
                "fraud.price_discount must be in (0, 1), got {}",
                self.price_discount
            ));
        }
        for (name, value) in [
            ("min_monthly_rent", self.min_monthly_rent),
            ("min_sale_price", self.min_sale_price),
            ("state_margin_km", self.state_margin_km),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!(
                    "fraud.{name} must be a non-negative number, got {value}"
                ));
            }
        }
        if self.contact_min_cities < 2 || self.contact_min_properties < 2 {
            return Err(
                "fraud.contact_min_cities and fraud.contact_min_properties must be at least 2 \
                        (one city or property is not reuse)"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// The score and its reasons.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct FraudAssessment {
    /// Sum of the reasons' contributions, capped at 1.
    pub score: f32,
    /// One entry per code that fired, in [`FraudCode`] declaration order.
    pub reasons: Vec<FraudReason>,
}

impl FraudAssessment {
    /// Whether `code` is among the reasons.
    pub fn has(&self, code: FraudCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

/// Distinct properties and cities one contact appeared with (truncated hashes, capped lists).
#[derive(Default)]
struct ContactUse {
    properties: Vec<u32>,
    cities: Vec<u32>,
}

/// Longest list kept per contact: enough to pass every threshold, small enough to bound memory.
const CONTACT_LIST_CAP: usize = 32;

/// Scores listings; learns local prices and reuse as it goes.
pub struct FraudScorer {
    config: FraudConfig,
    phrases: PhraseMatcher,
    comparables: Comparables,
    contacts: U64Map<ContactUse>,
    /// Normalised description hash -> first property that used it.
    descriptions: U64Map<u64>,
}

impl FraudScorer {
    pub fn new(config: FraudConfig) -> Self {
        let phrases = match PhraseMatcher::new() {
            Ok(phrases) => phrases,
            // The phrase list is a compile-time constant; a build failure is a programming error that
            // every test run would hit first.
            Err(error) => unreachable!("scam phrase automaton failed to build: {error}"),
        };
        let comparables = Comparables::new(config.comparables_window, config.max_price_groups);
        FraudScorer {
            config,
            phrases,
            comparables,
            contacts: U64Map::default(),
            descriptions: U64Map::default(),
        }
    }

    pub fn quarantine_threshold(&self) -> f32 {
        self.config.quarantine_threshold
    }

    pub fn config(&self) -> &FraudConfig {
        &self.config
    }

    /// Approximate heap bytes of the learned state.
    pub fn state_bytes(&self) -> usize {
        self.comparables.heap_bytes()
            + map_heap_bytes(&self.contacts)
            + self
                .contacts
                .values()
                .map(|c| (c.properties.capacity() + c.cities.capacity()) * 4)
                .sum::<usize>()
            + map_heap_bytes(&self.descriptions)
    }

    pub fn assess(&mut self, listing: &Listing, property_id: PropertyId) -> FraudAssessment {
        let mut reasons = Vec::new();
        let price = self.price_check(listing);
        if let Some(reason) = price.reason {
            reasons.push(reason);
        }
        reasons.extend(self.phrase_check(listing));
        reasons.extend(self.contact_check(listing, property_id));
        reasons.extend(self.description_check(listing, property_id));
        reasons.extend(self.location_check(listing));
        reasons.extend(self.missing_address_check(listing));

        // Learn only after judging, so a listing is never its own comparable; and never learn a price
        // that was itself flagged, so a wave of bait prices cannot drag the median down.
        if let Some((group, value)) = price.learn {
            self.comparables.record(group, property_id.0 as u32, value);
        }

        let score = reasons
            .iter()
            .map(|r| r.contribution)
            .sum::<f32>()
            .clamp(0.0, 1.0);
        FraudAssessment { score, reasons }
    }

    fn price_check(&mut self, listing: &Listing) -> PriceCheck {
        let mut check = PriceCheck {
            reason: None,
            learn: None,
        };
        let (Some(kind), Some(price)) = (
            listing.listing_kind,
            listing.list_price.filter(|p| p.is_finite() && *p > 0.0),
        ) else {
            return check;
        };
        let property_type = listing.property_type.as_deref().unwrap_or("");
        let is_room = property_type.eq_ignore_ascii_case("room");
        let mut findings: Vec<(f32, String)> = Vec::new();

        let floor = match kind {
            ListingKind::Rent if !is_room => Some(self.config.min_monthly_rent),
            ListingKind::Sale if !property_type.eq_ignore_ascii_case("land") => {
                Some(self.config.min_sale_price)
            }
            _ => None,
        };
        if let Some(floor) = floor
            && price < floor
        {
            let what = if property_type.is_empty() {
                "a whole home"
            } else {
                property_type
            };
            let (period, wording) = match kind {
                ListingKind::Rent => (" a month", "rent"),
                ListingKind::Sale => ("", "sale price"),
            };
            findings.push((
                self.config.weights.implausible_price,
                format!(
                    "asks {}{period} for {what}, below the ${} plausibility floor for a {wording}",
                    dollars(price),
                    thousands(floor.round() as u64)
                ),
            ));
        }

        if let Some((metric, value)) = price_metric(listing, price)
            && let Some((area_key, area_label)) = area_of(listing)
        {
            let group = group_key(area_key, kind, metric, is_room);
            let mut flagged_by_comparables = false;
            if let Some((median, count)) = self.comparables.median(group)
                && count >= self.config.min_comparables
                && median > 0.0
            {
                let discount = 1.0 - value / median;
                let threshold = self.config.price_discount;
                if discount >= threshold {
                    flagged_by_comparables = true;
                    let severity =
                        0.5 + 0.5 * ((discount - threshold) / (1.0 - threshold)).clamp(0.0, 1.0);
                    let kind_plural = match kind {
                        ListingKind::Rent => "rentals",
                        ListingKind::Sale => "sales",
                    };
                    findings.push((
                        self.config.weights.price_below_comparables * severity,
                        format!(
                            "{} {} is {:.0}% below the median {} of {count} comparable {kind_plural} {area_label}",
                            metric.label(),
                            metric.format(value),
                            discount * 100.0,
                            metric.format(median),
                        ),
                    ));
                }
            }
            if findings.is_empty() && !flagged_by_comparables {
                check.learn = Some((group, value));
            }
        }

        if !findings.is_empty() {
            let contribution = findings.iter().map(|(c, _)| *c).fold(0.0, f32::max);
            let detail = findings
                .into_iter()
                .map(|(_, d)| d)
                .collect::<Vec<_>>()
                .join("; ");
            check.reason = Some(FraudReason {
                code: FraudCode::PriceBelowComparables,
                contribution,
                detail,
            });
        }
        check
    }

    fn phrase_check(&self, listing: &Listing) -> Option<FraudReason> {
        let title = listing.title.as_deref().unwrap_or("");
        let description = listing.description.as_deref().unwrap_or("");
        if title.is_empty() && description.is_empty() {
            return None;
        }
        // Title and description are scanned apart so that no phrase is formed across their seam.
        let mut categories = self.phrases.categories_in(title);
        for category in self.phrases.categories_in(description) {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        if categories.is_empty() {
            return None;
        }
        categories.sort();
        let weights = &self.config.weights.scam_phrases;
        let contribution = categories
            .iter()
            .map(|c| weights.weight(*c))
            .sum::<f32>()
            .min(weights.cap);
        if contribution <= 0.0 {
            return None;
        }
        let detail = categories
            .iter()
            .map(|c| c.describe())
            .collect::<Vec<_>>()
            .join("; ");
        Some(FraudReason {
            code: FraudCode::ScamPhrase,
            contribution,
            detail,
        })
    }

    fn contact_check(&mut self, listing: &Listing, property_id: PropertyId) -> Option<FraudReason> {
        let property = property_id.0 as u32;
        let city = city_key(listing);
        let mut worst: Option<(f32, String)> = None;
        let contacts = [
            ("phone", listing.contact_phone.as_deref()),
            ("e-mail", listing.contact_email.as_deref()),
        ];
        for (what, contact) in contacts {
            let Some(contact) = contact.map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            let key = xxh3_64(contact.to_lowercase().as_bytes());
            if !self.contacts.contains_key(&key) && self.contacts.len() >= self.config.max_contacts
            {
                continue;
            }
            let usage = self.contacts.entry(key).or_default();
            if !usage.properties.contains(&property) && usage.properties.len() < CONTACT_LIST_CAP {
                usage.properties.push(property);
            }
            if let Some(city) = city
                && !usage.cities.contains(&city)
                && usage.cities.len() < CONTACT_LIST_CAP
            {
                usage.cities.push(city);
            }
            let (properties, cities) = (usage.properties.len(), usage.cities.len());
            let at_least = |n: usize| {
                if n >= CONTACT_LIST_CAP {
                    "at least "
                } else {
                    ""
                }
            };
            let finding = if cities >= self.config.contact_min_cities {
                Some(self.config.weights.contact_reuse_cities)
            } else if properties >= self.config.contact_min_properties {
                Some(self.config.weights.contact_reuse_properties)
            } else {
                None
            };
            if let Some(contribution) = finding
                && worst.as_ref().is_none_or(|(c, _)| contribution > *c)
            {
                worst = Some((
                    contribution,
                    format!(
                        "{what} {contact} appears on {}{properties} different properties in {}{cities} cities",
                        at_least(properties),
                        at_least(cities)
                    ),
                ));
            }
        }
        let (contribution, detail) = worst?;
        (contribution > 0.0).then_some(FraudReason {
            code: FraudCode::ContactReuse,
            contribution,
            detail,
        })
    }

    fn description_check(
        &mut self,
        listing: &Listing,
        property_id: PropertyId,
    ) -> Option<FraudReason> {
        let description = listing.description.as_deref()?;
        let normalised = normalise_description(description);
        if normalised.chars().count() < self.config.min_description_chars {
            return None;
        }
        let key = xxh3_64(normalised.as_bytes());
        match self.descriptions.get(&key) {
            Some(&first) if first != property_id.0 => {
                let contribution = self.config.weights.description_reuse;
                (contribution > 0.0).then(|| FraudReason {
                    code: FraudCode::DescriptionReuse,
                    contribution,
                    detail: format!(
                        "the same {}-character description was already used for property {}",
                        normalised.chars().count(),
                        PropertyId(first)
                    ),
                })
            }
            Some(_) => None,
            None => {
                if self.descriptions.len() < self.config.max_descriptions {
                    self.descriptions.insert(key, property_id.0);
                }
                None
            }
        }
    }

    fn location_check(&self, listing: &Listing) -> Option<FraudReason> {
        let weights = &self.config.weights;
        let stated = listing
            .state_or_province
            .as_deref()
            .map(str::trim)
            .filter(|s| s.len() == 2)
            .map(str::to_ascii_uppercase);
        let zip = geo::zip5(listing.postal_code.as_deref());
        let zip_state = zip.and_then(regions::state_of_zip);
        let mut contribution = 0.0;
        let mut details = Vec::new();

        if let (Some(stated), Some(zip), Some(zip_state)) = (stated.as_deref(), zip, zip_state)
            && stated != zip_state
        {
            contribution += weights.zip_state_mismatch;
            details.push(format!(
                "ZIP code {zip} belongs to {zip_state}, but the listing says {stated}"
            ));
        }
        // Coordinates are held against the stated state, else the ZIP code's.
        let claimed = stated.as_deref().or(zip_state);
        if let (Some(claimed), Some((lat, lon))) = (claimed, geo::coordinates(listing))
            && let Some(km) = regions::km_outside_state(claimed, lat, lon)
            && km > self.config.state_margin_km
        {
            contribution += weights.coordinates_outside_state;
            details.push(format!(
                "coordinates {lat:.4}, {lon:.4} lie about {} km outside {claimed}",
                thousands(km.round() as u64)
            ));
        }
        (contribution > 0.0).then(|| FraudReason {
            code: FraudCode::LocationMismatch,
            contribution,
            detail: details.join("; "),
        })
    }

    fn missing_address_check(&self, listing: &Listing) -> Option<FraudReason> {
        let has_street = listing
            .street_address
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty());
        let has_location = geo::coordinates(listing).is_some() || listing.h3_cell.is_some();
        let contribution = self.config.weights.missing_address;
        (!has_street && !has_location && contribution > 0.0).then(|| FraudReason {
            code: FraudCode::MissingAddress,
            contribution,
            detail: "gives neither a street address nor map coordinates".to_owned(),
        })
    }
}

struct PriceCheck {
    reason: Option<FraudReason>,
    /// Group and value to add to the comparables once the listing is judged.
    learn: Option<(u64, f32)>,
}

#[derive(Clone, Copy)]
enum PriceMetric {
    PerSqft,
    PerBedroom,
}

impl PriceMetric {
    fn label(self) -> &'static str {
        match self {
            PriceMetric::PerSqft => "price per sqft",
            PriceMetric::PerBedroom => "price per bedroom",
        }
    }

    fn format(self, value: f32) -> String {
        match self {
            PriceMetric::PerSqft => format!("${value:.2}"),
            PriceMetric::PerBedroom => dollars(f64::from(value)),
        }
    }
}

/// Price per square foot when the area is plausible, else per bedroom (a studio counts as one).
fn price_metric(listing: &Listing, price: f64) -> Option<(PriceMetric, f32)> {
    if let Some(sqft) = listing
        .living_area_sqft
        .filter(|a| (100..=50_000).contains(a))
    {
        return Some((PriceMetric::PerSqft, (price / f64::from(sqft)) as f32));
    }
    let bedrooms = listing.bedrooms_total?;
    Some((
        PriceMetric::PerBedroom,
        (price / f64::from(bedrooms.max(1))) as f32,
    ))
}

/// The comparison area: the ZIP code, else the resolution-7 H3 parent of the listing's cell.
fn area_of(listing: &Listing) -> Option<(u64, String)> {
    if let Some(zip) = geo::zip5(listing.postal_code.as_deref()) {
        return Some((xxh3_64(zip.as_bytes()), format!("in {zip}")));
    }
    let area = geo::area_cell_of(listing)?;
    let label = match geo::coordinates(listing) {
        Some((lat, lon)) => format!("within a few km of {lat:.3}, {lon:.3} (H3 area {area})"),
        None => format!("in H3 area {area}"),
    };
    Some((u64::from(area), label))
}

fn group_key(area: u64, kind: ListingKind, metric: PriceMetric, is_room: bool) -> u64 {
    let mut bytes = [0u8; 11];
    bytes[..8].copy_from_slice(&area.to_le_bytes());
    bytes[8] = kind as u8;
    bytes[9] = metric as u8;
    bytes[10] = u8::from(is_room);
    xxh3_64(&bytes)
}

fn city_key(listing: &Listing) -> Option<u32> {
    if let Some(city) = listing
        .city
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let state = listing
            .state_or_province
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let text = format!("{}\u{1f}{state}", city.to_lowercase());
        return Some(xxh3_64(text.as_bytes()) as u32);
    }
    if let Some(zip) = geo::zip5(listing.postal_code.as_deref()) {
        return Some(xxh3_64(zip.as_bytes()) as u32);
    }
    geo::area_cell_of(listing).map(|cell| xxh3_64(&u64::from(cell).to_le_bytes()) as u32)
}

/// Lower case, runs of whitespace collapsed to one space, trimmed; digits and punctuation kept.
fn normalise_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

fn dollars(amount: f64) -> String {
    if amount >= 100.0 || amount.fract() == 0.0 {
        format!("${}", thousands(amount.round() as u64))
    } else {
        format!("${amount:.2}")
    }
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiq_schemas::Source;
    use chrono::{TimeZone, Utc};

    fn rental(id: u32, zip: &str, price: f64, sqft: u32) -> Listing {
        let mut l = Listing::new(
            Source::Zillow,
            id.to_string(),
            "https://e.test",
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        l.listing_kind = Some(ListingKind::Rent);
        l.property_type = Some("apartment".to_owned());
        l.list_price = Some(price);
        l.living_area_sqft = Some(sqft);
        l.bedrooms_total = Some(2);
        l.postal_code = Some(zip.to_owned());
        l.state_or_province = Some("MA".to_owned());
        l.city = Some("Boston".to_owned());
        l.street_address = Some(format!("{id} Main St"));
        l
    }

    #[test]
    fn price_far_below_comparables_is_explained() {
        let mut scorer = FraudScorer::new(FraudConfig::default());
        for i in 0..34 {
            let a = scorer.assess(
                &rental(i, "02134", 1900.0 + f64::from(i % 5) * 10.0, 1000),
                PropertyId(u64::from(i)),
            );
            assert!(!a.has(FraudCode::PriceBelowComparables), "{a:?}");
        }
        let cheap = scorer.assess(&rental(999, "02134", 410.0, 1000), PropertyId(999));
        let reason = cheap
            .reasons
            .iter()
            .find(|r| r.code == FraudCode::PriceBelowComparables)
            .unwrap();
        assert_eq!(
            reason.detail,
            "price per sqft $0.41 is 79% below the median $1.92 of 32 comparable rentals in 02134"
        );
        assert!(
            reason.contribution > 0.3 && reason.contribution <= 0.45,
            "{}",
            reason.contribution
        );
        // Another area has no comparables yet: no price reason.
        let elsewhere = scorer.assess(&rental(1000, "75201", 410.0, 1000), PropertyId(1000));
        assert!(!elsewhere.has(FraudCode::PriceBelowComparables));
    }

    #[test]
    fn static_floor_applies_without_comparables_but_not_to_rooms() {
        let mut scorer = FraudScorer::new(FraudConfig::default());
        let a = scorer.assess(&rental(1, "02134", 250.0, 700), PropertyId(1));
        let reason = &a.reasons[0];
        assert_eq!(reason.code, FraudCode::PriceBelowComparables);
        assert_eq!(
            reason.detail,
            "asks $250 a month for apartment, below the $300 plausibility floor for a rent"
        );
        let mut room = rental(2, "02134", 250.0, 150);
        room.property_type = Some("room".to_owned());
        assert!(scorer.assess(&room, PropertyId(2)).reasons.is_empty());
    }

    #[test]
    fn contact_across_cities_and_description_reuse() {
        let mut scorer = FraudScorer::new(FraudConfig::default());
        let description = "Beautiful renovated two bedroom apartment with hardwood floors, new kitchen and \
                           laundry in the building. Close to transit and shops.";
        let mut last = FraudAssessment::default();
        for (i, city) in ["Boston", "Dallas", "Hartford"].iter().enumerate() {
            let mut l = rental(i as u32, "02134", 2000.0, 900);
            l.city = Some((*city).to_owned());
            l.contact_phone = Some("+16175550123".to_owned());
            l.description = Some(description.to_owned());
            last = scorer.assess(&l, PropertyId(i as u64 + 10));
        }
        let contact = last
            .reasons
            .iter()
            .find(|r| r.code == FraudCode::ContactReuse)
            .unwrap();
        assert_eq!(
            contact.detail,
            "phone +16175550123 appears on 3 different properties in 3 cities"
        );
        let reuse = last
            .reasons
            .iter()
            .find(|r| r.code == FraudCode::DescriptionReuse)
            .unwrap();
        assert!(
            reuse.detail.contains(&PropertyId(10).to_string()),
            "{}",
            reuse.detail
        );
        // The same property re-assessed is not reuse of its own text.
        let mut again = rental(0, "02134", 2000.0, 900);
        again.description = Some(description.to_uppercase());
        assert!(
            !scorer
                .assess(&again, PropertyId(10))
                .has(FraudCode::DescriptionReuse)
        );
    }

    #[test]
    fn location_mismatch_and_missing_address() {
        let scorer_config = FraudConfig::default();
        let mut scorer = FraudScorer::new(scorer_config);
        let mut l = rental(1, "75201", 2000.0, 900);
        l.state_or_province = Some("RI".to_owned());
        l.latitude = Some(32.78);
        l.longitude = Some(-96.80);
        let a = scorer.assess(&l, PropertyId(1));
        let reason = a
            .reasons
            .iter()
            .find(|r| r.code == FraudCode::LocationMismatch)
            .unwrap();
        assert!(reason.detail.starts_with("ZIP code 75201 belongs to TX, but the listing says RI; coordinates 32.7800, -96.8000 lie about"), "{}", reason.detail);
        assert!((reason.contribution - 0.5).abs() < 1e-6);

        let mut bare = Listing::new(
            Source::Craigslist,
            "x",
            "u",
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        bare.title = Some("nice place".to_owned());
        let a = scorer.assess(&bare, PropertyId(5));
        assert_eq!(a.reasons.len(), 1);
        assert_eq!(a.reasons[0].code, FraudCode::MissingAddress);
        assert!(a.score < scorer.quarantine_threshold());
    }

    #[test]
    fn score_is_capped_at_one() {
        let mut scorer = FraudScorer::new(FraudConfig::default());
        let mut l = rental(1, "75201", 100.0, 900);
        l.state_or_province = Some("RI".to_owned());
        l.description = Some(
            "I am out of the country, wire the deposit by western union and I will mail you the keys; \
             pay with a gift card; we can't show it."
                .to_owned(),
        );
        let a = scorer.assess(&l, PropertyId(1));
        assert_eq!(a.score, 1.0);
        assert!(a.reasons.iter().map(|r| r.contribution).sum::<f32>() > 1.0);
    }

    #[test]
    fn config_validation() {
        assert_eq!(FraudConfig::default().validate(), Ok(()));
        let config = FraudConfig {
            comparables_window: 5,
            ..FraudConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("comparables_window")
        );
        let parsed: Result<FraudConfig, _> = serde_json::from_str(r#"{"quarantine": 0.4}"#);
        assert!(parsed.is_err());
        let parsed: FraudConfig =
            serde_json::from_str(r#"{"weights": {"scam_phrases": {"email_only": 0.0}}}"#).unwrap();
        assert_eq!(parsed.weights.scam_phrases.email_only, 0.0);
        assert_eq!(parsed.weights.scam_phrases.wire_transfer, 0.35);
    }

    #[test]
    fn money_formatting() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(dollars(0.41), "$0.41");
        assert_eq!(dollars(10_000.0), "$10,000");
    }
}
