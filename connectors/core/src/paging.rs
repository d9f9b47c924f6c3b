//! Helpers every connector's paging needs (CONNECTOR-RULES 5, 8, 9, 14;
//! SECURITY F3, F7): the next page from a `Link` header, ids that are
//! sometimes objects, `(updated_at, id)` watermarks compared as instants,
//! time windows that walk back to a floor, and a guard that stops a run
//! whose cursor repeats or whose pages stay empty.

use std::{collections::HashSet, time::Duration};

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// The `rel="next"` URL of an RFC 8288 `Link` header (GitHub's paging).
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").is_some_and(|rel| {
                rel.trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        is_next.then(|| target.trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// An id that a provider sends as a string, a number, or an object with an
/// `id` (CONNECTOR-RULES 5). Empty strings and zero are ids (rule 15);
/// null, booleans and objects without one are not.
pub fn read_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Object(map) => map.get("id").and_then(read_id),
        _ => None,
    }
}

/// Whether `host` is one of `allowed`; an entry `*.example.com` allows the
/// subdomains of example.com, not example.com itself (SECURITY A10).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.iter().any(|entry| match entry.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{}", domain.to_ascii_lowercase())),
        None => host == entry.to_ascii_lowercase(),
    })
}

/// A next-page URL as a provider hands it (`nextRecordsUrl`,
/// `next_page_uri`, `_links.next`, `@odata.nextLink`, a `Link` header):
/// absolute, or relative to the API's base URL. It is followed only to the
/// base URL's own origin or, over https, to a host the catalog allows, so
/// the token goes nowhere else (SECURITY A10, CONNECTOR-RULES 44).
pub fn next_url(cx: &crate::source::Context<'_>, next: &str) -> Result<String, crate::http::FetchError> {
    let away = || crate::http::FetchError::permanent(None, "the provider's next page points away from its API");
    let base = url::Url::parse(cx.base_url).map_err(|_| away())?;
    // A relative reference resolves against the base URL with its path
    // kept as a directory.
    let mut directory = base.clone();
    if !directory.path().ends_with('/') {
        directory.set_path(&format!("{}/", directory.path()));
    }
    let next = if next.starts_with('/') { base.join(next) } else { directory.join(next) }.map_err(|_| away())?;
    let same_origin = next.origin() == base.origin();
    let allowed = next.scheme() == "https" && next.host_str().is_some_and(|host| host_allowed(host, cx.allowed_hosts));
    if !(same_origin || allowed) || !next.username().is_empty() || next.password().is_some() {
        return Err(away());
    }
    Ok(next.into())
}

/// How the admin is told which record a problem is about: its entity type
/// and id (`conversation 42`), or that its id could not be read.
pub fn record_name(entity_type: &str, id: &serde_json::Value) -> String {
    let kind = entity_type.replace('_', " ");
    match read_id(id) {
        Some(id) => format!("{kind} {id}"),
        None => format!("a {kind} without a readable id"),
    }
}

/// An RFC 3339 timestamp as a provider sends it, as a parsed instant:
/// `Z` and `+00:00` are the same time (CONNECTOR-RULES 14).
pub fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// An instant as RFC 3339 in UTC (`…Z`), the way a `since` filter is sent.
pub fn utc_rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// A point in a provider's change stream: records are ordered by when they
/// changed, then by id, so records sharing a timestamp are neither lost nor
/// repeated (SECURITY F3, CONNECTOR-RULES 8). Timestamps are parsed
/// instants: `Z` and `+00:00` are the same time (rule 14).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Watermark {
    pub updated_at: OffsetDateTime,
    pub id: String,
}

impl Watermark {
    /// From an RFC 3339 timestamp as the provider sends it.
    pub fn parse(updated_at: &str, id: impl Into<String>) -> Option<Self> {
        Some(Self { updated_at: parse_instant(updated_at)?, id: id.into() })
    }

    /// Whether a record is past this watermark, and so not seen yet.
    pub fn is_before(&self, other: &Watermark) -> bool {
        (self.updated_at, &self.id) < (other.updated_at, &other.id)
    }

