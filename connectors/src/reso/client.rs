//! The RESO Web API client: pulls a resource page by page with a bearer token and sends every
//! listing to a channel.

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use aiq_schemas::RawListing;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use url::Url;

use crate::error::{Error, ErrorClass, NoListingReason};
use crate::util::retry::{RetryAfter, exponential_backoff, parse_retry_after};

/// Settings of one RESO Web API feed (`[reso]` in the config file).
///
/// The token is a secret: it is never printed ([`fmt::Debug`] shows `<redacted>`) and is sent only
/// to the host of `base_url` (a `@odata.nextLink` to another host is refused).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResoConfig {
    /// Service root of the Web API, such as `https://api.mls.example/reso/odata`.
    pub base_url: String,
    /// The resource to pull.
    pub resource: String,
    /// Bearer token (OAuth2 access token or the vendor's server token).
    pub token: String,
    /// Records per page (`$top`); servers may send fewer and cap it.
    pub page_size: NonZeroU32,
    /// An extra OData `$filter` expression ANDed with the incremental one, such as
    /// `StandardStatus eq 'Active'`.
    pub filter: Option<String>,
    /// `$orderby`; oldest changes first, so an interrupted pull can resume from the last
    /// `ModificationTimestamp` it saw. Empty sends none (for servers that refuse ordering).
    pub order_by: String,
    /// `$select`: the fields to ask for; empty asks for all.
    pub select: Vec<String>,
    /// Whole-request timeout.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Attempts after the first for 429, 5xx, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff; doubles per attempt (with jitter) unless the server sends `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest single wait, including a server's `Retry-After`.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Stop after this many pages (a guard against a server that pages forever); none is unlimited.
    pub max_pages: Option<NonZeroU32>,
    /// Sent with every request.
    pub user_agent: String,
}

impl Default for ResoConfig {
    fn default() -> Self {
        ResoConfig {
            base_url: String::new(),
            resource: "Property".into(),
            token: String::new(),
            page_size: NonZeroU32::new(200).expect("non-zero"),
            filter: None,
            order_by: "ModificationTimestamp asc".into(),
            select: Vec::new(),
            request_timeout: Duration::from_secs(60),
            max_retries: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(120),
            max_pages: None,
            user_agent: concat!("aiqleads-reso/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

impl fmt::Debug for ResoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResoConfig")
            .field("base_url", &self.base_url)
            .field("resource", &self.resource)
            .field("token", &"<redacted>")
            .field("page_size", &self.page_size)
            .field("filter", &self.filter)
            .field("order_by", &self.order_by)
            .field("select", &self.select)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_pages", &self.max_pages)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl ResoConfig {
    /// Checks the rules serde cannot: an absolute http(s) service root, a plain resource name, a
    /// token, and backoff bounds in order.
    pub fn validate(&self) -> Result<(), ResoError> {
        let invalid = |detail: String| Err(ResoError::InvalidConfig { detail });
        match Url::parse(&self.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            Ok(url) => {
                return invalid(format!(
                    "base_url `{url}` must be an http(s) URL with a host"
                ));
            }
            Err(error) => {
                return invalid(format!(
                    "base_url `{}` is not an absolute URL: {error}",
                    self.base_url
                ));
            }
        }
        if self.resource.is_empty()
            || !self
                .resource
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return invalid(format!(
                "resource `{}` must be a plain OData name such as Property",
                self.resource
            ));
        }
        if self.token.trim().is_empty() {
            return invalid("token is empty: the RESO Web API needs a bearer token".into());
        }
        if self.initial_backoff > self.max_backoff {
            return invalid(format!(
                "initial_backoff ({:?}) is longer than max_backoff ({:?})",
                self.initial_backoff, self.max_backoff
            ));
        }
        Ok(())
    }
}

/// Totals of one pull.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResoStats {
    /// Pages fetched successfully.
    pub pages: u64,
    /// Listings sent to the channel.
    pub listings: u64,
    /// Records that could not be listings (no key, not an object); see the log for which.
    pub skipped: u64,
    /// Requests repeated after a 429, a 5xx, a timeout or a connection error.
    pub retries: u64,
    /// The latest `ModificationTimestamp` among the listings: pass it as `since` next time.
    pub latest_modification: Option<DateTime<Utc>>,
}

/// Everything a pull can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ResoError {
    #[error("invalid RESO feed configuration: {detail}")]
    InvalidConfig { detail: String },
    #[error("cannot build the HTTP client: {detail}")]
    Client { detail: String },
    #[error("the RESO server refused the token (HTTP {status}) for {url}")]
    Unauthorized { status: u16, url: String },
    #[error("the RESO server answered HTTP {status} for {url}: {detail}")]
    Http {
        status: u16,
        url: String,
        detail: String,
    },
    #[error("cannot reach the RESO server at {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("cannot read the RESO page {url}: {source}")]
    Page {
        url: String,
        #[source]
        source: Error,
    },
    #[error(
        "the @odata.nextLink `{url}` leaves the feed's host; not following it (the token would go along)"
    )]
    ForeignNextLink { url: String },
    #[error(
        "the @odata.nextLink `{url}` was already fetched in this pull; the server's paging loops"
    )]
    NextLinkLoop { url: String },
    #[error("the listing receiver was closed before the pull finished")]
    SinkClosed,
}

