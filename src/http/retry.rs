//! Whether and when to try a request again: [`decide`], a pure function of what came back, the
//! attempts so far, the limits and the time left; capped exponential backoff with jitter; and
//! the vendor's own `Retry-After` (seconds or an HTTP date).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// What one exchange came to, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A timeout or a connection error: worth another try.
    TransportFailure,
    /// A failure another try would repeat (a body over the size limit, …).
    Unretryable,
    /// An answer: its status, the wait its `Retry-After` asks for, and whether the vendor's
    /// throttle hook recognised its body as a throttle.
    Answer {
        status: u16,
        retry_after: Option<Duration>,
        throttle_body: bool,
    },
}

impl Outcome {
    /// The vendor asks us to slow down: a 429, a 503 with `Retry-After`, or a throttle body.
    pub fn is_throttle(self) -> bool {
        match self {
            Outcome::Answer {
                status,
                retry_after,
                throttle_body,
            } => status == 429 || (status == 503 && retry_after.is_some()) || throttle_body,
            _ => false,
        }
    }
}

/// What one request has been through so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Transport failures and 5xx answers retried.
    pub failures: u32,
    /// Throttling answers waited out.
    pub throttles: u32,
    /// Whether the token was already refreshed after a 401.
    pub refreshed: bool,
}

/// The limits of one request's retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub max_retries: u32,
    pub max_throttle_waits: u32,
    /// Whether a 401 can be answered with a fresh token (OAuth2 only).
    pub can_refresh: bool,
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A 2xx: hand the response over.
    Deliver,
    /// A 401 with a token that may have been revoked: fetch a new one and send again.
    RefreshToken,
    /// Send again after this wait.
    Retry { wait: Duration },
    /// Give up with this exchange's error.
    Fail,
    /// Give up: throttled, and the wait does not fit in the poll, or the request was
    /// throttled more often than a request may wait out.
    FailThrottled {
        wait: Duration,
        limit: ThrottleLimit,
    },
}

/// Which limit a throttled request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleLimit {
    /// The wait asked for is longer than what is left of the poll.
    PollTimeout,
    /// The request was throttled this many times in a row (`Policy::max_throttle_waits`).
    Waits(u32),
}

