//! The API benchmark's server side (driven by `benches/api/run.sh`).
//!
//! `bench_server load STORE_URL COUNT` migrates the database and loads COUNT synthetic leads spread
//! around 20 US cities (ids 1..=COUNT; every 20th is quarantined); `bench_server serve STORE_URL
//! API_ADDR TRIVIAL_ADDR TOKEN_FILE` serves `create_app` (exactly what `aiqleads serve` runs, with
//! rate limits raised out of the way) and, beside it, a trivial actix handler as the baseline.

// The allocator `aiqleads` uses (src/main.rs), so the figures are those of the shipped binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use aiq_api::{ApiConfig, AppState, Role, create_app};
use anyhow::{Context, bail};
use chrono::Utc;
use h3o::{LatLng, Resolution};
use xxhash_rust::xxh3::xxh3_64_with_seed;

const CITIES: [(&str, &str, &str, f64, f64); 20] = [
    ("New York", "NY", "10001", 40.7128, -74.0060),
    ("Los Angeles", "CA", "90012", 34.0522, -118.2437),
    ("Chicago", "IL", "60602", 41.8781, -87.6298),
    ("Houston", "TX", "77002", 29.7604, -95.3698),
    ("Phoenix", "AZ", "85003", 33.4484, -112.0740),
    ("Philadelphia", "PA", "19107", 39.9526, -75.1652),
    ("San Antonio", "TX", "78205", 29.4241, -98.4936),
    ("San Diego", "CA", "92101", 32.7157, -117.1611),
    ("Dallas", "TX", "75201", 32.7767, -96.7970),
    ("Austin", "TX", "78701", 30.2672, -97.7431),
    ("Jacksonville", "FL", "32202", 30.3322, -81.6557),
    ("Columbus", "OH", "43215", 39.9612, -82.9988),
    ("Charlotte", "NC", "28202", 35.2271, -80.8431),
    ("Seattle", "WA", "98104", 47.6062, -122.3321),
    ("Denver", "CO", "80202", 39.7392, -104.9903),
    ("Boston", "MA", "02108", 42.3601, -71.0589),
    ("Nashville", "TN", "37201", 36.1627, -86.7816),
    ("Atlanta", "GA", "30303", 33.7490, -84.3880),
    ("Miami", "FL", "33130", 25.7617, -80.1918),
    ("Portland", "OR", "97204", 45.5152, -122.6784),
];
const TYPES: [&str; 5] = ["house", "apartment", "condo", "townhouse", "multi_family"];
const WORDS: [&str; 12] = [
    "pool",
    "garage",
    "renovated",
    "yard",
    "fireplace",
    "view",
    "basement",
    "balcony",
    "quiet",
    "downtown",
    "hardwood",
    "modern",
];

/// A deterministic number in [0, 1) for lead `i` and attribute `salt`.
fn unit(i: u64, salt: u64) -> f64 {
    (xxh3_64_with_seed(&i.to_le_bytes(), salt) >> 11) as f64 / (1u64 << 53) as f64
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") if args.len() == 4 => load(&args[2], args[3].parse()?).await,
        Some("serve") if args.len() == 6 => serve(&args[2], &args[3], &args[4], &args[5]).await,
        _ => bail!(
            "usage: bench_server load STORE_URL COUNT | serve STORE_URL API_ADDR TRIVIAL_ADDR TOKEN_FILE"
        ),
    }
}

fn bench_config(listen: &str) -> ApiConfig {
    let mut config = ApiConfig {
        listen: listen.to_owned(),
        max_connections: 8,
        ..ApiConfig::default()
    };
    let limits = &mut config.rate_limits;
    limits.per_ip_per_second = 10_000_000;
    limits.per_ip_burst = 10_000_000;
    limits.per_principal_per_second = 10_000_000;
    limits.per_principal_burst = 10_000_000;
    config
}

