//! The `[api]` section of the configuration (environment: `AIQ__API__*`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::{Error, Result};

/// The secret used when none is configured. It is public (it is in this source file), so `serve`
/// refuses it on any listen address other than loopback.
pub const DEV_JWT_SECRET: &str = "aiqleads-dev-secret-NOT-FOR-PRODUCTION";

/// Settings of the marketplace API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// How long a cart reservation holds a lead.
    #[serde(with = "humantime_serde")]
    pub reservation_ttl: Duration,
    /// How many agents may buy one shared (non-exclusive) lead.
    pub shared_max_buyers: u32,
    /// Listing kinds whose leads are exclusive (sold once, held by one agent at a time). A seller is
    /// worth one agent's undivided pursuit; rentals are shared by default.
    pub exclusive_kinds: Vec<String>,
    /// Where reservations live: `memory://` (in-process, the embedded default) or `redis://host:port`.
    pub reservations_url: String,
    /// Key prefix in Redis (lets several deployments or tests share one server).
    pub redis_key_prefix: String,
    pub jwt: JwtConfig,
    /// Static API keys (sent as `X-API-Key`), each with its principal.
    pub api_keys: Vec<ApiKey>,
    pub rate_limits: RateLimits,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Database connections of the API's pool.
    pub max_connections: u32,
    /// Marketplace events buffered between requests and the publisher; beyond this they are dropped
    /// (and counted), so publishing never slows or fails a request.
    pub event_queue_capacity: usize,
    /// Keep every lead's public detail in memory and answer lead detail from it (see the
    /// `catalog` module); `false` reads each detail from the database.
    pub catalog: bool,
    /// How often the catalogue reads what was written since its last refresh.
    #[serde(with = "humantime_serde")]
    pub catalog_refresh: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// HS256 shared secret. The default is a development secret (see `DEV_JWT_SECRET`).
    pub secret: String,
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated when checking expiry, in seconds.
    pub leeway_seconds: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub key: String,
    pub subject: String,
    pub role: Role,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Sustained requests per second from one client IP address, and the burst above it.
    pub per_ip_per_second: u32,
    pub per_ip_burst: u32,
    /// Sustained requests per second of one authenticated principal, and the burst above it.
    pub per_principal_per_second: u32,
    pub per_principal_burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: "127.0.0.1:8080".into(),
            reservation_ttl: Duration::from_secs(15 * 60),
            shared_max_buyers: 5,
            exclusive_kinds: vec!["sale".into()],
            reservations_url: "memory://".into(),
            redis_key_prefix: "aiq:".into(),
            jwt: JwtConfig::default(),
            api_keys: Vec::new(),
            rate_limits: RateLimits::default(),
            body_limit_bytes: 16 * 1024,
            max_connections: 8,
            event_queue_capacity: 10_000,
            catalog: true,
            catalog_refresh: Duration::from_millis(250),
        }
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            secret: DEV_JWT_SECRET.into(),
            issuer: "aiqleads".into(),
            audience: "aiqleads-api".into(),
            leeway_seconds: 5,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_ip_per_second: 200,
            per_ip_burst: 400,
            per_principal_per_second: 50,
            per_principal_burst: 100,
        }
    }
}

impl ApiConfig {
    /// Reads the raw `[api]` table the jobs' configuration loader keeps.
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> Result<ApiConfig> {
        let config: ApiConfig = serde_json::from_value(serde_json::Value::Object(map.clone()))
            .map_err(|e| Error::Config(format!("[api]: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Cross-field rules.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(format!("[api] {what}")));
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(&format!("listen `{}` is not an address:port", self.listen));
        }
        if self.reservation_ttl < Duration::from_millis(10) {
            return bad("reservation_ttl must be at least 10ms");
        }
        if self.shared_max_buyers == 0 {
            return bad("shared_max_buyers must be at least 1");
        }
        if !(self.reservations_url.starts_with("memory://")
            || self.reservations_url.starts_with("redis://"))
        {
            return bad("reservations_url must start with memory:// or redis://");
        }
        if self.jwt.secret.len() < 16 {
            return bad("jwt.secret must be at least 16 characters");
        }
        let limits = &self.rate_limits;
        if [
            limits.per_ip_per_second,
            limits.per_ip_burst,
            limits.per_principal_per_second,
            limits.per_principal_burst,
        ]
        .contains(&0)
        {
            return bad("rate limits must be at least 1");
        }
        if self.body_limit_bytes < 256
            || self.event_queue_capacity == 0
            || self.max_connections == 0
        {
            return bad(
                "body_limit_bytes must be at least 256, event_queue_capacity and max_connections at least 1",
            );
        }
        if self.catalog_refresh < Duration::from_millis(10) {
            return bad("catalog_refresh must be at least 10ms");
        }
        Ok(())
    }

    /// `serve` refuses the public development secret unless it listens on loopback only.
    pub fn check_secret_for_listen(&self) -> Result<()> {
        let addr: SocketAddr = self.listen.parse().map_err(|_| {
            Error::Config(format!(
                "[api] listen `{}` is not an address:port",
                self.listen
            ))
        })?;
        if self.jwt.secret == DEV_JWT_SECRET && !addr.ip().is_loopback() {
            return Err(Error::Config(format!(
                "[api] listen {addr} is not loopback but jwt.secret is the public development default: set api.jwt.secret (AIQ__API__JWT__SECRET)"
            )));
        }
        Ok(())
    }

    pub(crate) fn is_exclusive_kind(&self, kind: Option<&str>) -> bool {
        kind.is_some_and(|k| self.exclusive_kinds.iter().any(|e| e == k))
    }
}
