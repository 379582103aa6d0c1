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
}

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
        let data =
            jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding_key, &self.validation)
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
        Ok(Principal {
            subject: data.claims.sub,
            role: data.claims.role,
        })
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
