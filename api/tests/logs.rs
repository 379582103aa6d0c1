//! No personal data in log lines: every log event (debug level, every crate) of a whole buying
//! session is captured by a process-wide subscriber and searched for the lead's contact details.
//! One test in its own binary, so no other test's requests race the global subscriber.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use aiq_api::{Role, create_app};
use common::{Backend, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE, Seed, TestEnv, test_config};

/// Log output, kept while `on` (the API's requests), not while the test seeds its own rows (sqlx
/// logs the seeding statements, literal contact details included).
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>, Arc<AtomicBool>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.1.load(Ordering::SeqCst) {
            self.0.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn contact_details_never_reach_the_logs() {
    let captured = Captured(Arc::default(), Arc::default());
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    for backend in [Backend::SqliteMemory, Backend::PostgresRedis] {
        let env = TestEnv::new(backend, test_config()).await;
        let mut seed = Seed::new(42);
        seed.title = format!("Great house, call {CONTACT_NAME} 512-555-0199");
        env.insert_leads(std::slice::from_ref(&seed)).await;
        let app = test::init_service(create_app(env.state.clone())).await;
        let buyer = env.bearer("buyer", Role::Agent);
        let admin = env.bearer("admin", Role::Admin);
        let requests = vec![
            (TestRequest::get().uri("/v1/leads?text=house"), &buyer),
            (
                TestRequest::get().uri(&format!("/v1/leads/{}", seed.hex())),
                &buyer,
            ),
            (
                TestRequest::post().uri(&format!("/v1/cart/{}", seed.hex())),
                &buyer,
            ),
            (TestRequest::post().uri("/v1/checkout"), &buyer), // 402: no credits yet
            (
                TestRequest::post()
                    .uri("/v1/admin/credits")
                    .set_json(serde_json::json!({"agent_id": "buyer", "amount": 50})),
                &admin,
            ),
            (TestRequest::post().uri("/v1/checkout"), &buyer),
            (
                TestRequest::get().uri(&format!("/v1/leads/{}", seed.hex())),
                &buyer,
            ),
            (TestRequest::get().uri("/v1/leads?min_price=x"), &buyer), // 400
        ];
        let mut statuses = Vec::new();
        captured.1.store(true, Ordering::SeqCst);
        for (request, who) in requests {
            let request = request.insert_header(who.clone()).to_request();
            statuses.push(test::call_service(&app, request).await.status().as_u16());
        }
        // Let the event writer finish, then stop capturing before the test's own cleanup.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        captured.1.store(false, Ordering::SeqCst);
        assert_eq!(
            statuses,
            [200, 200, 201, 402, 200, 201, 200, 400],
            "{backend:?}"
        );
        env.finish().await;
    }
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("route=\"/v1/leads/{property_id}\"")
            || logs.contains("route=/v1/leads/{property_id}"),
        "the capture saw no request log:\n{logs}"
    );
    for secret in [
        CONTACT_NAME,
        "Zebulon",
        CONTACT_PHONE,
        "555-0199",
        CONTACT_EMAIL,
        "example.net",
    ] {
        assert!(!logs.contains(secret), "`{secret}` in the logs");
    }
    let _ = StatusCode::OK;
}
