//! Retry timing shared by the crawler and the RESO client: doubling backoff with jitter, and what a
//! server's `Retry-After` header asks for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;

/// Doubling backoff from `initial` (`initial * 2^attempt`, the exponent capped at 16), plus up to
/// 25% jitter so many workers or pullers spread their retries apart. The jitter comes from the
/// clock's nanoseconds: good enough to spread, and no RNG dependency. Saturates instead of
/// overflowing, whatever `initial` a config gives.
pub(crate) fn exponential_backoff(initial: Duration, attempt: u32) -> Duration {
    let base = initial.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let jitter_fraction = f64::from(Utc::now().timestamp_subsec_nanos() % 1000) / 4000.0;
    base.saturating_add(base.mul_f64(jitter_fraction))
}

/// What a readable `Retry-After` header asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RetryAfter {
    /// Wait this long: the delay-seconds, or the time left until the HTTP date.
    Wait(Duration),
    /// An HTTP date that has already passed (or our clock is ahead of the server's). Callers
    /// choose: retry now, or fall back to their own backoff.
    DatePassed,
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 section 10.2.3); `None` when the
/// header is missing or unreadable.
pub(crate) fn parse_retry_after(value: Option<&HeaderValue>) -> Option<RetryAfter> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(RetryAfter::Wait(Duration::from_secs(seconds)));
    }
    let when = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some(match (when - Utc::now()).to_std() {
        Ok(left) => RetryAfter::Wait(left),
        Err(_) => RetryAfter::DatePassed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).expect("test header is valid")
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(
            parse_retry_after(Some(&header("7"))),
            Some(RetryAfter::Wait(Duration::from_secs(7)))
        );
        assert_eq!(
            parse_retry_after(Some(&header(" 0 "))),
            Some(RetryAfter::Wait(Duration::ZERO))
        );
        let future = (Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        match parse_retry_after(Some(&header(&future))) {
            Some(RetryAfter::Wait(left)) => {
                assert!(left > Duration::from_secs(100) && left <= Duration::from_secs(120));
            }
            other => panic!("a date two minutes ahead gave {other:?}"),
        }
        assert_eq!(
            parse_retry_after(Some(&header("Wed, 21 Oct 2015 07:28:00 GMT"))),
            Some(RetryAfter::DatePassed)
        );
    }

    #[test]
    fn unreadable_retry_after_is_none() {
        assert_eq!(parse_retry_after(None), None);
        for garbage in ["soon", "", "-5", "1.5", "21 Octember 2015"] {
            assert_eq!(parse_retry_after(Some(&header(garbage))), None, "{garbage}");
        }
        let not_text = HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes are a header");
        assert_eq!(parse_retry_after(Some(&not_text)), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let initial = Duration::from_millis(100);
        for attempt in 0..4 {
            let wait = exponential_backoff(initial, attempt);
            let base = initial * 2u32.pow(attempt);
            assert!(
                wait >= base && wait <= base + base / 4,
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn backoff_stops_doubling_and_never_overflows() {
        let initial = Duration::from_millis(1);
        let capped = initial * 2u32.pow(16);
        let wait = exponential_backoff(initial, u32::MAX);
        assert!(wait >= capped && wait <= capped + capped / 4, "{wait:?}");
        assert!(exponential_backoff(Duration::from_secs(1), u32::MAX) > Duration::ZERO);
        assert_eq!(exponential_backoff(Duration::MAX, 3), Duration::MAX);
        assert_eq!(exponential_backoff(Duration::ZERO, 5), Duration::ZERO);
    }
}
