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
/// The remaining-allowance headers read when a provider names none.
const REMAINING: [&str; 4] = [
    "x-ratelimit-remaining",
    "ratelimit-remaining",
    "x-ratelimit-requests-remaining",
    "x-ratelimit-complexity-remaining",
];

/// The reset headers read when a provider names none.
const RESET: [&str; 4] =
    ["ratelimit-reset", "x-ratelimit-reset", "x-ratelimit-requests-reset", "x-ratelimit-complexity-reset"];

/// How a provider's reset header counts (CONNECTOR-RULES 38).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetFormat {
    /// Told apart by size: under a day is seconds from now, above it Unix
    /// seconds, above 10^11 Unix milliseconds.
    #[default]
    Auto,
    /// Seconds from now (the IETF draft's `RateLimit-Reset`, Zendesk).
    DeltaSeconds,
    /// Unix seconds (GitHub, GitLab's `RateLimit-Reset`).
    EpochSeconds,
    /// Unix milliseconds (Linear).
    EpochMillis,
    /// An RFC 3339 instant.
    Iso8601,
}

/// Where a provider says how much of its limit is left and when it resets,
/// as its catalog entry names them (CONNECTOR-RULES 38). Names left out
/// fall back to the common ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub remaining_header: Option<String>,
    pub reset_header: Option<String>,
    pub reset_format: ResetFormat,
}

impl Signals {
    /// What is left: the named header's, or the fewest any common header
    /// reports. A value `name=used/limit` (Salesforce's
    /// `Sforce-Limit-Info: api-usage=18/5000`) leaves `limit - used`.
    pub fn remaining(&self, headers: &HeaderMap) -> Option<u64> {
        if let Some(name) = &self.remaining_header
            && let Some(value) = header_text(headers, name)
        {
            return read_remaining(value);
        }
        REMAINING.iter().filter_map(|name| header_number(headers, name)).min()
    }

    /// Whether the response says nothing is left in the current window
    /// (`X-RateLimit-Remaining: 0`, as GitHub sends with its 403s).
    pub fn limit_spent(&self, headers: &HeaderMap) -> bool {
        self.remaining(headers) == Some(0)
    }

    /// When the window resets, as a wait from now, at most [`LONGEST_WAIT`]:
    /// the named header in its format, or the latest common one.
    pub fn reset_after(&self, headers: &HeaderMap) -> Option<Duration> {
        let now = time::OffsetDateTime::now_utc();
        let wait = match self.reset_header.as_deref().and_then(|name| header_text(headers, name)) {
            Some(value) => read_reset(value, self.reset_format, now)?,
            None => RESET
                .iter()
                .filter_map(|name| header_text(headers, name))
                .filter_map(|value| read_reset(value, ResetFormat::Auto, now))
                .max()?,
        };
        Some(wait.min(LONGEST_WAIT))
    }
}

/// What is left, as the common headers say it.
pub fn remaining(headers: &HeaderMap) -> Option<u64> {
    Signals::default().remaining(headers)
}

/// Whether the common headers say nothing is left.
pub fn limit_spent(headers: &HeaderMap) -> bool {
    Signals::default().limit_spent(headers)
}

/// When the window resets, as the common headers say it.
pub fn reset_after(headers: &HeaderMap) -> Option<Duration> {
    Signals::default().reset_after(headers)
}

fn read_remaining(value: &str) -> Option<u64> {
    if let Ok(n) = value.parse::<u64>() {
        return Some(n);
    }
    let (_, usage) = value.split_once('=')?;
    let (used, limit) = usage.split_once('/')?;
    Some(limit.trim().parse::<u64>().ok()?.saturating_sub(used.trim().parse().ok()?))
}

fn read_reset(value: &str, format: ResetFormat, now: time::OffsetDateTime) -> Option<Duration> {
    let now_s = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let until = |epoch_seconds: u64| Duration::from_secs(epoch_seconds.saturating_sub(now_s));
    match format {
        ResetFormat::Iso8601 => {
            let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
            Some((at - now).try_into().unwrap_or_default())
        }
        ResetFormat::DeltaSeconds => Some(Duration::from_secs(parse_whole(value)?)),
        ResetFormat::EpochSeconds => Some(until(parse_whole(value)?)),
        ResetFormat::EpochMillis => Some(until(parse_whole(value)? / 1000)),
        ResetFormat::Auto => {
            let n = parse_whole(value)?;
            // Epoch seconds (or milliseconds) are far larger than any
            // window; anything under a day is a delta.
            const A_DAY: u64 = 86_400;
            Some(match n {
                0..A_DAY => Duration::from_secs(n),
                A_DAY..100_000_000_000 => until(n),
                _ => until(n / 1000),
            })
        }
    }
}

