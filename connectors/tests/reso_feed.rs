//! The RESO Web API client against a local OData server (127.0.0.1 only) serving fixture pages built
//! from real King County sales and Craigslist rentals (tests/fixtures/reso/README.md).

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiq_connectors::reso::{ResoClient, ResoConfig, ResoError, parse_page};
use aiq_connectors::{PageKind, parse_page as parse_any};
use aiq_schemas::{RawListing, Source};
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const TOKEN: &str = "test-token-5f2c";
const FIXTURE_HOST: &str = "http://reso.test";
const PAGES: [&str; 3] = [
    include_str!("fixtures/reso/property_page1.json"),
    include_str!("fixtures/reso/property_page2.json"),
    include_str!("fixtures/reso/property_page3.json"),
];

/// What the server should do besides serving the pages.
#[derive(Clone, Default)]
struct Behaviour {
    /// Answer the first request for page 2 with 429 and `Retry-After: 1`.
    throttle_page2_once: bool,
    /// Answer the first request for page 3 with 503 (no `Retry-After`).
    fail_page3_once: bool,
    /// Hold the first request for page 1 this long before answering.
    stall_page1_once: Option<Duration>,
    /// Replace page 2's nextLink host with this one.
    page2_next_host: Option<String>,
}

/// Every request the server saw: the decoded path and query, and the Authorization header.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    authorization: Option<String>,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn start_server(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let base = format!("http://{address}");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hits: Arc<Mutex<HashMap<&'static str, u32>>> = Arc::default();
    let state = (base.clone(), Arc::clone(&seen), hits, behaviour);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(respond(request, &state).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server { base, seen }
}

type State = (
    String,
    Arc<Mutex<Vec<Seen>>>,
    Arc<Mutex<HashMap<&'static str, u32>>>,
    Behaviour,
);

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = bytes.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

async fn respond(request: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let (base, seen, hits, behaviour) = state;
    let query = request.uri().query().unwrap_or("").to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    seen.lock().unwrap().push(Seen {
        target: format!("{}?{}", request.uri().path(), percent_decode(&query)),
        authorization: authorization.clone(),
    });
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return reply(
            StatusCode::UNAUTHORIZED,
            "{\"error\":{\"code\":\"401\",\"message\":\"bad token\"}}",
        );
    }
    if request.uri().path() != "/odata/Property" {
        return reply(StatusCode::NOT_FOUND, "{}");
    }
    let first_hit = |page: &'static str| {
        let mut hits = hits.lock().unwrap();
        let count = hits.entry(page).or_default();
        *count += 1;
        *count == 1
    };
    let body_for = |page: &str| page.replace(FIXTURE_HOST, base);

    if let Some(filter) = query_param(&query, "$filter") {
        // Incremental pull: the records of every page changed at or after the given instant.
        let since = filter
            .rsplit_once("ModificationTimestamp ge ")
            .and_then(|(_, time)| DateTime::parse_from_rfc3339(time.trim()).ok());
        let Some(since) = since else {
            return reply(
                StatusCode::BAD_REQUEST,
                "{\"error\":{\"message\":\"bad $filter\"}}",
            );
        };
        let records: Vec<Value> = PAGES
            .iter()
            .flat_map(|page| {
                let page: Value = serde_json::from_str(page).expect("fixture JSON");
                page["value"].as_array().cloned().unwrap_or_default()
            })
            .filter(|record| {
                record["ModificationTimestamp"]
                    .as_str()
                    .and_then(|time| DateTime::parse_from_rfc3339(time).ok())
                    .is_some_and(|time| time >= since)
            })
            .collect();
        let body = serde_json::json!({"@odata.context": "x", "value": records});
        return reply(StatusCode::OK, &body.to_string());
    }

    match query_param(&query, "$skiptoken").as_deref() {
        None => {
            if let Some(stall) = behaviour.stall_page1_once
                && first_hit("page1")
            {
                tokio::time::sleep(stall).await;
            }
            reply(StatusCode::OK, &body_for(PAGES[0]))
        }
        Some("page2") => {
            if behaviour.throttle_page2_once && first_hit("page2") {
                let mut response = reply(StatusCode::TOO_MANY_REQUESTS, "{}");
                response
                    .headers_mut()
                    .insert("retry-after", "1".parse().expect("header value"));
                return response;
            }
            let mut body = body_for(PAGES[1]);
            if let Some(host) = &behaviour.page2_next_host {
                body = body.replace(base, host);
            }
            reply(StatusCode::OK, &body)
        }
        Some("page3") => {
            if behaviour.fail_page3_once && first_hit("page3") {
                return reply(StatusCode::SERVICE_UNAVAILABLE, "busy");
            }
            reply(StatusCode::OK, &body_for(PAGES[2]))
        }
        Some(_) => reply(StatusCode::BAD_REQUEST, "{}"),
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("header value"),
    );
    response
}

