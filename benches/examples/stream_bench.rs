//! Helpers of `benches/streaming/run.sh`:
//! - `load BROKERS COUNT`: publishes COUNT raw listings built from the shared tables (reposts after
//!   the first 40,155) to `listings.raw`, keyed `source:id`, as connectors do;
//! - `jsonl PATH COUNT`: writes the same listings as JSON lines (input of `aiqleads pipeline`);
//! - `drain BROKERS TOPIC EXPECTED`: the limit the jobs are compared with. A bare group consumer
//!   (rdkafka, the same client settings as the jobs) that only counts messages until it has seen
//!   EXPECTED, printing messages per second.

use std::time::{Duration, Instant};

use aiq_benches::{shared_tables_dir, table_listings, workload};
use aiq_kafka::{Bus, KafkaSettings, Outgoing, streams};

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = KafkaSettings::default();
    match args.as_slice() {
        [mode, brokers, count] if mode == "load" => {
            let count: usize = count.parse().map_err(|e| format!("COUNT: {e}"))?;
            let tables = table_listings(&shared_tables_dir())?;
            let listings = workload(&tables, count);
            let bus = Bus::open(&format!("kafka://{brokers}"), 1, &settings)
                .map_err(|e| e.to_string())?;
            let producer = bus
                .producer(streams::LISTINGS_RAW)
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            for chunk in listings.chunks(20_000) {
                let records = chunk
                    .iter()
                    .map(|raw| {
                        let key = format!(
                            "{}:{}",
                            raw.source.as_deref().unwrap_or(""),
                            raw.source_listing_id.as_deref().unwrap_or("")
                        );
                        let payload = serde_json::to_vec(raw).expect("JSON");
                        Outgoing::new(key.into_bytes(), payload)
                    })
                    .collect();
                producer
                    .send_all(records)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "loaded {count} raw listings in {seconds:.1} s ({:.0}/s)",
                count as f64 / seconds
            );
        }
        [mode, path, count] if mode == "jsonl" => {
            use std::io::Write;
            let count: usize = count.parse().map_err(|e| format!("COUNT: {e}"))?;
            let tables = table_listings(&shared_tables_dir())?;
            let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
            let mut out = std::io::BufWriter::new(file);
            for raw in workload(&tables, count) {
                serde_json::to_writer(&mut out, &raw).map_err(|e| e.to_string())?;
                out.write_all(b"\n").map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())?;
        }
        [mode, brokers, topic, expected] if mode == "drain" => {
            let expected: u64 = expected.parse().map_err(|e| format!("EXPECTED: {e}"))?;
            let bus = Bus::open(&format!("kafka://{brokers}"), 1, &settings)
                .map_err(|e| e.to_string())?;
            let group = format!("bench-drain-{}", std::process::id());
            let mut consumer = bus
                .consumer(topic, &group, None)
                .map_err(|e| e.to_string())?;
            let mut seen = 0u64;
            let mut first: Option<Instant> = None;
            let deadline = Instant::now() + Duration::from_secs(3600);
            while seen < expected && Instant::now() < deadline {
                let batch = consumer
                    .next_batch(10_000, Duration::from_millis(100))
                    .await
                    .unwrap_or_default();
                if !batch.is_empty() && first.is_none() {
                    first = Some(Instant::now());
                }
                seen += batch.len() as u64;
            }
            let seconds = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(0.0);
            println!(
                "drained {seen} messages of {topic} in {seconds:.1} s ({:.0}/s)",
                seen as f64 / seconds.max(1e-9)
            );
        }
        _ => {
            return Err(
                "usage: stream_bench load BROKERS COUNT | jsonl PATH COUNT | drain BROKERS TOPIC EXPECTED".into(),
            );
        }
    }
    Ok(())
}
