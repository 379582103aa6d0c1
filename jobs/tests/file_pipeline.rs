//! End-to-end: `pipeline` over the JSON-lines fixture with known duplicates, scams and malformed
//! lines (`tests/fixtures/listings.expected.json` is the ground truth).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use aiq_jobs::config::Config;
use aiq_jobs::file::run_file_pipeline;
use aiq_schemas::{DeadLetter, Lead, LeadStatus};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_over_the_fixture_merges_duplicates_quarantines_scams_and_dead_letters_bad_lines()
{
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("listings.expected.json")).unwrap())
            .unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = run_file_pipeline(
        Config::default(),
        &fixture("listings.jsonl"),
        out.path(),
        false,
    )
    .await
    .expect("pipeline runs");

    assert_eq!(summary.run.records_in, expected["lines"].as_u64().unwrap());
    assert_eq!(summary.run.leads_out, expected["valid"].as_u64().unwrap());

    let dead: Vec<DeadLetter> = read_jsonl(&summary.dead_letters_file);
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for d in &dead {
        *by_reason.entry(d.reason.code.clone()).or_default() += 1;
    }
    let expected_reasons: BTreeMap<String, u64> = expected["dead_letters_by_reason"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(by_reason, expected_reasons);
    assert!(
        dead.iter().all(|d| !d.original.is_empty()),
        "dead letters keep the original line"
    );

    let leads: Vec<Lead> = read_jsonl(&summary.leads_file);
    assert_eq!(leads.len() as u64, expected["valid"].as_u64().unwrap());
    let key = |lead: &Lead| format!("{}:{}", lead.listing.source, lead.listing.source_listing_id);
    let property_of: HashMap<String, _> = leads.iter().map(|l| (key(l), l.property_id)).collect();
    let distinct: BTreeSet<_> = property_of.values().collect();
    assert_eq!(
        distinct.len() as u64,
        expected["unique_properties"].as_u64().unwrap()
    );
    for group in expected["duplicate_groups"].as_array().unwrap() {
        let ids: Vec<&str> = group
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let properties: BTreeSet<_> = ids.iter().map(|id| property_of[*id]).collect();
        assert_eq!(properties.len(), 1, "one property for {ids:?}");
    }
    for pair in expected["non_merging_pairs"].as_array().unwrap() {
        let (a, b) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_ne!(
            property_of[a], property_of[b],
            "{a} and {b} are different units"
        );
    }
    let scams: BTreeSet<String> = expected["scam_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let quarantined: BTreeSet<String> = leads
        .iter()
        .filter(|l| l.status == LeadStatus::Quarantined)
        .map(key)
        .collect();
    assert_eq!(quarantined, scams);
    for lead in &leads {
        assert!((0.0..=1.0).contains(&lead.fraud_score));
        let total: f32 = lead.fraud_reasons.iter().map(|r| r.contribution).sum();
        assert!(
            (total.min(1.0) - lead.fraud_score).abs() < 1e-4,
            "score is the sum of its reasons"
        );
    }
    assert!(summary.lake_files > 0);
}

#[tokio::test]
async fn a_non_empty_output_folder_is_refused_without_overwrite() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("keep.txt"), "mine").unwrap();
    let err = run_file_pipeline(
        Config::default(),
        &fixture("listings.jsonl"),
        out.path(),
        false,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(out.path().join("keep.txt").exists());
}
