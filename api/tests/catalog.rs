//! Lead detail from the in-memory catalogue: the same answer as the database gives, kept current by
//! revision (inserts, updates, removals, sales), and writers of a followed table taking turns so a
//! reader can never skip a revision.

mod common;

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use aiq_api::{AppState, Role, create_app};
use common::{Backend, CONTACT_EMAIL, CONTACT_NAME, Seed, TestEnv, test_config};
use serde_json::Value;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::SqliteMemory).await } )* }
        mod postgres_redis { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::PostgresRedis).await } )* }
    };
}

on_both_backends!(
    catalogue_detail_equals_the_database_detail,
    catalogue_follows_inserts_updates_removals_and_sales,
    catalogue_searches_page_through_the_same_leads_as_sql,
);

async fn detail(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    env: &TestEnv,
    agent: &str,
    hex: &str,
) -> (StatusCode, Value) {
    let response = test::call_service(
        app,
        TestRequest::get()
            .uri(&format!("/v1/leads/{hex}"))
            .insert_header(env.bearer(agent, Role::Agent))
            .to_request(),
    )
    .await;
    let status = response.status();
    let bytes = test::read_body(response).await;
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

async fn state(env: &TestEnv, catalog: bool, refresh: Duration) -> actix_web::web::Data<AppState> {
    let mut config = env.config.clone();
    config.catalog = catalog;
    config.catalog_refresh = refresh;
    actix_web::web::Data::new(
        AppState::new(
            config,
            &env.store_url,
            "memory://",
            &aiq_kafka::KafkaSettings::default(),
        )
        .await
        .expect("app state"),
    )
}

/// Polls `check` every 20 ms for up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn catalogue_detail_equals_the_database_detail(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    let shared = {
        let mut lead = Seed::new(301);
        lead.kind = "rent";
        lead.price = 1900.0;
        lead
    };
    let mut quarantined = Seed::new(302);
    quarantined.status = "quarantined";
    env.insert_leads(&[Seed::new(300), shared.clone(), quarantined.clone()])
        .await;
    // Loaded at start, never refreshed: every answer below comes from memory.
    let memory = state(&env, true, Duration::from_secs(3600)).await;
    assert_eq!(memory.catalog_leads(), Some(3));
    let database = state(&env, false, Duration::from_secs(3600)).await;
    assert_eq!(database.catalog_leads(), None);
    let from_memory = test::init_service(create_app(memory.clone())).await;
    let from_database = test::init_service(create_app(database.clone())).await;
    for hex in [Seed::new(300).hex(), shared.hex(), quarantined.hex()] {
        let a = detail(&from_memory, &env, "viewer", &hex).await;
        let b = detail(&from_database, &env, "viewer", &hex).await;
        assert_eq!(a, b, "lead {hex}");
        let text = a.1.to_string();
        for secret in [CONTACT_NAME, CONTACT_EMAIL, "555-0199"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    assert_eq!(
        detail(&from_memory, &env, "viewer", &quarantined.hex())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A change the catalogue has not read yet: memory still answers the old price (so it was
    // memory that answered above), the database the new one.
    env.sql("UPDATE leads SET list_price = 1950 WHERE property_id = 301")
        .await;
    let stale = detail(&from_memory, &env, "viewer", &shared.hex()).await.1;
    assert_eq!(stale["list_price"], 1900.0);
    let fresh = detail(&from_database, &env, "viewer", &shared.hex())
        .await
        .1;
    assert_eq!(fresh["list_price"], 1950.0);
    memory.close().await;
    database.close().await;
    env.finish().await;
}

async fn catalogue_follows_inserts_updates_removals_and_sales(backend: Backend) {
    let mut config = test_config();
    config.catalog_refresh = Duration::from_millis(20);
    let env = TestEnv::new(backend, config).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let lead = Seed::new(401);
    let hex = lead.hex();
    env.insert_leads(std::slice::from_ref(&lead)).await;
    let state = env.state.clone();
    eventually("the insert reaches the catalogue", || {
        let state = state.clone();
        async move { state.catalog_leads() == Some(1) }
    })
    .await;
    // Held in memory now: only a refresh can bring the new price.
    env.sql("UPDATE leads SET list_price = 260000 WHERE property_id = 401")
        .await;
    eventually("the update reaches the catalogue", || {
        let (app, env, hex) = (&app, &env, &hex);
        async move { detail(app, env, "viewer", hex).await.1["list_price"] == 260000.0 }
    })
    .await;
    // A sale by another process (written straight to the tables) reaches this one's answers.
    env.sql("INSERT INTO agents (agent_id, credits, created_at) VALUES ('elsewhere', 0, '2026-12-03T00:00:00Z')")
        .await;
    env.sql(&format!(
        "INSERT INTO purchases (agent_id, property_id, price_credits, exclusive, purchased_at)
         VALUES ('elsewhere', 401, 20, {}, '2026-12-03T00:00:00Z')",
        if backend == Backend::PostgresRedis {
            "true"
        } else {
            "1"
        }
    ))
    .await;
    env.sql(&format!(
        "INSERT INTO lead_sales (property_id, buyers, exclusive, sold_out) VALUES (401, 1, {0}, {0})",
        if backend == Backend::PostgresRedis { "true" } else { "1" }
    ))
    .await;
    eventually("the sale reaches the catalogue", || {
        let (app, env, hex) = (&app, &env, &hex);
        async move {
            let body = detail(app, env, "viewer", hex).await.1;
            body["buyers"] == 1 && body["sold_out"] == true
        }
    })
    .await;
    // Sold out: searches no longer list it.
    let listed = test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/leads?limit=100")
            .insert_header(env.bearer("viewer", Role::Agent))
            .to_request(),
    )
    .await;
    let listed: Value = serde_json::from_slice(&test::read_body(listed).await).unwrap();
    assert!(
        !listed.to_string().contains(&hex),
        "a sold-out lead is still listed: {listed}"
    );
    // The buyer's view has the contact details (from the database; memory never holds them).
    let owned = detail(&app, &env, "elsewhere", &lead.hex()).await.1;
    assert_eq!(owned["owned"], true);
    assert_eq!(owned["contact"]["name"], CONTACT_NAME);
    // Purchases are a ledger.
    match backend {
        Backend::PostgresRedis => {
            let pool = sqlx::PgPool::connect(&env.store_url).await.unwrap();
            let refused = sqlx::query("DELETE FROM purchases").execute(&pool).await;
            assert!(format!("{refused:?}").contains("ledger"), "{refused:?}");
            pool.close().await;
        }
        Backend::SqliteMemory => {
            let pool = sqlx::SqlitePool::connect(&env.store_url).await.unwrap();
            let refused = sqlx::query("DELETE FROM purchases").execute(&pool).await;
            assert!(format!("{refused:?}").contains("ledger"), "{refused:?}");
            pool.close().await;
        }
    }
    env.sql("DELETE FROM leads WHERE property_id = 401").await;
    let state = env.state.clone();
    eventually("the removal reaches the catalogue", || {
        let state = state.clone();
        async move { state.catalog_leads() == Some(0) }
    })
    .await;
    assert_eq!(
        detail(&app, &env, "viewer", &lead.hex()).await.0,
        StatusCode::NOT_FOUND
    );
    // Back again (a relabel can move a property away and back): the tombstone is older.
    env.insert_leads(std::slice::from_ref(&lead)).await;
    let state = env.state.clone();
    eventually("the re-insert reaches the catalogue", || {
        let state = state.clone();
        async move { state.catalog_leads() == Some(1) }
    })
    .await;
    env.finish().await;
}

/// Two transactions writing `leads` take turns (the second waits for the first to commit), so
/// revisions are committed in the order they are drawn and a reader following "revision > last
/// seen" cannot skip one.
#[actix_web::test]
async fn postgres_writers_of_leads_take_turns() {
    let env = TestEnv::new(Backend::PostgresRedis, test_config()).await;
    let pool = sqlx::PgPool::connect(&env.store_url).await.unwrap();
    let lead = |id: u64| {
        let mut seed = Seed::new(id);
        seed.title = format!("turn {id}");
        seed
    };
    env.insert_leads(&[lead(1)]).await;
    let mut first = pool.begin().await.unwrap();
    sqlx::query("UPDATE leads SET list_price = 1 WHERE property_id = 1")
        .execute(&mut *first)
        .await
        .unwrap();
    let mut second = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *second)
        .await
        .unwrap();
    let waited = sqlx::query("DELETE FROM leads WHERE property_id = 999")
        .execute(&mut *second)
        .await;
    assert!(
        format!("{waited:?}").contains("lock timeout"),
        "a second writer went ahead while the first was open: {waited:?}"
    );
    drop(second);
    first.commit().await.unwrap();
    // Once the first committed, the next writer goes ahead and draws a later revision.
    let before: i64 = sqlx::query_scalar("SELECT revision FROM leads WHERE property_id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE leads SET list_price = 2 WHERE property_id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT revision FROM leads WHERE property_id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(after > before, "{before} -> {after}");
    pool.close().await;
    env.finish().await;
}

/// Every page of many searches (each filter, radius, text, every sort, small pages) lists the same
/// leads in the same order from the catalogue as from SQL.
async fn catalogue_searches_page_through_the_same_leads_as_sql(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    let unit = |i: u64, salt: u64| {
        (xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), salt) >> 11) as f64
            / (1u64 << 53) as f64
    };
    const PLACES: [(&str, &str, &str, f64, f64); 3] = [
        ("Austin", "TX", "78701", 30.2672, -97.7431),
        ("Dallas", "TX", "75201", 32.7767, -96.7970),
        ("Denver", "CO", "80202", 39.7392, -104.9903),
    ];
    const TYPES: [&str; 3] = ["house", "condo", "apartment"];
    const WORDS: [&str; 5] = ["pool", "garage", "yard", "fireplace", "view"];
    let now = chrono::Utc::now();
    let seeds: Vec<Seed> = (1..=240u64)
        .map(|i| {
            let (city, state, zip, lat, lon) = PLACES[(i % 3) as usize];
            let mut s = Seed::new(1000 + i);
            s.city = city;
            s.state = state;
            s.zip = zip;
            s.lat = lat + (unit(i, 1) - 0.5) * 0.2;
            s.lon = lon + (unit(i, 2) - 0.5) * 0.2;
            s.kind = if unit(i, 3) < 0.5 { "sale" } else { "rent" };
            // Few distinct prices and qualities, so ties (broken by id) are common.
            s.price = if s.kind == "sale" {
                200_000.0 + (unit(i, 4) * 5.0).floor() * 50_000.0
            } else {
                1_000.0 + (unit(i, 4) * 5.0).floor() * 250.0
            };
            s.beds = (unit(i, 5) * 5.0) as i64;
            s.baths = 1.0 + (unit(i, 6) * 3.0).floor() * 0.5;
            s.property_type = TYPES[(unit(i, 7) * 3.0) as usize];
            s.fraud_score = (unit(i, 8) * 10.0).floor() / 10.0;
            s.quality = (unit(i, 9) * 4.0).floor() / 4.0;
            s.fetched_at = now - chrono::Duration::hours((unit(i, 10) * 20.0) as i64 * 24);
            let word = WORDS[(unit(i, 11) * 5.0) as usize];
            let other = WORDS[(unit(i, 12) * 5.0) as usize];
            s.title = format!("{} {} with a {word}", s.beds, s.property_type);
            s.description = format!("Nice {other} and {word}s near the park.");
            s.status = if i % 17 == 0 { "quarantined" } else { "active" };
            s
        })
        .collect();
    env.insert_leads(&seeds).await;
    let memory = state(&env, true, Duration::from_secs(3600)).await;
    let database = state(&env, false, Duration::from_secs(3600)).await;
    let from_memory = test::init_service(create_app(memory.clone())).await;
    let from_database = test::init_service(create_app(database.clone())).await;
    let filters = [
        "",
        "kind=sale",
        "kind=rent&min_price=1200&max_price=1800",
        "state=TX&min_beds=2",
        "city=DALLAS&property_type=condo",
        "postal_code=80202&max_fraud_score=0.5",
        "min_baths=1.5&max_age_days=7",
        "text=pools",
        "text=garage%20yard&state=TX",
        "text=the",
        "lat=30.2672&lon=-97.7431&radius_miles=4",
        "lat=32.7767&lon=-96.7970&radius_miles=6&kind=sale",
        "lat=39.7392&lon=-104.9903&radius_miles=300",
        "q=3-bedroom%20house%20under%20%24300k%20within%205%20miles%20of%20downtown%20Austin",
    ];
    let mut compared = 0;
    for filter in filters {
        for sort in ["price_asc", "price_desc", "newest", "quality", "distance"] {
            let query = format!("{filter}&sort={sort}&limit=7");
            if sort == "distance" && !query.contains("lat=") && !query.contains("q=") {
                continue;
            }
            let a = all_pages(&from_memory, &env, &query).await;
            if filter == "text=the" {
                // Only a stop word: nothing, as in Postgres. SQLite's FTS5 keeps stop words, so
                // there SQL alone would list every lead with "the" in its texts.
                assert!(a.is_empty(), "{a:?}");
                if backend == Backend::SqliteMemory {
                    continue;
                }
            }
            let b = all_pages(&from_database, &env, &query).await;
            assert_eq!(a, b, "{filter} sorted by {sort}");
            compared += a.len();
        }
    }
    assert!(
        compared > 1500,
        "the searches found too little to compare: {compared}"
    );
    memory.close().await;
    database.close().await;
    env.finish().await;
}

/// The ids of every page of a search, following its cursors.
async fn all_pages(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    env: &TestEnv,
    query: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/v1/leads?{query}&cursor={c}"),
            None => format!("/v1/leads?{query}"),
        };
        let response = test::call_service(
            app,
            TestRequest::get()
                .uri(&uri)
                .insert_header(env.bearer("viewer", Role::Agent))
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
        for item in body["items"].as_array().unwrap() {
            ids.push(item["property_id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
        assert!(ids.len() < 10_000, "{uri}: pages never end");
    }
}
