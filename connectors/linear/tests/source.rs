//! The Linear connector against fixtures that follow Linear's GraphQL
//! schema and its pagination, filtering and rate-limiting documentation,
//! served by wiremock. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::time::{Duration, Instant};

use connector_core::{
    http::Class,
    source::{Change, Mode, Page},
    testing::{self, Harness},
};
use connector_linear::LinearSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{body_partial_json, header, method, path},
};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

const AFTER: &str = "YXJyYXljb25uZWN0aW9uOjQ5";

type Fixture = Harness<LinearSource>;

async fn start() -> Fixture {
    Harness::start(LinearSource, "/graphql").await
}

async fn serve_issues(f: &Fixture) {
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(header("authorization", "Bearer new-token"))
        .and(body_partial_json(serde_json::json!({ "variables": { "first": 50, "after": null } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issues-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(body_partial_json(serde_json::json!({ "variables": { "after": AFTER } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issues-2.json")))
        .mount(&f.server)
        .await;
}

/// The GraphQL bodies the fake provider received.
async fn bodies(f: &Fixture) -> Vec<serde_json::Value> {
    f.requests().await.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

fn keys(page: &Page) -> Vec<String> {
    page.changes
        .iter()
        .map(|c| match c {
            Change::Upsert(r) => format!("upsert {}", r.entity_id),
            Change::Remove { entity_id, .. } => format!("remove {entity_id}"),
        })
        .collect()
}

/// CONNECTOR-RULES 14, 34: an issue mapped field by field, its comments
/// (one by an integration, with no user) carried along.
#[tokio::test]
async fn mapping_snapshot_of_an_issue_with_comments() {
    let f = start().await;
    serve_issues(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    let Change::Upsert(issue) = &page.changes[0] else { panic!("{:?}", page.changes[0]) };
    assert_eq!(
        (issue.entity_type.as_str(), issue.entity_id.as_str()),
        ("issue", "9cfb482a-81e3-4154-b2b1-1d7f6a5e3a11")
    );
    assert_eq!(issue.title, "ENG-123: Sync stalls on large accounts");
    assert_eq!(issue.url, "https://linear.app/acme/issue/ENG-123/sync-stalls-on-large-accounts");
    assert_eq!(issue.updated_at, datetime!(2026-11-20 10:15:30.25 UTC));
    assert_eq!(
        issue.content,
        serde_json::json!({
            "identifier": "ENG-123",
            "team": "Engineering",
            "state": "In Progress",
            "state_type": "started",
            "description": "Backfills stop after **10k** issues.",
            "created_at": "2026-11-01T09:00:00.000Z",
            "comments": [
                { "id": "2f1d6a1e-0b7c-4d7e-9a53-5d6f1c2b3a41", "body": "Reproduced with 12k issues.",
                  "author": "Ada Lovelace", "updated_at": "2026-11-20T10:15:30.250Z" },
                { "id": "7a8b9c0d-1e2f-4a5b-8c6d-7e8f9a0b1c2d", "body": "Linked from GitHub.",
                  "author": null, "updated_at": "2026-11-20T10:10:00.000Z" },
            ],
        })
    );
}

/// CONNECTOR-RULES 7, 17, 18: the connection is paged with `after` to the
/// end; an issue of a private team, an archived one and one whose team's
/// visibility is missing come out as removals.
#[tokio::test]
async fn pagination_reaches_the_end_and_private_archived_issues_are_removed() {
    let f = start().await;
    serve_issues(&f).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(
        keys(&first),
        ["upsert 9cfb482a-81e3-4154-b2b1-1d7f6a5e3a11", "remove 1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"]
    );
    assert_eq!(first.next.as_deref(), Some(AFTER));
    let last = f.page(Mode::Full, first.next.as_deref()).await.unwrap();
    assert_eq!(
        keys(&last),
        ["remove 3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b", "remove 4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c"]
    );
    assert_eq!(last.next, None);
    let sent = bodies(&f).await;
    assert!(sent[0]["query"].as_str().unwrap().contains("includeArchived: true"));
}

/// CONNECTOR-RULES 31: Linear's rate limit (a `RATELIMITED` GraphQL error)
/// is transient and carries the wait until `X-RateLimit-Requests-Reset`
/// (epoch milliseconds); a 400 with the requests spent is retried by the
/// client after the reset.
#[tokio::test]
async fn ratelimited_is_transient_with_the_reset_wait() {
    let f = start().await;
    let reset_ms = (time::OffsetDateTime::now_utc().unix_timestamp() + 30) * 1000;
    Mock::given(path("/graphql"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-requests-remaining", "0")
                .insert_header("x-ratelimit-requests-reset", reset_ms.to_string().as_str())
                .set_body_json(serde_json::json!({
                    "errors": [{ "message": "Rate limit exceeded", "extensions": { "code": "RATELIMITED" } }]
                })),
        )
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!(error.class, Class::Transient);
    let wait = error.retry_after.unwrap();
    assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30), "{wait:?}");

    let g = start().await;
    let reset_ms = (time::OffsetDateTime::now_utc().unix_timestamp() + 1) * 1000;
    Mock::given(path("/graphql"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-ratelimit-requests-remaining", "0")
                .insert_header("x-ratelimit-requests-reset", reset_ms.to_string().as_str())
                .set_body_json(serde_json::json!({
                    "errors": [{ "message": "Rate limit exceeded", "extensions": { "code": "RATELIMITED" } }]
                })),
        )
        .up_to_n_times(1)
        .mount(&g.server)
        .await;
    serve_issues(&g).await;
    let started = Instant::now();
    assert_eq!(g.page(Mode::Full, None).await.unwrap().changes.len(), 2);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(bodies(&g).await.len(), 2);
}

/// CONNECTOR-RULES 32: an HTTP 401 gets one refresh; an authentication
/// error in the answer is permanent, and so is a query Linear refuses.
#[tokio::test]
async fn a_401_refreshes_once_and_graphql_refusals_are_permanent() {
    let f = start().await.with_stale_token();
    Mock::given(path("/graphql"))
        .and(header("authorization", "Bearer old-token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "errors": [{ "message": "Authentication required, not authenticated",
                         "extensions": { "code": "AUTHENTICATION_ERROR", "type": "authentication error" } }]
        })))
        .mount(&f.server)
        .await;
    serve_issues(&f).await;
    assert_eq!(f.page(Mode::Full, None).await.unwrap().changes.len(), 2);
    assert_eq!(f.tokens.refreshes(), 1);

    let g = start().await;
    Mock::given(path("/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "errors": [{ "message": "Authentication required, not authenticated",
                         "extensions": { "type": "authentication error" } }]
        })))
        .mount(&g.server)
        .await;
    let error = g.page(Mode::Full, None).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(401)));

    let h = start().await;
    Mock::given(path("/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "errors": [{ "message": "Query too complex", "extensions": { "code": "INVALID_INPUT" } }]
        })))
        .mount(&h.server)
        .await;
    let error = h.page(Mode::Full, None).await.unwrap_err();
    assert_eq!(error.class, Class::Permanent);
    assert!(error.message.contains("Query too complex"), "{}", error.message);
}

