//! The crawler's metric names, and one small helper per notable event that both logs and counts.
//!
//! Counters are recorded through the [`metrics`] facade: nothing is kept unless the binary installs a
//! recorder (the Prometheus exporter), so the crawler costs nothing extra when metrics are off.
//!
//! | name | labels | counts |
//! |------|--------|--------|
//! | `aiq_crawl_pages_total` | `site`, `status` | pages answered, by HTTP status (`304` for unchanged pages), or `error` when no answer came (timeout, refused connection) |
//! | `aiq_crawl_retries_total` | `site` | requests sent again after a 429, 5xx, block page, timeout or connection error |
//! | `aiq_crawl_blocked_total` | `site` | block pages (captcha or "blocked" answers), each one a back-off |
//! | `aiq_crawl_parse_failures_total` | `site`, `reason` | fetched pages that yielded no listing, by the dead-letter reason code |
//! | `aiq_crawl_listings_total` | `site` | raw listings handed on to the bus |

use metrics::counter;
use tracing::{debug, info, warn};
use url::Url;

/// Pages answered, by `site` and `status`.
pub const PAGES_TOTAL: &str = "aiq_crawl_pages_total";
/// Requests sent again, by `site`.
pub const RETRIES_TOTAL: &str = "aiq_crawl_retries_total";
/// Block pages met, by `site`.
pub const BLOCKED_TOTAL: &str = "aiq_crawl_blocked_total";
/// Fetched pages that yielded no listing, by `site` and `reason`.
pub const PARSE_FAILURES_TOTAL: &str = "aiq_crawl_parse_failures_total";
/// Raw listings emitted, by `site`.
pub const LISTINGS_TOTAL: &str = "aiq_crawl_listings_total";

/// The `status` label of a request that got no HTTP answer at all.
pub const STATUS_NO_ANSWER: &str = "error";

pub(crate) fn page_answered(site: &'static str, url: &Url, status: u16) {
    debug!(site, url = %url, status, "page fetched");
    counter!(PAGES_TOTAL, "site" => site, "status" => status.to_string()).increment(1);
}

pub(crate) fn page_unanswered(site: &'static str, url: &Url, detail: &str) {
    warn!(site, url = %url, error = %detail, "page could not be fetched");
    counter!(PAGES_TOTAL, "site" => site, "status" => STATUS_NO_ANSWER).increment(1);
}

pub(crate) fn retry(site: &'static str, url: &Url, attempt: u32, why: &str, wait_ms: u64) {
    debug!(site, url = %url, attempt, why, wait_ms, "sending the request again after a back-off");
    counter!(RETRIES_TOTAL, "site" => site).increment(1);
}

pub(crate) fn blocked(site: &'static str, url: &Url, cooldown_ms: u64) {
    info!(site, url = %url, cooldown_ms, "the site served a block page; cooling down on this host");
    counter!(BLOCKED_TOTAL, "site" => site).increment(1);
}

pub(crate) fn parse_failure(site: &'static str, url: &Url, reason: &str) {
    info!(site, url = %url, reason, "page could not become a listing; dead-lettered");
    counter!(PARSE_FAILURES_TOTAL, "site" => site, "reason" => reason.to_owned()).increment(1);
}

pub(crate) fn listings_emitted(site: &'static str, url: &Url, count: usize) {
    debug!(site, url = %url, count, "listings parsed from the page");
    counter!(LISTINGS_TOTAL, "site" => site).increment(count as u64);
}
