//! The Chatwoot connector against fixtures that follow Chatwoot's
//! Application API as its own views render it (the conversation listing
//! and its conversation partial; rack-attack's plain 429), served by
//! wiremock. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::time::{Duration, Instant};

use connector_chatwoot::ChatwootSource;
use connector_core::{
    source::{Change, Mode, Page, Record},
    testing::{self, Harness},
};
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

const LISTING: &str = "/api/v1/accounts/7/conversations";

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<ChatwootSource>;

async fn start() -> Fixture {
    Harness::start(ChatwootSource, "/api/v1/accounts/7")
        .await
        .with_auth(connector_core::auth::Placement::Header { name: "api_access_token".into(), prefix: String::new() })
}

fn json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// Three conversations over two pages, oldest first, then an empty page.
async fn serve_full_listing(f: &Fixture) {
    for (page, name) in
        [("1", "conversations-page-1.json"), ("2", "conversations-page-2.json"), ("3", "conversations-page-3.json")]
    {
        Mock::given(method("GET"))
            .and(path(LISTING))
            .and(query_param("status", "all"))
            .and(query_param("assignee_type", "all"))
            .and(query_param_is_missing("sort_by"))
            .and(query_param("page", page))
            .and(header("api_access_token", "new-token"))
            .respond_with(json(fixture(name)))
            .mount(&f.server)
            .await;
    }
}

fn ids(page: &Page) -> Vec<String> {
    page.changes.iter().map(|c| c.key().1.to_owned()).collect()
}

fn record(change: &Change) -> &Record {
    match change {
        Change::Upsert(record) => record,
        Change::Remove { .. } => panic!("a removal: {change:?}"),
    }
}

