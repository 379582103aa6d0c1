//! The streaming jobs as an operator runs them: `aiqleads kafka create-topics`, then `aiqleads run`
//! processes against a real Kafka-protocol broker (tansu, SQLite storage, one broker per test) and
//! a real Postgres database per run. What is checked:
//! - a run turns the fixture's raw listings into the expected rows in Postgres and Parquet, and the
//!   malformed records (bad JSON, a newer schema version, bad values) into dead letters;
//! - `kill -9` at random points, several times, then a restart: exactly the rows of an uninterrupted
//!   run over the same topic, to the last column (no loss, no duplicates, state rebuilt exactly);
//! - two processes in one consumer group split the partitions and produce that same result.
//!
//! The broker binary comes from `AIQ_TANSU` (scripts/test.sh installs it into its cache) and
//! Postgres from `AIQ_TEST_POSTGRES_URL`; a test without them fails and says so.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aiq_kafka::{Bus, KafkaSettings, Outgoing, streams};
use sqlx::{Connection, PgConnection, Row};

const FIXTURE: &str = "jobs/tests/fixtures/listings.jsonl";
const PARTITIONS: &str = "4";

/// A tansu broker on a free loopback port, storing in a temporary folder; stopped on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let tansu = std::env::var_os("AIQ_TANSU")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".cache/aiqleads/tools/bin/tansu"))
            })
            .filter(|path| path.exists())
            .expect(
                "the tansu broker is needed (AIQ_TANSU, or ~/.cache/aiqleads/tools/bin/tansu): \
                 `bash scripts/test.sh` installs it",
            );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("kafka://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin_url() -> String {
    std::env::var("AIQ_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh Postgres database, dropped on drop.
struct Database {
    name: String,
    url: String,
}

impl Database {
    async fn create(label: &str) -> Database {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("aiq_stream_{label}_{}_{nanos}", std::process::id());
        let admin = admin_url();
        let mut connection = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("Postgres at {admin} (AIQ_TEST_POSTGRES_URL) must answer: {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap();
        Database {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (admin_url(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    if let Ok(mut connection) = PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut connection)
                                .await;
                    }
                })
        });
        let _ = dropped.join();
    }
}

/// A spawned `aiqleads` whose standard error is read as it comes (so a test can wait for a log line)
/// without ever filling the pipe.
struct WatchedChild {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl WatchedChild {
    fn spawn(mut command: Command) -> WatchedChild {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aiqleads starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        WatchedChild { child, log, reader }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for the exit; the output's stderr is empty, the log holds it.
    fn wait(self) -> (Output, String) {
        let output = self.child.wait_with_output().expect("aiqleads exits");
        self.reader.join().expect("stderr reader");
        let log = self.log.lock().unwrap().clone();
        (output, log)
    }
}

/// One job deployment's settings: broker, database, lake, consumer-group prefix.
struct Deployment {
    bus: String,
    store: String,
    lake: PathBuf,
    name: String,
}

impl Deployment {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aiqleads"));
        command
            .args(args)
            .env("AIQ__BUS__URL", &self.bus)
            .env("AIQ__STORE__URL", &self.store)
            .env("AIQ__LAKE__DIR", &self.lake)
            .env("AIQ__RUNNER__CONSUMER_NAME", &self.name)
            // Small batches and files, so that kills land between many commits and flushes.
            .env("AIQ__RUNNER__BATCH_SIZE", "16")
            .env("AIQ__LAKE__ROWS_PER_FILE", "100")
            .env("AIQ__LAKE__ROW_GROUP_ROWS", "100")
            .env("AIQ__LAKE__FLUSH_INTERVAL", "200ms")
            .env("AIQ__METRICS__LISTEN", "")
            // A killed member holds its partitions until its session times out (the broker's floor
            // is 6 s); runs that must finish wait longer than that when idle.
            .env("AIQ__BUS__KAFKA__SESSION_TIMEOUT_MS", "6000")
            .env("AIQ_LOG", "warn");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("aiqleads runs");
        assert!(
            output.status.success(),
            "aiqleads {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aiqleads starts")
    }