fn config(server: &Server) -> ResoConfig {
    ResoConfig {
        base_url: format!("{}/odata", server.base),
        token: TOKEN.into(),
        page_size: NonZeroU32::new(5).expect("non-zero"),
        request_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(5),
        ..ResoConfig::default()
    }
}

/// Runs a pull and collects what reached the channel.
async fn pull(
    config: ResoConfig,
    since: Option<DateTime<Utc>>,
) -> (
    Result<aiq_connectors::reso::ResoStats, ResoError>,
    Vec<RawListing>,
) {
    let client = ResoClient::new(config).expect("valid config");
    let (sink, mut receiver) = mpsc::channel(4);
    let collector = tokio::spawn(async move {
        let mut listings = Vec::new();
        while let Some(listing) = receiver.recv().await {
            listings.push(listing);
        }
        listings
    });
    let result = client.fetch_all(since, sink).await;
    drop(client);
    (result, collector.await.expect("collector task"))
}

fn fixture_keys() -> Vec<String> {
    PAGES
        .iter()
        .flat_map(|page| {
            let page: Value = serde_json::from_str(page).expect("fixture JSON");
            page["value"]
                .as_array()
                .expect("value array")
                .iter()
                .map(|record| record["ListingKey"].as_str().expect("key").to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_full_pull_follows_next_links_retries_throttling_and_sends_the_token() {
    let server = start_server(Behaviour {
        throttle_page2_once: true,
        fail_page3_once: true,
        ..Behaviour::default()
    })
    .await;
    let started = Instant::now();
    let (result, listings) = pull(config(&server), None).await;
    let stats = result.expect("the pull succeeds");

    let keys: Vec<String> = listings
        .iter()
        .map(|listing| listing.source_listing_id.clone().expect("id"))
        .collect();
    assert_eq!(keys, fixture_keys(), "every listing once, in feed order");
    assert_eq!(keys.len(), 14);
    assert_eq!(stats.pages, 3);
    assert_eq!(stats.listings, 14);
    assert_eq!(stats.skipped, 0);
    assert_eq!(stats.retries, 2, "one 429 and one 503");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(
        stats.latest_modification,
        Some(Utc.with_ymd_and_hms(2022, 8, 1, 13, 30, 0).unwrap())
    );

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "{seen:#?}");
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    assert_eq!(
        seen[0].target,
        "/odata/Property?$top=5&$orderby=ModificationTimestamp asc"
    );
    assert_eq!(seen[1].target, "/odata/Property?$top=5&$skiptoken=page2");
    assert_eq!(
        seen[2].target, seen[1].target,
        "the throttled page is asked again"
    );
    assert_eq!(seen[4].target, "/odata/Property?$top=5&$skiptoken=page3");

    // First King County sale (earliest ModificationTimestamp): id 7237550310, 2014-05-12.
    let first = &listings[0];
    assert_eq!(first.source.as_deref(), Some("reso"));
    assert_eq!(
        first.url.as_deref(),
        Some(&*format!("{}/odata/Property('7237550310')", server.base))
    );
    assert_eq!(first.list_price.as_deref(), Some("1230000"));
    assert_eq!(first.bedrooms_total.as_deref(), Some("4"));
    assert_eq!(first.bathrooms_total.as_deref(), Some("4.5"));
    assert_eq!(first.living_area_sqft.as_deref(), Some("5420 Square Feet"));
    assert_eq!(first.postal_code.as_deref(), Some("98053"));
    assert_eq!(first.latitude.as_deref(), Some("47.6561"));
    assert_eq!(first.longitude.as_deref(), Some("-122.005"));
    assert_eq!(first.listing_kind.as_deref(), Some("Residential"));
    assert_eq!(first.extra["standard_status"], "Closed");
    assert_eq!(first.extra["year_built"], 2001);
    assert!(first.fetched_at.is_some());
}

#[tokio::test]
async fn an_incremental_pull_sends_the_filter_and_gets_only_later_changes() {
    let server = start_server(Behaviour::default()).await;
    let since = Utc.with_ymd_and_hms(2015, 3, 12, 0, 0, 0).unwrap();
    let (result, listings) = pull(config(&server), Some(since)).await;
    let stats = result.expect("the pull succeeds");
    let keys: Vec<_> = listings
        .iter()
        .filter_map(|listing| listing.source_listing_id.as_deref())
        .collect();
    // 3793500160 changed exactly at `since`: `ge` fetches it again rather than risk missing it.
    assert_eq!(
        keys,
        [
            "3793500160",
            "1736800520",
            "2414600126",
            "cl-7514609223",
            "cl-7514363903"
        ]
    );
    assert_eq!(stats.pages, 1);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].target,
        "/odata/Property?$top=5&$filter=ModificationTimestamp ge 2015-03-12T00:00:00Z\
         &$orderby=ModificationTimestamp asc"
    );

    // The Craigslist rental mapped as a RESO lease.
    let lease = listings
        .iter()
        .find(|listing| listing.source_listing_id.as_deref() == Some("cl-7514363903"))
        .expect("the lease");
    assert_eq!(lease.listing_kind.as_deref(), Some("ResidentialLease"));
    assert_eq!(lease.list_price.as_deref(), Some("819/Monthly"));
    assert_eq!(lease.street_address.as_deref(), Some("4049 N Everett Road"));
    assert_eq!(lease.unit_number.as_deref(), Some("A"));
    assert_eq!(lease.city.as_deref(), Some("Muncie"));
    assert_eq!(lease.posted_at.as_deref(), Some("2022-07-28"));
    assert!(lease.description.as_deref().is_some_and(|text| {
        text.starts_with("New to Muncie but do not need to be in a year lease?")
    }));

    let since_everything = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let (result, listings) = pull(config(&server), Some(since_everything)).await;
    assert_eq!(result.expect("an empty pull is fine").listings, 0);
    assert!(listings.is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_not_retried() {
    let server = start_server(Behaviour::default()).await;
    let (result, listings) = pull(
        ResoConfig {
            token: "stale".into(),
            ..config(&server)
        },
        None,
    )
    .await;
    let error = result.expect_err("401");
    assert!(
        matches!(error, ResoError::Unauthorized { status: 401, .. }),
        "{error}"
    );
    assert!(!error.retryable());
    assert!(listings.is_empty());
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "no retry on 401");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer stale"));
}

#[tokio::test]
async fn a_stalled_request_times_out_and_is_retried() {
    let server = start_server(Behaviour {
        stall_page1_once: Some(Duration::from_secs(3)),
        ..Behaviour::default()
    })
    .await;
    let (result, listings) = pull(
        ResoConfig {
            request_timeout: Duration::from_millis(300),
            ..config(&server)
        },
        None,
    )
    .await;
    let stats = result.expect("the retry succeeds");
    assert_eq!(stats.retries, 1);
    assert_eq!(listings.len(), 14);
}

#[tokio::test]
async fn retries_run_out_and_the_error_says_why() {
    let server = start_server(Behaviour {
        stall_page1_once: Some(Duration::from_secs(3)),
        ..Behaviour::default()
    })
    .await;
    let (result, listings) = pull(
        ResoConfig {
            request_timeout: Duration::from_millis(200),
            max_retries: 0,
            ..config(&server)
        },
        None,
    )
    .await;
    let error = result.expect_err("no retries left");
    assert!(matches!(error, ResoError::Transport { .. }), "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(error.retryable());
    assert!(listings.is_empty());
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let server = start_server(Behaviour {
        page2_next_host: Some("http://127.0.0.2:9".into()),
        ..Behaviour::default()
    })
    .await;
    let (result, listings) = pull(config(&server), None).await;
    let error = result.expect_err("foreign next link");
    assert!(
        matches!(error, ResoError::ForeignNextLink { ref url } if url.starts_with("http://127.0.0.2:9/")),
        "{error}"
    );
    assert_eq!(listings.len(), 10, "the two pages before it were delivered");
    assert_eq!(server.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_closed_receiver_stops_the_pull() {
    let server = start_server(Behaviour::default()).await;
    let client = ResoClient::new(config(&server)).expect("valid config");
    let (sink, receiver) = mpsc::channel(1);
    drop(receiver);
    let error = client.fetch_all(None, sink).await.expect_err("closed");
    assert!(matches!(error, ResoError::SinkClosed));
}

#[test]
fn the_fixture_pages_parse_through_the_shared_dispatcher() {
    let fetched_at = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let url = "http://reso.test/odata/Property?$top=5";
    let page = parse_any(Source::Reso, PAGES[0], url, fetched_at).expect("page 1");
    assert_eq!(page.kind, PageKind::Search);
    assert_eq!(page.listings.len(), 5);
    assert_eq!(
        page.next_page_url.as_deref(),
        Some("http://reso.test/odata/Property?$top=5&$skiptoken=page2")
    );
    let last = parse_page(PAGES[2], url, fetched_at).expect("page 3");
    assert_eq!(last.next_page_url, None);
    assert_eq!(last.listings.len(), 4);
    let anderson = &last.listings[2];
    assert_eq!(anderson.source_listing_id.as_deref(), Some("cl-7514609223"));
    assert_eq!(anderson.property_type.as_deref(), Some("Apartment"));
    assert_eq!(anderson.list_price.as_deref(), Some("916/Monthly"));
    assert_eq!(anderson.bathrooms_total.as_deref(), Some("2"));
    assert_eq!(
        anderson.street_address.as_deref(),
        Some("3833 Hoosier Woods Ct")
    );
    assert_eq!(anderson.state_or_province.as_deref(), Some("IN"));
    assert_eq!(anderson.extra["listing_id"], "7514609223");
    assert_eq!(anderson.fetched_at, Some(fetched_at));
}

#[test]
fn the_normaliser_reads_the_mapped_values() {
    let received = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let url = "http://reso.test/odata/Property?$top=5";
    let page = parse_page(PAGES[0], url, received).expect("page 1");
    let sale = aiq_pipeline::normalise::normalise(&page.listings[3], received).expect("normalises");
    // kc_house_sales row 1: 7129300520, 221900, 3 bd, 1 ba, 1180 sqft, 98178, 47.5112 -122.257.
    assert_eq!(sale.source_listing_id, "7129300520");
    assert_eq!(sale.url, "http://reso.test/odata/Property('7129300520')");
    assert_eq!(sale.listing_kind, Some(aiq_schemas::ListingKind::Sale));
    assert_eq!(sale.list_price, Some(221_900.0));
    assert_eq!(sale.bedrooms_total, Some(3));
    assert_eq!(sale.bathrooms_total, Some(1.0));
    assert_eq!(sale.living_area_sqft, Some(1180));
    assert_eq!(sale.state_or_province.as_deref(), Some("WA"));
    assert_eq!(sale.postal_code.as_deref(), Some("98178"));
    assert_eq!(
        (sale.latitude, sale.longitude),
        (Some(47.5112), Some(-122.257))
    );
    assert!(sale.h3_cell.is_some());

    let last = parse_page(PAGES[2], url, received).expect("page 3");
    let lease =
        aiq_pipeline::normalise::normalise(&last.listings[3], received).expect("normalises");
    assert_eq!(
        lease.street_address.as_deref(),
        Some("4049 N Everett Rd Apt A")
    );
    assert_eq!(lease.unit_number.as_deref(), Some("A"));
    assert_eq!(lease.bedrooms_total, Some(1));
    assert_eq!(lease.living_area_sqft, Some(600));
    assert_eq!(
        lease.posted_at,
        Some(Utc.with_ymd_and_hms(2022, 7, 28, 0, 0, 0).unwrap())
    );
    assert_eq!(lease.price_period, Some(aiq_schemas::PricePeriod::Month));
    assert_eq!(lease.list_price, Some(819.0));
}

#[test]
fn truncated_or_garbled_pages_never_panic() {
    let fetched_at = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    for page in PAGES {
        for end in (0..page.len())
            .step_by(97)
            .filter(|end| page.is_char_boundary(*end))
        {
            let _ = parse_page(&page[..end], "http://reso.test/odata/Property", fetched_at);
        }
        let garbled = page.replace('"', "'").replace('[', "{");
        assert!(parse_page(&garbled, "http://reso.test/odata/Property", fetched_at).is_err());
    }
}

#[test]
fn site_detection_recognises_odata_responses() {
    use aiq_connectors::detect::detect_site;
    for page in PAGES {
        assert_eq!(detect_site(page, None), Some(Source::Reso));
        assert_eq!(
            detect_site(page, Some("https://api.mls.example/odata/Property")),
            Some(Source::Reso)
        );
    }
    assert_eq!(
        detect_site("<p>the @odata.context annotation</p>", None),
        None
    );
    assert_eq!(detect_site("{\"list_price\": 5}", None), None);
}