    /// As stored in a cursor: the instant in UTC, and the id.
    pub fn encode(&self) -> String {
        format!("{}|{}", utc_rfc3339(self.updated_at), self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('|')?;
        Self::parse(at, id)
    }
}

/// Windows of at most `size` walking back from `end` to `floor`, newest
/// first; the last one is clamped to the floor, and is never skipped
/// however short (CONNECTOR-RULES 9, 12).
pub fn windows_back(
    end: OffsetDateTime,
    floor: OffsetDateTime,
    size: Duration,
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let mut windows = Vec::new();
    let Ok(size) = time::Duration::try_from(size) else { return windows };
    if size <= time::Duration::ZERO {
        return windows;
    }
    let mut end = end;
    while end > floor {
        let start = (end - size).max(floor);
        windows.push((start, end));
        end = start;
    }
    windows
}

/// Why a run was stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stuck {
    #[error("the provider returned a page cursor it had returned before; the sync stopped instead of looping")]
    RepeatedCursor,
    #[error("the provider returned {0} empty pages in a row with more to come; the sync stopped instead of looping")]
    EmptyPages(u32),
}

/// Watches a run's cursors and page sizes (SECURITY F7).
#[derive(Debug)]
pub struct LoopGuard {
    seen: HashSet<String>,
    empty_in_a_row: u32,
    max_empty: u32,
}

impl LoopGuard {
    /// Allows at most `max_empty` empty pages in a row that still promise more.
    pub fn new(max_empty: u32) -> Self {
        Self { seen: HashSet::new(), empty_in_a_row: 0, max_empty }
    }