/// Issue 21: comments are carried newest first whatever order they come
/// in, and the query asks for them in an explicit order.
#[tokio::test]
async fn comments_are_carried_newest_first() {
    let f = start().await;
    let mut answer = fixture("issues-1.json");
    answer["data"]["issues"]["nodes"][0]["comments"]["nodes"].as_array_mut().unwrap().reverse();
    Mock::given(path("/graphql")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&f.server).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    let Change::Upsert(issue) = &page.changes[0] else { panic!("{:?}", page.changes[0]) };
    let texts: Vec<&str> =
        issue.content["comments"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Reproduced with 12k issues.", "Linked from GitHub."]);
    let query = bodies(&f).await[0]["query"].as_str().unwrap().to_owned();
    assert!(query.contains("comments(first: 10, orderBy: createdAt)"), "{query}");
}

/// Issue 21, CONNECTOR-RULES 39: an answer with data and errors keeps the
/// data and reports each error, naming where it happened; an internal
/// error, a lock timeout or a network error without data is transient.
#[tokio::test]
async fn partial_data_is_kept_and_internal_errors_are_transient() {
    let f = start().await;
    let mut answer = fixture("issues-1.json");
    answer["errors"] = serde_json::json!([{ "message": "Comment author could not be loaded",
        "path": ["issues", "nodes", 0, "comments", "nodes", 1, "user"], "extensions": { "type": "internal error" } }]);
    Mock::given(path("/graphql")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&f.server).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(page.changes.len(), 2, "the data was dropped");
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].to_string(), "issues.nodes.0.comments.nodes.1.user: Comment author could not be loaded");

    for kind in ["internal error", "lock timeout", "network error"] {
        let g = start().await;
        Mock::given(path("/graphql"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "data": null, "errors": [{ "message": "Something went wrong", "extensions": { "type": kind } }]
            })))
            .mount(&g.server)
            .await;
        let error = g.page(Mode::Full, None).await.unwrap_err();
        assert_eq!(error.class, Class::Transient, "{kind}");
    }
}

