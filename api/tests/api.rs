//! The API end to end through `create_app` (what `serve` runs), on SQLite + in-memory
//! reservations and on Postgres + Redis.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use aiq_api::{Role, create_app};
use common::{Backend, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE, Seed, TestEnv, test_config};
use serde_json::Value;

/// Runs a scenario on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::SqliteMemory).await } )* }
        mod postgres_redis { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::PostgresRedis).await } )* }
    };
}

on_both_backends!(
    bad_input_is_problem_json_never_500,
    authentication_failures,
    search_filters_sorts_and_cursor_pages,
    search_filters_sorts_and_cursor_pages_in_sql,
    pii_is_absent_until_purchase,
    pii_is_absent_until_purchase_in_sql,
    cart_reserve_list_release_and_expiry,
    checkout_credits_and_idempotency,
    exclusive_lead_race_sells_once_and_conserves_credits,
    shared_lead_sells_up_to_the_limit,
    heatmap_and_recommendations,
    health_metrics_and_openapi,
);

async fn body_json(response: actix_web::dev::ServiceResponse) -> Value {
    let bytes = test::read_body(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

fn assert_problem(response: &actix_web::dev::ServiceResponse, status: StatusCode) {
    assert_eq!(response.status(), status, "{:?}", response.request().path());
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(content_type, "application/problem+json");
}

async fn bad_input_is_problem_json_never_500(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    env.insert_leads(&[Seed::new(1)]).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let agent = env.bearer("agent-1", Role::Agent);
    let admin = env.bearer("admin", Role::Admin);
    let cases: Vec<(TestRequest, StatusCode)> = vec![
        (
            TestRequest::get().uri("/no/such/route"),
            StatusCode::NOT_FOUND,
        ),
        (
            TestRequest::get().uri("/v1/leads?min_price=cheap"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?colour=red"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?limit=1000"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?min_beds=-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?min_beds=99999"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?lat=30.2"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?lat=95&lon=0&radius_miles=1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?lat=30&lon=-97&radius_miles=0"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?min_price=NaN"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?sort=sideways"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?sort=distance"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?cursor=garbage"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?text=%20%21%21"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads?state=Texas"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads/not-hex"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads/ffffffffffffffffff"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/leads/00000000000000aa"),
            StatusCode::NOT_FOUND,
        ),
        (
            TestRequest::put().uri("/v1/leads"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            TestRequest::post().uri("/v1/cart/zz"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri("/v1/market/heatmap?min_lat=1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get()
                .uri("/v1/market/heatmap?min_lat=31&max_lat=30&min_lon=-98&max_lon=-97"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::get().uri(
                "/v1/market/heatmap?min_lat=30&max_lat=31&min_lon=-98&max_lon=-97&resolution=12",
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/checkout")
                .set_payload("{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/checkout")
                .set_payload(r#"{"property_ids": 5}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/checkout")
                .set_payload(r#"{"surprise": 1}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post().uri("/v1/checkout"),
            StatusCode::BAD_REQUEST,
        ), // empty cart
    ];
    for (request, status) in cases {
        let request = request.insert_header(agent.clone()).to_request();
        let path = request.uri().to_string();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), status, "{path}");
        assert_problem(&response, status);
        let body = body_json(response).await;
        assert_eq!(body["status"], status.as_u16(), "{path}: {body}");
        assert!(
            body["title"].is_string() && body["detail"].is_string() && body["type"].is_string()
        );
    }
    // JSON bodies: malformed, wrong types, unknown fields, wrong content type, too large.
    let json_cases: Vec<(TestRequest, StatusCode)> = vec![
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .insert_header(("content-type", "application/json"))
                .set_payload("{"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .set_json(serde_json::json!({"agent_id": "a", "amount": "ten"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .set_json(serde_json::json!({"agent_id": "a", "amount": 5, "x": 1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .set_json(serde_json::json!({"agent_id": "a", "amount": 0})),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .set_json(serde_json::json!({"agent_id": "a", "amount": 1e30})),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .insert_header(("content-type", "text/plain"))
                .set_payload("hi"),
            StatusCode::BAD_REQUEST,
        ),
        (
            TestRequest::post()
                .uri("/v1/admin/credits")
                .insert_header(("content-type", "application/json"))
                .set_payload(format!(
                    r#"{{"agent_id": "{}", "amount": 1}}"#,
                    "a".repeat(40_000)
                )),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (request, status) in json_cases {
        let response =
            test::call_service(&app, request.insert_header(admin.clone()).to_request()).await;
        assert_problem(&response, status);
    }
    env.finish().await;
}

async fn authentication_failures(backend: Backend) {
    let mut config = test_config();
    config.api_keys.push(aiq_api::config::ApiKey {
        key: "key-of-the-integration-suite".into(),
        subject: "keyed-agent".into(),
        role: Role::Agent,
    });
    let env = TestEnv::new(backend, config.clone()).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let call = |header: Option<(&'static str, String)>| {
        let mut request = TestRequest::get().uri("/v1/leads");
        if let Some(h) = header {
            request = request.insert_header(h);
        }
        request.to_request()
    };
    let mut other = config.clone();
    other.jwt.secret = "a-different-secret-0123456789abcdef".into();
    let wrong_signature =
        aiq_api::mint_token(&other, "a", Role::Agent, Duration::from_secs(60)).unwrap();
    let mut other_issuer = config.clone();
    other_issuer.jwt.issuer = "someone-else".into();
    let wrong_issuer =
        aiq_api::mint_token(&other_issuer, "a", Role::Agent, Duration::from_secs(60)).unwrap();
    let mut other_audience = config.clone();
    other_audience.jwt.audience = "another-api".into();
    let wrong_audience =
        aiq_api::mint_token(&other_audience, "a", Role::Agent, Duration::from_secs(60)).unwrap();
    // Expired an hour ago (beyond the leeway): signed by hand with the right key.
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &aiq_api::auth::Claims {
            sub: "a".into(),
            role: Role::Agent,
            iss: config.jwt.issuer.clone(),
            aud: config.jwt.audience.clone(),
            iat: chrono::Utc::now().timestamp() - 7200,
            exp: chrono::Utc::now().timestamp() - 3600,
        },
        &jsonwebtoken::EncodingKey::from_secret(config.jwt.secret.as_bytes()),
    )
    .unwrap();
    for (header, why) in [
        (None, "send `Authorization"),
        (
            Some(("Authorization", "Basic dXNlcjpwYXNz".to_owned())),
            "must be `Bearer",
        ),
        (
            Some(("Authorization", "Bearer not.a.token".to_owned())),
            "malformed",
        ),
        (
            Some(("Authorization", format!("Bearer {wrong_signature}"))),
            "signature",
        ),
        (
            Some(("Authorization", format!("Bearer {wrong_issuer}"))),
            "issuer",
        ),
        (
            Some(("Authorization", format!("Bearer {wrong_audience}"))),
            "audience",
        ),
        (
            Some(("Authorization", format!("Bearer {expired}"))),
            "expired",
        ),
        (Some(("X-API-Key", "nope".to_owned())), "unknown API key"),
    ] {
        let response = test::call_service(&app, call(header)).await;
        assert_problem(&response, StatusCode::UNAUTHORIZED);
        let body = body_json(response).await;
        assert!(
            body["detail"].as_str().unwrap().contains(why),
            "{why}: {body}"
        );
    }
    let ok = test::call_service(
        &app,
        call(Some(("X-API-Key", "key-of-the-integration-suite".into()))),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let ok = test::call_service(&app, call(Some(env.bearer("a", Role::Agent)))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    // Wrong role: an agent may not top up credits.
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/admin/credits")
            .insert_header(env.bearer("a", Role::Agent))
            .set_json(serde_json::json!({"agent_id": "a", "amount": 100}))
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::FORBIDDEN);
    env.finish().await;
}

async fn search(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    env: &TestEnv,
    query: &str,
) -> Value {
    let response = test::call_service(
        app,
        TestRequest::get()
            .uri(&format!("/v1/leads?{query}"))
            .insert_header(env.bearer("searcher", Role::Agent))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    body_json(response).await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["property_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_filters_sorts_and_cursor_pages(backend: Backend) {
    search_scenario(backend, true).await;
}

/// The same scenario answered by SQL (`api.catalog` off).
async fn search_filters_sorts_and_cursor_pages_in_sql(backend: Backend) {
    search_scenario(backend, false).await;
}

async fn search_scenario(backend: Backend, catalog: bool) {
    let mut config = test_config();
    config.catalog = catalog;
    let env = TestEnv::new(backend, config).await;
    let now = chrono::Utc::now();
    let mut seeds = Vec::new();
    for i in 0..30u64 {
        let mut s = Seed::new(100 + i);
        s.price = 200_000.0 + (i as f64) * 10_000.0;
        s.beds = (i % 5) as i64;
        s.quality = 0.5 + (i as f64) / 100.0;
        s.fetched_at = now - chrono::Duration::hours(i as i64);
        // Spread north of downtown Austin, about 0.7 miles apart.
        s.lat = 30.2672 + (i as f64) * 0.01;
        if i % 3 == 0 {
            s.kind = "rent";
            s.price = 1500.0 + i as f64;
        }
        if i == 7 {
            s.title = "Craftsman bungalow with a swimming pool".into();
        }
        if i == 8 {
            s.fraud_score = 0.9;
        }
        if i == 9 {
            s.status = "quarantined";
        }
        if i == 10 {
            s.fetched_at = now - chrono::Duration::days(40);
        }
        seeds.push(s);
    }
    let mut dallas = Seed::new(999);
    dallas.city = "Dallas";
    dallas.lat = 32.7767;
    dallas.lon = -96.7970;
    dallas.zip = "75201";
    dallas.fetched_at = now - chrono::Duration::hours(50);
    seeds.push(dallas);
    env.insert_leads(&seeds).await;
    let app = test::init_service(create_app(env.state.clone())).await;

    // Default: newest first, quarantined leads never listed.
    let page = search(&app, &env, "limit=100").await;
    let all = ids(&page);
    assert_eq!(all.len(), 30, "{page}");
    assert!(!all.contains(&format!("{:016x}", 109)));
    assert_eq!(all[0], format!("{:016x}", 100));

    // Filters.
    let page = search(
        &app,
        &env,
        "kind=sale&min_price=300000&max_price=400000&limit=100",
    )
    .await;
    for item in page["items"].as_array().unwrap() {
        let price = item["list_price"].as_f64().unwrap();
        assert!((300_000.0..=400_000.0).contains(&price) && item["listing_kind"] == "sale");
    }
    assert_eq!(ids(&page).len(), 8, "{page}");
    let page = search(&app, &env, "min_beds=4&limit=100").await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["bedrooms_total"].as_i64().unwrap() >= 4)
    );
    assert_eq!(ids(&page).len(), 5); // i = 4, 14, 19, 24, 29 (9 is quarantined)
    assert_eq!(
        ids(&search(&app, &env, "text=swimming%20pools").await),
        vec![format!("{:016x}", 107)]
    );
    assert!(
        !ids(&search(&app, &env, "max_fraud_score=0.5&limit=100").await)
            .contains(&format!("{:016x}", 108))
    );
    assert!(
        !ids(&search(&app, &env, "max_age_days=30&limit=100").await)
            .contains(&format!("{:016x}", 110))
    );
    assert_eq!(
        ids(&search(&app, &env, "city=dallas").await),
        vec![format!("{:016x}", 999)]
    );
    assert_eq!(
        ids(&search(&app, &env, "postal_code=75201&state=tx").await).len(),
        1
    );

    // Radius: within 2 miles of downtown Austin are the leads at most 0.029° north (2 miles).
    let page = search(
        &app,
        &env,
        "lat=30.2672&lon=-97.7431&radius_miles=2&sort=distance&limit=100",
    )
    .await;
    let near = ids(&page);
    assert_eq!(near.len(), 3, "{page}");
    assert_eq!(near[0], format!("{:016x}", 100));
    let distances: Vec<f64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["distance_miles"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]) && distances.iter().all(|d| *d <= 2.0));
    // The same radius sorted by price agrees on the set.
    let mut by_price = ids(&search(
        &app,
        &env,
        "lat=30.2672&lon=-97.7431&radius_miles=2&sort=price_asc&limit=100",
    )
    .await);
    let mut sorted_near = near.clone();
    by_price.sort();
    sorted_near.sort();
    assert_eq!(by_price, sorted_near);

    // Cursor pages: every sort walks the same set exactly once, in order.
    for sort in ["price_asc", "price_desc", "newest", "quality", "distance"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let base = format!("sort={sort}&limit=7&lat=30.2672&lon=-97.7431&radius_miles=100");
        loop {
            let query = match &cursor {
                Some(c) => format!("{base}&cursor={c}"),
                None => base.clone(),
            };
            let page = search(&app, &env, &query).await;
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort}: a lead appeared twice: {seen:?}"
        );
        // 30 in Austin but one quarantined; Dallas lies 182 miles away.
        assert_eq!(seen.len(), 29, "{sort}: {seen:?}");
    }
    // A cursor from another search is refused.
    let page = search(&app, &env, "sort=price_asc&limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/leads?sort=quality&limit=2&cursor={cursor}"))
            .insert_header(env.bearer("s", Role::Agent))
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::BAD_REQUEST);

    // Natural language: understood filters are returned and applied.
    let page = search(&app, &env, "q=3-bedroom%20house%20under%20%24300k%20within%205%20miles%20of%20downtown%20Austin&limit=100").await;
    assert_eq!(page["parsed"]["filters"]["min_beds"], 3, "{page}");
    assert_eq!(page["parsed"]["filters"]["max_price"], 300_000.0);
    assert_eq!(page["parsed"]["filters"]["property_type"], "house");
    assert_eq!(page["filters"]["radius_miles"], 5.0);
    for item in page["items"].as_array().unwrap() {
        assert!(
            item["bedrooms_total"].as_i64().unwrap() >= 3
                && item["list_price"].as_f64().unwrap() <= 300_000.0
        );
        assert!(item["distance_miles"].as_f64().unwrap() <= 5.0);
    }
    assert!(!ids(&page).is_empty());
    env.finish().await;
}

async fn pii_is_absent_until_purchase(backend: Backend) {
    pii_scenario(backend, true).await;
}

/// The same with every answer read from the tables (`api.catalog` off).
async fn pii_is_absent_until_purchase_in_sql(backend: Backend) {
    pii_scenario(backend, false).await;
}

async fn pii_scenario(backend: Backend, catalog: bool) {
    let mut config = test_config();
    config.catalog = catalog;
    let env = TestEnv::new(backend, config).await;
    let mut seed = Seed::new(42);
    seed.title = format!("Great house, call {CONTACT_NAME} 512-555-0199");
    env.insert_leads(std::slice::from_ref(&seed)).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let buyer = env.bearer("buyer", Role::Agent);
    let mut bodies = Vec::new();
    let mut record = |bytes: &[u8]| bodies.push(String::from_utf8_lossy(bytes).into_owned());
    for uri in [
        "/v1/leads?limit=10".to_owned(),
        "/v1/leads?text=house".to_owned(),
        format!("/v1/leads/{}", seed.hex()),
        "/v1/recommendations".to_owned(),
        "/v1/market/heatmap?min_lat=30&max_lat=31&min_lon=-98&max_lon=-97".to_owned(),
    ] {
        let response = test::call_service(
            &app,
            TestRequest::get()
                .uri(&uri)
                .insert_header(buyer.clone())
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        record(&test::read_body(response).await);
    }
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/cart/{}", seed.hex()))
            .insert_header(buyer.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    record(&test::read_body(response).await);
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/cart")
            .insert_header(buyer.clone())
            .to_request(),
    )
    .await;
    record(&test::read_body(response).await);
    // Without credits the checkout is refused, and says nothing about the contact either.
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/checkout")
            .insert_header(buyer.clone())
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::PAYMENT_REQUIRED);
    record(&test::read_body(response).await);
    let pii = [
        CONTACT_NAME,
        "Zebulon",
        "Quartermaine",
        CONTACT_PHONE,
        "555-0199",
        // The phone's digits in other forms (three digits alone would match timestamps).
        "512-555",
        "5550199",
        CONTACT_EMAIL,
        "example.net",
        "craigslist.org",
    ];
    for body in &bodies {
        for secret in pii {
            assert!(
                !body.contains(secret),
                "`{secret}` leaked before purchase in {body}"
            );
        }
    }
    // The detail hides contact details inside the description, but keeps the rest.
    let detail: Value = serde_json::from_str(&bodies[2]).unwrap();
    assert!(detail["description"].as_str().unwrap().contains("big yard"));
    assert!(detail["contact"].is_null() && detail["url"].is_null());
    assert_eq!(detail["fraud_reasons"][0]["code"], "price_outlier");
    assert_eq!(detail["price_breakdown"]["base"], 25.0);

    // After buying, the buyer sees the contact; another agent still does not.
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/admin/credits")
            .insert_header(env.bearer("admin", Role::Admin))
            .set_json(serde_json::json!({"agent_id": "buyer", "amount": 100}))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/checkout")
            .insert_header(buyer.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/leads/{}", seed.hex()))
            .insert_header(buyer.clone())
            .to_request(),
    )
    .await;
    let detail = body_json(response).await;
    assert_eq!(detail["contact"]["phone"], CONTACT_PHONE);
    assert_eq!(detail["contact"]["email"], CONTACT_EMAIL);
    assert!(
        detail["description"]
            .as_str()
            .unwrap()
            .contains(CONTACT_EMAIL)
    );
    assert!(detail["owned"].as_bool().unwrap());
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/leads/{}", seed.hex()))
            .insert_header(env.bearer("other", Role::Agent))
            .to_request(),
    )
    .await;
    let other = String::from_utf8_lossy(&test::read_body(response).await).into_owned();
    assert!(
        !other.contains(CONTACT_PHONE) && !other.contains(CONTACT_EMAIL),
        "{other}"
    );

    env.finish().await;
}

async fn cart_reserve_list_release_and_expiry(backend: Backend) {
    let mut config = test_config();
    config.reservation_ttl = Duration::from_millis(700);
    let env = TestEnv::new(backend, config).await;
    let exclusive = Seed::new(1);
    let mut shared = Seed::new(2);
    shared.kind = "rent";
    shared.price = 1800.0;
    env.insert_leads(&[exclusive.clone(), shared.clone()]).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let (a, b) = (
        env.bearer("agent-a", Role::Agent),
        env.bearer("agent-b", Role::Agent),
    );
    let post = |who: &(&'static str, String), id: &str| {
        TestRequest::post()
            .uri(&format!("/v1/cart/{id}"))
            .insert_header(who.clone())
            .to_request()
    };

    let response = test::call_service(&app, post(&a, &exclusive.hex())).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let item = body_json(response).await;
    assert_eq!(item["exclusive"], true);
    assert!(item["time_left_ms"].as_u64().unwrap() <= 700);
    // Held by A: B is refused; the shared lead can sit in both carts.
    assert_problem(
        &test::call_service(&app, post(&b, &exclusive.hex())).await,
        StatusCode::CONFLICT,
    );
    assert_eq!(
        test::call_service(&app, post(&a, &shared.hex()))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        test::call_service(&app, post(&b, &shared.hex()))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Reserving again does not extend the hold.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = body_json(test::call_service(&app, post(&a, &exclusive.hex())).await).await;
    assert!(again["time_left_ms"].as_u64().unwrap() <= 520, "{again}");

    let cart = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/cart")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 2, "{cart}");
    assert_eq!(cart["total_credits"], 40);
    assert!(cart["items"][0]["time_left_ms"].as_u64().unwrap() > 0);

    // Release frees the exclusive lead for B at once.
    let response = test::call_service(
        &app,
        TestRequest::delete()
            .uri(&format!("/v1/cart/{}", exclusive.hex()))
            .insert_header(a.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = test::call_service(
        &app,
        TestRequest::delete()
            .uri(&format!("/v1/cart/{}", exclusive.hex()))
            .insert_header(a.clone())
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::NOT_FOUND);
    assert_eq!(
        test::call_service(&app, post(&b, &exclusive.hex()))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Expiry frees it without anyone releasing it.
    assert_problem(
        &test::call_service(&app, post(&a, &exclusive.hex())).await,
        StatusCode::CONFLICT,
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cart = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/cart")
                .insert_header(b.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert!(cart["items"].as_array().unwrap().is_empty(), "{cart}");
    assert_eq!(
        test::call_service(&app, post(&a, &exclusive.hex()))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Cart adds are published (the embedded default writes them to marketplace_events).
    let mut events = 0;
    for _ in 0..50 {
        events = env
            .scalar("SELECT COUNT(*) FROM marketplace_events WHERE kind = 'cart_add'")
            .await;
        if events >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(events >= 5, "{events} cart_add events");
    env.finish().await;
}

async fn top_up(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    env: &TestEnv,
    agent: &str,
    amount: i64,
) {
    let response = test::call_service(
        app,
        TestRequest::post()
            .uri("/v1/admin/credits")
            .insert_header(env.bearer("admin", Role::Admin))
            .set_json(serde_json::json!({"agent_id": agent, "amount": amount}))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn checkout_credits_and_idempotency(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    let lead = Seed::new(5);
    let mut second = Seed::new(6);
    second.lead_price = 30;
    env.insert_leads(&[lead.clone(), second.clone()]).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let a = env.bearer("agent-a", Role::Agent);
    // Not reserved: refused.
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/checkout")
            .insert_header(a.clone())
            .set_json(serde_json::json!({"property_ids": [lead.hex()]}))
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::CONFLICT);
    for id in [lead.hex(), second.hex()] {
        assert_eq!(
            test::call_service(
                &app,
                TestRequest::post()
                    .uri(&format!("/v1/cart/{id}"))
                    .insert_header(a.clone())
                    .to_request()
            )
            .await
            .status(),
            StatusCode::CREATED
        );
    }
    // 40 credits are not enough for 50; nothing is bought.
    top_up(&app, &env, "agent-a", 40).await;
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/checkout")
            .insert_header(a.clone())
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM purchases").await, 0);
    top_up(&app, &env, "agent-a", 60).await;
    let checkout = |key: &str, body: Value| {
        TestRequest::post()
            .uri("/v1/checkout")
            .insert_header(a.clone())
            .insert_header(("Idempotency-Key", key.to_owned()))
            .set_json(body)
            .to_request()
    };
    let body = serde_json::json!({"property_ids": [lead.hex(), second.hex()]});
    let first = test::call_service(&app, checkout("order-1", body.clone())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body_json(first).await;
    assert_eq!(first["total_credits"], 50);
    assert_eq!(first["balance"], 50);
    // The same key replays the same answer and buys nothing more.
    let replay = test::call_service(&app, checkout("order-1", body.clone())).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(body_json(replay).await, first);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM purchases").await, 2);
    // The same key for a different checkout is refused.
    let other = test::call_service(
        &app,
        checkout("order-1", serde_json::json!({"property_ids": [lead.hex()]})),
    )
    .await;
    assert_problem(&other, StatusCode::UNPROCESSABLE_ENTITY);
    // Bought: the reservations are released, the exclusive leads are gone from search.
    let cart = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/cart")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert!(cart["items"].as_array().unwrap().is_empty());
    let page = search(&app, &env, "limit=100").await;
    assert!(ids(&page).is_empty(), "{page}");
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/cart/{}", lead.hex()))
            .insert_header(env.bearer("agent-b", Role::Agent))
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::CONFLICT);
    // Balance and history.
    let balance = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/credits")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(balance["balance"], 50);
    let history = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/credits/history")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 4, "{history}");
    assert_eq!(entries[0]["balance_after"], 50);
    assert_eq!(
        entries
            .iter()
            .map(|e| e["delta"].as_i64().unwrap())
            .sum::<i64>(),
        50
    );
    env.finish().await;
}

async fn exclusive_lead_race_sells_once_and_conserves_credits(backend: Backend) {
    const AGENTS: usize = 100;
    let env = TestEnv::new(backend, test_config()).await;
    let lead = Seed::new(77);
    env.insert_leads(std::slice::from_ref(&lead)).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    for i in 0..AGENTS {
        top_up(&app, &env, &format!("racer-{i}"), 100).await;
    }
    let attempts = (0..AGENTS).map(|i| {
        let app = &app;
        let env = &env;
        let lead = &lead;
        async move {
            let who = env.bearer(&format!("racer-{i}"), Role::Agent);
            let reserved = test::call_service(
                app,
                TestRequest::post()
                    .uri(&format!("/v1/cart/{}", lead.hex()))
                    .insert_header(who.clone())
                    .to_request(),
            )
            .await
            .status();
            let bought = test::call_service(
                app,
                TestRequest::post()
                    .uri("/v1/checkout")
                    .insert_header(who)
                    .set_json(serde_json::json!({"property_ids": [lead.hex()]}))
                    .to_request(),
            )
            .await
            .status();
            (reserved, bought)
        }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let bought = outcomes
        .iter()
        .filter(|(_, b)| *b == StatusCode::CREATED)
        .count();
    assert_eq!(bought, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(
            |(r, b)| matches!(*r, StatusCode::CREATED | StatusCode::CONFLICT)
                && matches!(*b, StatusCode::CREATED | StatusCode::CONFLICT)
        ),
        "{outcomes:?}"
    );
    assert_eq!(env.scalar("SELECT COUNT(*) FROM purchases").await, 1);
    let total = env
        .scalar("SELECT CAST(SUM(credits) AS BIGINT) FROM agents")
        .await;
    assert_eq!(total, (AGENTS as i64) * 100 - lead.lead_price);
    let ledger = env
        .scalar("SELECT CAST(SUM(delta) AS BIGINT) FROM credit_ledger")
        .await;
    assert_eq!(ledger, total);
    env.finish().await;
}

async fn shared_lead_sells_up_to_the_limit(backend: Backend) {
    // Shared leads may sit in every cart at once, so here the database alone decides.
    let env = TestEnv::new(backend, test_config()).await;
    let mut lead = Seed::new(88);
    lead.kind = "rent";
    lead.price = 2100.0;
    env.insert_leads(std::slice::from_ref(&lead)).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    for i in 0..20 {
        top_up(&app, &env, &format!("sharer-{i}"), 100).await;
        let who = env.bearer(&format!("sharer-{i}"), Role::Agent);
        let status = test::call_service(
            &app,
            TestRequest::post()
                .uri(&format!("/v1/cart/{}", lead.hex()))
                .insert_header(who)
                .to_request(),
        )
        .await
        .status();
        assert_eq!(status, StatusCode::CREATED);
    }
    let attempts = (0..20).map(|i| {
        let (app, env) = (&app, &env);
        async move {
            let who = env.bearer(&format!("sharer-{i}"), Role::Agent);
            test::call_service(
                app,
                TestRequest::post()
                    .uri("/v1/checkout")
                    .insert_header(who)
                    .to_request(),
            )
            .await
            .status()
        }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        3,
        "{outcomes:?}"
    );
    assert_eq!(env.scalar("SELECT COUNT(*) FROM purchases").await, 3);
    assert_eq!(
        env.scalar("SELECT CAST(SUM(credits) AS BIGINT) FROM agents")
            .await,
        20 * 100 - 3 * lead.lead_price
    );
    env.finish().await;
}

async fn heatmap_and_recommendations(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    let mut seeds = Vec::new();
    for i in 0..12u64 {
        let mut s = Seed::new(500 + i);
        s.lat = 30.2672 + (i % 3) as f64 * 0.05;
        s.price = 300_000.0 + i as f64 * 1000.0;
        s.sqft = 1500;
        seeds.push(s);
    }
    let mut far = Seed::new(600);
    far.city = "Seattle";
    far.state = "WA";
    far.lat = 47.6062;
    far.lon = -122.3321;
    seeds.push(far);
    env.insert_leads(&seeds).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let a = env.bearer("agent-h", Role::Agent);
    let heat = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri(
                    "/v1/market/heatmap?min_lat=30&max_lat=31&min_lon=-98&max_lon=-97&resolution=7",
                )
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    let cells = heat["cells"].as_array().unwrap();
    assert_eq!(
        cells
            .iter()
            .map(|c| c["count"].as_i64().unwrap())
            .sum::<i64>(),
        12,
        "{heat}"
    );
    assert_eq!(cells.len(), 3, "{heat}");
    let per_sqft = cells[0]["median_price_per_sqft"].as_f64().unwrap();
    assert!((200.0..=210.0).contains(&per_sqft), "{per_sqft}");

    // Without purchases: the best leads; after one purchase: nearby alike leads first, owned excluded.
    let recs = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/recommendations?limit=5")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(recs["basis"], "quality");
    top_up(&app, &env, "agent-h", 100).await;
    let bought = seeds[0].hex();
    test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/cart/{bought}"))
            .insert_header(a.clone())
            .to_request(),
    )
    .await;
    assert_eq!(
        test::call_service(
            &app,
            TestRequest::post()
                .uri("/v1/checkout")
                .insert_header(a.clone())
                .to_request()
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let recs = body_json(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/recommendations?limit=20")
                .insert_header(a.clone())
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(recs["basis"], "purchases");
    let rec_ids: Vec<&str> = recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["lead"]["property_id"].as_str().unwrap())
        .collect();
    assert!(!rec_ids.contains(&bought.as_str()));
    assert!(
        !rec_ids.contains(&format!("{:016x}", 600).as_str()),
        "another state is not recommended"
    );
    assert_eq!(rec_ids.len(), 11);
    // The most similar: same spot (every third lead shares the bought one's latitude).
    assert!(
        [503u64, 506, 509]
            .iter()
            .any(|id| format!("{id:016x}") == rec_ids[0]),
        "{rec_ids:?}"
    );

    // An agent who bought nothing but looked at a lead gets leads like it.
    let viewer = env.bearer("agent-v", Role::Agent);
    let viewed = seeds[5].hex();
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri(&format!("/v1/leads/{viewed}"))
            .insert_header(viewer.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut recs = Value::Null;
    for _ in 0..50 {
        recs = body_json(
            test::call_service(
                &app,
                TestRequest::get()
                    .uri("/v1/recommendations?limit=3")
                    .insert_header(viewer.clone())
                    .to_request(),
            )
            .await,
        )
        .await;
        if recs["basis"] == "behaviour" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recs["basis"], "behaviour", "{recs}");
    assert_eq!(recs["items"][0]["lead"]["property_id"], viewed.as_str());
    env.finish().await;
}

async fn health_metrics_and_openapi(backend: Backend) {
    let env = TestEnv::new(backend, test_config()).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    assert_eq!(
        test::call_service(&app, TestRequest::get().uri("/healthz").to_request())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        test::call_service(&app, TestRequest::get().uri("/readyz").to_request())
            .await
            .status(),
        StatusCode::OK
    );
    test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/leads")
            .insert_header(env.bearer("m", Role::Agent))
            .to_request(),
    )
    .await;
    let metrics = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = String::from_utf8_lossy(&test::read_body(metrics).await).into_owned();
    assert!(
        text.contains("aiq_api_requests_total{route=\"/v1/leads\",method=\"GET\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("aiq_api_request_duration_seconds_bucket"),
        "{text}"
    );
    let doc = body_json(
        test::call_service(&app, TestRequest::get().uri("/openapi.json").to_request()).await,
    )
    .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/leads",
        "/v1/leads/{property_id}",
        "/v1/cart/{property_id}",
        "/v1/checkout",
        "/v1/market/heatmap",
        "/v1/recommendations",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    env.finish().await;
}

/// Redis down: readiness and reservations answer 503 (and recover once it is back, since the
/// connection is made on use).
#[actix_web::test]
async fn redis_down_is_503() {
    let mut config = test_config();
    config.reservations_url = "redis://127.0.0.1:1".into();
    let env = TestEnv::new(Backend::PostgresRedis, config).await;
    env.insert_leads(&[Seed::new(3)]).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    assert_problem(
        &test::call_service(&app, TestRequest::get().uri("/readyz").to_request()).await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let response = test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/v1/cart/{:016x}", 3))
            .insert_header(env.bearer("a", Role::Agent))
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    env.finish().await;
}

#[actix_web::test]
async fn rate_limits_answer_429_with_retry_after() {
    let mut config = test_config();
    config.rate_limits.per_principal_per_second = 1;
    config.rate_limits.per_principal_burst = 2;
    let env = TestEnv::new(Backend::SqliteMemory, config).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let who = env.bearer("hasty", Role::Agent);
    let statuses: Vec<StatusCode> = futures_util::future::join_all((0..4).map(|_| {
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/v1/credits")
                .insert_header(who.clone())
                .to_request(),
        )
    }))
    .await
    .into_iter()
    .map(|r| r.status())
    .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        2,
        "{statuses:?}"
    );
    let response = test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/credits")
            .insert_header(who.clone())
            .to_request(),
    )
    .await;
    assert_problem(&response, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    // Another principal is not affected; the per-IP limit is separate.
    let other = test::call_service(
        &app,
        TestRequest::get()
            .uri("/v1/credits")
            .insert_header(env.bearer("calm", Role::Agent))
            .to_request(),
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
    env.finish().await;

    let mut config = test_config();
    config.rate_limits.per_ip_per_second = 1;
    config.rate_limits.per_ip_burst = 1;
    let env = TestEnv::new(Backend::SqliteMemory, config).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let peer = "203.0.113.9:4000".parse().unwrap();
    assert_eq!(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/healthz")
                .peer_addr(peer)
                .to_request()
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_problem(
        &test::call_service(
            &app,
            TestRequest::get()
                .uri("/healthz")
                .peer_addr(peer)
                .to_request(),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
    );
    let elsewhere = "203.0.113.10:4000".parse().unwrap();
    assert_eq!(
        test::call_service(
            &app,
            TestRequest::get()
                .uri("/healthz")
                .peer_addr(elsewhere)
                .to_request()
        )
        .await
        .status(),
        StatusCode::OK
    );
    env.finish().await;
}

#[test]
fn serve_refuses_the_development_secret_off_loopback() {
    let mut config = aiq_api::ApiConfig::default();
    assert!(config.check_secret_for_listen().is_ok());
    config.listen = "0.0.0.0:8080".into();
    let error = config.check_secret_for_listen().unwrap_err().to_string();
    assert!(error.contains("jwt.secret"), "{error}");
    config.jwt.secret = "a-real-secret-from-the-operator".into();
    assert!(config.check_secret_for_listen().is_ok());
}

/// A TCP relay to Postgres that the test can cut and restore, to take the database away from a
/// running API.
struct Relay {
    addr: std::net::SocketAddr,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(addr: std::net::SocketAddr, upstream: String) -> Relay {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap();
        let listener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            Default::default();
        let accept_tasks = tasks.clone();
        let target = upstream.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_tasks.lock().unwrap().push(pipe);
            }
        });
        tasks.lock().unwrap().push(acceptor);
        Relay {
            addr,
            upstream,
            tasks,
        }
    }

    /// Closes the listener and every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// The database going away is a 503 with Retry-After (never a 500), and the API recovers by itself
/// once it is back. Searches and lead details keep answering from the catalogue meanwhile; with
/// `api.catalog` off they too answer 503.
#[actix_web::test]
async fn postgres_down_is_503_and_recovers() {
    for catalog in [true, false] {
        postgres_down_is_503_and_recovers_with(catalog).await;
    }
}

async fn postgres_down_is_503_and_recovers_with(catalog: bool) {
    let env = TestEnv::new(Backend::PostgresRedis, test_config()).await;
    env.insert_leads(&[Seed::new(11)]).await;
    let (prefix, rest) = env
        .store_url
        .split_once('@')
        .expect("user@host in the Postgres URL");
    let (host_port, database) = rest.split_once('/').expect("a database in the URL");
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), host_port.to_owned()).await;
    let relayed_url = format!("{prefix}@{}/{database}", relay.addr);
    let mut config = env.config.clone();
    config.catalog = catalog;
    let state = actix_web::web::Data::new(
        aiq_api::AppState::new(
            config,
            &relayed_url,
            "memory://",
            &aiq_kafka::KafkaSettings::default(),
        )
        .await
        .unwrap(),
    );
    let app = test::init_service(create_app(state.clone())).await;
    let get = |uri: &str| {
        TestRequest::get()
            .uri(uri)
            .insert_header(env.bearer("a", Role::Agent))
            .to_request()
    };
    let lead = format!("/v1/leads/{}", Seed::new(11).hex());
    for uri in ["/v1/leads", lead.as_str(), "/v1/credits"] {
        assert_eq!(
            test::call_service(&app, get(uri)).await.status(),
            StatusCode::OK,
            "{uri}"
        );
    }
    relay.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = test::call_service(&app, get("/v1/credits")).await;
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("retry-after").is_some());
    for uri in ["/v1/leads", lead.as_str()] {
        let response = test::call_service(&app, get(uri)).await;
        if catalog {
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{uri} from the catalogue"
            );
        } else {
            assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let ready = test::call_service(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_problem(&ready, StatusCode::SERVICE_UNAVAILABLE);
    // Back on the same address: the pool reconnects without a restart.
    let _relay = Relay::start(relay.addr, relay.upstream.clone()).await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = test::call_service(&app, get("/v1/credits")).await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
    state.close().await;
    env.finish().await;
}

/// Redis going away mid-run: reservations answer 503, and work again once it is back.
#[actix_web::test]
async fn redis_lost_mid_run_is_503_and_recovers() {
    let upstream = common::redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), upstream).await;
    let mut config = test_config();
    config.reservations_url = format!("redis://{}", relay.addr);
    let env = TestEnv::new(Backend::PostgresRedis, config).await;
    env.insert_leads(&[Seed::new(12), Seed::new(13)]).await;
    let app = test::init_service(create_app(env.state.clone())).await;
    let reserve = |id: u64| {
        TestRequest::post()
            .uri(&format!("/v1/cart/{id:016x}"))
            .insert_header(env.bearer("a", Role::Agent))
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, reserve(12)).await.status(),
        StatusCode::CREATED
    );
    relay.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_problem(
        &test::call_service(&app, reserve(13)).await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let _relay = Relay::start(relay.addr, relay.upstream.clone()).await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..30 {
        status = test::call_service(&app, reserve(13)).await.status();
        if status == StatusCode::CREATED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::CREATED);
    env.finish().await;
}
