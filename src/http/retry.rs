//! How long to wait before trying again: capped exponential backoff with full jitter, and the
//! vendor's own `Retry-After` (seconds or an HTTP date).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// The wait before retry number `attempt` (0-based): a random time up to `base × 2^attempt`,
/// capped, so that many exporters retrying one vendor do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// The wait a `Retry-After` header asks for, relative to `now`; a date in the past means now.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 22 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(
            retry_after(&headers("13"), now),
            Some(Duration::from_secs(13))
        );
        assert_eq!(
            retry_after(&headers("Sun, 22 Nov 2026 10:00:42 GMT"), now),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            retry_after(&headers("Sun, 22 Nov 2026 09:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        for attempt in 0..20 {
            let wait = backoff(attempt);
            assert!(wait <= BACKOFF_CAP, "attempt {attempt}: {wait:?}");
            assert!(
                wait >= (BACKOFF_BASE * 2u32.saturating_pow(attempt.min(6))).min(BACKOFF_CAP) / 2
            );
        }
    }
}
