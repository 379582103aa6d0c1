//! Pure pipeline logic: raw listing -> normalised listing -> property id -> fraud score -> lead price.
//!
//! Nothing here performs I/O or reads a clock: time comes in as arguments, so every stage is
//! deterministic, fast to test and easy to benchmark. `aiq-jobs` wires these stages to buses and stores.

pub mod address;
pub mod dedupe;
pub mod enrich;
pub mod fraud;
pub mod normalise;
pub mod price;

pub use enrich::{Enriched, LeadPipeline, PipelineConfig, Stage};
