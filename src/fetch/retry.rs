//! The one place that decides whether a failed request is worth repeating, and after how long.
//!
//! Timeouts, refused or dropped connections (also mid-body), 429 and 5xx are retried with exponential backoff and
//! jitter, and a `Retry-After` from the server is honoured (capped); other 4xx, TLS, body-size, redirect, robots.txt,
//! refused-address and time-budget errors are final. Running out of file descriptors is waited out
//! ([`short_of_files`]), not counted as an attempt.

use std::time::Duration;

use super::FetchError;

/// The longest `Retry-After` we are willing to sleep for inside one run; a longer one fails the URL for now.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long to wait before attempt `attempt + 1` (attempt counts from 0), or `None` when the error is final.
/// `jitter` is in `[0, 1)` and spreads retries from many clients apart.
pub fn delay(error: &FetchError, attempt: u32, base: Duration, jitter: f64) -> Option<Duration> {
    let backoff = base.saturating_mul(1 << attempt.min(16)).mul_f64(1.0 + jitter);
    match error {
        // A reset mid-body is a dropped connection too.
        FetchError::Timeout { .. }
        | FetchError::Connect { .. }
        | FetchError::Dropped { .. }
        | FetchError::Body { .. } => Some(backoff),
        FetchError::Status {
            status, retry_after, ..
        } if *status == 429 || (500..600).contains(status) => match retry_after {
            Some(after) if *after > MAX_RETRY_AFTER => None,
            Some(after) => Some(*after),
            None => Some(backoff),
        },
        FetchError::Status { .. }
        | FetchError::TooLarge { .. }
        | FetchError::TooManyRedirects { .. }
        | FetchError::RedirectLoop { .. }
        | FetchError::BadRedirect { .. }
        | FetchError::Disallowed { .. }
        | FetchError::Budget { .. }
        | FetchError::Proxy { .. }
        | FetchError::Tls { .. }
        | FetchError::Refused { .. }
        | FetchError::Request { .. } => None,
    }
}

/// How long a request waits for a file descriptor to free up before it connects again.
pub const FILES_WAIT: Duration = Duration::from_millis(50);

/// When `error` is this process running out of open files ([`crate::out_of_files`]: ours, not the site's), how
/// long to wait before asking again; such a wait is backpressure, not an attempt, and uses up no retry. `None` for
/// every other error.
pub fn short_of_files(error: &FetchError, jitter: f64) -> Option<Duration> {
    crate::out_of_files(error).then(|| FILES_WAIT.mul_f64(1.0 + jitter))
}

/// Parses a `Retry-After` header: delta-seconds, or an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn status(status: u16, retry_after: Option<Duration>) -> FetchError {
        FetchError::Status {
            url: Url::parse("http://127.0.0.1/").unwrap(),
            status,
            retry_after,
        }
    }

    #[test]
    fn server_errors_and_429_are_retried_other_4xx_are_not() {
        let base = Duration::from_millis(100);
        assert_eq!(delay(&status(503, None), 0, base, 0.0), Some(base));
        assert_eq!(
            delay(&status(500, None), 2, base, 0.5),
            Some(Duration::from_millis(600))
        );
        assert_eq!(
            delay(&status(429, Some(Duration::from_secs(3))), 0, base, 0.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(delay(&status(429, Some(Duration::from_secs(3600))), 0, base, 0.0), None);
        assert_eq!(delay(&status(404, None), 0, base, 0.0), None);
        assert_eq!(delay(&status(403, None), 0, base, 0.0), None);
    }

    #[test]
    fn timeouts_are_retried_robots_budget_and_redirect_errors_are_not() {
        let url = Url::parse("http://127.0.0.1/a").unwrap();
        let base = Duration::from_millis(100);
        let timeout = FetchError::Timeout {
            url: url.clone(),
            timeout: Duration::from_secs(2),
        };
        assert_eq!(delay(&timeout, 1, base, 0.0), Some(Duration::from_millis(200)));
        let finals = [
            FetchError::Disallowed { url: url.clone() },
            FetchError::Budget {
                url: url.clone(),
                budget: Duration::from_secs(300),
            },
            FetchError::RedirectLoop {
                url: url.clone(),
                to: url.to_string(),
            },
            FetchError::TooLarge { url, limit: 10 },
        ];
        for error in finals {
            assert_eq!(delay(&error, 0, base, 0.0), None, "{error}");
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-12-16T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 16 Dec 2015 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
