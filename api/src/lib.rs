//! The marketplace API agents use to find, reserve and buy leads (actix-web).
//!
//! [`create_app`] builds the whole application from an [`AppState`]; `serve` and the tests use
//! the same function, so the tests exercise exactly what runs. The database is the jobs' store
//! (`sqlite://` or `postgres://`, the `leads` view they keep current, plus the marketplace tables
//! of migration 020); reservations live in memory or Redis; marketplace events go to Kafka or, in
//! the embedded default, to a table.
//!
//! ```no_run
//! # async fn run() -> aiq_api::Result<()> {
//! let config = aiq_api::ApiConfig::default();
//! let kafka = aiq_kafka::KafkaSettings::default();
//! aiq_api::serve(config, "sqlite://data/aiqleads.db", "memory://", &kafka).await
//! # }
//! ```

pub mod auth;
mod catalog;
pub mod config;
mod db;
mod error;
mod events;
pub mod handlers;
mod limits;
pub mod market;
mod metrics;
pub mod nlq;
pub mod reservations;
pub mod search;
mod state;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};

pub use auth::{Principal, Role, mint_token};
pub use config::ApiConfig;
pub use error::{Error, Problem, Result};
pub use state::AppState;

use crate::error::{PROBLEM_JSON, problem_response};

/// The application: routes, extractor limits and error shapes, rate limits, metrics, logs.
pub fn create_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.config.body_limit_bytes;
    App::new()
        .app_data(state)
        .app_data(handlers::json_config(body_limit))
        .app_data(web::PayloadConfig::new(body_limit))
        .app_data(handlers::query_config())
        .app_data(handlers::path_config())
        .configure(handlers::routes)
        .default_service(web::to(handlers::not_found))
        .wrap(from_fn(observe))
}

/// Every request: the per-IP rate limit first, then the handler; afterwards any error answer that
/// is not yet problem+json (405 from the router, errors from actix itself) is rewritten into it,
/// and the request is counted, timed and logged (method, route pattern, status: never the query
/// or the body, which could carry personal data).
async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        // The peer address, not X-Forwarded-For: a header a client writes cannot pick its bucket.
        // (Without one, as in tests over a bare service, every request shares the unspecified one.)
        let ip = request
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        if let Err(error) = state.limits.check_ip(ip) {
            let response = request.error_response(error);
            finish(&response, &method, started);
            return Ok(response);
        }
    }
    let response = next.call(request).await?.map_into_boxed_body();
    let response = as_problem(response);
    finish(&response, &method, started);
    Ok(response)
}

fn finish(response: &ServiceResponse<BoxBody>, method: &Method, started: Instant) {
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(
        method = method.as_str(),
        route,
        status,
        elapsed_us = elapsed.as_micros() as u64,
        "request"
    );
    metrics::request(route, method, status, elapsed);
}

fn as_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if status.as_u16() < 400 || is_problem {
        return response;
    }
    let (slug, title, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this route does not accept this method".to_owned(),
        ),
        StatusCode::NOT_FOUND => ("not-found", "Not found", "no such resource".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the limit".to_owned(),
        ),
        s if s.is_client_error() => (
            "bad-request",
            "Bad request",
            s.canonical_reason().unwrap_or("bad request").to_owned(),
        ),
        s => (
            "internal",
            "Internal error",
            s.canonical_reason()
                .unwrap_or("an unexpected error happened on our side")
                .to_owned(),
        ),
    };
    let (request, old) = response.into_parts();
    let mut replacement = problem_response(status, slug, title, detail);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    replacement
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    ServiceResponse::new(request, replacement)
}

/// Runs the API until Ctrl-C: opens the store at `store_url` (migrating it) and the bus at
/// `bus_url` (Kafka producer settings `kafka`), then serves `create_app` on `config.listen`.
pub async fn serve(
    config: ApiConfig,
    store_url: &str,
    bus_url: &str,
    kafka: &aiq_kafka::KafkaSettings,
) -> Result<()> {
    config.validate()?;
    config.check_secret_for_listen()?;
    let listen = config.listen.clone();
    let state = web::Data::new(AppState::new(config, store_url, bus_url, kafka).await?);
    // Keep the rate limiters' memory bounded by recently active clients.
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                state.limits.retain_recent();
            }
        })
    };
    let server_state = state.clone();
    let server = HttpServer::new(move || create_app(server_state.clone()))
        .bind(&listen)
        .map_err(|e| Error::Config(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(%listen, "marketplace API listening");
    let result = server
        .run()
        .await
        .map_err(|e| Error::Internal(format!("server: {e}")));
    sweeper.abort();
    state.close().await;
    result
}
