//! The Teamwork connector against fixtures that follow Teamwork's
//! Projects API v3 (tasks with their `included` sideloads and
//! `meta.page.hasMore`, comments, one task, error bodies), served by
//! wiremock at a site's address. Each test names the CONNECTOR-RULES it
//! proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_core::{
    source::{Mode, Record, Unseen},
    testing::{self, Harness, json_ok as json, keys, upserted},
};
use connector_teamwork::TeamworkSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{path, query_param, query_param_is_missing},
};

const TASKS: &str = "/projects/api/v3/tasks.json";

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<TeamworkSource>;

async fn start() -> Fixture {
    Harness::start(TeamworkSource, "").await
}

/// Two pages of tasks, oldest first, with their sideloads, and task 1's
/// comments.
async fn serve_full(f: &Fixture) {
    for (page, name) in [("1", "tasks-page-1.json"), ("2", "tasks-page-2.json")] {
        Mock::given(path(TASKS))
            .and(query_param("page", page))
            .and(query_param("orderBy", "createdat"))
            .and(query_param("includeCompletedTasks", "true"))
            .and(query_param("include", "users,tasklists,projects,tags"))
            .and(query_param_is_missing("updatedAfter"))
            .respond_with(json(fixture(name)))
            .mount(&f.server)
            .await;
    }
    Mock::given(path("/projects/api/v3/tasks/1/comments.json"))
        .respond_with(json(fixture("comments-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(wiremock::matchers::path_regex(r"^/projects/api/v3/tasks/\d+/comments\.json$"))
        .respond_with(json(fixture("comments-empty.json")))
        .with_priority(9)
        .mount(&f.server)
        .await;
}

const FULL: [&str; 3] = ["upsert task 1", "remove task 2", "upsert task 3"];

/// CONNECTOR-RULES 4, 5, 19: a task mapped field by field, its sideloads
/// merged back: its task list and project named, its assignees and tags
/// by name, its comments as text, a deep link into the site.
#[tokio::test]
async fn mapping_snapshot_of_a_task_with_its_sideloads_and_comments() {
    let f = start().await;
    serve_full(&f).await;
    let changes = f.walk(Mode::Full, None).await;
    let task = upserted(&changes, "1");
    assert_eq!(task.title, "Draft launch checklist");
    assert_eq!(task.url, format!("{}/app/tasks/1", f.server.uri()));
    assert_eq!(task.updated_at, datetime!(2026-02-25 10:30 UTC));
    assert_eq!((&task.content["project"], &task.content["tasklist"]), (&"Spring Launch".into(), &"Planning".into()));
    assert_eq!(task.content["assignees"], serde_json::json!(["Ada Lovelace"]));
    assert_eq!(task.content["tags"], serde_json::json!(["launch"]));
    let comments = task.content["comments"].as_array().unwrap();
    assert_eq!(comments[1]["text"], "Looks good. Ship it.");
}

/// CONNECTOR-RULES 17, 18: a private task is a removal, and so is one
/// whose privacy is not stated or whose task list is not known to be
/// open; its comments are not read.
#[tokio::test]
async fn private_tasks_and_unknown_privacy_are_never_indexed() {
    let f = start().await;
    serve_full(&f).await;
    assert_eq!(keys(&f.walk(Mode::Full, None).await), FULL);
    assert!(!f.requests().await.iter().any(|r| r.url.path() == "/projects/api/v3/tasks/2/comments.json"));

    let unknown = start().await;
    let mut page = fixture("tasks-page-1.json");
    page["tasks"][0].as_object_mut().unwrap().remove("isPrivate");
    page["meta"]["page"]["hasMore"] = false.into();
    Mock::given(path(TASKS)).respond_with(json(page)).mount(&unknown.server).await;
    assert_eq!(keys(&unknown.walk(Mode::Full, None).await), ["remove task 1", "remove task 2"]);

    let listless = start().await;
    let mut page = fixture("tasks-page-1.json");
    page["included"].as_object_mut().unwrap().remove("tasklists");
    page["meta"]["page"]["hasMore"] = false.into();
    Mock::given(path(TASKS)).respond_with(json(page)).mount(&listless.server).await;
    assert_eq!(keys(&listless.walk(Mode::Full, None).await), ["remove task 1", "remove task 2"]);
}

async fn serve_changes(f: &Fixture) {
    Mock::given(path(TASKS))
        .and(query_param("updatedAfter", "2026-03-01T11:00:00Z"))
        .respond_with(json(fixture("tasks-updated.json")))
        .mount(&f.server)
        .await;
    Mock::given(wiremock::matchers::path_regex(r"/comments\.json$"))
        .respond_with(json(fixture("comments-empty.json")))
        .mount(&f.server)
        .await;
}

/// CONNECTOR-RULES 3, 14, 18: a changes run asks with `updatedAfter` (UTC,
/// whole seconds): an edit is stored, a task made private removed.
#[tokio::test]
async fn a_changes_run_asks_with_updated_after_and_removes_a_privacy_flip() {
    let f = start().await;
    serve_changes(&f).await;
    let changes = f.walk(Mode::Changes { since: datetime!(2026-03-01 12:00:00.5 +01:00) }, None).await;
    assert_eq!(keys(&changes), ["upsert task 1", "remove task 3"]);
    assert_eq!(upserted(&changes, "1").title, "Draft launch checklist (v2)");
}

/// CONNECTOR-RULES 31, 38: Teamwork's 429 with its hyphenated headers
/// (`X-Rate-Limit-Reset`) is waited out, then the page is read.
#[tokio::test]
async fn a_429_with_teamworks_headers_is_waited_out() {
    let f = start().await;
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    Mock::given(path(TASKS))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(fixture("error-429.json"))
                .insert_header("x-rate-limit-limit", "150")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_full(&f).await;
    let started = std::time::Instant::now();
    let page = f.page(Mode::Full, None).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(keys(&page.changes), FULL[..2]);
}

/// CONNECTOR-RULES 18, 36: a task the full pass did not see is read by
/// id: kept while it is there and open, removed on Teamwork's 404.
#[tokio::test]
async fn unseen_tasks_are_read_again_or_removed() {
    let f = start().await;
    let mut one = fixture("task-1.json");
    if one.get("included").is_none() {
        one["included"] = fixture("tasks-page-1.json")["included"].clone();
    }
    Mock::given(path("/projects/api/v3/tasks/1.json")).respond_with(json(one)).mount(&f.server).await;
    Mock::given(path("/projects/api/v3/tasks/9.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/projects/api/v3/tasks/1/comments.json"))
        .respond_with(json(fixture("comments-1.json")))
        .mount(&f.server)
        .await;
    let asked = ["1", "9"].map(|id| Unseen {
        entity_type: "task".into(),
        entity_id: id.into(),
        content: serde_json::json!({}),
    });
    assert_eq!(keys(&f.confirm(&asked).await.unwrap()), ["upsert task 1", "remove task 9"]);
}

async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_full(f).await,
        testing::Served::Changes => serve_changes(f).await,
        testing::Served::Unmappable => {
            serve_full(f).await;
            let mut page = fixture("tasks-page-1.json");
            let mut broken = page["tasks"][0].clone();
            broken["id"] = 77.into();
            broken["updatedAt"] = "yesterday".into();
            broken["createdAt"] = serde_json::Value::Null;
            page["tasks"].as_array_mut().unwrap().push(broken);
            Mock::given(path(TASKS))
                .and(query_param("page", "1"))
                .respond_with(json(page))
                .with_priority(1)
                .mount(&f.server)
                .await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = Record {
        entity_type: "task".into(),
        entity_id: "9".into(),
        title: "Deleted long ago".into(),
        url: "https://acme.teamwork.com/app/tasks/9".into(),
        content: serde_json::json!({}),
        updated_at: datetime!(2026-01-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/projects/api/v3",
            full: &FULL,
            since: datetime!(2026-03-01 12:00:00 +01:00),
            changes: &["upsert task 1", "remove task 3"],
            kept: &["upsert task 1", "remove task 2"],
            skipped: "task 77",
            gone,
        },
    )
    .await;
}

/// Teamwork's webhooks name the task to read again.
mod hooks {
    use connector_core::webhooks::{Delivery, Event, Receiver};

    use super::*;

    #[test]
    fn a_task_event_names_its_task() {
        let body = fixture("webhook-task-updated.json").to_string().into_bytes();
        let events = TeamworkSource
            .events(&Delivery { event: None, body: &body, received_at: datetime!(2026-03-01 12:06 UTC) })
            .unwrap();
        assert!(
            matches!(&events[..], [Event::Lookup { unseen, .. }] if unseen.entity_id == "3" && unseen.entity_type == "task")
        );
        let other = serde_json::json!({ "milestone": { "id": 4 } }).to_string().into_bytes();
        assert!(
            TeamworkSource
                .events(&Delivery { event: None, body: &other, received_at: datetime!(2026-03-01 12:06 UTC) })
                .unwrap()
                .is_empty()
        );
    }
}
