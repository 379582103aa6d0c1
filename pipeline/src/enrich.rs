//! The composed pipeline: normalise -> dedupe -> fraud -> price, as one [`Stage`].

use aiq_schemas::{
    Lead, LeadStatus, Listing, MarketplaceEvent, RawListing, RejectReason, SCHEMA_VERSION,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dedupe::{DedupeConfig, Deduper, Relabel};
use crate::fraud::{FraudConfig, FraudScorer};
use crate::normalise::normalise;
use crate::price::{DemandEvent, Pricer, PricingConfig};

/// A synchronous, I/O-free processing step: one record in, one record out or a rejection.
///
/// The jobs runner owns batching, writing and committing; a stage only transforms, so the same stage
/// runs unchanged over the in-process bus, Kafka or a file.
pub trait Stage {
    type In;
    type Out;

    /// Processes one record. `now` is the processing time (stages never read a clock).
    fn process(&mut self, input: &Self::In, now: DateTime<Utc>) -> Result<Self::Out, RejectReason>;

    /// Called after each batch; stages with periodic housekeeping override it.
    fn on_batch_end(&mut self, _now: DateTime<Utc>) {}
}

/// Settings of every stage, as one config section (`[pipeline]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    pub dedupe: DedupeConfig,
    pub fraud: FraudConfig,
    pub pricing: PricingConfig,
}

impl PipelineConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.dedupe
            .validate()
            .map_err(|e| format!("pipeline.dedupe: {e}"))?;
        self.fraud
            .validate()
            .map_err(|e| format!("pipeline.fraud: {e}"))?;
        self.pricing
            .validate()
            .map_err(|e| format!("pipeline.pricing: {e}"))?;
        Ok(())
    }
}

/// What one raw listing became.
#[derive(Clone, Debug, PartialEq)]
pub struct Enriched {
    pub lead: Lead,
    /// Another listing already described this property: a duplicate merged into it.
    pub duplicate: bool,
    /// Earlier property ids this listing's arrival merged into others; sinks apply them.
    pub relabels: Vec<Relabel>,
}

/// normalise -> dedupe -> fraud -> price.
pub struct LeadPipeline {
    deduper: Deduper,
    fraud: FraudScorer,
    pricer: Pricer,
}

impl LeadPipeline {
    pub fn new(config: &PipelineConfig) -> Self {
        LeadPipeline {
            deduper: Deduper::new(config.dedupe.clone()),
            fraud: FraudScorer::new(config.fraud.clone()),
            pricer: Pricer::new(config.pricing.clone()),
        }
    }

    /// Runs the stages after normalisation on an already-normalised listing.
    pub fn enrich(&mut self, listing: Listing, now: DateTime<Utc>) -> Enriched {
        let assignment = self.deduper.assign(&listing);
        let fraud = self.fraud.assess(&listing, assignment.property_id);
        let priced = self
            .pricer
            .price(&listing, &fraud, !assignment.joined_existing, now);
        let status = if fraud.score >= self.fraud.quarantine_threshold() {
            LeadStatus::Quarantined
        } else {
            LeadStatus::Active
        };
        Enriched {
            lead: Lead {
                listing,
                property_id: assignment.property_id,
                fraud_score: fraud.score,
                fraud_reasons: fraud.reasons,
                quality_score: priced.quality_score,
                completeness: priced.completeness,
                lead_price: priced.lead_price,
                price_breakdown: priced.breakdown,
                status,
                schema_version: SCHEMA_VERSION,
            },
            duplicate: assignment.joined_existing,
            relabels: assignment.relabels,
        }
    }

    /// Feeds marketplace activity (views, cart adds, purchases) into pricing.
    pub fn record_demand(&mut self, event: &DemandEvent) {
        self.pricer.record_demand(event);
    }

    /// Feeds one marketplace event (from `marketplace.events` or the store) into pricing.
    pub fn record_event(&mut self, event: &MarketplaceEvent) {
        self.pricer.record_event(event);
    }

    pub fn deduper(&self) -> &Deduper {
        &self.deduper
    }

    pub fn pricer(&self) -> &Pricer {
        &self.pricer
    }
}

impl Stage for LeadPipeline {
    type In = RawListing;
    type Out = Enriched;

    fn process(&mut self, raw: &RawListing, now: DateTime<Utc>) -> Result<Enriched, RejectReason> {
        let listing = normalise(raw, now)?;
        Ok(self.enrich(listing, now))
    }
}
