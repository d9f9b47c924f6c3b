//! The Asana connector against fixtures that follow Asana's REST API 1.0
//! (workspaces, projects with `privacy_setting`, a project's tasks with
//! `next_page.offset` and `modified_since`, stories, one task, error
//! bodies), served by wiremock. Each test names the CONNECTOR-RULES it
//! proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_asana::AsanaSource;
use connector_core::{
    source::{Mode, Record},
    testing::{self, Harness, json_ok as json, keys, upserted},
};
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{path, path_regex, query_param, query_param_is_missing},
};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<AsanaSource>;

async fn start() -> Fixture {
    Harness::start(AsanaSource::default(), "/api/1.0").await
}

const P_WEBSITE: &str = "1200000000000101";

async fn serve_projects(f: &Fixture) {
    Mock::given(path("/api/1.0/workspaces")).respond_with(json(fixture("workspaces.json"))).mount(&f.server).await;
    Mock::given(path("/api/1.0/projects"))
        .and(query_param("workspace", "1200000000000001"))
        .respond_with(json(fixture("projects.json")))
        .mount(&f.server)
        .await;
    Mock::given(path_regex(r"^/api/1\.0/tasks/\d+/stories$"))
        .respond_with(json(fixture("stories-empty.json")))
        .with_priority(9)
        .mount(&f.server)
        .await;
    Mock::given(path("/api/1.0/tasks/1200000000001011/stories"))
        .respond_with(json(fixture("stories-task-1.json")))
        .mount(&f.server)
        .await;
}

async fn serve_full(f: &Fixture) {
    serve_projects(f).await;
    let offset = fixture("tasks-101-page-1.json")["next_page"]["offset"].as_str().unwrap().to_owned();
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("project", P_WEBSITE))
        .and(query_param_is_missing("offset"))
        .and(query_param_is_missing("modified_since"))
        .respond_with(json(fixture("tasks-101-page-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("project", P_WEBSITE))
        .and(query_param("offset", offset.as_str()))
        .respond_with(json(fixture("tasks-101-page-2.json")))
        .mount(&f.server)
        .await;
    for (project, name) in [("1200000000000102", "tasks-102.json"), ("1200000000000103", "tasks-103.json")] {
        Mock::given(path("/api/1.0/tasks"))
            .and(query_param("project", project))
            .and(query_param_is_missing("modified_since"))
            .respond_with(json(fixture(name)))
            .mount(&f.server)
            .await;
    }
}

const FULL: [&str; 5] = [
    "upsert task 1200000000001011",
    "upsert task 1200000000001012",
    "upsert task 1200000000001013",
    "remove task 1200000000001021",
    "remove task 1200000000001031",
];

/// CONNECTOR-RULES 19, 34: a task mapped field by field, its project
/// carried (projects are not records), its permalink as the deep link,
/// its comments and not its system stories.
#[tokio::test]
async fn mapping_snapshot_of_a_task_with_its_comments() {
    let f = start().await;
    serve_full(&f).await;
    let changes = f.walk(Mode::Full, None).await;
    let task = upserted(&changes, "1200000000001011");
    assert_eq!(task.title, "Fix checkout button on Safari");
    assert_eq!(task.url, "https://app.asana.com/1/1200000000000001/task/1200000000001011");
    assert_eq!(task.updated_at, datetime!(2026-11-28 14:02:10.118 UTC));
    assert_eq!(task.content["container"], serde_json::json!({ "id": P_WEBSITE, "name": "Website" }));
    assert_eq!(task.content["assignee"], "Ben Okafor");
    assert_eq!(task.content["tags"], serde_json::json!(["bug"]));
    let comments = task.content["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "a system story travelled: {comments:?}");
    assert!(!task.content.to_string().contains("assigned to"));
}

/// CONNECTOR-RULES 17, 20: only projects public to their workspace are
/// indexed; a private project's and a `private_to_team` one's tasks are
/// removals, and their comments are not read.
#[tokio::test]
async fn only_projects_public_to_their_workspace_are_indexed() {
    let f = start().await;
    serve_full(&f).await;
    assert_eq!(keys(&f.walk(Mode::Full, None).await), FULL);
    let stories: Vec<String> =
        f.requests().await.iter().map(|r| r.url.path().to_owned()).filter(|p| p.ends_with("/stories")).collect();
    assert!(!stories.iter().any(|p| p.contains("1021") || p.contains("1031")), "{stories:?}");
}

/// CONNECTOR-RULES 17: a task that is also in a public project is
/// indexed through that project, and a private project's listing of it
/// does not remove it.
#[tokio::test]
async fn a_task_in_a_public_and_a_private_project_stays_indexed() {
    let f = start().await;
    let mut shared = fixture("tasks-102.json");
    shared["data"][0]["memberships"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "project": { "gid": P_WEBSITE, "name": "Website" }, "section": null }));
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("project", "1200000000000102"))
        .respond_with(json(shared))
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_full(&f).await;
    let changes = keys(&f.walk(Mode::Full, None).await);
    assert!(!changes.contains(&"remove task 1200000000001021".to_owned()), "{changes:?}");
}