/// Decides the next step after an exchange. `remaining` is the time left in the poll: a wait
/// that does not fit fails now rather than after the poll's deadline. `backoff` gives the wait
/// before retry `n` (0-based), so tests can make it deterministic.
pub fn decide(
    outcome: Outcome,
    attempts: &mut Attempts,
    policy: &Policy,
    remaining: Duration,
    backoff: impl Fn(u32) -> Duration,
) -> Step {
    let retry_failure = |attempts: &mut Attempts| {
        if attempts.failures >= policy.max_retries {
            return Step::Fail;
        }
        attempts.failures += 1;
        let wait = backoff(attempts.failures - 1);
        if wait >= remaining {
            Step::Fail
        } else {
            Step::Retry { wait }
        }
    };
    let Outcome::Answer {
        status,
        retry_after,
        ..
    } = outcome
    else {
        return match outcome {
            Outcome::TransportFailure => retry_failure(attempts),
            _ => Step::Fail,
        };
    };
    if (200..300).contains(&status) {
        return Step::Deliver;
    }
    if status == 401 && policy.can_refresh && !attempts.refreshed {
        attempts.refreshed = true;
        return Step::RefreshToken;
    }
    if outcome.is_throttle() {
        attempts.throttles += 1;
        // Never sooner than the backoff's next step: a `Retry-After` of 0 or a date already
        // past would otherwise send the next request at once, and the one after it too.
        let wait = retry_after
            .unwrap_or_default()
            .max(backoff(attempts.throttles - 1));
        if attempts.throttles > policy.max_throttle_waits {
            let limit = ThrottleLimit::Waits(attempts.throttles);
            return Step::FailThrottled { wait, limit };
        }
        if wait >= remaining {
            let limit = ThrottleLimit::PollTimeout;
            return Step::FailThrottled { wait, limit };
        }
        return Step::Retry { wait };
    }
    if (500..600).contains(&status) {
        return retry_failure(attempts);
    }
    Step::Fail
}

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

    fn answer(status: u16, retry_after: Option<u64>) -> Outcome {
        Outcome::Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            throttle_body: false,
        }
    }

    #[test]
    fn the_retry_decision_follows_status_attempts_retry_after_and_deadline() {
        let secs = Duration::from_secs;
        // Backoff of 1 s, 2 s, 4 s …, so the table's waits are exact.
        let backoff = |n: u32| secs(1 << n);
        let policy = Policy {
            max_retries: 2,
            max_throttle_waits: 3,
            can_refresh: true,
        };
        let fresh = Attempts::default();
        let after = |failures, throttles, refreshed| Attempts {
            failures,
            throttles,
            refreshed,
        };
        let long = secs(3600);
        #[rustfmt::skip]
        let table: &[(Outcome, Attempts, Duration, Step, Attempts)] = &[
            // outcome, attempts before, time left → step, attempts after
            (answer(200, None), fresh, long, Step::Deliver, fresh),
            (answer(204, Some(5)), fresh, long, Step::Deliver, fresh),
            (answer(500, None), fresh, long, Step::Retry { wait: secs(1) }, after(1, 0, false)),
            (answer(503, None), after(1, 0, false), long, Step::Retry { wait: secs(2) }, after(2, 0, false)),
            (answer(502, None), after(2, 0, false), long, Step::Fail, after(2, 0, false)),
            (answer(500, None), fresh, secs(1), Step::Fail, after(1, 0, false)),
            (Outcome::TransportFailure, fresh, long, Step::Retry { wait: secs(1) }, after(1, 0, false)),
            (Outcome::TransportFailure, after(2, 0, false), long, Step::Fail, after(2, 0, false)),
            (Outcome::TransportFailure, fresh, Duration::from_millis(500), Step::Fail, after(1, 0, false)),
            (Outcome::Unretryable, fresh, long, Step::Fail, fresh),
            (answer(404, None), fresh, long, Step::Fail, fresh),
            (answer(400, Some(5)), fresh, long, Step::Fail, fresh),
            // A 429 waits as long as Retry-After asks, if that fits; without it, the backoff.
            (answer(429, Some(30)), fresh, long, Step::Retry { wait: secs(30) }, after(0, 1, false)),
            (answer(429, None), after(0, 1, false), long, Step::Retry { wait: secs(2) }, after(0, 2, false)),
            (answer(429, Some(30)), fresh, secs(30), Step::FailThrottled { wait: secs(30), limit: ThrottleLimit::PollTimeout }, after(0, 1, false)),
            (answer(429, Some(1)), after(0, 3, false), long, Step::FailThrottled { wait: secs(8), limit: ThrottleLimit::Waits(4) }, after(0, 4, false)),
            // A wait of nothing (Retry-After 0, or a date already past) is the backoff's next step.
            (answer(429, Some(0)), fresh, long, Step::Retry { wait: secs(1) }, after(0, 1, false)),
            (answer(429, Some(0)), after(0, 2, false), long, Step::Retry { wait: secs(4) }, after(0, 3, false)),
            (answer(503, Some(0)), after(0, 2, false), secs(3), Step::FailThrottled { wait: secs(4), limit: ThrottleLimit::PollTimeout }, after(0, 3, false)),
            // A wait longer than the backoff is the vendor's.
            (answer(429, Some(3)), after(0, 1, false), long, Step::Retry { wait: secs(3) }, after(0, 2, false)),
            // A 503 is a throttle only with Retry-After; throttles do not use up max_retries.
            (answer(503, Some(7)), after(2, 0, false), long, Step::Retry { wait: secs(7) }, after(2, 1, false)),
            // A 401 refreshes the token once.
            (answer(401, None), fresh, long, Step::RefreshToken, after(0, 0, true)),
            (answer(401, None), after(0, 0, true), long, Step::Fail, after(0, 0, true)),
        ];
        for (i, (outcome, before, remaining, step, expected)) in table.iter().enumerate() {
            let mut attempts = *before;
            let got = decide(*outcome, &mut attempts, &policy, *remaining, backoff);
            assert_eq!(
                (got, attempts),
                (*step, *expected),
                "row {i}: {outcome:?} after {before:?}"
            );
        }
        let static_token = Policy {
            can_refresh: false,
            ..policy
        };
        let mut attempts = fresh;
        assert_eq!(
            decide(
                answer(401, None),
                &mut attempts,
                &static_token,
                long,
                backoff
            ),
            Step::Fail,
            "a static token cannot be refreshed"
        );
        let body_throttle = Outcome::Answer {
            status: 400,
            retry_after: None,
            throttle_body: true,
        };
        assert_eq!(
            decide(body_throttle, &mut fresh.clone(), &policy, long, backoff),
            Step::Retry { wait: secs(1) },
            "a vendor's throttle body is a throttle whatever its status"
        );
    }

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
