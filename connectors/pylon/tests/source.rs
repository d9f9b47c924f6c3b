//! The Pylon connector against a fake Pylon that serves the documented
//! fixtures (issue search with `filter`, `limit` and `cursor`; an issue's
//! messages; one issue; error bodies) and answers a search as Pylon
//! does: the issues whose time field falls inside the filter's bounds, a
//! page at a time. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::sync::Arc;

use connector_core::{
    http::Class,
    paging::{parse_instant, utc_rfc3339},
    source::{Mode, Record},
    testing::{self, Harness, Shared, keys, upserted},
};
use connector_pylon::{PylonSource, fake::FakePylon};
use time::{Duration, OffsetDateTime, macros::datetime};
use wiremock::{Mock, ResponseTemplate, matchers::path_regex};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// The fixtures' times are as of 2026-12-07; they are moved by how long
/// ago that was, so windows counted back from now fall the same way on
/// any day the suite runs.
fn moved(at: &str) -> String {
    let shift = OffsetDateTime::now_utc().date() - datetime!(2026-12-07 00:00 UTC).date();
    utc_rfc3339(parse_instant(at).unwrap() + Duration::days(shift.whole_days()))
}

fn moved_issue(mut issue: serde_json::Value) -> serde_json::Value {
    for field in ["created_at", "updated_at", "latest_message_time"] {
        if let Some(at) = issue[field].as_str().and_then(parse_instant) {
            issue[field] = moved(&utc_rfc3339(at)).into();
        }
    }
    issue
}

/// Pylon's issues 41–43 (November) and 30 (October).
fn all_issues() -> Vec<serde_json::Value> {
    ["issues-window-1.json", "issues-window-1-page-2.json", "issues-window-2.json"]
        .iter()
        .flat_map(|name| fixture(name)["data"].as_array().unwrap().clone())
        .map(moved_issue)
        .collect()
}

const ISSUE_41: &str = "8f3e2a1c-6b4d-4e9f-a2c7-1d5b3e9f0a41";

/// The organization of the fixtures, refusing searches on `refuse`.
fn pylon(issues: Vec<serde_json::Value>, refuse: Option<&'static str>) -> Arc<FakePylon> {
    let mut fake = FakePylon::new(issues, fixture("error-404.json"));
    fake.refuse = refuse;
    fake.messages = std::sync::Mutex::new(vec![(ISSUE_41.to_owned(), fixture("messages-41.json"))]);
    Arc::new(fake)
}

type Fixture = Harness<PylonSource>;

async fn start() -> Fixture {
    Harness::start(PylonSource, "").await
}

async fn serve_with(f: &Fixture, pylon: Arc<FakePylon>) -> Arc<FakePylon> {
    Mock::given(path_regex("^/issues")).respond_with(Shared(pylon.clone())).mount(&f.server).await;
    pylon
}

const FULL: [&str; 4] = [
    "upsert issue 2c7d9e1f-3a5b-4c8d-b6e0-4f2a1c9d7e42",
    "upsert issue 5e1a7c3d-9f2b-4d6e-8a0c-3b5d7f9e1a43",
    "upsert issue 7a9c1e3f-5b7d-4f0a-8c2e-6d8f0a2c4e30",
    "upsert issue 8f3e2a1c-6b4d-4e9f-a2c7-1d5b3e9f0a41",
];