/// The conformance suite's listings beyond the full one: the changes
/// since 07:00 UTC (answered only with the `updatedAt` filter), and the
/// first page with an issue whose `updatedAt` cannot be read.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_issues(f).await,
        testing::Served::Changes => {
            Mock::given(path("/graphql"))
                .and(body_partial_json(serde_json::json!({
                    "variables": { "filter": { "updatedAt": { "gte": "2026-11-20T07:00:00Z" } } }
                })))
                .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issues-2.json")))
                .mount(&f.server)
                .await;
        }
        testing::Served::Unmappable => {
            let mut answer = fixture("issues-1.json");
            answer["data"]["issues"]["nodes"][0]["updatedAt"] = "last week".into();
            answer["data"]["issues"]["pageInfo"]["hasNextPage"] = false.into();
            Mock::given(path("/graphql"))
                .respond_with(ResponseTemplate::new(200).set_body_json(answer))
                .mount(&f.server)
                .await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = connector_core::source::Record {
        entity_type: "issue".into(),
        entity_id: "0f0f0f0f-0000-4000-8000-000000000077".into(),
        title: "ENG-77 deleted".into(),
        url: "https://linear.app/acme/issue/ENG-77".into(),
        content: serde_json::json!({}),
        updated_at: datetime!(2026-11-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/graphql",
            full: &[
                "upsert issue 9cfb482a-81e3-4154-b2b1-1d7f6a5e3a11",
                "remove issue 1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
                "remove issue 3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b",
                "remove issue 4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c",
            ],
            since: datetime!(2026-11-20 08:00:00 +01:00),
            changes: &[
                "remove issue 3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b",
                "remove issue 4d5e6f70-8192-43a4-b5c6-d7e8f90a1b2c",
            ],
            kept: &["remove issue 1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"],
            skipped: "issue ENG-123",
            gone,
        },
    )
    .await;
}

/// Linear's webhooks: deliveries shaped as Linear's webhooks documentation
/// has them (data change events for `Issue` and `Comment`), issues read
/// back by id, and the webhook made and deleted through `webhookCreate`
/// and `webhookDelete`.
mod hooks {
    use connector_core::{
        source::{Source as _, Unseen},
        webhooks::{Delivery, Event, Hook, Receiver, Subscription},
    };
    use wiremock::matchers::body_string_contains;

    use super::*;

    const ISSUE: &str = "9cfb482a-81e3-4154-b2b1-1d7f6a5e3a11";
    const PRIVATE: &str = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b";

    fn delivery<'a>(event: &'a str, body: &'a [u8]) -> Delivery<'a> {
        Delivery { event: Some(event), body, received_at: datetime!(2026-12-03 09:16 UTC) }
    }

    fn body(name: &str) -> Vec<u8> {
        fixture(name).to_string().into_bytes()
    }

    fn unseen(id: &str) -> Unseen {
        Unseen { entity_type: "issue".into(), entity_id: id.into(), content: serde_json::Value::Null }
    }

    /// CONNECTOR-RULES 17, 42: an update names the issue, to be read back
    /// (the payload does not say whether its team is public); a removal is
    /// applied as of the event; a comment refreshes its issue.
    #[tokio::test]
    async fn issue_and_comment_events_name_the_issue_and_removals_apply_as_of_the_event() {
        let f = start().await;
        let update = body("hook-issue-update.json");
        assert_eq!(
            f.source().events(&delivery("Issue", &update)).unwrap(),
            vec![Event::Lookup { unseen: unseen(ISSUE), at: Some(datetime!(2026-12-03 09:15 UTC)) }]
        );
        let remove = body("hook-issue-remove.json");
        assert_eq!(
            f.source().events(&delivery("Issue", &remove)).unwrap(),
            vec![Event::Carried {
                change: Change::Remove { entity_type: "issue".into(), entity_id: ISSUE.into() },
                at: Some(datetime!(2026-12-03 09:15 UTC)),
            }]
        );
        let comment = body("hook-comment-create.json");
        assert_eq!(
            f.source().events(&delivery("Comment", &comment)).unwrap(),
            vec![Event::Lookup { unseen: unseen(ISSUE), at: None }]
        );
        let project =
            br#"{"action":"update","type":"Project","data":{"id":"p1"},"createdAt":"2026-12-03T09:15:00.000Z"}"#;
        assert_eq!(f.source().events(&delivery("Project", project)).unwrap(), Vec::new());
        let orphan = br#"{"action":"create","type":"Comment","data":{"id":"c1"}}"#;
        assert_eq!(f.source().events(&delivery("Comment", orphan)).unwrap(), Vec::new());
        assert!(f.source().events(&delivery("Issue", b"[]")).unwrap_err().message.contains("not a Linear event"));
    }

