//! The connectors' error type: what went wrong with a page, whether it is worth retrying, and a stable
//! code for the dead-letter destination.

use std::fmt;

/// Result alias used across the connectors crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a page that was fetched correctly still holds no listing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NoListingReason {
    /// The posting ran its course ("This posting has expired.").
    Expired,
    /// The author removed the posting.
    Deleted,
    /// Readers flagged the posting and the site took it down.
    Flagged,
    /// The site refused to serve us the page (rate limit or bot block); the listing may well exist.
    Blocked,
    /// A page of the expected kind with nothing in it, such as a search with no results.
    Empty,
}

impl NoListingReason {
    /// Stable snake_case name, part of [`Error::code`].
    pub fn as_str(self) -> &'static str {
        match self {
            NoListingReason::Expired => "expired",
            NoListingReason::Deleted => "deleted",
            NoListingReason::Flagged => "flagged",
            NoListingReason::Blocked => "blocked",
            NoListingReason::Empty => "empty",
        }
    }

    fn sentence(self) -> &'static str {
        match self {
            NoListingReason::Expired => "this posting has expired",
            NoListingReason::Deleted => "this posting was deleted by its author",
            NoListingReason::Flagged => "this posting was flagged for removal",
            NoListingReason::Blocked => "the site blocked the request",
            NoListingReason::Empty => "the page holds no listings",
        }
    }
}

impl fmt::Display for NoListingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentence())
    }
}

/// Whose problem an error is: the data we were given, a service outside us, or our own code/caller.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ErrorClass {
    /// The page itself cannot yield a listing; retrying the same page will not help.
    BadData,
    /// Something outside us (the site) refused or failed; a later retry may succeed.
    External,
    /// The caller passed something invalid; fix the code, not the data.
    Internal,
}

/// Everything a connector can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The page was served but carries no listing; `detail` says what the page showed.
    #[error("no listing: {reason}{}", detail_suffix(detail))]
    NoListing {
        reason: NoListingReason,
        detail: String,
    },

    /// Not a page of the expected site, or markup this parser does not understand.
    #[error("unrecognised page: {detail}")]
    Unrecognised { detail: String },

    /// The page URL handed to the parser is not an absolute URL, so links cannot be resolved.
    #[error("invalid page URL `{url}`: {detail}")]
    InvalidUrl { url: String, detail: String },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl Error {
    /// Stable snake_case code, used as the dead-letter reason code and as a metric label.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoListing { reason, .. } => match reason {
                NoListingReason::Expired => "no_listing_expired",
                NoListingReason::Deleted => "no_listing_deleted",
                NoListingReason::Flagged => "no_listing_flagged",
                NoListingReason::Blocked => "no_listing_blocked",
                NoListingReason::Empty => "no_listing_empty",
            },
            Error::Unrecognised { .. } => "unrecognised_page",
            Error::InvalidUrl { .. } => "invalid_url",
        }
    }

    /// Whether fetching the same page again later may succeed. Only a block is temporary: back off
    /// and retry; an expired or deleted posting stays gone.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::NoListing {
                reason: NoListingReason::Blocked,
                ..
            }
        )
    }

    /// Whose problem this is; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::NoListing {
                reason: NoListingReason::Blocked,
                ..
            } => ErrorClass::External,
            Error::NoListing { .. } | Error::Unrecognised { .. } => ErrorClass::BadData,
            Error::InvalidUrl { .. } => ErrorClass::Internal,
        }
    }

    /// The reason when this is [`Error::NoListing`].
    pub fn no_listing_reason(&self) -> Option<NoListingReason> {
        match self {
            Error::NoListing { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    pub(crate) fn no_listing(reason: NoListingReason, detail: impl Into<String>) -> Self {
        Error::NoListing {
            reason,
            detail: detail.into(),
        }
    }

    pub(crate) fn unrecognised(detail: impl Into<String>) -> Self {
        Error::Unrecognised {
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_readable_line() {
        let expired = Error::no_listing(NoListingReason::Expired, "");
        assert_eq!(expired.to_string(), "no listing: this posting has expired");
        let blocked = Error::no_listing(NoListingReason::Blocked, "page title \"blocked\"");
        assert_eq!(
            blocked.to_string(),
            "no listing: the site blocked the request (page title \"blocked\")"
        );
        let unknown = Error::unrecognised("no Craigslist markers");
        assert_eq!(
            unknown.to_string(),
            "unrecognised page: no Craigslist markers"
        );
        for error in [expired, blocked, unknown] {
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn only_blocked_is_retryable_and_external() {
        let reasons = [
            NoListingReason::Expired,
            NoListingReason::Deleted,
            NoListingReason::Flagged,
            NoListingReason::Blocked,
            NoListingReason::Empty,
        ];
        for reason in reasons {
            let error = Error::no_listing(reason, "");
            assert_eq!(
                error.retryable(),
                reason == NoListingReason::Blocked,
                "{reason:?}"
            );
            assert_eq!(error.code(), format!("no_listing_{}", reason.as_str()));
            assert_eq!(error.no_listing_reason(), Some(reason));
        }
        assert_eq!(
            Error::no_listing(NoListingReason::Blocked, "").class(),
            ErrorClass::External
        );
        assert_eq!(Error::unrecognised("x").class(), ErrorClass::BadData);
        assert!(!Error::unrecognised("x").retryable());
        let bad_url = Error::InvalidUrl {
            url: "x".into(),
            detail: "relative URL without a base".into(),
        };
        assert_eq!(bad_url.code(), "invalid_url");
        assert_eq!(bad_url.class(), ErrorClass::Internal);
    }
}