    /// `(rows, distinct positions)` in the lake's `raw_listings` archive.
    fn raw_counts(&self) -> (u64, u64) {
        let output = self.run(&[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n, count(DISTINCT input_partition * 1000000000 + input_offset) AS d \
             FROM raw_listings",
        ]);
        let text = String::from_utf8(output.stdout).unwrap();
        let row = text.lines().nth(1).expect("one row");
        let (n, d) = row.split_once(',').unwrap();
        (n.trim().parse().unwrap(), d.trim().parse().unwrap())
    }

    /// The one value a lake query returns, as CSV text.
    fn sql_value(&self, query: &str) -> String {
        let output = self.run(&["sql", "--format", "csv", query]);
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines().nth(1).expect("one row").trim().to_owned()
    }

    /// `(rows, distinct listings)` in the lake's `leads` table.
    fn lake_counts(&self) -> (u64, u64) {
        let output = self.run(&[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n, count(DISTINCT source || ':' || source_listing_id) AS d FROM leads",
        ]);
        let text = String::from_utf8(output.stdout).unwrap();
        let row = text.lines().nth(1).expect("one row");
        let (n, d) = row.split_once(',').unwrap();
        (n.trim().parse().unwrap(), d.trim().parse().unwrap())
    }
}

/// The fixture's lines, repeated `copies` times with distinct listing ids (the repeats describe the
/// same properties, so dedupe merges them), plus two records a reader must reject: one from a
/// newer schema version and one that is not JSON.
async fn publish(bus_url: &str, copies: usize) -> usize {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let text = std::fs::read_to_string(&fixture).unwrap();
    let mut records = Vec::new();
    for copy in 0..copies {
        for (line_number, line) in text.lines().enumerate() {
            let mut payload = line.to_owned();
            let mut key = format!("line:{line_number}");
            if let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(line) {
                if copy > 0
                    && let Some(id) = object.get("source_listing_id").filter(|v| !v.is_null())
                {
                    let id = id
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| id.to_string());
                    object.insert(
                        "source_listing_id".into(),
                        format!("{id}-copy{copy}").into(),
                    );
                }
                key = format!(
                    "{}:{}",
                    object.get("source").and_then(|v| v.as_str()).unwrap_or(""),
                    object
                        .get("source_listing_id")
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                );
                payload = serde_json::Value::Object(object).to_string();
            }
            records.push(Outgoing::new(key.into_bytes(), payload.into_bytes()));
        }
    }
    let mut newer = Outgoing::new(
        b"craigslist:from-the-future".to_vec(),
        br#"{"source":"craigslist","source_listing_id":"from-the-future"}"#.to_vec(),
    );
    newer.schema_version = aiq_schemas::SCHEMA_VERSION + 1;
    records.push(newer);
    records.push(Outgoing::new(
        b"garbage".to_vec(),
        b"\x00\xffnot json at all".to_vec(),
    ));
    let count = records.len();
    let bus = Bus::open(bus_url, 16, &KafkaSettings::default()).unwrap();
    bus.producer(streams::LISTINGS_RAW)
        .unwrap()
        .send_all(records)
        .await
        .unwrap();
    count
}

/// Every column of every listing row that the pipeline decides, in key order.
async fn listing_rows(store_url: &str) -> Vec<String> {
    let mut connection = PgConnection::connect(store_url).await.unwrap();
    sqlx::query(
        "SELECT source, source_listing_id, property_id, status, lead_price, fraud_score, \
                quality_score, completeness, fraud_reasons::text, price_breakdown::text, survivor_rank \
         FROM listings ORDER BY source, source_listing_id",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .iter()
    .map(|row| {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            row.get::<String, _>(0),
            row.get::<String, _>(1),
            row.get::<i64, _>(2),
            row.get::<String, _>(3),
            row.get::<i64, _>(4),
            row.get::<f64, _>(5),
            row.get::<f64, _>(6),
            row.get::<f64, _>(7),
            row.get::<String, _>(8),
            row.get::<String, _>(9),
            row.get::<String, _>(10),
        )
    })
    .collect()
}

