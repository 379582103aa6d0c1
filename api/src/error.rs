//! One error enum for the crate, and the one JSON shape every 4xx and 5xx answer has
//! (`application/problem+json`: `type`, `title`, `status`, `detail`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Errors of the API crate. `Display` is written for the person reading the answer or the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration that cannot work (at start-up).
    #[error("configuration: {0}")]
    Config(String),
    /// The client sent something we cannot accept (400).
    #[error("{0}")]
    BadRequest(String),
    /// Syntactically fine but semantically refused (422).
    #[error("{0}")]
    Unprocessable(String),
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A state conflict: held by someone else, sold out, already owned (409).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InsufficientCredits(String),
    #[error("request body too large: {0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// A dependency (database, Redis) is not answering: the client may retry (503).
    #[error("{what} is unavailable: {detail}")]
    Unavailable { what: &'static str, detail: String },
    /// A bug or an unexpected state on our side (500).
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the same request may succeed later without changing it.
    pub fn retryable(&self) -> bool {
        matches!(self, Error::RateLimited { .. } | Error::Unavailable { .. })
    }

    pub(crate) fn database(error: sqlx::Error) -> Error {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Error::Unavailable {
                what: "the database",
                detail: error.to_string(),
            },
            other => Error::Internal(format!("database: {other}")),
        }
    }

    pub(crate) fn redis(error: redis::RedisError) -> Error {
        if error.is_io_error()
            || error.is_connection_refusal()
            || error.is_timeout()
            || error.is_connection_dropped()
        {
            Error::Unavailable {
                what: "the reservations store (Redis)",
                detail: error.to_string(),
            }
        } else {
            Error::Internal(format!("redis: {error}"))
        }
    }

    pub(crate) fn status_code_u16(&self) -> u16 {
        ResponseError::status_code(self).as_u16()
    }

    /// The problem document this error answers with.
    pub(crate) fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status_code_u16(),
            detail: self.to_string(),
        }
    }

    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Error::Config(_) | Error::Internal(_) => ("internal", "Internal error"),
            Error::BadRequest(_) => ("bad-request", "Bad request"),
            Error::Unprocessable(_) => ("unprocessable", "Unprocessable request"),
            Error::Unauthorized(_) => ("unauthorized", "Authentication required"),
            Error::Forbidden(_) => ("forbidden", "Forbidden"),
            Error::NotFound(_) => ("not-found", "Not found"),
            Error::Conflict(_) => ("conflict", "Conflict"),
            Error::InsufficientCredits(_) => ("insufficient-credits", "Insufficient credits"),
            Error::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            Error::RateLimited { .. } => ("rate-limited", "Too many requests"),
            Error::Unavailable { .. } => ("unavailable", "Service unavailable"),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::database(error)
    }
}

impl From<redis::RedisError> for Error {
    fn from(error: redis::RedisError) -> Self {
        Error::redis(error)
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the error class, e.g. `/problems/rate-limited`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

pub(crate) fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
) -> HttpResponse {
    let problem = Problem {
        problem_type: format!("/problems/{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .json(problem)
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::InsufficientCredits(_) => StatusCode::PAYMENT_REQUIRED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (slug, title) = self.kind();
        if status.is_server_error() {
            // The detail of an internal error may name tables or queries: log it, answer generically.
            tracing::error!(error = %self, "request failed");
        }
        let detail = match self {
            Error::Internal(_) | Error::Config(_) => {
                "an unexpected error happened on our side; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = problem_response(status, slug, title, detail);
        let retry_after = match self {
            Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Error::Unavailable { .. } => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds.to_string())
                    .unwrap_or(HeaderValue::from_static("1")),
            );
        }
        response
    }
}