async fn serve_changes(f: &Fixture) {
    serve_projects(f).await;
    for (project, answer) in [
        (P_WEBSITE, fixture("tasks-101-modified.json")),
        ("1200000000000102", serde_json::json!({ "data": [], "next_page": null })),
        ("1200000000000103", serde_json::json!({ "data": [], "next_page": null })),
    ] {
        Mock::given(path("/api/1.0/tasks"))
            .and(query_param("project", project))
            .and(query_param("modified_since", "2026-11-30T09:00:00Z"))
            .respond_with(json(answer))
            .mount(&f.server)
            .await;
    }
}

/// CONNECTOR-RULES 3, 14: a changes run asks each project with
/// `modified_since` (UTC) and yields only what changed.
#[tokio::test]
async fn a_changes_run_asks_each_project_with_modified_since() {
    let f = start().await;
    serve_changes(&f).await;
    let changes = f.walk(Mode::Changes { since: datetime!(2026-11-30 10:00 +01:00) }, None).await;
    assert_eq!(keys(&changes), ["upsert task 1200000000001011"]);
}

/// CONNECTOR-RULES 31: Asana's 429 with `Retry-After` is waited out.
#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let f = start().await;
    Mock::given(path("/api/1.0/tasks"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(fixture("error-429.json")).insert_header("retry-after", "1"),
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

async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => {
            serve_full(f).await;
            Mock::given(path("/api/1.0/tasks/1200000000009999"))
                .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
                .mount(&f.server)
                .await;
        }
        testing::Served::Changes => serve_changes(f).await,
        testing::Served::Unmappable => {
            serve_full(f).await;
            let mut page = fixture("tasks-101-page-1.json");
            let mut broken = page["data"][0].clone();
            broken["gid"] = "77".into();
            broken["modified_at"] = "yesterday".into();
            broken["created_at"] = serde_json::Value::Null;
            page["data"].as_array_mut().unwrap().push(broken);
            Mock::given(path("/api/1.0/tasks"))
                .and(query_param("project", P_WEBSITE))
                .and(query_param_is_missing("offset"))
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
        entity_id: "1200000000009999".into(),
        title: "Deleted".into(),
        url: "https://app.asana.com/1/1200000000000001/task/1200000000009999".into(),
        content: serde_json::json!({}),
        updated_at: datetime!(2026-10-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/api/1.0",
            full: &FULL,
            since: datetime!(2026-11-30 10:00 +01:00),
            changes: &["upsert task 1200000000001011"],
            kept: &["upsert task 1200000000001011", "upsert task 1200000000001012"],
            skipped: "task 77",
            gone,
        },
    )
    .await;
}
