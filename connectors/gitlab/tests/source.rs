//! The GitLab connector against fixtures that follow GitLab's REST API v4
//! documentation (projects, project issues and merge requests, notes,
//! pagination and rate-limit headers, error bodies, webhook events),
//! served by wiremock. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::time::{Duration, Instant};

use connector_core::{
    http::Class,
    source::{Mode, Record, Unseen},
    testing::{self, Harness, json_ok as json, keys, upserted},
};
use connector_gitlab::GitlabSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path, path_regex, query_param, query_param_is_missing},
};

const API: &str = "/api/v4";

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<GitlabSource>;

async fn start() -> Fixture {
    Harness::start(GitlabSource, API).await
}

/// The user's projects, one a request by id: acme/web (public),
/// acme/secret-ops (private), acme/handbook (internal).
async fn serve_projects(f: &Fixture) {
    let mut all: Vec<serde_json::Value> = fixture("projects-1.json").as_array().unwrap().clone();
    all.extend(fixture("projects-2.json").as_array().unwrap().iter().cloned());
    let first = |after: Option<u64>| {
        let listing = Mock::given(method("GET"))
            .and(path(format!("{API}/projects")))
            .and(query_param("membership", "true"))
            .and(query_param("order_by", "id"))
            .and(query_param("sort", "asc"))
            .and(header("authorization", "Bearer new-token"));
        match after {
            Some(after) => listing.and(query_param("id_after", after.to_string())),
            None => listing.and(query_param_is_missing("id_after")),
        }
    };
    first(None).respond_with(json(serde_json::json!([all[0]]))).mount(&f.server).await;
    for pair in all.windows(2) {
        let after = pair[0]["id"].as_u64().unwrap();
        first(Some(after)).respond_with(json(serde_json::json!([pair[1]]))).mount(&f.server).await;
    }
    let last = all.last().unwrap()["id"].as_u64().unwrap();
    first(Some(last)).respond_with(json(serde_json::json!([]))).mount(&f.server).await;
    for project in &all {
        let id = project["id"].as_u64().unwrap();
        Mock::given(path(format!("{API}/projects/{id}"))).respond_with(json(project.clone())).mount(&f.server).await;
    }
}

