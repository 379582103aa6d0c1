//! `aiqleads sql` over a fixture lake: the pipeline writes `tests/fixtures/listings.jsonl` into a
//! temporary lake, then every `tests/queries/NN-name.sql` runs and its CSV output must equal
//! `NN-name.expected`. Run with `AIQ_BLESS=1` to rewrite the expected files after a deliberate change
//! (then read the diff: the numbers must still make sense against `listings.expected.json`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiq_jobs::config::Config;
use aiq_jobs::file::run_file_pipeline;
use aiq_jobs::sql::{Lake, OutputFormat, PromptSummary, SqlError, run_prompt, run_query};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs the pipeline over the fixture into `dir` and returns a config pointing at its lake.
async fn fixture_lake(dir: &Path) -> Config {
    let summary = run_file_pipeline(
        Config::default(),
        &crate_path("tests/fixtures/listings.jsonl"),
        dir,
        false,
    )
    .await
    .expect("the pipeline runs over the fixture");
    let mut config = Config::default();
    config.lake.dir = summary.lake_dir;
    config
}

async fn csv_of(config: &Config, sql: &str) -> Result<String, SqlError> {
    let mut out = Vec::new();
    run_query(config, sql, OutputFormat::Csv, None, &mut out).await?;
    Ok(String::from_utf8(out).expect("CSV output is UTF-8"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ten_analyst_questions_give_their_expected_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_lake(dir.path()).await;
    let bless = std::env::var_os("AIQ_BLESS").is_some();

    let mut queries: Vec<PathBuf> = std::fs::read_dir(crate_path("tests/queries"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    queries.sort();
    assert_eq!(queries.len(), 10, "ten analyst questions");

    let mut mismatches = Vec::new();
    for query in &queries {
        let sql = std::fs::read_to_string(query).unwrap();
        let actual = csv_of(&config, &sql)
            .await
            .unwrap_or_else(|e| panic!("{} fails: {e}", query.display()));
        assert!(
            actual.lines().count() > 1,
            "{} returned no rows",
            query.display()
        );
        let expected_path = query.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        if actual != expected {
            mismatches.push(format!(
                "{}\n--- expected\n{expected}--- actual\n{actual}",
                query.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_agree_with_the_fixture_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_lake(dir.path()).await;
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate_path("tests/fixtures/listings.expected.json")).unwrap(),
    )
    .unwrap();

    // Dead letters never reach the lake: one row per valid line, and every merge decided while the
    // rows were buffered is applied, so the lake counts the fixture's unique properties.
    let counts = csv_of(
        &config,
        "SELECT count(*) AS listings, count(DISTINCT property_id) AS properties FROM current_leads",
    )
    .await
    .unwrap();
    assert_eq!(
        counts,
        format!(
            "listings,properties\n{},{}\n",
            truth["valid"], truth["unique_properties"]
        )
    );

    // Every planted scam is quarantined.
    let scams: Vec<String> = truth["scam_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| format!("'{}'", id.as_str().unwrap()))
        .collect();
    let quarantined = csv_of(
        &config,
        &format!(
            "SELECT count(*) AS n FROM current_leads WHERE status = 'quarantined' \
             AND source || ':' || source_listing_id IN ({})",
            scams.join(", ")
        ),
    )
    .await
    .unwrap();
    assert_eq!(quarantined, format!("n\n{}\n", scams.len()));

    let by_source = csv_of(
        &config,
        "SELECT source, count(*) AS n FROM leads GROUP BY source ORDER BY source",
    )
    .await
    .unwrap();
    let expected: String = truth["by_source"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(source, n)| format!("{source},{n}\n"))
        .collect();
    assert_eq!(by_source, format!("source,n\n{expected}"));
}

/// Files the physical plan of `sql` would read.
async fn files_scanned(lake: &Lake, sql: &str) -> usize {
    let plan = lake
        .context()
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    fn count(plan: &Arc<dyn ExecutionPlan>) -> usize {
        let here = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
            .map_or(0, |scan| {
                scan.file_groups
                    .iter()
                    .map(|group| group.files().len())
                    .sum()
            });
        here + plan.children().into_iter().map(count).sum::<usize>()
    }
    count(&plan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_on_state_reads_only_that_states_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_lake(dir.path()).await;
    let lake = Lake::open(&config.lake.dir).await.unwrap();

    let all = files_scanned(&lake, "SELECT city FROM leads").await;
    let rhode_island = files_scanned(&lake, "SELECT city FROM leads WHERE state = 'RI'").await;
    let on_disk = walk_parquet(&config.lake.dir.join("leads"));
    let on_disk_ri = on_disk
        .iter()
        .filter(|path| path.to_string_lossy().contains("/state=RI/"))
        .count();
    assert_eq!(all, on_disk.len());
    assert!(on_disk_ri > 0 && on_disk_ri < on_disk.len());
    assert_eq!(rhode_island, on_disk_ri, "only the state=RI folder is read");

    // The partition value is right too, and the date partition is a date.
    let answer = csv_of(
        &config,
        "SELECT count(*) AS n, count(DISTINCT state_or_province) AS states, \
         bool_and(arrow_typeof(dt) = 'Date32') AS dt_is_date \
         FROM leads WHERE state = 'RI'",
    )
    .await
    .unwrap();
    assert_eq!(answer, "n,states,dt_is_date\n49,1,true\n");
}

fn walk_parquet(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk_parquet(&path));
        } else if path.extension().is_some_and(|ext| ext == "parquet") {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_is_an_error_and_the_prompt_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_lake(dir.path()).await;

    for bad in [
        "SELEC 1",
        "SELECT no_such_column FROM leads",
        "SELECT * FROM no_such_table",
        "INSERT INTO leads SELECT * FROM leads",
    ] {
        let error = csv_of(&config, bad).await.expect_err(bad);
        assert!(error.is_bad_query(), "{bad}: {error}");
        assert!(!error.to_string().is_empty());
    }

    let mut input: &[u8] =
        b"SHOW TABLES;\nSELEC nonsense;\nSELECT count(*) AS n\n  FROM leads WHERE status = 'quarantined'\n;\nSELECT 'a;b' AS text";
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    let summary = run_prompt(
        &config,
        OutputFormat::Csv,
        &mut input,
        &mut out,
        &mut messages,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        summary,
        PromptSummary {
            statements: 4,
            failed: 1
        }
    );
    let out = String::from_utf8(out).unwrap();
    let messages = String::from_utf8(messages).unwrap();
    for table in ["leads", "current_leads", "market_stats"] {
        assert!(
            out.contains(&format!(",{table},VIEW"))
                || out.contains(&format!(",{table},BASE TABLE")),
            "SHOW TABLES lists {table}:\n{out}"
        );
    }
    assert!(out.contains("text\na;b\n"), "{out}");
    assert_eq!(messages.lines().count(), 1, "{messages}");
    assert!(messages.starts_with("error: "), "{messages}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_formats_table_json_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_lake(dir.path()).await;
    let sql = "SELECT source, count(*) AS n FROM leads GROUP BY source ORDER BY source";

    let mut table = Vec::new();
    run_query(&config, sql, OutputFormat::Table, None, &mut table)
        .await
        .unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("| craigslist | 217 |"), "{table}");

    let mut json = Vec::new();
    let rows = run_query(&config, sql, OutputFormat::Json, None, &mut json)
        .await
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(json)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows, 3);
    assert_eq!(
        lines[0],
        serde_json::json!({"source": "craigslist", "n": 217})
    );

    let file = dir.path().join("answer.parquet");
    let error = run_query(&config, sql, OutputFormat::Parquet, None, &mut Vec::new())
        .await
        .expect_err("parquet needs --out");
    assert!(matches!(error, SqlError::ParquetNeedsFile));
    run_query(
        &config,
        sql,
        OutputFormat::Parquet,
        Some(&file),
        &mut Vec::new(),
    )
    .await
    .unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<_> = reader.map(|batch| batch.unwrap()).collect();
    let names: Vec<&str> = batches[0]
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["source", "n"]);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    assert!(
        !dir.path().join("answer.parquet.tmp").exists(),
        "the temporary file is renamed away"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_lake_has_no_tables_but_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.lake.dir = dir.path().join("lake");
    let lake = Lake::open(&config.lake.dir).await.unwrap();
    assert!(lake.tables().is_empty());
    assert_eq!(
        csv_of(&config, "SELECT 1 AS one").await.unwrap(),
        "one\n1\n"
    );
    let error = csv_of(&config, "SELECT * FROM leads").await.unwrap_err();
    assert!(error.is_bad_query());
}

/// One JSON line of a listing fetched at `fetched_at` for `price`.
fn fetch_line(id: &str, fetched_at: &str, price: u32) -> String {
    serde_json::json!({
        "source": "craigslist", "source_listing_id": id,
        "url": format!("https://providence.craigslist.org/apa/d/warwick/{id}.html"),
        "listing_kind": "rent", "list_price": price, "bedrooms_total": 2,
        "city": "Warwick", "state_or_province": "RI", "postal_code": "02889",
        "title": "2 bedroom apartment", "fetched_at": fetched_at,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_leads_keeps_the_newest_fetch_and_on_a_tie_the_one_processed_last() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("fetches.jsonl");
    let lines = [
        fetch_line("100", "2026-11-01T10:00:00Z", 1000),
        fetch_line("100", "2026-11-03T10:00:00Z", 1100), // the newest fetch of 100
        fetch_line("100", "2026-11-02T10:00:00Z", 1050), // older, processed later
        fetch_line("200", "2026-11-05T10:00:00Z", 2000),
        fetch_line("200", "2026-11-05T10:00:00Z", 2100), // same fetch time, processed last
        fetch_line("300", "2026-11-05T10:00:00Z", 3000), // fetched once
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let summary = run_file_pipeline(Config::default(), &input, &dir.path().join("out"), false)
        .await
        .unwrap();
    let mut config = Config::default();
    config.lake.dir = summary.lake_dir;

    let current = csv_of(
        &config,
        "SELECT source_listing_id, list_price FROM current_leads ORDER BY source_listing_id",
    )
    .await
    .unwrap();
    assert_eq!(
        current,
        "source_listing_id,list_price\n100,1100.0\n200,2100.0\n300,3000.0\n"
    );
    let superseded = csv_of(
        &config,
        "SELECT source_listing_id, count(*) AS rows FROM superseded_leads \
         GROUP BY source_listing_id ORDER BY source_listing_id",
    )
    .await
    .unwrap();
    assert_eq!(superseded, "source_listing_id,rows\n100,2\n200,1\n");
}