async fn scalar(store_url: &str, sql: &str) -> i64 {
    let mut connection = PgConnection::connect(store_url).await.unwrap();
    sqlx::query(sql)
        .fetch_one(&mut connection)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// A clean, uninterrupted `enrich` over the broker's `listings.by-block` as the partition job(s)
/// left it: what any run over that topic must have produced, to the last column.
async fn reference_rows(broker: &Broker, lake: &Path) -> Vec<String> {
    let database = Database::create("reference").await;
    let reference = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.to_owned(),
        name: "reference".into(),
    };
    reference.run(&["run", "enrich", "--exit-when-idle", "3s"]);
    listing_rows(&database.url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stores_every_listing_once_and_dead_letters_the_malformed() {
    let broker = Broker::start();
    let database = Database::create("run").await;
    let lake = tempfile::tempdir().unwrap();
    let deployment = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.path().to_owned(),
        name: "once".into(),
    };
    let created = deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);
    assert!(String::from_utf8_lossy(&created.stdout).contains("listings.by-block: created"));
    let again = deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("listings.by-block: already exists"));

    let published = publish(&broker.url(), 1).await;
    assert_eq!(published, 300);
    let output = deployment.run(&["run", "all", "--exit-when-idle", "3s"]);
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("partition: 300 records in"), "{summary}");

    // The fixture: 298 lines, of which 2 are not JSON and 3 are rejected by normalisation
    // (missing listing id, unknown source, impossible coordinates); 11 duplicate groups; 5 scams.
    let url = &database.url;
    assert_eq!(scalar(url, "SELECT count(*) FROM listings").await, 293);
    assert_eq!(scalar(url, "SELECT count(*) FROM leads").await, 282);
    assert_eq!(
        scalar(
            url,
            "SELECT count(*) FROM leads WHERE status = 'quarantined'"
        )
        .await,
        5
    );
    let mut connection = PgConnection::connect(url).await.unwrap();
    let mut reasons: Vec<(String, i64)> =
        sqlx::query("SELECT reason_code, count(*) FROM dead_letters GROUP BY 1 ORDER BY 1")
            .fetch_all(&mut connection)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("invalid_coordinates".to_owned(), 1),
            ("invalid_json".to_owned(), 3),
            ("missing_listing_id".to_owned(), 1),
            ("unknown_source".to_owned(), 1),
            ("unsupported_schema_version".to_owned(), 1),
        ]
    );
    assert_eq!(deployment.lake_counts(), (293, 293));
    // The raw archive: every record the partition job read, once.
    assert_eq!(deployment.raw_counts(), (300, 300));

    // The lake alone rebuilds the store, to the last column: a backfill into an empty database, from
    // the lake as the job wrote it and again after compaction.
    let stored = every_column(url).await;
    for round in ["as written", "compacted"] {
        if round == "compacted" {
            let output = deployment.run(&["run", "compact"]);
            let said = String::from_utf8_lossy(&output.stdout);
            assert!(!said.contains("compact: 0 folders"), "{said}");
            assert_eq!(deployment.lake_counts(), (293, 293));
        }
        let rebuilt = Database::create("backfill").await;
        let restore = Deployment {
            bus: broker.url(),
            store: rebuilt.url.clone(),
            lake: lake.path().to_owned(),
            name: "restore".into(),
        };
        let output = restore.run(&["run", "backfill"]);
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("293 leads written"), "{round}: {said}");
        assert_eq!(every_column(&rebuilt.url).await, stored, "{round}");
    }
}

/// Every column of the store's `listings`, `leads` and market statistics, as JSON text in a stable
/// order (dead letters are not in the lake).
async fn every_column(store_url: &str) -> Vec<String> {
    let mut connection = PgConnection::connect(store_url).await.unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT to_jsonb(l)::text FROM listings l ORDER BY source, source_listing_id",
        // `revision` says when a row was written here (migration 040), not what it holds.
        "SELECT (to_jsonb(l) - 'revision')::text FROM leads l ORDER BY property_id",
        "SELECT to_jsonb(m)::text FROM market_stats_postal m ORDER BY 1",
        "SELECT to_jsonb(m)::text FROM market_stats_h3 m ORDER BY 1",
    ] {
        let found: Vec<String> = sqlx::query(sql)
            .fetch_all(&mut connection)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect();
        assert!(!found.is_empty(), "{sql}: no rows");
        rows.extend(found);
    }
    rows
}