impl ResoError {
    /// Whether running the same pull again later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            ResoError::Transport { .. } => true,
            ResoError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Whose problem this is; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            ResoError::Unauthorized { .. }
            | ResoError::Http { .. }
            | ResoError::Transport { .. }
            | ResoError::ForeignNextLink { .. }
            | ResoError::NextLinkLoop { .. } => ErrorClass::External,
            ResoError::Page { source, .. } => source.class(),
            ResoError::InvalidConfig { .. } | ResoError::Client { .. } | ResoError::SinkClosed => {
                ErrorClass::Internal
            }
        }
    }
}

/// A client for one RESO Web API resource.
///
/// ```no_run
/// use aiq_connectors::reso::{ResoClient, ResoConfig};
/// # async fn pull() -> Result<(), aiq_connectors::reso::ResoError> {
/// let client = ResoClient::new(ResoConfig {
///     base_url: "https://api.mls.example/odata".into(),
///     token: std::env::var("RESO_TOKEN").unwrap_or_default(),
///     ..ResoConfig::default()
/// })?;
/// let (sink, mut listings) = tokio::sync::mpsc::channel(1024);
/// let pull = tokio::spawn(async move { client.fetch_all(None, sink).await });
/// while let Some(listing) = listings.recv().await {
///     println!("{:?}", listing.source_listing_id);
/// }
/// let stats = pull.await.expect("pull task")?;
/// println!("next time pull since {:?}", stats.latest_modification);
/// # Ok(()) }
/// ```
pub struct ResoClient {
    http: reqwest::Client,
    config: ResoConfig,
    base: Url,
}

enum Fetched {
    Body(String),
    Failed(ResoError),
}