    /// Records a page of `records` that led to `next`; an error when the
    /// run must stop.
    pub fn page(&mut self, records: usize, next: Option<&str>) -> Result<(), Stuck> {
        let Some(next) = next else { return Ok(()) };
        if !self.seen.insert(next.to_owned()) {
            return Err(Stuck::RepeatedCursor);
        }
        self.empty_in_a_row = if records == 0 { self.empty_in_a_row + 1 } else { 0 };
        if self.empty_in_a_row > self.max_empty {
            return Err(Stuck::EmptyPages(self.empty_in_a_row));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=1>; rel="prev", <https://api.github.com/repositories/1/issues?page=3>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(next_link(link).as_deref(), Some("https://api.github.com/repositories/1/issues?page=3"));
        assert_eq!(next_link(r#"<https://x.example/?page=9>; rel="last""#), None);
        assert_eq!(next_link(""), None);
    }

    /// CONNECTOR-RULES 5, 15: ids as strings, numbers or objects; "" and 0 are ids.
    #[test]
    fn ids_are_read_from_strings_numbers_and_objects() {
        use serde_json::json;
        assert_eq!(read_id(&json!("abc")).as_deref(), Some("abc"));
        assert_eq!(read_id(&json!(42)).as_deref(), Some("42"));
        assert_eq!(read_id(&json!({ "id": 7, "name": "Ada" })).as_deref(), Some("7"));
        assert_eq!(read_id(&json!({ "id": { "id": "nested" } })).as_deref(), Some("nested"));
        assert_eq!(read_id(&json!(0)).as_deref(), Some("0"));
        assert_eq!(read_id(&json!("")).as_deref(), Some(""));
        assert_eq!(read_id(&json!(null)), None);
        assert_eq!(read_id(&json!({ "name": "no id" })), None);
    }

    /// SECURITY F3, CONNECTOR-RULES 8, 14: same-second records are ordered
    /// by id, and `Z` equals `+00:00`.
    #[test]
    fn watermarks_order_by_instant_then_id() {
        let a = Watermark::parse("2026-11-30T10:00:00Z", "a").unwrap();
        let b = Watermark::parse("2026-11-30T10:00:00+00:00", "b").unwrap();
        let later = Watermark::parse("2026-11-30T11:00:00+01:00", "a").unwrap();
        assert!(a.is_before(&b) && !b.is_before(&a));
        assert_eq!(a.updated_at, later.updated_at, "11:00+01:00 is 10:00Z");
        assert!(!later.is_before(&a) && a.is_before(&Watermark { id: "a0".into(), ..a.clone() }));
        assert_eq!(Watermark::decode(&b.encode()), Some(b));
        assert_eq!(Watermark::parse("yesterday", "x"), None);
    }

    /// CONNECTOR-RULES 9: the last, partial window reaches the floor.
    #[test]
    fn windows_walk_back_to_the_floor_including_a_partial_one() {
        let end = datetime!(2026-11-30 00:00 UTC);
        // 61 days: two whole 30-day windows and a last one of a day.
        let floor = datetime!(2026-09-30 00:00 UTC);
        let windows = windows_back(end, floor, Duration::from_secs(30 * 86_400));
        assert_eq!(windows.len(), 3);
        assert_eq!(windows[0], (datetime!(2026-10-31 00:00 UTC), end));
        assert_eq!(windows[2], (floor, datetime!(2026-10-01 00:00 UTC)));
        assert!(windows.windows(2).all(|w| w[0].0 == w[1].1), "a gap between windows");
        assert!(windows_back(floor, floor, Duration::from_secs(60)).is_empty());
    }

    /// SECURITY A10, CONNECTOR-RULES 44: next-page URLs, absolute or
    /// relative, are followed on the API's own origin and, over https, on
    /// the hosts the catalog allows; anywhere else is refused.
    #[test]
    fn next_urls_stay_on_the_apis_hosts() {
        let http = crate::http::Http::new(Duration::from_secs(1), crate::http::RetryPolicy::default()).unwrap();
        let (settings, allowed) = (std::collections::BTreeMap::new(), vec!["*.my.salesforce.com".to_owned()]);
        let cx = crate::source::Context {
            http: &http,
            call: crate::http::Call::default(),
            base_url: "https://acme.my.salesforce.com/services/data/v62.0",
            settings: &settings,
            stream: None,
            auth: &crate::auth::Placement::Bearer,
            allowed_hosts: &allowed,
        };
        let next = |n: &str| next_url(&cx, n);
        assert_eq!(
            next("/services/data/v62.0/query/01gD-2000").unwrap(),
            "https://acme.my.salesforce.com/services/data/v62.0/query/01gD-2000"
        );
        assert_eq!(next("query/x?y=1").unwrap(), "https://acme.my.salesforce.com/services/data/v62.0/query/x?y=1");
        assert!(next("https://eu2.my.salesforce.com/services/data/v62.0/q").is_ok(), "an allowed host");
        for away in [
            "https://evil.example/q",
            "http://eu2.my.salesforce.com/q",
            "https://my.salesforce.com.evil.example/q",
            "https://user:pw@acme.my.salesforce.com/q",
            "//evil.example/q",
        ] {
            let error = next(away).unwrap_err();
            assert!(error.message.contains("points away"), "{away}: {}", error.message);
        }
        assert!(host_allowed("EU2.My.Salesforce.com", &allowed) && !host_allowed("my.salesforce.com", &allowed));
    }

    /// SECURITY F7: a repeated cursor, or too many empty pages that promise
    /// more, stop the run; the last page (no next cursor) is fine.
    #[test]
    fn a_repeating_cursor_or_endless_empty_pages_stop_the_run() {
        let mut guard = LoopGuard::new(3);
        assert_eq!(guard.page(10, Some("c1")), Ok(()));
        assert_eq!(guard.page(10, Some("c2")), Ok(()));
        assert_eq!(guard.page(10, Some("c1")), Err(Stuck::RepeatedCursor));

        let mut guard = LoopGuard::new(3);
        for n in 0..3 {
            assert_eq!(guard.page(0, Some(&format!("e{n}"))), Ok(()));
        }
        assert_eq!(guard.page(0, Some("e3")), Err(Stuck::EmptyPages(4)));

        let mut guard = LoopGuard::new(1);
        assert_eq!(guard.page(0, Some("x")), Ok(()));
        assert_eq!(guard.page(5, Some("y")), Ok(()), "a full page resets the count");
        assert_eq!(guard.page(0, None), Ok(()));
    }
}