/// CONNECTOR-RULES 14, 17, 34: an issue mapped field by field: its number
/// and title, its body and messages as text, Pylon's own link, and never
/// the internal note.
#[tokio::test]
async fn mapping_snapshot_of_an_issue_with_its_public_messages() {
    let f = start().await;
    serve_with(&f, pylon(all_issues(), None)).await;
    let changes = f.walk(Mode::Full, None).await;
    let issue = upserted(&changes, ISSUE_41);
    assert_eq!(issue.title, "#41: Warehouse dashboard shows stale inventory");
    assert_eq!(issue.url, "https://app.usepylon.com/issues?issueNumber=41");
    assert_eq!(issue.updated_at, parse_instant(&moved("2026-11-05T10:41:27Z")).unwrap());
    assert_eq!(issue.content["state"], "waiting_on_customer");
    assert_eq!(issue.content["tags"], serde_json::json!(["inventory", "sync"]));
    assert_eq!(
        issue.content["body"],
        "Hi team,\nSince this morning our warehouse dashboard shows stale inventory: the last sync finished on Nov 2. Can you take a look?\nThanks, Priya"
    );
    let messages = issue.content["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "the internal note travelled: {messages:?}");
    assert_eq!((&messages[0]["author"], &messages[0]["from"]), (&"Priya Nair".into(), &"customer".into()));
    assert_eq!((&messages[1]["author"], &messages[1]["from"]), (&"Maya Ortiz".into(), &"team".into()));
    assert!(!issue.content.to_string().contains("RTM-00417"), "the internal note's text travelled");
}

/// CONNECTOR-RULES 9, 12: a full pass walks 30-day windows by creation
/// back from now to Pylon's floor, every window asked for once, the last
/// one clamped to the floor; each query is widened by a second so an
/// issue on an edge is not lost.
#[tokio::test]
async fn a_full_pass_walks_thirty_day_windows_back_to_the_floor() {
    let f = start().await;
    let pylon = serve_with(&f, pylon(all_issues(), Some("updated_at"))).await;
    assert_eq!(keys(&f.walk(Mode::Full, None).await), FULL);
    let searches = pylon.searches.lock().unwrap();
    let windows: Vec<(OffsetDateTime, OffsetDateTime)> = searches
        .iter()
        .filter(|s| s.get("cursor").is_none())
        .map(|s| {
            let at = |i: usize| parse_instant(s["filter"]["subfilters"][i]["value"].as_str().unwrap()).unwrap();
            (at(0) + Duration::seconds(1), at(1) - Duration::seconds(1))
        })
        .collect();
    assert!(windows.iter().all(|(start, end)| *end - *start <= Duration::days(30)), "a window over 30 days");
    assert!(windows.windows(2).all(|w| w[1].1 == w[0].0), "windows with a gap or an overlap between them");
    assert_eq!(
        windows.last().unwrap().0,
        datetime!(2022-01-01 00:00 UTC),
        "the last window is not clamped to the floor"
    );
    assert!(searches.iter().all(|s| s["filter"]["subfilters"][0]["field"] == "created_at"));
}

/// CONNECTOR-RULES 3, 12: a changes run searches by `updated_at` from
/// `since` to now, in windows of 30 days at most, and yields only what
/// changed.
#[tokio::test]
async fn a_changes_run_searches_by_update_since_the_last_run() {
    let f = start().await;
    serve_with(&f, pylon(all_issues(), Some("created_at"))).await;
    let since = parse_instant(&moved("2026-11-11T00:00:00Z")).unwrap();
    let changes = f.walk(Mode::Changes { since }, None).await;
    assert_eq!(keys(&changes), FULL[..2]);
}

/// CONNECTOR-RULES 34: messages that cannot be read leave their issue
/// without them, named as a partial error.
#[tokio::test]
async fn messages_that_fail_leave_the_issue_and_name_it() {
    let f = start().await;
    Mock::given(path_regex(format!("^/issues/{ISSUE_41}/messages$")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_with(&f, pylon(all_issues(), None)).await;
    let page = f.walk(Mode::Full, None).await;
    assert_eq!(upserted(&page, ISSUE_41).content.get("messages"), None);
}

/// CONNECTOR-RULES 31, 38: Pylon's 429 (`Rate limit exceeded`) carries no
/// documented `Retry-After`: backed off and asked again; one that carries
/// it is waited out.
#[tokio::test]
async fn a_429_is_backed_off_and_asked_again() {
    let f = start().await;
    Mock::given(path_regex("^/issues/search$"))
        .respond_with(ResponseTemplate::new(429).set_body_json(fixture("error-429.json")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_with(&f, pylon(all_issues(), None)).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(keys(&page.changes), FULL[..2]);
}

/// CONNECTOR-RULES 32, 35: a refused token (Pylon's 401) is permanent,
/// and its body is not echoed.
#[tokio::test]
async fn a_refused_token_is_permanent() {
    let f = start().await;
    Mock::given(path_regex("^/issues"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-401.json")))
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(401)));
    let said = fixture("error-401.json")["errors"][0].as_str().unwrap().to_owned();
    assert!(!error.message.contains(&said), "{}", error.message);
}

/// The conformance suite's listings beyond the full one.
async fn serve(f: &Fixture, served: testing::Served) {
    let mut issues = all_issues();
    let refuse = match served {
        testing::Served::Full => None,
        testing::Served::Changes => Some("created_at"),
        testing::Served::Unmappable => {
            let mut broken = issues[1].clone();
            broken["id"] = "0b0b0b0b-0000-4000-8000-000000000077".into();
            broken["link"] = serde_json::Value::Null;
            broken["created_at"] = moved("2026-11-08T00:00:00Z").into();
            issues.push(broken);
            None
        }
    };
    serve_with(f, pylon(issues, refuse)).await;
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = Record {
        entity_type: "issue".into(),
        entity_id: "9f9f9f9f-0000-4000-8000-000000000009".into(),
        title: "#9: Deleted".into(),
        url: "https://app.usepylon.com/issues?issueNumber=9".into(),
        content: serde_json::json!({ "number": 9 }),
        updated_at: datetime!(2026-10-01 00:00 UTC),
    };
    let since = parse_instant(&moved("2026-11-11T00:00:00Z")).unwrap();
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/issues",
            full: &FULL,
            since,
            changes: &FULL[..2],
            kept: &["upsert issue 2c7d9e1f-3a5b-4c8d-b6e0-4f2a1c9d7e42"],
            skipped: "issue 0b0b0b0b-0000-4000-8000-000000000077",
            gone,
        },
    )
    .await;
}