impl ResoClient {
    /// Validates `config` and builds the HTTP client.
    pub fn new(config: ResoConfig) -> Result<Self, ResoError> {
        config.validate()?;
        let base = Url::parse(config.base_url.trim_end_matches('/')).map_err(|error| {
            ResoError::InvalidConfig {
                detail: error.to_string(),
            }
        })?;
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            // Redirects could carry the Authorization header elsewhere; a feed has no reason to
            // redirect, so a redirect is reported as the HTTP status it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ResoError::Client {
                detail: error.to_string(),
            })?;
        Ok(ResoClient { http, config, base })
    }

    /// The URL of the first page: the resource with `$top`, `$filter` (the configured filter and,
    /// for an incremental pull, `ModificationTimestamp ge since`), `$orderby` and `$select`.
    ///
    /// `ge` rather than `gt`: records changed in the same instant as the last pull's latest are
    /// fetched again rather than missed; the downstream upserts are idempotent.
    pub fn first_page_url(&self, since: Option<DateTime<Utc>>) -> String {
        let mut filters = Vec::new();
        if let Some(filter) = self.config.filter.as_deref().map(str::trim)
            && !filter.is_empty()
        {
            filters.push(format!("({filter})"));
        }
        if let Some(since) = since {
            filters.push(format!(
                "ModificationTimestamp ge {}",
                since.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ));
        }
        let mut query = vec![("$top", self.config.page_size.to_string())];
        if !filters.is_empty() {
            query.push(("$filter", filters.join(" and ")));
        }
        if !self.config.order_by.trim().is_empty() {
            query.push(("$orderby", self.config.order_by.trim().to_owned()));
        }
        if !self.config.select.is_empty() {
            query.push(("$select", self.config.select.join(",")));
        }
        let query: Vec<String> = query
            .into_iter()
            .map(|(name, value)| format!("{name}={}", encode_query_value(&value)))
            .collect();
        format!(
            "{}/{}?{}",
            self.base.as_str().trim_end_matches('/'),
            self.config.resource,
            query.join("&")
        )
    }

    /// Pulls every page of the resource changed at or after `since` (everything when `None`),
    /// following `@odata.nextLink` until the server sends none, and sends each listing to `sink` in
    /// feed order. Returns the totals, including the high-water mark for the next incremental pull.
    pub async fn fetch_all(
        &self,
        since: Option<DateTime<Utc>>,
        sink: mpsc::Sender<RawListing>,
    ) -> Result<ResoStats, ResoError> {
        let mut stats = ResoStats::default();
        let mut next = Some(self.first_page_url(since));
        let mut fetched_urls = HashSet::new();
        while let Some(url) = next.take() {
            if let Some(max_pages) = self.config.max_pages
                && stats.pages >= u64::from(max_pages.get())
            {
                warn!(url = %url, max_pages = max_pages.get(), "page limit reached; the rest of the feed is left for the next pull");
                break;
            }
            if !fetched_urls.insert(url.clone()) {
                return Err(ResoError::NextLinkLoop { url });
            }
            let (fetched, retries) = self.fetch_with_retries(&url).await;
            stats.retries += retries;
            let body = match fetched {
                Fetched::Body(body) => body,
                Fetched::Failed(error) => return Err(error),
            };
            stats.pages += 1;
            let page = match super::parse_page(&body, &url, Utc::now()) {
                Ok(page) => page,
                Err(Error::NoListing {
                    reason: NoListingReason::Empty,
                    ..
                }) => {
                    debug!(url = %url, "the feed page is empty; the pull is complete");
                    break;
                }
                Err(source) => return Err(ResoError::Page { url, source }),
            };
            for item in &page.skipped {
                warn!(url = %url, record = %item.id, reason = %item.reason, "a feed record is not a listing");
            }
            stats.skipped += page.skipped.len() as u64;
            for listing in page.listings {
                if let Some(modified) = modification_timestamp(&listing)
                    && stats
                        .latest_modification
                        .is_none_or(|latest| modified > latest)
                {
                    stats.latest_modification = Some(modified);
                }
                sink.send(listing)
                    .await
                    .map_err(|_closed| ResoError::SinkClosed)?;
                stats.listings += 1;
            }
            if let Some(link) = page.next_page_url {
                self.check_same_origin(&link)?;
                next = Some(link);
            }
        }
        info!(
            pages = stats.pages,
            listings = stats.listings,
            skipped = stats.skipped,
            retries = stats.retries,
            "the RESO pull finished"
        );
        Ok(stats)
    }

    /// Refuses a next link on another scheme, host or port than the service root.
    fn check_same_origin(&self, link: &str) -> Result<(), ResoError> {
        let same = Url::parse(link).is_ok_and(|url| {
            url.scheme() == self.base.scheme()
                && url.host_str() == self.base.host_str()
                && url.port_or_known_default() == self.base.port_or_known_default()
        });
        if same {
            Ok(())
        } else {
            Err(ResoError::ForeignNextLink {
                url: link.to_owned(),
            })
        }
    }

    /// One GET with retries; returns the outcome and how many retries it took.
    async fn fetch_with_retries(&self, url: &str) -> (Fetched, u64) {
        let mut retries = 0u64;
        let mut attempt = 0u32;
        loop {
            let (retry_after, failure) = match self.fetch_once(url).await {
                Attempt::Done(fetched) => return (fetched, retries),
                Attempt::Retry { retry_after, error } => (retry_after, error),
            };
            if attempt >= self.config.max_retries {
                return (Fetched::Failed(failure), retries);
            }
            let wait = retry_after
                .unwrap_or_else(|| exponential_backoff(self.config.initial_backoff, attempt))
                .min(self.config.max_backoff);
            warn!(url = %url, error = %failure, wait_ms = wait.as_millis() as u64, "the RESO request failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
            retries += 1;
        }
    }

    async fn fetch_once(&self, url: &str) -> Attempt {
        let response = self
            .http
            .get(url)
            .bearer_auth(self.config.token.trim())
            .header(ACCEPT, "application/json")
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Retry {
                    retry_after: None,
                    error: ResoError::Transport {
                        url: url.to_owned(),
                        detail: transport_detail(&error),
                    },
                };
            }
        };
        let status = response.status();
        // A date already past means the server would take the request now.
        let retry_after =
            parse_retry_after(response.headers().get(RETRY_AFTER)).map(|asked| match asked {
                RetryAfter::Wait(pause) => pause,
                RetryAfter::DatePassed => Duration::ZERO,
            });
        if status.is_success() {
            return match response.bytes().await {
                // JSON is UTF-8 by definition (RFC 8259); stray bytes become U+FFFD, never a panic.
                Ok(bytes) => {
                    Attempt::Done(Fetched::Body(String::from_utf8_lossy(&bytes).into_owned()))
                }
                Err(error) => Attempt::Retry {
                    retry_after: None,
                    error: ResoError::Transport {
                        url: url.to_owned(),
                        detail: transport_detail(&error),
                    },
                },
            };
        }
        let detail = response
            .text()
            .await
            .map(|body| body.chars().take(300).collect::<String>())
            .unwrap_or_default();
        let error = if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            ResoError::Unauthorized {
                status: status.as_u16(),
                url: url.to_owned(),
            }
        } else {
            ResoError::Http {
                status: status.as_u16(),
                url: url.to_owned(),
                detail: detail.trim().to_owned(),
            }
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Attempt::Retry { retry_after, error }
        } else {
            Attempt::Done(Fetched::Failed(error))
        }
    }
}

