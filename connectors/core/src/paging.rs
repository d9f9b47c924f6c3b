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

/// Where an offset or page-number listing is (`offset`/`limit`,
/// `page`/`per_page`, OData `$skip`/`$top`), kept in the run's cursor as
/// `offset:N`. Offsets shift as the source changes, so a source that pages
/// so has a listing that may shift (CONNECTOR-RULES 36).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset {
    pub offset: u64,
    pub limit: u64,
}

impl Offset {
    /// The position a stored cursor names; the first page without one.
    pub fn at(cursor: Option<&str>, limit: u64) -> Result<Self, crate::http::FetchError> {
        let offset = match cursor {
            None => 0,
            Some(text) => text
                .strip_prefix("offset:")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| crate::http::FetchError::permanent(None, "the stored page position cannot be read"))?,
        };
        Ok(Self { offset, limit: limit.max(1) })
    }

    /// The page number from 1, for `page`/`per_page` listings.
    pub fn page(&self) -> u64 {
        self.offset / self.limit + 1
    }

    /// The cursor after a page of `got` records: none once a page comes
    /// back short, the listing's end.
    pub fn next(&self, got: usize) -> Option<String> {
        let got = u64::try_from(got).unwrap_or(u64::MAX);
        (got >= self.limit).then(|| format!("offset:{}", self.offset.saturating_add(got)))
    }
}

/// OData's protocol versions, which write date literals differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OData {
    /// `datetime'2026-11-30T10:00:00'` (1C's standard interface).
    V3,
    /// `2026-11-30T10:00:00Z` (Microsoft Graph, Dynamics).
    V4,
}

impl OData {
    /// An instant as this version's date literal, in UTC, to the second.
    pub fn datetime(self, at: OffsetDateTime) -> String {
        let at = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
        let text = utc_rfc3339(at);
        match self {
            OData::V3 => format!("datetime'{}'", text.trim_end_matches('Z')),
            OData::V4 => text,
        }
    }

    /// The query of one page: `$top`, `$skip` past the first, a stable
    /// `$orderby` and a `$filter` when there is one.
    pub fn query(self, page: Offset, orderby: &str, filter: Option<&str>) -> Vec<(&'static str, String)> {
        let mut query = vec![("$top", page.limit.to_string())];
        if page.offset > 0 {
            query.push(("$skip", page.offset.to_string()));
        }
        query.push(("$orderby", orderby.to_owned()));
        if let Some(filter) = filter {
            query.push(("$filter", filter.to_owned()));
        }
        query
    }
}

/// For a listing newest first that cannot filter by change: the records of
/// a page changed at or after `since`, and whether the listing has ended
/// (the first older record was reached). A page that is not newest first
/// says the order was not applied, and is read whole instead.
pub fn newest_until<T>(
    records: &[T],
    since: OffsetDateTime,
    changed: impl Fn(&T) -> Option<OffsetDateTime>,
) -> (&[T], bool) {
    let times: Vec<Option<OffsetDateTime>> = records.iter().map(&changed).collect();
    let newest_first = times.windows(2).all(|w| w[0] >= w[1]);
    if !newest_first {
        return (records, false);
    }
    match times.iter().position(|t| t.is_some_and(|t| t < since)) {
        Some(older) => (&records[..older], true),
        None => (records, false),
    }
}

/// Where a search capped at a number of results per query is
/// (HubSpot's search stops at 10,000): paging with `after` inside one
/// query, restarted past the last `(changed, id)` read before the cap is
/// reached. The restarted query asks for changes at or after that time
/// and drops what it already read at it, so ties are neither lost nor
/// read twice (CONNECTOR-RULES 8).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CappedSearch {
    /// Where the current query starts: `None` for the first.
    pub from: Option<String>,
    /// The query's own cursor.
    pub after: Option<String>,
    /// Results this query has given so far.
    pub read: u64,
}

impl CappedSearch {
    /// The watermark the current query starts from.
    pub fn from(&self) -> Option<Watermark> {
        self.from.as_deref().and_then(Watermark::decode)
    }