async fn load(store_url: &str, count: u64) -> anyhow::Result<()> {
    // Opening the state migrates the database (010 and 020).
    let state = AppState::new(
        bench_config("127.0.0.1:0"),
        store_url,
        "memory://",
        &aiq_kafka::KafkaSettings::default(),
    )
    .await?;
    state.close().await;
    let pool = sqlx::PgPool::connect(store_url)
        .await
        .context("the bench loads Postgres")?;
    let now = Utc::now();
    let started = std::time::Instant::now();
    const BATCH: u64 = 20_000;
    let mut first = 1;
    while first <= count {
        let last = (first + BATCH - 1).min(count);
        let mut c: Vec<Vec<String>> = vec![Vec::new(); 14];
        let mut f: Vec<Vec<f64>> = vec![Vec::new(); 8];
        let mut n: Vec<Vec<i64>> = vec![Vec::new(); 5];
        let mut t = Vec::new();
        for i in first..=last {
            let (city, state, zip, lat0, lon0) = CITIES[(i % 20) as usize];
            let lat = lat0 + (unit(i, 1) - 0.5) * 0.6;
            let lon = lon0 + (unit(i, 2) - 0.5) * 0.6;
            let cell = LatLng::new(lat, lon)?.to_cell(Resolution::Nine);
            let sale = unit(i, 3) < 0.6;
            let beds = (unit(i, 4) * 6.0) as i64;
            let property_type = TYPES[(unit(i, 5) * 5.0) as usize];
            let price = if sale {
                (100_000.0 + unit(i, 6) * 800_000.0).round()
            } else {
                (800.0 + unit(i, 6) * 3_200.0).round()
            };
            let w1 = WORDS[(unit(i, 7) * 12.0) as usize];
            let w2 = WORDS[(unit(i, 8) * 12.0) as usize];
            c[0].push("craigslist".into());
            c[1].push(format!("bench{i}"));
            c[2].push(format!("https://example.org/listing/{i}"));
            c[3].push(if sale { "sale" } else { "rent" }.into());
            c[4].push(property_type.into());
            c[5].push(city.into());
            c[6].push(state.into());
            c[7].push(zip.into());
            c[8].push(format!("{beds} bed {property_type} in {city}, {w1}"));
            c[9].push(format!(
                "A {w1} {property_type} with {w2}, close to shops. Call the owner for a visit."
            ));
            c[10].push(format!("Owner {i}"));
            c[11].push(format!("+1512{:07}", i % 10_000_000));
            c[12].push(if i % 20 == 0 { "quarantined" } else { "active" }.into());
            c[13].push(format!("{} Main St", i % 9000 + 1));
            f[0].push(price);
            f[1].push(1.0 + (unit(i, 9) * 3.0).floor());
            f[2].push(lat);
            f[3].push(lon);
            f[4].push(unit(i, 10) * 0.6);
            f[5].push(0.3 + unit(i, 11) * 0.7);
            f[6].push(0.5 + unit(i, 12) * 0.5);
            f[7].push(0.0);
            n[0].push(i as i64);
            n[1].push(beds);
            n[2].push(500 + (unit(i, 13) * 3000.0) as i64);
            n[3].push(u64::from(cell) as i64);
            n[4].push(5 + (unit(i, 14) * 75.0) as i64);
            t.push(now - chrono::Duration::seconds((unit(i, 15) * 60.0 * 86_400.0) as i64));
        }
        sqlx::query(
            "INSERT INTO leads (property_id, source, source_listing_id, url, fetched_at, listing_kind,
               property_type, list_price, price_period, bedrooms_total, bathrooms_total, living_area_sqft,
               street_address, city, state_or_province, postal_code, latitude, longitude, h3_cell, title,
               description, contact_name, contact_phone, contact_email, fraud_score, fraud_reasons,
               quality_score, completeness, lead_price, price_breakdown, status, schema_version,
               listing_count, sources)
             SELECT id, src, sid, url, fetched, kind, ptype, price,
                    CASE WHEN kind = 'rent' THEN 'month' END, beds::int, baths, sqft, street, city, st,
                    zip, lat, lon, cell, title, descr, cname, cphone, 'owner@example.org', fraud,
                    '[]'::jsonb, quality, completeness, lprice,
                    '{\"base\":25,\"quality_multiplier\":1,\"demand_multiplier\":1,\"supply_multiplier\":1,\"unclamped\":25,\"floor\":2,\"ceiling\":100}'::jsonb,
                    status, 1, 1, src
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::text[], $8::float8[], $9::bigint[], $10::float8[],
                         $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],
                         $16::float8[], $17::float8[], $18::bigint[], $19::text[], $20::text[],
                         $21::text[], $22::text[], $23::float8[], $24::float8[], $25::float8[],
                         $26::bigint[], $27::text[])
               AS t(id, src, sid, url, fetched, kind, ptype, price, beds, baths, sqft, street, city,
                    st, zip, lat, lon, cell, title, descr, cname, cphone, fraud, quality,
                    completeness, lprice, status)
             ON CONFLICT (property_id) DO NOTHING",
        )
        .bind(&n[0])
        .bind(&c[0])
        .bind(&c[1])
        .bind(&c[2])
        .bind(&t)
        .bind(&c[3])
        .bind(&c[4])
        .bind(&f[0])
        .bind(&n[1])
        .bind(&f[1])
        .bind(&n[2])
        .bind(&c[13])
        .bind(&c[5])
        .bind(&c[6])
        .bind(&c[7])
        .bind(&f[2])
        .bind(&f[3])
        .bind(&n[3])
        .bind(&c[8])
        .bind(&c[9])
        .bind(&c[10])
        .bind(&c[11])
        .bind(&f[4])
        .bind(&f[5])
        .bind(&f[6])
        .bind(&n[4])
        .bind(&c[12])
        .execute(&pool)
        .await?;
        first = last + 1;
    }
    // A fresh bulk load: the visibility map lets radius searches stay in the covering index.
    sqlx::query("VACUUM ANALYZE leads").execute(&pool).await?;
    println!(
        "loaded {count} leads in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn serve(
    store_url: &str,
    api_addr: &str,
    trivial_addr: &str,
    token_file: &str,
) -> anyhow::Result<()> {
    let config = bench_config(api_addr);
    let token = aiq_api::mint_token(
        &config,
        "bench-agent",
        Role::Agent,
        Duration::from_secs(86_400),
    )?;
    std::fs::write(token_file, token)?;
    let state = web::Data::new(
        AppState::new(
            config,
            store_url,
            "memory://",
            &aiq_kafka::KafkaSettings::default(),
        )
        .await?,
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let api = HttpServer::new(move || create_app(state.clone()))
        .workers(workers)
        .bind(api_addr)?
        .run();
    let trivial = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().body("ok") }),
        )
    })
    .workers(workers)
    .bind(trivial_addr)?
    .run();
    println!("serving the API on {api_addr} and the trivial handler on {trivial_addr}");
    let (a, b) = futures_util::future::join(api, trivial).await;
    a?;
    b?;
    Ok(())
}