enum Attempt {
    Done(Fetched),
    Retry {
        retry_after: Option<Duration>,
        error: ResoError,
    },
}

/// The `ModificationTimestamp` a listing carries in `extra`, if it is an RFC 3339 time.
fn modification_timestamp(listing: &RawListing) -> Option<DateTime<Utc>> {
    let text = listing.extra.get("modification_timestamp")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Percent-encodes an OData query option value. Spaces become `%20`, not `+`: OData servers read
/// `+` literally in `$filter` (it is the sign of a time-zone offset).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~'(),:$".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A transport error with its causes (reqwest's own message hides whether it was a timeout).
fn transport_detail(error: &reqwest::Error) -> String {
    let mut detail = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(inner) = cause {
        detail.push_str(": ");
        detail.push_str(&inner.to_string());
        cause = inner.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config() -> ResoConfig {
        ResoConfig {
            base_url: "https://api.mls.example/odata/".into(),
            token: "t0k3n".into(),
            ..ResoConfig::default()
        }
    }

    #[test]
    fn the_first_page_asks_for_changes_since_the_last_pull() {
        let client = ResoClient::new(ResoConfig {
            filter: Some("StandardStatus eq 'Active'".into()),
            select: vec!["ListingKey".into(), "ListPrice".into()],
            page_size: NonZeroU32::new(50).unwrap(),
            ..config()
        })
        .unwrap();
        let since = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(
            client.first_page_url(Some(since)),
            "https://api.mls.example/odata/Property?$top=50\
             &$filter=(StandardStatus%20eq%20'Active')%20and%20ModificationTimestamp%20ge%202024-05-01T12:00:00Z\
             &$orderby=ModificationTimestamp%20asc&$select=ListingKey,ListPrice"
        );
        let everything = ResoClient::new(ResoConfig {
            order_by: String::new(),
            ..config()
        })
        .unwrap();
        assert_eq!(
            everything.first_page_url(None),
            "https://api.mls.example/odata/Property?$top=200"
        );
    }

    #[test]
    fn config_is_checked_and_the_token_never_printed() {
        let message = |config: ResoConfig| ResoClient::new(config).err().unwrap().to_string();
        assert!(
            message(ResoConfig {
                token: " ".into(),
                ..config()
            })
            .contains("token is empty")
        );
        assert!(
            message(ResoConfig {
                base_url: "ftp://x".into(),
                ..config()
            })
            .contains("http(s)")
        );
        assert!(
            message(ResoConfig {
                base_url: "odata".into(),
                ..config()
            })
            .contains("absolute")
        );
        assert!(
            message(ResoConfig {
                resource: "Property?$x".into(),
                ..config()
            })
            .contains("resource")
        );
        assert!(!format!("{:?}", config()).contains("t0k3n"));
        let parsed: ResoConfig = serde_json::from_str(
            r#"{"base_url": "https://m.example/odata", "token": "x", "request_timeout": "15s"}"#,
        )
        .unwrap();
        assert_eq!(parsed.request_timeout, Duration::from_secs(15));
        assert_eq!(parsed.resource, "Property");
        assert!(serde_json::from_str::<ResoConfig>(r#"{"tokn": "x"}"#).is_err());
    }

    #[test]
    fn next_links_stay_on_the_feed_host() {
        let client = ResoClient::new(config()).unwrap();
        assert!(
            client
                .check_same_origin("https://api.mls.example/odata/Property?$skip=5")
                .is_ok()
        );
        assert!(
            client
                .check_same_origin("https://api.mls.example:443/x")
                .is_ok()
        );
        for foreign in [
            "http://api.mls.example/x",
            "https://evil.example/x",
            "https://api.mls.example:8443/x",
            "not a url",
        ] {
            assert!(
                matches!(
                    client.check_same_origin(foreign),
                    Err(ResoError::ForeignNextLink { .. })
                ),
                "{foreign}"
            );
        }
    }

    #[test]
    fn errors_tell_whether_to_retry() {
        let http = |status| ResoError::Http {
            status,
            url: "u".into(),
            detail: String::new(),
        };
        assert!(http(503).retryable());
        assert!(http(429).retryable());
        assert!(!http(400).retryable());
        assert!(
            !ResoError::Unauthorized {
                status: 401,
                url: "u".into()
            }
            .retryable()
        );
        assert_eq!(ResoError::SinkClosed.class(), ErrorClass::Internal);
        assert_eq!(http(500).class(), ErrorClass::External);
    }
}