/// A whole number, or one with a fraction (read down to the second).
fn parse_whole(value: &str) -> Option<u64> {
    let value = value.trim();
    value.parse::<u64>().ok().or_else(|| {
        let (whole, fraction) = value.split_once('.')?;
        fraction.bytes().all(|b| b.is_ascii_digit()).then(|| whole.parse().ok()).flatten()
    })
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_text(headers, name)?.parse().ok()
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

    /// CONNECTOR-RULES 38: the catalog's header names and reset format
    /// drive the reading; names it leaves out fall back to the common ones.
    #[test]
    fn a_providers_own_header_names_and_reset_formats_are_read() {
        let now = time::OffsetDateTime::now_utc();
        let near = |wait: Option<Duration>, secs: u64| {
            let wait = wait.unwrap();
            assert!(
                wait <= Duration::from_secs(secs) && wait + Duration::from_secs(3) > Duration::from_secs(secs),
                "{wait:?} is not {secs} s"
            );
        };
        // Zendesk: its own names, seconds from now.
        let zendesk = Signals {
            remaining_header: Some("x-rate-limit-remaining".into()),
            reset_header: Some("ratelimit-reset".into()),
            reset_format: ResetFormat::DeltaSeconds,
        };
        let h = with(&[("x-rate-limit-remaining", "0"), ("ratelimit-reset", "40"), ("x-ratelimit-remaining", "9")]);
        assert_eq!(zendesk.remaining(&h), Some(0));
        assert!(zendesk.limit_spent(&h) && !limit_spent(&h), "the common names see 9 left");
        near(zendesk.reset_after(&h), 40);
        // GitLab: `RateLimit-Reset` is Unix seconds, misread as a delta before.
        let epoch = (now.unix_timestamp() + 90).to_string();
        let gitlab = Signals {
            reset_header: Some("ratelimit-reset".into()),
            reset_format: ResetFormat::EpochSeconds,
            ..Signals::default()
        };
        near(gitlab.reset_after(&with(&[("ratelimit-reset", &epoch)])), 90);
        near(reset_after(&with(&[("ratelimit-reset", &epoch)])), 90);
        // Linear: milliseconds.
        let millis = ((now.unix_timestamp() + 30) * 1000).to_string();
        let linear = Signals {
            reset_header: Some("x-ratelimit-requests-reset".into()),
            reset_format: ResetFormat::EpochMillis,
            ..Signals::default()
        };
        near(linear.reset_after(&with(&[("x-ratelimit-requests-reset", &millis)])), 30);
        // ISO 8601.
        let at = (now + time::Duration::seconds(120)).format(&time::format_description::well_known::Rfc3339).unwrap();
        let iso =
            Signals { reset_header: Some("x-reset".into()), reset_format: ResetFormat::Iso8601, ..Signals::default() };
        near(iso.reset_after(&with(&[("x-reset", &at)])), 120);
        assert_eq!(iso.reset_after(&with(&[("x-reset", "tomorrow")])), None);
        // Salesforce: used/limit.
        let salesforce = Signals { remaining_header: Some("sforce-limit-info".into()), ..Signals::default() };
        assert_eq!(salesforce.remaining(&with(&[("sforce-limit-info", "api-usage=18/5000")])), Some(4982));
        assert_eq!(salesforce.remaining(&with(&[("sforce-limit-info", "api-usage=5001/5000")])), Some(0));
        // SECURITY G2: a huge value in any format is at most a day.
        for format in
            [ResetFormat::DeltaSeconds, ResetFormat::EpochSeconds, ResetFormat::EpochMillis, ResetFormat::Auto]
        {
            let s = Signals { reset_header: Some("r".into()), reset_format: format, ..Signals::default() };
            assert_eq!(s.reset_after(&with(&[("r", "18446744073709551615")])), Some(LONGEST_WAIT), "{format:?}");
        }
    }
}
