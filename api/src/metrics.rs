//! Prometheus metrics: names in one place and one helper per notable event.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use actix_web::http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const REQUESTS: &str = "aiq_api_requests_total";
pub(crate) const REQUEST_SECONDS: &str = "aiq_api_request_duration_seconds";
pub(crate) const RESERVATIONS: &str = "aiq_api_reservations_total";
pub(crate) const PURCHASES: &str = "aiq_api_purchases_total";
pub(crate) const EVENTS_DROPPED: &str = "aiq_api_events_dropped_total";
pub(crate) const EVENTS_FAILED: &str = "aiq_api_events_failed_total";
pub(crate) const RATE_LIMITED: &str = "aiq_api_rate_limited_total";
pub(crate) const CATALOG_LEADS: &str = "aiq_api_catalog_leads";
pub(crate) const CATALOG_REFRESH_FAILURES: &str = "aiq_api_catalog_refresh_failures_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. `None` when another recorder was
/// installed first (then /metrics says so rather than pretending).
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_SECONDS.to_owned()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The request counter and latency histogram of one (route pattern, method, status), registered
/// once: looking a labelled metric up in the registry allocates its labels and hashes them, which
/// on the hottest path costs more than the handler's own lookups.
type RequestMetrics = (metrics::Counter, metrics::Histogram);

const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// Route pattern, method and status.
type RequestLabels = (String, Method, u16);

static REQUEST_METRICS: OnceLock<RwLock<HashMap<RequestLabels, RequestMetrics>>> = OnceLock::new();

pub(crate) fn request(route: String, method: &Method, status: u16, elapsed: Duration) {
    let cache = REQUEST_METRICS.get_or_init(Default::default);
    // A client may send any extension method: those share one label, so that neither the cache
    // nor the exported series grow with what clients invent.
    let method = if STANDARD_METHODS.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or(Method::GET)
    };
    let key = (route, method, status);
    let found = cache
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&key)
        .cloned();
    let (counter, histogram) = match found {
        Some(handles) => handles,
        None => {
            let (route, method, status) = &key;
            let labels = [
                ("route", route.clone()),
                ("method", method.as_str().to_owned()),
                ("status", status.to_string()),
            ];
            let handles = (
                metrics::counter!(REQUESTS, &labels),
                metrics::histogram!(REQUEST_SECONDS, "route" => route.clone()),
            );
            cache
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key, handles.clone());
            handles
        }
    };
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
}

pub(crate) fn reservation(outcome: &'static str) {
    metrics::counter!(RESERVATIONS, "outcome" => outcome).increment(1);
}

pub(crate) fn purchases(count: u64) {
    metrics::counter!(PURCHASES).increment(count);
}

pub(crate) fn event_dropped() {
    metrics::counter!(EVENTS_DROPPED).increment(1);
}

pub(crate) fn events_failed(count: u64) {
    metrics::counter!(EVENTS_FAILED).increment(count);
}

pub(crate) fn rate_limited() {
    metrics::counter!(RATE_LIMITED).increment(1);
}

pub(crate) fn catalog_leads(count: usize) {
    metrics::gauge!(CATALOG_LEADS).set(count as f64);
}

pub(crate) fn catalog_refresh_failed() {
    metrics::counter!(CATALOG_REFRESH_FAILURES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let route = "/test/invented-methods";
        for name in ["FROB", "QUUX", "ZAP"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            request(route.to_owned(), &method, 418, Duration::from_millis(1));
        }
        let cache = REQUEST_METRICS.get().unwrap().read().unwrap();
        let methods: Vec<&str> = cache
            .keys()
            .filter(|(r, _, _)| r == route)
            .map(|(_, method, _)| method.as_str())
            .collect();
        assert_eq!(methods, ["OTHER"]);
    }
}