/// CONNECTOR-RULES 5, 14: the mapped record, field by field (a snapshot of
/// the mapping): the display id as a string, unix seconds as instants (the
/// latest of activity and update), a deep link into the app, no contact
/// email.
#[tokio::test]
async fn mapping_snapshot_of_a_conversation() {
    let f = start().await;
    serve_full_listing(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    let first = record(&page.changes[0]);
    assert_eq!((first.entity_type.as_str(), first.entity_id.as_str()), ("conversation", "1"));
    assert_eq!(first.title, "Conversation #1 with Jane Doe");
    assert_eq!(first.url, format!("{}/app/accounts/7/conversations/1", f.server.uri()));
    assert_eq!(first.updated_at, datetime!(2025-11-23 12:13:20 UTC), "the update, 0.5 s after the activity, floored");
    assert_eq!(
        first.content,
        serde_json::json!({
            "status": "resolved",
            "priority": "high",
            "labels": ["billing"],
            "inbox_id": 2,
            "contact": "Jane Doe",
            "assignee": "Ana Agent",
            "last_message": "Thanks, the refund arrived.",
            "created_at": 1_763_800_000,
        })
    );
    assert!(!first.content.to_string().contains("@customer.example"), "the contact's email was carried");
}

/// CONNECTOR-RULES 7, 13: a full pass pages by number, oldest first, to the
/// first empty page, reporting the account's total.
#[tokio::test]
async fn pagination_reaches_the_end() {
    let f = start().await;
    serve_full_listing(&f).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    assert_eq!((ids(&first), first.next.as_deref(), first.total), (vec!["1".into(), "2".into()], Some("2"), Some(3)));
    let second = f.page(Mode::Full, first.next.as_deref()).await.unwrap();
    assert_eq!((ids(&second), second.next.as_deref()), (vec!["3".to_owned()], Some("3")));
    let last = f.page(Mode::Full, second.next.as_deref()).await.unwrap();
    assert!(last.changes.is_empty());
    assert_eq!(last.next, None);
    assert_eq!(f.requests().await.len(), 3);
}

/// CONNECTOR-RULES 31: rack-attack's 429 is plain text without
/// `Retry-After`: backed off and asked again. One with `Retry-After` (a
/// proxy in front may add it) is waited out.
#[tokio::test]
async fn a_429_is_backed_off_with_or_without_retry_after() {
    let f = start().await;
    Mock::given(path(LISTING))
        .respond_with(
            ResponseTemplate::new(429).set_body_string("Retry later\n").insert_header("content-type", "text/plain"),
        )
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    serve_full_listing(&f).await;
    assert_eq!(ids(&f.page(Mode::Full, None).await.unwrap()), ["1", "2"]);
    assert_eq!(f.requests().await.len(), 2);

    let told = start().await;
    Mock::given(path(LISTING))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&told.server)
        .await;
    serve_full_listing(&told).await;
    let started = Instant::now();
    told.page(Mode::Full, None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait: {:?}", started.elapsed());
}

/// CONNECTOR-RULES 17: a private note is never carried, nor a message
/// whose privacy is not stated (fail closed); the conversation itself is
/// kept, without it.
#[tokio::test]
async fn private_notes_are_never_carried() {
    let f = start().await;
    serve_full_listing(&f).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    let noted = record(&first.changes[1]);
    assert_eq!(noted.entity_id, "2");
    assert_eq!(noted.content["last_message"], serde_json::Value::Null);
    assert!(!noted.content.to_string().contains("legacy plan"), "a private note was carried");
    let second = f.page(Mode::Full, Some("2")).await.unwrap();
    assert_eq!(record(&second.changes[0]).content["last_message"], serde_json::Value::Null);
}

/// CONNECTOR-RULES 3, 9: a changes run reads by last activity, newest
/// first, and stops at the first conversation older than `since`: one
/// request, only what changed. (Deleted conversations are not in the
/// listing at all: CONNECTOR-RULES 18 is left to a prune.)
#[tokio::test]
async fn a_changes_run_reads_only_what_changed_since() {
    let f = start().await;
    Mock::given(method("GET"))
        .and(path(LISTING))
        .and(query_param("sort_by", "last_activity_at_desc"))
        .and(query_param("status", "all"))
        .and(query_param("page", "1"))
        .respond_with(json(fixture("conversations-changes.json")))
        .mount(&f.server)
        .await;
    let page = f.page(Mode::Changes { since: datetime!(2025-11-24 16:00:00 UTC) }, None).await.unwrap();
    assert_eq!(ids(&page), ["3", "1"]);
    assert_eq!((page.next, page.total), (None, None));
    assert_eq!(record(&page.changes[1]).content["last_message"], "Reopening: the refund bounced.");
    assert_eq!(f.requests().await.len(), 1);
}

/// Issue 21: the changes run's early stop trusts the order only when the
/// page shows it: a page that is not newest first (the server ignored
/// `sort_by`) is read whole, and the run goes on to the next page.
#[tokio::test]
async fn a_changes_run_reads_on_when_the_order_was_not_applied() {
    let f = start().await;
    let mut shuffled = fixture("conversations-changes.json");
    shuffled["data"]["payload"].as_array_mut().unwrap().reverse();
    Mock::given(path(LISTING)).and(query_param("page", "1")).respond_with(json(shuffled)).mount(&f.server).await;
    let page = f.page(Mode::Changes { since: datetime!(2025-11-24 16:00:00 UTC) }, None).await.unwrap();
    assert_eq!(ids(&page), ["2", "1", "3"], "the older conversation was read, not taken for the end");
    assert_eq!(page.next.as_deref(), Some("2"));
}

/// Conversations numbered 1 to `count`, 25 a page by page number (as
/// Chatwoot pages), where each page served deletes the lowest-numbered
/// remaining one (on a page already read): every later page shifts up by
/// one, past the reader. A lookup of a deleted one answers 404.
struct ShiftingConversations {
    template: serde_json::Value,
    live: std::sync::Mutex<std::collections::BTreeSet<u64>>,
    deleting: std::sync::atomic::AtomicBool,
    found: std::sync::atomic::AtomicU32,
    sorted: std::sync::atomic::AtomicU32,
}

impl ShiftingConversations {
    fn conversation(&self, n: u64) -> serde_json::Value {
        let mut c = self.template.clone();
        let at = 1_763_800_000 + i64::try_from(n).unwrap() * 60;
        c["id"] = n.into();
        c["created_at"] = at.into();
        c["last_activity_at"] = at.into();
        c["updated_at"] = at.into();
        c
    }
}

impl wiremock::Respond for ShiftingConversations {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        use std::sync::atomic::Ordering;
        let mut live = self.live.lock().unwrap();
        if let Some(n) = request.url.path().strip_prefix(&format!("{LISTING}/")) {
            let n: u64 = n.parse().unwrap();
            if !live.contains(&n) {
                return ResponseTemplate::new(404)
                    .set_body_json(serde_json::json!({ "error": "Resource could not be found" }));
            }
            self.found.fetch_add(1, Ordering::SeqCst);
            return json(self.conversation(n));
        }
        if request.url.query_pairs().any(|(k, _)| k == "sort_by") {
            self.sorted.fetch_add(1, Ordering::SeqCst);
        }
        let page: usize = request.url.query_pairs().find(|(k, _)| k == "page").map_or(1, |(_, v)| v.parse().unwrap());
        let payload: Vec<serde_json::Value> =
            live.iter().skip((page - 1) * 25).take(25).map(|&n| self.conversation(n)).collect();
        if self.deleting.load(Ordering::SeqCst) && !payload.is_empty() {
            let lowest = *live.iter().next().unwrap();
            live.remove(&lowest);
        }
        json(serde_json::json!({ "data": { "meta": { "all_count": live.len() }, "payload": payload } }))
    }
}