    /// CONNECTOR-RULES 17, 18: issues read back by id are mapped as a sync
    /// maps them: one of a private team, or one Linear does not answer
    /// (deleted, or out of the viewer's reach), is a removal.
    #[tokio::test]
    async fn issues_read_back_by_id_keep_the_public_and_remove_the_rest() {
        let f = start().await;
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(header("authorization", "Bearer new-token"))
            .and(body_string_contains("IssuesById"))
            .and(body_partial_json(serde_json::json!({ "variables": { "ids": [ISSUE, PRIVATE, "gone"] } })))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issues-1.json")))
            .expect(1)
            .mount(&f.server)
            .await;
        let changes = f.source().confirm(&f.cx(), &[unseen(ISSUE), unseen(PRIVATE), unseen("gone")]).await.unwrap();
        let keys: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Upsert(r) => format!("upsert {}", r.entity_id),
                Change::Remove { entity_id, .. } => format!("remove {entity_id}"),
            })
            .collect();
        assert_eq!(keys, vec![format!("upsert {ISSUE}"), format!("remove {PRIVATE}"), "remove gone".to_owned()]);
    }

    /// CONNECTOR-RULES 29, 43: the webhook is made for the public teams,
    /// for issues and comments, with the connection's URL and secret, and
    /// deleted by its id; one Linear no longer has counts as deleted.
    #[tokio::test]
    async fn the_webhook_is_made_with_the_connections_url_and_secret_and_deleted() {
        let f = start().await;
        let url = "https://console.example/webhooks/linear/0123456789abcdef0123456789abcdef";
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(body_string_contains("webhookCreate"))
            .and(body_partial_json(serde_json::json!({ "variables": { "input": {
                "url": url, "secret": "s3cret-of-sixteen-chars", "resourceTypes": ["Issue", "Comment"],
                "allPublicTeams": true,
            } } })))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("webhook-created.json")))
            .expect(1)
            .mount(&f.server)
            .await;
        let made = f
            .source()
            .subscribe(&f.cx(), &Hook { url, secret: Some("s3cret-of-sixteen-chars") })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(made, Subscription { ids: vec!["d3f0a4b2-9c1e-4b7a-8f6d-2e5c7a9b1d30".into()], expires_at: None });

        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(body_string_contains("webhookDelete"))
            .and(body_partial_json(
                serde_json::json!({ "variables": { "id": "d3f0a4b2-9c1e-4b7a-8f6d-2e5c7a9b1d30" } }),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "data": { "webhookDelete": { "success": true } } })),
            )
            .expect(1)
            .mount(&f.server)
            .await;
        f.source().unsubscribe(&f.cx(), &made).await.unwrap();

        f.server.reset().await;
        let not_found = serde_json::json!({
            "data": null,
            "errors": [{ "message": "Entity not found: Webhook", "extensions": { "type": "invalid input", "code": "INPUT_ERROR" } }]
        });
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .respond_with(ResponseTemplate::new(200).set_body_json(not_found))
            .mount(&f.server)
            .await;
        f.source().unsubscribe(&f.cx(), &made).await.unwrap();

        // Not an admin: Linear's refusal reaches the page in its words.
        f.server.reset().await;
        let forbidden = serde_json::json!({
            "data": null,
            "errors": [{ "message": "Invalid scope: `admin` required", "extensions": { "type": "forbidden", "code": "FORBIDDEN" } }]
        });
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .respond_with(ResponseTemplate::new(200).set_body_json(forbidden))
            .mount(&f.server)
            .await;
        let refused =
            f.source().subscribe(&f.cx(), &Hook { url, secret: Some("s3cret-of-sixteen-chars") }).await.unwrap_err();
        assert_eq!(refused.class, Class::Permanent);
        assert!(refused.message.contains("`admin` required"), "{}", refused.message);
        let kept = f.source().unsubscribe(&f.cx(), &made).await.unwrap_err();
        assert!(kept.message.contains("`admin` required"), "{}", kept.message);
    }
}