/// Each project's items of a full pass (oldest created first), and the
/// comments of the items that have them.
async fn serve_items(f: &Fixture) {
    for (project, issues, merge_requests) in [
        (101, "issues-101.json", "merge-requests-101.json"),
        (102, "issues-102.json", "merge-requests-empty.json"),
        (103, "issues-103.json", "merge-requests-empty.json"),
    ] {
        for (segment, name) in [("issues", issues), ("merge_requests", merge_requests)] {
            Mock::given(path(format!("{API}/projects/{project}/{segment}")))
                .and(query_param("order_by", "created_at"))
                .and(query_param("sort", "asc"))
                .and(query_param("scope", "all"))
                .and(query_param("per_page", "100"))
                .and(query_param_is_missing("updated_after"))
                .respond_with(json(fixture(name)))
                .mount(&f.server)
                .await;
        }
    }
    Mock::given(path(format!("{API}/projects/101/issues/1/notes")))
        .and(query_param("sort", "asc"))
        .respond_with(json(fixture("notes-issue-101-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path_regex(format!("^{API}/projects/101/(issues/3|merge_requests/7)/notes$")))
        .respond_with(json(fixture("notes-empty.json")))
        .mount(&f.server)
        .await;
}

async fn serve_account(f: &Fixture) {
    serve_projects(f).await;
    serve_items(f).await;
}

const FULL: [&str; 7] = [
    "upsert issue 5001",
    "remove issue 5002",
    "upsert issue 5003",
    "upsert merge_request 9007",
    "upsert merge_request 9008",
    "remove issue 6001",
    "upsert issue 7004",
];

/// CONNECTOR-RULES 5, 14, 19, 34: an issue and a merge request mapped
/// field by field: the project's path carried on them (projects are not
/// records), GitLab's own references in the titles, its `web_url` as the
/// deep link, and only the comments people wrote in the open (the system
/// note and the internal note are left out).
#[tokio::test]
async fn mapping_snapshot_of_an_issue_and_a_merge_request() {
    let f = start().await;
    serve_account(&f).await;
    let changes = f.walk(Mode::Full, None).await;
    let issue = upserted(&changes, "5001");
    assert_eq!(issue.title, "acme/web#1: Checkout button does nothing on Safari");
    assert_eq!(issue.url, "https://gitlab.example.com/acme/web/-/issues/1");
    assert_eq!(issue.updated_at, datetime!(2026-11-03 14:02:10.118 UTC));
    assert_eq!(
        issue.content,
        serde_json::json!({
            "project": "acme/web",
            "project_id": 101,
            "iid": 1,
            "state": "opened",
            "description": "Checkout button does nothing on Safari",
            "author": "Ana Torres",
            "assignees": ["Ben Okafor"],
            "labels": ["bug"],
            "milestone": "v2.4",
            "created_at": "2026-11-02T09:15:21.347Z",
            "closed_at": null,
            "comments": [
                { "author": "Ben Okafor", "body": "Reproduced on Safari 18", "created_at": "2026-11-03T10:12:43.512Z" }
            ],
            "container": { "id": "101", "name": "acme/web" },
        })
    );
    let text = issue.content.to_string();
    assert!(!text.contains("Globex") && !text.contains("changed the description"), "an internal or system note");
    let merge = upserted(&changes, "9007");
    assert_eq!(merge.title, "acme/web!7: Fix Safari checkout handler");
    assert_eq!(merge.url, "https://gitlab.example.com/acme/web/-/merge_requests/7");
    assert_eq!(
        (
            &merge.content["state"],
            &merge.content["source_branch"],
            &merge.content["target_branch"],
            &merge.content["draft"],
            &merge.content["merged_at"],
        ),
        (
            &serde_json::json!("merged"),
            &serde_json::json!("fix/safari-checkout"),
            &serde_json::json!("main"),
            &serde_json::json!(false),
            &serde_json::json!("2026-11-20T15:42:08.271Z"),
        )
    );
    assert_eq!(merge.content["comments"], serde_json::json!([]));
}

/// CONNECTOR-RULES 17, 19, 20: a confidential issue, and every issue of a
/// private project, are removals; an internal project's are indexed.
/// Comments are not even asked for where the item will not be indexed,
/// nor where GitLab counts none.
#[tokio::test]
async fn confidential_issues_and_private_projects_are_never_indexed() {
    let f = start().await;
    serve_account(&f).await;
    assert_eq!(keys(&f.walk(Mode::Full, None).await), FULL);
    let asked: Vec<String> = f.requests().await.iter().map(|r| r.url.path().to_owned()).collect();
    let notes: Vec<&String> = asked.iter().filter(|p| p.ends_with("/notes")).collect();
    assert_eq!(
        notes,
        [
            "/api/v4/projects/101/issues/1/notes",
            "/api/v4/projects/101/issues/3/notes",
            "/api/v4/projects/101/merge_requests/7/notes"
        ],
        "comments were read of a confidential issue, a private project, or an item without any"
    );
}

/// CONNECTOR-RULES 3, 8, 14: a changes run asks each project for what was
/// updated at or after `since` (UTC, by update), and yields only that: an
/// edit, and an issue made confidential as a removal (rule 18).
#[tokio::test]
async fn a_changes_run_asks_with_updated_after_and_yields_only_changes() {
    let f = start().await;
    serve_changes(&f).await;
    let changes = f.walk(Mode::Changes { since: datetime!(2026-11-30 12:00:00 +01:00) }, None).await;
    assert_eq!(keys(&changes), ["upsert issue 5001", "remove issue 5003"]);
    assert_eq!(upserted(&changes, "5001").title, "acme/web#1: Checkout button does nothing on Safari 18");
    let lists: Vec<String> = f
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/issues") || r.url.path().ends_with("/merge_requests"))
        .map(|r| r.url.query().unwrap().to_owned())
        .collect();
    assert_eq!(lists.len(), 6, "two listings in each of three projects");
    assert!(
        lists.iter().all(|q| q.contains("updated_after=2026-11-30T11:00:00Z") && q.contains("order_by=updated_at"))
    );
}

async fn serve_changes(f: &Fixture) {
    serve_projects(f).await;
    for (project, segment, name) in [
        (101, "issues", "issues-101-changes.json"),
        (101, "merge_requests", "merge-requests-empty.json"),
        (102, "issues", "merge-requests-empty.json"),
        (102, "merge_requests", "merge-requests-empty.json"),
        (103, "issues", "merge-requests-empty.json"),
        (103, "merge_requests", "merge-requests-empty.json"),
    ] {
        Mock::given(path(format!("{API}/projects/{project}/{segment}")))
            .and(query_param("updated_after", "2026-11-30T11:00:00Z"))
            .and(query_param("order_by", "updated_at"))
            .respond_with(json(fixture(name)))
            .mount(&f.server)
            .await;
    }
    Mock::given(path(format!("{API}/projects/101/issues/1/notes")))
        .respond_with(json(fixture("notes-issue-101-1.json")))
        .mount(&f.server)
        .await;
}

/// CONNECTOR-RULES 7: items page by `Link` headers within a project, and a
/// stored cursor resumes in the middle of a project's issues without
/// reading its first page again.
#[tokio::test]
async fn pages_follow_link_headers_and_a_cursor_resumes_mid_project() {
    let f = start().await;
    serve_projects(&f).await;
    let issues = fixture("issues-101.json");
    let next = format!(
        "<{}{API}/projects/101/issues?order_by=created_at&sort=asc&page=2&per_page=100>; rel=\"next\"",
        f.server.uri()
    );
    Mock::given(path(format!("{API}/projects/101/issues")))
        .and(query_param_is_missing("page"))
        .respond_with(json(serde_json::json!([issues[0]])).insert_header("link", next))
        .mount(&f.server)
        .await;
    Mock::given(path(format!("{API}/projects/101/issues")))
        .and(query_param("page", "2"))
        .respond_with(json(serde_json::json!([issues[1], issues[2]])))
        .mount(&f.server)
        .await;
    Mock::given(path_regex(format!("^{API}/projects/10[1-3]/(issues|merge_requests)$")))
        .respond_with(json(serde_json::json!([])))
        .mount(&f.server)
        .await;
    Mock::given(path_regex("/notes$")).respond_with(json(serde_json::json!([]))).mount(&f.server).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(keys(&first.changes), ["upsert issue 5001"]);
    let asked = f.requests().await.len();
    let rest = f.walk(Mode::Full, first.next).await;
    assert_eq!(keys(&rest), ["remove issue 5002", "upsert issue 5003"]);
    let again = f.requests().await;
    assert!(
        !again[asked..]
            .iter()
            .any(|r| r.url.path() == "/api/v4/projects/101/issues" && r.url.query_pairs().all(|(k, _)| k != "page")),
        "the first page of issues was read again"
    );
}

/// SECURITY A10, CONNECTOR-RULES 44: a next link to another host is not
/// followed with the token.
#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let f = start().await;
    serve_projects(&f).await;
    Mock::given(path(format!("{API}/projects/101/issues")))
        .respond_with(
            json(fixture("issues-101.json"))
                .insert_header("link", "<https://evil.example/api/v4/projects/101/issues?page=2>; rel=\"next\""),
        )
        .mount(&f.server)
        .await;
    Mock::given(path_regex("/notes$")).respond_with(json(serde_json::json!([]))).mount(&f.server).await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!(error.class, Class::Permanent);
    assert!(error.message.contains("points away from its API"), "{}", error.message);
}

/// CONNECTOR-RULES 31, 38: GitLab's 429 says `Retry later` in plain text,
/// with `Retry-After` and `RateLimit-Reset` (Unix seconds); it is waited
/// out, then the page is read.
#[tokio::test]
async fn a_429_with_gitlabs_headers_is_waited_out() {
    let f = start().await;
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    Mock::given(path(format!("{API}/projects")))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw("Retry later\n", "text/plain")
                .insert_header("retry-after", "1")
                .insert_header("ratelimit-limit", "2000")
                .insert_header("ratelimit-name", "throttle_authenticated_api")
                .insert_header("ratelimit-observed", "2001")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_account(&f).await;
    let started = Instant::now();
    let page = f.page(Mode::Full, None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait: {:?}", started.elapsed());
    assert_eq!(keys(&page.changes), FULL[..3]);
}

/// CONNECTOR-RULES 32, 35: a token without the scope gets GitLab's 403
/// `insufficient_scope`: permanent, in words, and the body (which names
/// scopes) is not echoed.
#[tokio::test]
async fn a_403_for_a_missing_scope_is_permanent() {
    let f = start().await;
    Mock::given(path(format!("{API}/projects")))
        .respond_with(ResponseTemplate::new(403).set_body_json(fixture("error-403-scope.json")))
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(403)));
    assert!(!error.message.contains("insufficient_scope"), "{}", error.message);
    assert_eq!(f.requests().await.len(), 1, "a permanent error was retried");
}

/// CONNECTOR-RULES 34: comments that cannot be read leave their item
/// without them, named as a partial error; the item and its page are kept.
#[tokio::test]
async fn comments_that_fail_leave_the_item_and_name_it() {
    let f = start().await;
    Mock::given(path(format!("{API}/projects/101/issues/1/notes")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_account(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(keys(&page.changes), FULL[..3]);
    assert_eq!(upserted(&page.changes, "5001").content.get("comments"), None);
    let skipped: Vec<String> = page.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(skipped, ["the comments of issue 5001: the provider answered HTTP 404"]);
}

/// CONNECTOR-RULES 18, 36: what a full pass did not see is read again by
/// project and number: a live one is kept (with its comments), one GitLab
/// answers 404 for is removed, every item of a project that is gone or
/// turned private is removed, and one without a readable place is kept.
#[tokio::test]
async fn unseen_items_are_confirmed_by_project_and_number() {
    let f = start().await;
    serve_projects(&f).await;
    Mock::given(path(format!("{API}/projects/101/issues/1")))
        .respond_with(json(fixture("issue-101-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path(format!("{API}/projects/101/issues/1/notes")))
        .respond_with(json(fixture("notes-issue-101-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path(format!("{API}/projects/101/merge_requests/44")))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({ "message": "404 Not found" })))
        .mount(&f.server)
        .await;
    Mock::given(path(format!("{API}/projects/404")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .mount(&f.server)
        .await;
    let unseen = |entity_type: &str, id: &str, content: serde_json::Value| Unseen {
        entity_type: entity_type.into(),
        entity_id: id.into(),
        content,
    };
    let asked = [
        unseen("issue", "5001", serde_json::json!({ "project_id": 101, "iid": 1 })),
        unseen("merge_request", "9044", serde_json::json!({ "project_id": 101, "iid": 44 })),
        unseen("issue", "8001", serde_json::json!({ "project_id": 404, "iid": 1 })),
        unseen("issue", "6001", serde_json::json!({ "project_id": 102, "iid": 1 })),
        unseen("issue", "1", serde_json::json!({ "title": "stored before project ids" })),
    ];
    let answered = f.confirm(&asked).await.unwrap();
    assert_eq!(
        keys(&answered),
        ["upsert issue 5001", "remove merge_request 9044", "remove issue 8001", "remove issue 6001"]
    );
    let kept = upserted(&answered, "5001");
    assert_eq!(kept.title, "acme/web#1: Checkout button does nothing on Safari 18");
    assert_eq!(kept.content["container"]["name"], "acme/web");
    assert_eq!(kept.content["comments"].as_array().unwrap().len(), 1);
}

/// The conformance suite's listings beyond the full one: the changes
/// since 11:00 UTC (answered only with `updated_after`), and a first page
/// of issues with one whose `updated_at` cannot be read.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_account(f).await,
        testing::Served::Changes => serve_changes(f).await,
        testing::Served::Unmappable => {
            serve_account(f).await;
            let mut issues = fixture("issues-101.json");
            let mut broken = issues[0].clone();
            broken["id"] = 77.into();
            broken["updated_at"] = "yesterday".into();
            issues.as_array_mut().unwrap().push(broken);
            Mock::given(path(format!("{API}/projects/101/issues")))
                .respond_with(json(issues))
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
        entity_type: "issue".into(),
        entity_id: "5099".into(),
        title: "acme/web#99: Closed and deleted".into(),
        url: "https://gitlab.example.com/acme/web/-/issues/99".into(),
        content: serde_json::json!({ "project_id": 101, "iid": 99 }),
        updated_at: datetime!(2026-11-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: API,
            full: &FULL,
            since: datetime!(2026-11-30 12:00:00 +01:00),
            changes: &["upsert issue 5001", "remove issue 5003"],
            kept: &["upsert issue 5001", "remove issue 5002", "upsert issue 5003"],
            skipped: "issue 77",
            gone,
        },
    )
    .await;
}

/// GitLab's webhook events, as its webhook events documentation has them:
/// each names the item to read again (CONNECTOR-RULES 17, 42).
mod hooks {
    use connector_core::webhooks::{Delivery, Event, Receiver};

    use super::*;

    fn events(event: &str, name: &str) -> Vec<Event> {
        let body = fixture(name).to_string().into_bytes();
        GitlabSource
            .events(&Delivery { event: Some(event), body: &body, received_at: datetime!(2026-12-01 09:00 UTC) })
            .unwrap()
    }

    fn named(events: &[Event]) -> Vec<(String, String, serde_json::Value, Option<time::OffsetDateTime>)> {
        events
            .iter()
            .map(|e| match e {
                Event::Lookup { unseen, at } => {
                    (unseen.entity_type.clone(), unseen.entity_id.clone(), unseen.content.clone(), *at)
                }
                other => panic!("not a lookup: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn issue_merge_request_and_comment_events_name_their_item() {
        let issue = named(&events("Issue Hook", "hook-issue-update.json"));
        assert_eq!(
            issue,
            [(
                "issue".into(),
                "5001".into(),
                serde_json::json!({ "project_id": 101, "iid": 1 }),
                Some(datetime!(2026-11-30 12:00:00 UTC))
            )]
        );
        let confidential = named(&events("Confidential Issue Hook", "hook-confidential-issue.json"));
        assert_eq!((confidential[0].0.as_str(), confidential[0].1.as_str()), ("issue", "5002"));
        let merge = named(&events("Merge Request Hook", "hook-merge-request.json"));
        assert_eq!((merge[0].0.as_str(), merge[0].1.as_str()), ("merge_request", "9007"));
        assert_eq!(merge[0].2, serde_json::json!({ "project_id": 101, "iid": 7 }));
        let note = named(&events("Note Hook", "hook-note.json"));
        assert_eq!((note[0].0.as_str(), note[0].1.as_str()), ("issue", "5001"));
        assert!(events("Confidential Note Hook", "hook-note.json").is_empty());
        assert!(events("Push Hook", "hook-note.json").is_empty());
    }

    /// A comment on a commit changes nothing indexed; a delivery that is
    /// not a documented payload is an error in words.
    #[test]
    fn comments_elsewhere_are_left_and_unreadable_payloads_say_so() {
        let mut body = fixture("hook-note.json");
        body["object_attributes"]["noteable_type"] = "Commit".into();
        let body = body.to_string().into_bytes();
        let delivery = Delivery { event: Some("Note Hook"), body: &body, received_at: datetime!(2026-12-01 09:00 UTC) };
        assert!(GitlabSource.events(&delivery).unwrap().is_empty());
        let delivery =
            Delivery { event: Some("Issue Hook"), body: b"[1]", received_at: datetime!(2026-12-01 09:00 UTC) };
        let error = GitlabSource.events(&delivery).unwrap_err();
        assert!(error.message.starts_with("the Issue Hook delivery is not one GitLab documents"), "{}", error.message);
    }
}