    /// Drops the records of a restarted query that the one before read:
    /// those at or before its watermark.
    pub fn fresh<'r, T>(&self, records: &'r [T], mark: impl Fn(&T) -> Option<Watermark>) -> Vec<&'r T> {
        let from = self.from();
        records.iter().filter(|r| from.as_ref().is_none_or(|f| mark(r).is_none_or(|m| f.is_before(&m)))).collect()
    }

    /// Where the next page is after one of `got` results whose last is
    /// `last`, the query naming `after` as its next (`None`: it ended).
    /// Before the query would pass `cap`, it restarts from `last`.
    pub fn next(
        &self,
        got: usize,
        after: Option<String>,
        last: Option<&Watermark>,
        cap: u64,
        page_size: u64,
    ) -> Result<Option<Self>, Stuck> {
        let Some(after) = after else { return Ok(None) };
        let read = self.read.saturating_add(u64::try_from(got).unwrap_or(u64::MAX));
        if read.saturating_add(page_size) <= cap {
            return Ok(Some(Self { from: self.from.clone(), after: Some(after), read }));
        }
        let last = last.map(Watermark::encode);
        // A restart from where this query started would read it again,
        // without end: more than `cap` records share one instant.
        if last.is_none() || last == self.from {
            return Err(Stuck::RepeatedCursor);
        }
        Ok(Some(Self { from: last, after: None, read: 0 }))
    }
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
            token: None,
            stream: "",
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

    /// Offset paging: positions round-trip through the cursor, and a short
    /// page is the end.
    #[test]
    fn offsets_page_until_a_short_page() {
        let first = Offset::at(None, 100).unwrap();
        assert_eq!((first.offset, first.page()), (0, 1));
        let next = first.next(100).unwrap();
        let second = Offset::at(Some(&next), 100).unwrap();
        assert_eq!((second.offset, second.page()), (100, 2));
        assert_eq!(second.next(37), None);
        assert!(Offset::at(Some("page two"), 100).is_err());
    }

    /// OData v3 and v4 write the same instant each their own way, in UTC.
    #[test]
    fn odata_date_literals_follow_the_version() {
        let at = datetime!(2026-11-30 13:00:00.75 +03:00);
        assert_eq!(OData::V3.datetime(at), "datetime'2026-11-30T10:00:00'");
        assert_eq!(OData::V4.datetime(at), "2026-11-30T10:00:00Z");
        let filter = format!("Date ge {}", OData::V3.datetime(at));
        let query = OData::V3.query(Offset { offset: 200, limit: 100 }, "Ref_Key", Some(&filter));
        assert_eq!(
            query,
            vec![
                ("$top", "100".to_owned()),
                ("$skip", "200".to_owned()),
                ("$orderby", "Ref_Key".to_owned()),
                ("$filter", "Date ge datetime'2026-11-30T10:00:00'".to_owned()),
            ]
        );
        assert!(!OData::V4.query(Offset { offset: 0, limit: 5 }, "id", None).iter().any(|(k, _)| *k == "$skip"));
    }

    /// A newest-first listing ends at the first older record; one whose
    /// order was not applied is read whole.
    #[test]
    fn a_newest_first_listing_ends_at_the_first_older_record() {
        let since = datetime!(2026-11-30 10:00 UTC);
        let at = |h: u8| Some(datetime!(2026-11-30 00:00 UTC) + time::Duration::hours(i64::from(h)));
        let page = [12u8, 11, 10, 9, 8];
        let (kept, ended) = newest_until(&page, since, |h| at(*h));
        assert_eq!((kept, ended), (&page[..3], true));
        let shuffled = [9u8, 12, 8];
        assert_eq!(newest_until(&shuffled, since, |h| at(*h)), (&shuffled[..], false));
        let newer = [15u8, 14];
        assert_eq!(newest_until(&newer, since, |h| at(*h)), (&newer[..], false));
    }

    /// CONNECTOR-RULES 8: a search capped at 10,000 restarts from its last
    /// watermark before the cap, drops what it read at that instant, and
    /// stops rather than loops when more than the cap share one instant.
    #[test]
    fn a_capped_search_restarts_past_its_last_watermark() {
        let mark = |id: &str| Watermark::parse("2026-11-30T10:00:00Z", id).unwrap();
        let start = CappedSearch::default();
        let inside = start.next(100, Some("100".into()), Some(&mark("a")), 10_000, 100).unwrap().unwrap();
        assert_eq!((inside.read, inside.after.as_deref(), inside.from.as_deref()), (100, Some("100"), None));
        let near = CappedSearch { read: 9_900, ..inside.clone() };
        let restarted = near.next(100, Some("9900".into()), Some(&mark("m")), 10_000, 100).unwrap().unwrap();
        assert_eq!((restarted.read, restarted.after.as_deref()), (0, None));
        assert_eq!(restarted.from(), Some(mark("m")));
        let page = [mark("k"), mark("m"), mark("n")];
        let fresh: Vec<_> = restarted.fresh(&page, |w| Some(w.clone())).into_iter().map(|w| w.id.clone()).collect();
        assert_eq!(fresh, ["n"], "ties read before were not dropped");
        assert_eq!(restarted.next(0, None, None, 10_000, 100), Ok(None));
        let stuck = CappedSearch { read: 9_900, ..restarted.clone() };
        assert_eq!(stuck.next(100, Some("x".into()), Some(&mark("m")), 10_000, 100), Err(Stuck::RepeatedCursor));
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
