//! Who is calling: a JWT bearer token (HS256; issuer, audience and expiry checked) or a configured
//! API key, and the per-principal rate limit applied once the principal is known.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ApiConfig;
use crate::state::AppState;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A real-estate agent: searches, reserves, buys.
    Agent,
    /// An operator: also tops up credits.
    Admin,
}

/// Claims of our tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
}

impl Principal {
    pub fn require_admin(&self) -> Result<()> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(Error::Forbidden("this needs the admin role".into()))
        }
    }
}

/// Mints a token for `subject` with `role`, valid for `ttl` (the `aiqleads token` command).
pub fn mint_token(
    config: &ApiConfig,
    subject: &str,
    role: Role,
    ttl: std::time::Duration,
) -> Result<String> {
    if subject.is_empty() || subject.len() > 128 {
        return Err(Error::BadRequest(
            "the subject must be 1 to 128 characters".into(),
        ));
    }
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        iss: config.jwt.issuer.clone(),
        aud: config.jwt.audience.clone(),
        iat: now,
        exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(config.jwt.secret.as_bytes()),
    )
    .map_err(|e| Error::Internal(format!("signing a token: {e}")))
}

/// Validates tokens and API keys against one configuration.
pub(crate) struct Authenticator {
    decoding_key: DecodingKey,
    validation: Validation,
    api_keys: Vec<crate::config::ApiKey>,
    /// Tokens whose signature and claims were verified, with their expiry (seconds since the
    /// epoch, leeway included). A hit skips the HMAC, the base64 and the JSON of a token that is
    /// byte for byte one already accepted; expiry is still checked on every request.
    verified: moka::sync::Cache<Box<str>, (Principal, i64)>,
}

/// Most verified tokens remembered, and for how long at most.
const VERIFIED_TOKENS: u64 = 100_000;
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl Authenticator {
    pub(crate) fn new(config: &ApiConfig) -> Authenticator {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.jwt.issuer.as_str()]);
        validation.set_audience(&[config.jwt.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.jwt.leeway_seconds;
        Authenticator {
            decoding_key: DecodingKey::from_secret(config.jwt.secret.as_bytes()),
            validation,
            api_keys: config.api_keys.clone(),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(VERIFIED_FOR)
                .build(),
        }
    }

    pub(crate) fn authenticate(&self, request: &HttpRequest) -> Result<Principal> {
        if let Some(key) = request.headers().get("x-api-key") {
            let key = key.as_bytes();
            // Compare every configured key in full, so timing does not reveal a matching prefix.
            let mut found = None;
            for candidate in &self.api_keys {
                if constant_time_eq(candidate.key.as_bytes(), key) {
                    found = Some(Principal {
                        subject: candidate.subject.clone(),
                        role: candidate.role,
                    });
                }
            }
            return found.ok_or_else(|| Error::Unauthorized("unknown API key".into()));
        }
        let value = request
            .headers()
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                Error::Unauthorized(
                    "send `Authorization: Bearer <token>` or `X-API-Key: <key>`".into(),
                )
            })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Error::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        let token = token.trim();
        if let Some((principal, valid_until)) = self.verified.get(token)
            && Utc::now().timestamp() <= valid_until
        {
            return Ok(principal);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => "the token's signature is not valid",
                    ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
                    ErrorKind::InvalidAudience => "the token's audience is not accepted",
                    ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                    _ => "the token is malformed",
                };
                Error::Unauthorized(why.into())
            })?;
        if data.claims.sub.is_empty() {
            return Err(Error::Unauthorized("the token has an empty subject".into()));
        }
        let principal = Principal {
            subject: data.claims.sub,
            role: data.claims.role,
        };
        let valid_until = data
            .claims
            .exp
            .saturating_add(i64::try_from(self.validation.leeway).unwrap_or(i64::MAX));
        self.verified
            .insert(token.into(), (principal.clone(), valid_until));
        Ok(principal)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for Principal {
    type Error = Error;
    type Future = Ready<Result<Principal>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = (|| {
            let state = request
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| Error::Internal("application state is missing".into()))?;
            let principal = state.authenticator.authenticate(request)?;
            state.limits.check_principal(&principal.subject)?;
            Ok(principal)
        })();
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn bearer(token: &str) -> HttpRequest {
        actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_http_request()
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let mut config = ApiConfig::default();
        config.jwt.secret = "a-secret-of-the-unit-tests-0123456789".into();
        config.jwt.leeway_seconds = 0;
        let authenticator = Authenticator::new(&config);
        let token = mint_token(&config, "agent-7", Role::Agent, Duration::from_secs(1)).unwrap();
        for _ in 0..2 {
            let principal = authenticator.authenticate(&bearer(&token)).unwrap();
            assert_eq!(principal.subject, "agent-7");
        }
        assert!(authenticator.verified.get(token.as_str()).is_some());
        // `exp` is whole seconds: two seconds on, the token is past it whatever the start.
        std::thread::sleep(Duration::from_millis(2_100));
        let error = authenticator.authenticate(&bearer(&token)).unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
    }

    #[test]
    fn a_token_is_remembered_only_once_verified() {
        let mut config = ApiConfig::default();
        config.jwt.secret = "a-secret-of-the-unit-tests-0123456789".into();
        let authenticator = Authenticator::new(&config);
        let mut other = config.clone();
        other.jwt.secret = "another-secret-of-the-unit-tests-987654".into();
        let forged = mint_token(&other, "agent-7", Role::Admin, Duration::from_secs(60)).unwrap();
        for _ in 0..2 {
            assert!(authenticator.authenticate(&bearer(&forged)).is_err());
        }
        assert!(authenticator.verified.get(forged.as_str()).is_none());
    }
}
