//! Parsing each site's saved real pages (../shared/data/html/<site>/): listings per second per core.
//! Target: a Craigslist posting page parsed in under 200 microseconds.

use std::hint::black_box;
use std::path::Path;

use aiq_connectors::decode::decode_html;
use aiq_connectors::detect::detect_site;
use aiq_schemas::Source;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn pages() -> Vec<(String, Source, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/html");
    let mut pages = Vec::new();
    for site in [
        "craigslist",
        "zillow",
        "realtor",
        "redfin",
        "trulia",
        "facebook",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(site))
            .expect("shared pages")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".parsed.json") {
                continue; // a third party's parse, not a page
            }
            let body = decode_html(&std::fs::read(&path).unwrap(), None);
            let source = detect_site(&body, None).unwrap_or_else(|| site.parse().unwrap());
            pages.push((name, source, body));
        }
    }
    pages
}

fn parse(c: &mut Criterion) {
    let fetched_at = chrono::Utc::now();
    let mut group = c.benchmark_group("parse_page");
    // Forty-odd pages: short windows keep the whole run to a few minutes on two cores.
    group
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    for (name, source, body) in pages() {
        let url = format!("https://example.test/{name}");
        let listings = match aiq_connectors::parse_page(source, &body, &url, fetched_at) {
            Ok(page) => page.listings.len(),
            Err(_) => 0, // expired / blocked pages: their detection is what is timed
        };
        group.throughput(Throughput::Elements(listings.max(1) as u64));
        group.bench_function(&name, |b| {
            b.iter(|| {
                black_box(aiq_connectors::parse_page(
                    source,
                    black_box(&body),
                    &url,
                    fetched_at,
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