/// Runs `run all` and kills it with SIGKILL `kills` times, each time once the enrich job has
/// committed a random further share of the input (so every kill lands mid-stream, between commits
/// and lake flushes), then lets a last run finish.
async fn run_with_kills(deployment: &Deployment, total: i64, kills: u64, seed: u64) {
    let mut state = seed;
    let progress_sql = format!(
        "SELECT coalesce(sum(next_offset), 0)::int8 FROM sink_offsets WHERE consumer = '{}.enrich'",
        deployment.name
    );
    for round in 0..kills {
        // xorshift: reproducible from the printed seed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let share = (round * 100 + state % 100) as i64; // per mille of the input, increasing
        let target = total * (share + 50) / ((kills as i64 + 1) * 100);
        let mut child = deployment.spawn(&["run", "all"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut reached = 0;
        while Instant::now() < deadline {
            // The job creates the tables when it first opens the store.
            reached = match PgConnection::connect(&deployment.store).await {
                Ok(mut connection) => sqlx::query(&progress_sql)
                    .fetch_one(&mut connection)
                    .await
                    .map(|row| row.get::<i64, _>(0))
                    .unwrap_or(0),
                Err(_) => 0,
            };
            if reached >= target {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        eprintln!(
            "round {round}: killed at {reached} of {total} committed (target {target}, {status})"
        );
    }
    deployment.run(&["run", "all", "--exit-when-idle", "10s"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_runs_store_exactly_what_an_uninterrupted_run_stores() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let broker = Broker::start();
    let database = Database::create("killed").await;
    let lake = tempfile::tempdir().unwrap();
    let deployment = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.path().to_owned(),
        name: "killed".into(),
    };
    deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);
    let published = publish(&broker.url(), 8).await as u64;
    run_with_kills(&deployment, 8 * 300, 4, seed).await;

    let rows = listing_rows(&database.url).await;
    // 8 copies of the 293 good lines.
    assert_eq!(rows.len(), 8 * 293, "seed {seed}");
    let reference_lake = tempfile::tempdir().unwrap();
    let reference = reference_rows(&broker, reference_lake.path()).await;
    assert_eq!(rows.len(), reference.len(), "seed {seed}");
    for (got, want) in rows.iter().zip(&reference) {
        assert_eq!(got, want, "seed {seed}");
    }
    // The lake: every listing exactly once.
    assert_eq!(deployment.lake_counts(), (8 * 293, 8 * 293), "seed {seed}");
    // The raw archive: every record published, exactly once, whatever the kills.
    assert_eq!(
        deployment.raw_counts(),
        (published, published),
        "seed {seed}"
    );
    assert_eq!(
        scalar(&database.url, "SELECT count(*) FROM dead_letters").await,
        8 * 5 + 2,
        "seed {seed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_in_one_group_split_the_partitions_and_agree_with_one() {
    let broker = Broker::start();
    let database = Database::create("pair").await;
    let lake = tempfile::tempdir().unwrap();
    let deployment = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.path().to_owned(),
        name: "pair".into(),
    };
    deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);
    // Both members join the enrich group before any record is published. Otherwise the one that
    // joins first may enrich everything before a cooperative rebalance hands the other its share,
    // which is correct but shows nothing of the split.
    let members: Vec<WatchedChild> = (0..2)
        .map(|_| {
            let mut command = deployment.command(&["run", "all", "--exit-when-idle", "15s"]);
            command.env("AIQ_LOG", "warn,aiq_kafka=info");
            WatchedChild::spawn(command)
        })
        .collect();
    // Assignments are incremental (cooperative rebalancing): replay them to know what is held.
    let holds_enrich_partitions = |log: &str| {
        let mut held = std::collections::BTreeSet::new();
        for line in log
            .lines()
            .filter(|line| line.contains("group=pair.enrich"))
        {
            let Some((_, list)) = line.split_once("partitions=[") else {
                continue;
            };
            let partitions = list
                .trim_end_matches(']')
                .split(", ")
                .filter_map(|p| p.parse::<i32>().ok());
            if line.contains("partitions assigned") {
                held.extend(partitions);
            } else if line.contains("partitions revoked") {
                for partition in partitions {
                    held.remove(&partition);
                }
            }
        }
        !held.is_empty()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while !members
        .iter()
        .all(|member| holds_enrich_partitions(&member.log()))
    {
        assert!(
            Instant::now() < deadline,
            "both members hold enrich partitions within 90 s:\n{}",
            members
                .iter()
                .map(WatchedChild::log)
                .collect::<Vec<_>>()
                .join("\n--\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    publish(&broker.url(), 4).await;
    let mut enriched_by = Vec::new();
    let mut summaries = String::new();
    for member in members {
        let (output, log) = member.wait();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}{log}");
        summaries.push_str(&stdout);
        let records: u64 = stdout
            .lines()
            .find_map(|line| line.strip_prefix("enrich: "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("an enrich summary line");
        enriched_by.push(records);
    }
    assert!(
        enriched_by.iter().all(|n| *n > 0),
        "both members enriched part of the stream: {enriched_by:?}\n{summaries}"
    );
    let rows = listing_rows(&database.url).await;
    assert_eq!(rows.len(), 4 * 293);
    let reference_lake = tempfile::tempdir().unwrap();
    assert_eq!(rows, reference_rows(&broker, reference_lake.path()).await);
    assert_eq!(deployment.lake_counts(), (4 * 293, 4 * 293));
}

/// The API's marketplace events (with Kafka) reach the store's `marketplace_events` table once, a
/// rerun stores nothing again, and an event that does not decode is a dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_events_are_stored_once_and_the_malformed_dead_lettered() {
    let broker = Broker::start();
    let database = Database::create("events").await;
    let lake = tempfile::tempdir().unwrap();
    let deployment = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.path().to_owned(),
        name: "events".into(),
    };
    deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);
    let kinds = ["view", "cart_add", "purchase"];
    let mut records: Vec<Outgoing> = (0..60)
        .map(|i| {
            let event = serde_json::json!({
                "kind": kinds[i % 3],
                "property_id": format!("{:016x}", 1000 + i % 7),
                "h3_cell": null,
                "postal_code": format!("0288{}", i % 2),
                "agent": format!("{:032x}", i % 5),
                "at": "2026-12-01T10:00:00Z",
            });
            Outgoing::new(
                format!("{:016x}", 1000 + i % 7).into_bytes(),
                event.to_string().into_bytes(),
            )
        })
        .collect();
    records.push(Outgoing::new(
        b"bad".to_vec(),
        b"{\"kind\": \"stare\"}".to_vec(),
    ));
    let bus = Bus::open(&broker.url(), 16, &KafkaSettings::default()).unwrap();
    bus.producer(streams::MARKETPLACE_EVENTS)
        .unwrap()
        .send_all(records)
        .await
        .unwrap();

    for round in 0..2 {
        deployment.run(&["run", "events", "--exit-when-idle", "3s"]);
        let url = &database.url;
        assert_eq!(
            scalar(url, "SELECT count(*) FROM marketplace_events").await,
            60,
            "round {round}"
        );
        assert_eq!(
            scalar(
                url,
                "SELECT count(*) FROM marketplace_events WHERE kind = 'purchase'"
            )
            .await,
            20
        );
        assert_eq!(
            scalar(
                url,
                "SELECT count(*) FROM dead_letters WHERE reason_code = 'invalid_json' \
                 AND stage = 'marketplace_event_decode'"
            )
            .await,
            1,
            "round {round}"
        );
    }
}

/// The listing of the fixture `(source, source_listing_id)` as the pipeline normalises it.
fn fixture_listings() -> Vec<aiq_schemas::Listing> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::read_to_string(fixture)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<aiq_schemas::RawListing>(line).ok())
        .filter_map(|raw| aiq_pipeline::normalise::normalise(&raw, chrono::Utc::now()).ok())
        .collect()
}

fn pricing_cell(listing: &aiq_schemas::Listing) -> Option<h3o::CellIndex> {
    let cell = h3o::CellIndex::try_from(listing.h3_cell?.0).ok()?;
    cell.parent(h3o::Resolution::Seven)
}

/// `demand_multiplier` of the listing's row.
async fn demand_multiplier(store_url: &str, listing: &aiq_schemas::Listing) -> f64 {
    let mut connection = PgConnection::connect(store_url).await.unwrap();
    sqlx::query_scalar::<_, f64>(
        "SELECT (price_breakdown->>'demand_multiplier')::float8 FROM listings \
         WHERE source = $1 AND source_listing_id = $2",
    )
    .bind(listing.source.as_str())
    .bind(&listing.source_listing_id)
    .fetch_one(&mut connection)
    .await
    .unwrap()
}

/// The API's events reach pricing through the log: `events` forwards them into
/// `listings.by-block` beside the listings of their state, where `enrich` counts them in order. A
/// lead where agents bought is dearer, one in a quiet area of the same partition cheaper, and a
/// second deployment that replays the same topics from the start stores the very same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_demand_prices_leads_through_the_log_and_a_replay_agrees() {
    let broker = Broker::start();
    let database = Database::create("demand").await;
    let lake = tempfile::tempdir().unwrap();
    let deployment = Deployment {
        bus: broker.url(),
        store: database.url.clone(),
        lake: lake.path().to_owned(),
        name: "demand".into(),
    };
    deployment.run(&["kafka", "create-topics", "--partitions", PARTITIONS]);

    // A hot and a quiet Texas lead in different pricing areas.
    let listings = fixture_listings();
    let texan = |l: &&aiq_schemas::Listing| {
        l.state_or_province.as_deref() == Some("TX") && pricing_cell(l).is_some()
    };
    let hot = listings
        .iter()
        .find(texan)
        .expect("a Texas listing with a cell");
    let quiet = listings
        .iter()
        .filter(texan)
        .find(|l| pricing_cell(l) != pricing_cell(hot))
        .expect("a Texas listing in another area");
    let event = |listing: &aiq_schemas::Listing, kind: &str| {
        let event = serde_json::json!({
            "kind": kind,
            "property_id": "00000000000000ff",
            "h3_cell": listing.h3_cell,
            "postal_code": listing.postal_code,
            "state_or_province": listing.state_or_province,
            "agent": "0123456789abcdef0123456789abcdef",
            "at": chrono::Utc::now(),
        });
        Outgoing::new(b"00000000000000ff".to_vec(), event.to_string().into_bytes())
    };
    let mut events: Vec<Outgoing> = (0..20).map(|_| event(hot, "purchase")).collect();
    events.push(event(quiet, "view"));
    let bus = Bus::open(&broker.url(), 16, &KafkaSettings::default()).unwrap();
    bus.producer(streams::MARKETPLACE_EVENTS)
        .unwrap()
        .send_all(events)
        .await
        .unwrap();
    let output = deployment.run(&["run", "events", "--exit-when-idle", "3s"]);
    assert_eq!(
        scalar(&database.url, "SELECT count(*) FROM marketplace_events").await,
        21,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    assert_eq!(deployment.sql_value("SELECT count(*) FROM purchases"), "20");

    publish(&broker.url(), 1).await;
    deployment.run(&["run", "all", "--exit-when-idle", "3s"]);
    let url = &database.url;
    // The rerun of `events` inside `all` wrote nothing again.
    assert_eq!(
        deployment.sql_value("SELECT count(*) FROM marketplace_events"),
        "21"
    );
    let (hot_demand, quiet_demand) = (
        demand_multiplier(url, hot).await,
        demand_multiplier(url, quiet).await,
    );
    assert!(hot_demand > 1.0, "hot {hot_demand}");
    assert!(quiet_demand < 1.0, "quiet {quiet_demand}");
    // Pricing state is per partition: the other partitions saw no demand at all.
    let texas_partition = deployment.sql_value(&format!(
        "SELECT input_partition FROM leads WHERE source_listing_id = '{}'",
        hot.source_listing_id
    ));
    let priced_elsewhere = deployment.sql_value(&format!(
        "SELECT count(*) FROM leads WHERE input_partition <> {texas_partition} \
         AND price_demand_multiplier <> 1.0"
    ));
    assert_eq!(priced_elsewhere, "0");

    // Another deployment (new groups, database and lake) over the same topics: the partition and
    // events jobs send everything again, enrich drops those repeats by origin and prices from the log.
    let replay_database = Database::create("demand_replay").await;
    let replay_lake = tempfile::tempdir().unwrap();
    let replay = Deployment {
        bus: broker.url(),
        store: replay_database.url.clone(),
        lake: replay_lake.path().to_owned(),
        name: "demand-replay".into(),
    };
    replay.run(&["run", "all", "--exit-when-idle", "3s"]);
    assert_eq!(
        listing_rows(&replay_database.url).await,
        listing_rows(url).await
    );
    assert_eq!(
        replay.sql_value("SELECT count(*) FROM marketplace_events"),
        "21"
    );
}
