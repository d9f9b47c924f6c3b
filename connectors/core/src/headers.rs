//! How long a provider asks a client to wait, read from its headers
//! (CONNECTOR-RULES 31).

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest pause a provider's headers can ask for: a day, within which
/// even a daily allowance resets. A larger value is garbage or hostile
/// (SECURITY G2) and is read as a day, so that no wait computed from it
/// overflows or parks a connection for centuries.
pub const LONGEST_WAIT: Duration = Duration::from_secs(86_400);

/// `Retry-After` (RFC 9110 10.2.3): seconds, or an HTTP date; a date
/// already past is no wait. At most [`LONGEST_WAIT`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(LONGEST_WAIT));
    }
    let http_date = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, http_date).ok()?.assume_utc();
    let wait: Duration = (at - time::OffsetDateTime::now_utc()).try_into().unwrap_or_default();
    Some(wait.min(LONGEST_WAIT))
}

/// The headers that say a rate limit is spent, and when it resets.
/// Requests left in the window, in the names providers use (Linear counts
/// requests and query complexity apart; either running out stops calls).
const REMAINING: [&str; 4] = [
    "x-ratelimit-remaining",
    "ratelimit-remaining",
    "x-ratelimit-requests-remaining",
    "x-ratelimit-complexity-remaining",
];

/// The fewest requests (or points) left that any rate-limit header reports.
pub fn remaining(headers: &HeaderMap) -> Option<u64> {
    REMAINING.iter().filter_map(|name| header_number(headers, name)).min()
}

/// Whether the response says no requests are left in the current window
/// (`X-RateLimit-Remaining: 0`, as GitHub sends with its 403s, or the IETF
/// draft's `RateLimit-Remaining`).
pub fn limit_spent(headers: &HeaderMap) -> bool {
    REMAINING.iter().any(|name| header_number(headers, name) == Some(0))
}

/// When the rate-limit window resets, as a wait from now:
/// `X-RateLimit-Reset` in Unix seconds (GitHub, Linear send epoch
/// seconds; a small number is taken as seconds from now), or the IETF
/// draft's `RateLimit-Reset` in seconds from now. At most [`LONGEST_WAIT`].
pub fn reset_after(headers: &HeaderMap) -> Option<Duration> {
    reset_after_unbounded(headers).map(|wait| wait.min(LONGEST_WAIT))
}

fn reset_after_unbounded(headers: &HeaderMap) -> Option<Duration> {
    if let Some(reset) = header_number(headers, "ratelimit-reset") {
        return Some(Duration::from_secs(reset));
    }
    let reset = ["x-ratelimit-reset", "x-ratelimit-requests-reset", "x-ratelimit-complexity-reset"]
        .iter()
        .filter_map(|name| header_number(headers, name))
        .max()?;
    // Epoch seconds (or milliseconds, as some APIs send) are far larger
    // than any window; anything under a day is a delta.
    const A_DAY: u64 = 86_400;
    if reset < A_DAY {
        return Some(Duration::from_secs(reset));
    }
    let reset = if reset > 100_000_000_000 { reset / 1000 } else { reset };
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn http_date(at: time::OffsetDateTime) -> String {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        at.format(format).unwrap()
    }

    /// CONNECTOR-RULES 31: `Retry-After` as seconds or as a date.
    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&with(&[("retry-after", "120")])), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&with(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")])), Some(Duration::ZERO));
        let soon = http_date(time::OffsetDateTime::now_utc() + time::Duration::seconds(30));
        let wait = retry_after(&with(&[("retry-after", &soon)])).unwrap();
        assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(retry_after(&with(&[("retry-after", "soon")])), None);
        // SECURITY G2: huge values are read as the longest wait, a day.
        for huge in ["18446744073709551615", "9223372036854775806", "Fri, 31 Dec 9999 23:59:59 GMT"] {
            assert_eq!(retry_after(&with(&[("retry-after", huge)])), Some(LONGEST_WAIT), "{huge}");
        }
        assert_eq!(reset_after(&with(&[("ratelimit-reset", "18446744073709551615")])), Some(LONGEST_WAIT));
        assert_eq!(reset_after(&with(&[("x-ratelimit-reset", "99999999999")])), Some(LONGEST_WAIT));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    /// CONNECTOR-RULES 31: reset headers as epoch seconds, milliseconds or deltas.
    #[test]
    fn reset_headers_are_read_in_each_form_providers_send() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let in_a_minute = (now + 60).to_string();
        let wait = reset_after(&with(&[("x-ratelimit-reset", &in_a_minute)])).unwrap();
        assert!(wait > Duration::from_secs(57) && wait <= Duration::from_secs(60), "{wait:?}");
        let millis = ((now + 60) * 1000).to_string();
        let wait = reset_after(&with(&[("x-ratelimit-reset", &millis)])).unwrap();
        assert!(wait > Duration::from_secs(57) && wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(reset_after(&with(&[("x-ratelimit-reset", "30")])), Some(Duration::from_secs(30)));
        assert_eq!(reset_after(&with(&[("ratelimit-reset", "12")])), Some(Duration::from_secs(12)));
        let past = (now - 60).to_string();
        assert_eq!(reset_after(&with(&[("x-ratelimit-reset", &past)])), Some(Duration::ZERO));
        assert!(limit_spent(&with(&[("x-ratelimit-remaining", "0")])));
        assert!(!limit_spent(&with(&[("x-ratelimit-remaining", "12")])));
        assert!(!limit_spent(&HeaderMap::new()));
    }
}
