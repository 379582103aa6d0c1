//! The `aiqleads` binary as a user runs it: `parse` on the saved real Craigslist pages (output
//! contract, field values, clear errors for pages without a listing) and `pipeline` on a file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CONTRACT_KEYS: [&str; 16] = [
    "source",
    "source_listing_id",
    "url",
    "listing_kind",
    "list_price",
    "bedrooms_total",
    "bathrooms_total",
    "living_area_sqft",
    "street_address",
    "city",
    "state_or_province",
    "postal_code",
    "latitude",
    "longitude",
    "title",
    "posted_at",
];

fn craigslist_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/html/craigslist")
        .join(name)
}

fn aiqleads(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiqleads"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn parse(name: &str) -> Vec<Value> {
    let page = craigslist_page(name);
    let output = aiqleads(&["parse", "--site", "auto", page.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let listings: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    for listing in &listings {
        for key in CONTRACT_KEYS {
            assert!(
                listing.get(key).is_some(),
                "{name}: key {key} missing in {listing}"
            );
        }
        if let Some(posted) = listing["posted_at"].as_str() {
            chrono::DateTime::parse_from_rfc3339(posted)
                .unwrap_or_else(|e| panic!("{name}: posted_at {posted}: {e}"));
        }
        if let Some(state) = listing["state_or_province"].as_str() {
            assert_eq!(state.len(), 2, "{name}: state {state}");
        }
    }
    listings
}

#[test]
fn help_lists_the_commands() {
    let output = aiqleads(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["demo", "parse", "pipeline"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn parse_a_2022_posting_gives_the_normalised_fields() {
    let listings = parse("cl_2022_post_apa_atlanta_7501755803.html");
    assert_eq!(listings.len(), 1);
    let l = &listings[0];
    assert_eq!(l["source"], "craigslist");
    assert_eq!(l["source_listing_id"], "7501755803");
    assert_eq!(l["listing_kind"], "rent");
    assert_eq!(l["list_price"], 1606.0);
    assert_eq!(l["bedrooms_total"], 1);
    assert_eq!(l["living_area_sqft"], 750);
    assert_eq!(l["city"], "Smyrna");
    assert_eq!(l["state_or_province"], "GA");
    assert_eq!(l["title"], "The Edison Apartments");
    assert!((l["latitude"].as_f64().unwrap() - 33.8796).abs() < 1e-4);
    assert!(
        l["url"]
            .as_str()
            .unwrap()
            .starts_with("https://atlanta.craigslist.org/")
    );
}

#[test]
fn parse_a_studio_posting_says_zero_bedrooms() {
    let listings = parse("cl_2022_post_apa_chicago_7496774171.html");
    assert_eq!(listings[0]["bedrooms_total"], 0);
    assert_eq!(listings[0]["list_price"], 825.0);
}

#[test]
fn parse_a_2009_sale_posting() {
    let listings = parse("cl_2009_post_reb_broward_1224008903.html");
    assert_eq!(listings[0]["listing_kind"], "sale");
    assert_eq!(listings[0]["list_price"], 189999.0);
    assert_eq!(listings[0]["bedrooms_total"], 3);
    assert_eq!(listings[0]["state_or_province"], "FL");
}

#[test]
fn parse_search_pages_of_every_generation() {
    for (page, rows) in [
        ("cl_2009_listing_apa_southflorida.html", 100),
        ("cl_2021_search_apa_burnaby_result-row.html", 5),
        ("cl_2025_search_apa_manhattan.html", 153),
        ("cl_2026_search_apa_milwaukee_wauwatosa.html", 37),
    ] {
        let listings = parse(page);
        assert_eq!(listings.len(), rows, "{page}");
        assert!(
            listings.iter().all(|l| l["listing_kind"] == "rent"),
            "{page}"
        );
        assert!(
            listings
                .iter()
                .filter(|l| l["list_price"].is_number())
                .count()
                > rows / 2,
            "{page}: most rows have a price"
        );
    }
}

#[test]
fn pages_without_a_listing_exit_non_zero_with_one_line_reason() {
    for (page, reason) in [
        ("cl_2009_post_expired.html", "expired"),
        ("cl_2022_blocked_response.html", "blocked"),
    ] {
        let output = aiqleads(&[
            "parse",
            "--site",
            "craigslist",
            craigslist_page(page).to_str().unwrap(),
        ]);
        assert!(!output.status.success(), "{page}");
        assert!(output.stdout.is_empty(), "{page}: nothing on stdout");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{page}: one line: {stderr}"
        );
        assert!(stderr.contains(reason), "{page}: {stderr}");
    }
}

#[test]
fn pipeline_command_writes_leads_parquet_and_dead_letters() {
    let out = tempfile::tempdir().unwrap();
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/tests/fixtures/listings.jsonl");
    let output = aiqleads(&[
        "pipeline",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--overwrite",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let leads = std::fs::read_to_string(out.path().join("leads.jsonl")).unwrap();
    let first: Value = serde_json::from_str(leads.lines().next().unwrap()).unwrap();
    for key in
        CONTRACT_KEYS
            .iter()
            .chain(&["property_id", "fraud_score", "fraud_reasons", "lead_price"])
    {
        assert!(first.get(*key).is_some(), "lead key {key} missing");
    }
    assert!(
        std::fs::read_to_string(out.path().join("dead_letters.jsonl"))
            .unwrap()
            .lines()
            .count()
            > 0
    );
    assert!(out.path().join("lake/_manifest/leads.jsonl").exists());
}