/// CONNECTOR-RULES 36, SECURITY F8: a full pass over numbered pages that
/// shift under it misses live conversations; the prune looks up each one
/// it did not see, keeps the live ones and removes only those Chatwoot
/// answers 404 for. The full pass sends no `sort_by`.
#[tokio::test]
async fn a_full_pass_over_shifting_pages_removes_only_deleted_conversations() {
    use std::sync::{Arc, atomic::Ordering};
    let f = start().await;
    let template = fixture("conversations-page-1.json")["data"]["payload"][0].clone();
    let listing = Arc::new(ShiftingConversations {
        template,
        live: std::sync::Mutex::new((1..=100).collect()),
        deleting: false.into(),
        found: 0.into(),
        sorted: 0.into(),
    });
    Mock::given(wiremock::matchers::path_regex(format!("^{LISTING}")))
        .respond_with(testing::Shared(listing.clone()))
        .mount(&f.server)
        .await;
    let stored: Vec<_> = f.full_pass_with_prune(Vec::new()).await.into_values().collect();
    assert_eq!(stored.len(), 100);

    // Two are deleted before the pass; one more after each page it reads.
    listing.live.lock().unwrap().retain(|n| !matches!(n, 90 | 91));
    listing.deleting.store(true, Ordering::SeqCst);
    let after = f.full_pass_with_prune(stored).await;
    let live = listing.live.lock().unwrap().clone();
    assert_eq!(live.len(), 94);
    let kept: std::collections::BTreeSet<u64> = after.keys().map(|(_, id)| id.parse().unwrap()).collect();
    // Every live conversation is kept; the two deleted before the pass are
    // removed, and the four deleted after the pass read them wait for the
    // next changes run, as a pass cannot know of them.
    let mut expected = live.clone();
    expected.extend(1..=4);
    assert_eq!(kept, expected, "the store is not the account's conversations");
    // 26, 52 and 78 slipped past the reader and were found live.
    assert_eq!(listing.found.load(Ordering::SeqCst), 3, "the pages did not shift as the test means");
    assert_eq!(listing.sorted.load(Ordering::SeqCst), 0, "a full pass sent sort_by");
}

/// The conformance suite's listings beyond the full one: the changes
/// since 16:00, newest first (answered only when asked so), and a first
/// page with a conversation that carries no readable time.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_full_listing(f).await,
        testing::Served::Changes => {
            Mock::given(method("GET"))
                .and(path(LISTING))
                .and(query_param("sort_by", "last_activity_at_desc"))
                .and(query_param("page", "1"))
                .respond_with(json(fixture("conversations-changes.json")))
                .mount(&f.server)
                .await;
        }
        testing::Served::Unmappable => {
            let mut page = fixture("conversations-page-1.json");
            let mut broken = page["data"]["payload"][0].clone();
            broken["id"] = 77.into();
            broken["last_activity_at"] = 0.into();
            broken["created_at"] = 0.into();
            broken["updated_at"] = serde_json::Value::Null;
            broken["timestamp"] = 0.into();
            page["data"]["payload"].as_array_mut().unwrap().push(broken);
            Mock::given(path(LISTING)).respond_with(json(page)).mount(&f.server).await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = Record {
        entity_type: "conversation".into(),
        entity_id: "77".into(),
        title: "Conversation #77".into(),
        url: "https://chat.example/app/accounts/7/conversations/77".into(),
        content: serde_json::json!({}),
        updated_at: datetime!(2025-11-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/api/v1/accounts/7",
            full: &["upsert conversation 1", "upsert conversation 2", "upsert conversation 3"],
            since: datetime!(2025-11-24 16:00:00 UTC),
            changes: &["upsert conversation 3", "upsert conversation 1"],
            kept: &["upsert conversation 1", "upsert conversation 2"],
            skipped: "conversation 77",
            gone,
        },
    )
    .await;
}
