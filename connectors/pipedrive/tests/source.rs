//! The Pipedrive connector against fixtures that follow Pipedrive's API
//! (v2 lists with `next_cursor`, v1 notes, stages, users and deal fields,
//! the error body and 429 headers), served by wiremock at a company's
//! `api_domain`. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_core::{
    source::{Change, Mode, Record},
    testing::{self, Harness, json_ok as json, keys, upserted},
};
use connector_pipedrive::PipedriveSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, path, query_param, query_param_is_missing},
};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<PipedriveSource>;

async fn start() -> Fixture {
    Harness::start(PipedriveSource::default(), "/api/v2").await
}

/// Stages, users and deal fields (a plan without visibility groups:
/// `visible_to` offers 1 and 3, unless `fields` says otherwise).
async fn serve_references(f: &Fixture, fields: serde_json::Value) {
    Mock::given(path("/api/v2/stages")).respond_with(json(fixture("stages.json"))).mount(&f.server).await;
    Mock::given(path("/api/v1/users")).respond_with(json(fixture("users.json"))).mount(&f.server).await;
    Mock::given(path("/api/v1/dealFields")).respond_with(json(fields)).mount(&f.server).await;
}

/// Two pages of deals by id, then the persons and organizations, and the
/// first deal's notes.
async fn serve_full(f: &Fixture) {
    serve_references(f, fixture("deal-fields.json")).await;
    let cursor = fixture("deals-page-1.json")["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
    Mock::given(path("/api/v2/deals"))
        .and(query_param("sort_by", "id"))
        .and(query_param("sort_direction", "asc"))
        .and(query_param("limit", "500"))
        .and(query_param_is_missing("cursor"))
        .and(query_param_is_missing("updated_since"))
        .and(header("authorization", "Bearer new-token"))
        .respond_with(json(fixture("deals-page-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/api/v2/deals"))
        .and(query_param("cursor", cursor.as_str()))
        .respond_with(json(fixture("deals-page-2.json")))
        .mount(&f.server)
        .await;
    for (list, name) in [("persons", "persons.json"), ("organizations", "organizations.json")] {
        Mock::given(path(format!("/api/v2/{list}")))
            .and(query_param_is_missing("updated_since"))
            .respond_with(json(fixture(name)))
            .mount(&f.server)
            .await;
    }
    Mock::given(path("/api/v1/notes"))
        .and(query_param("deal_id", "101"))
        .respond_with(json(fixture("notes-deal-101.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/api/v1/notes"))
        .respond_with(json(fixture("notes-empty.json")))
        .with_priority(9)
        .mount(&f.server)
        .await;
}

const FULL: [&str; 6] = [
    "upsert deal 101",
    "remove deal 102",
    "remove deal 103",
    "upsert person 201",
    "upsert person 202",
    "upsert organization 301",
];

/// CONNECTOR-RULES 4, 5, 14: a deal mapped field by field, its stage,
/// owner and labels named from the reference lists, its notes as text,
/// its deep link at the company's own address.
#[tokio::test]
async fn mapping_snapshot_of_a_deal_with_its_notes_and_names() {
    let f = start().await;
    serve_full(&f).await;
    let changes = f.walk(Mode::Full, None).await;
    let deal = upserted(&changes, "101");
    assert_eq!(deal.title, "Acme Robotics: 40 warehouse seats");
    assert_eq!(deal.url, format!("{}/deal/101", f.server.uri()));
    assert_eq!(deal.updated_at, datetime!(2026-03-02 09:15 UTC));
    assert_eq!(deal.content["stage"], "Demo scheduled");
    assert_eq!(deal.content["owner"], "Ada Lovelace");
    assert_eq!((&deal.content["value"], &deal.content["currency"]), (&serde_json::json!(4200.0), &"EUR".into()));
    let notes = deal.content["notes"].as_array().unwrap();
    assert_eq!(notes[0]["text"], "Call with Hedy: they need 40 seats by Q2.\nBudget approved\nSecurity review pending");
    assert_eq!(notes[0]["at"], "2026-02-21T10:12:00Z");
    let person = upserted(&changes, "201");
    assert_eq!(person.url, format!("{}/person/201", f.server.uri()));
    assert!(person.content["emails"].as_array().is_some_and(|e| !e.is_empty()));
}

/// CONNECTOR-RULES 17, 20: on a plan without visibility groups only
/// "entire company" (3) is indexed, owner-and-followers (1) is not; on
/// Premium and Ultimate (where `visible_to` offers 5 and 7) 3 is a
/// visibility group and only 7 is the whole company; when the deal fields
/// do not say, only 7 counts. Notes are not read for what is not indexed.
#[tokio::test]
async fn visibility_is_read_by_plan_and_fails_closed() {
    let f = start().await;
    serve_full(&f).await;
    assert_eq!(keys(&f.walk(Mode::Full, None).await), FULL);
    let asked: Vec<String> = f
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path() == "/api/v1/notes")
        .map(|r| r.url.query().unwrap().to_owned())
        .collect();
    assert!(asked.iter().all(|q| !q.contains("deal_id=102") && !q.contains("deal_id=103")), "{asked:?}");

    let premium = start().await;
    let mut fields = fixture("deal-fields.json");
    let visible_to = fields["data"].as_array_mut().unwrap().iter_mut().find(|f| f["key"] == "visible_to").unwrap();
    visible_to["options"] = serde_json::json!([
        { "id": 1, "label": "Owner only" }, { "id": 3, "label": "Owner's visibility group" },
        { "id": 5, "label": "Owner's visibility group and sub-groups" }, { "id": 7, "label": "Entire company" }
    ]);
    serve_references(&premium, fields).await;
    serve_full(&premium).await;
    let changes = premium.walk(Mode::Full, None).await;
    assert_eq!(keys(&changes)[..3], ["remove deal 101", "remove deal 102", "upsert deal 103"]);
    assert_eq!(upserted(&changes, "103").content["labels"], serde_json::json!(["Hot lead"]));

    let unknown = start().await;
    let mut fields = fixture("deal-fields.json");
    fields["data"].as_array_mut().unwrap().retain(|f| f["key"] != "visible_to");
    serve_references(&unknown, fields).await;
    serve_full(&unknown).await;
    assert_eq!(
        keys(&unknown.walk(Mode::Full, None).await)[..3],
        ["remove deal 101", "remove deal 102", "upsert deal 103"]
    );
}

/// The lists a changes run reads: updated since 08:00 UTC, deals
/// including deleted ones.
async fn serve_changes(f: &Fixture) {
    serve_references(f, fixture("deal-fields.json")).await;
    Mock::given(path("/api/v2/deals"))
        .and(query_param("updated_since", "2026-03-05T08:00:00Z"))
        .and(query_param("status", "open,won,lost,deleted"))
        .respond_with(json(fixture("deals-updated.json")))
        .mount(&f.server)
        .await;
    for list in ["persons", "organizations"] {
        Mock::given(path(format!("/api/v2/{list}")))
            .and(query_param("updated_since", "2026-03-05T08:00:00Z"))
            .respond_with(json(
                serde_json::json!({ "success": true, "data": [], "additional_data": { "next_cursor": null } }),
            ))
            .mount(&f.server)
            .await;
    }
    Mock::given(path("/api/v1/notes")).respond_with(json(fixture("notes-empty.json"))).mount(&f.server).await;
}

/// CONNECTOR-RULES 3, 14, 18: a changes run asks with `updated_since`
/// (UTC, whole seconds) and for deleted deals too: an edit is stored, a
/// deleted deal removed.
#[tokio::test]
async fn a_changes_run_asks_with_updated_since_and_removes_deleted_deals() {
    let f = start().await;
    serve_changes(&f).await;
    let changes = f.walk(Mode::Changes { since: datetime!(2026-03-05 09:00:00.250 +01:00) }, None).await;
    assert_eq!(keys(&changes), ["upsert deal 101", "remove deal 104"]);
}

/// CONNECTOR-RULES 31, 38: Pipedrive's 429 (`Request over limit`) with
/// its burst window's reset in `x-ratelimit-reset` (seconds) is waited
/// out, then the page is read.
#[tokio::test]
async fn a_429_over_the_burst_limit_is_waited_out() {
    let f = start().await;
    Mock::given(path("/api/v2/deals"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(fixture("error-429.json"))
                .insert_header("x-ratelimit-limit", "80")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_full(&f).await;
    let started = std::time::Instant::now();
    let page = f.page(Mode::Full, None).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "did not wait: {:?}", started.elapsed());
    assert_eq!(keys(&page.changes), FULL[..2]);
}

/// CONNECTOR-RULES 34, 35: notes that cannot be read (Pipedrive's error
/// body) leave their deal without them, named, and the body is not echoed.
#[tokio::test]
async fn notes_that_fail_leave_the_deal_and_name_it() {
    let f = start().await;
    Mock::given(path("/api/v1/notes"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_full(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(upserted(&page.changes, "101").content.get("notes"), None);
    let skipped: Vec<String> = page.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(skipped, ["the notes of deal 101: the provider answered HTTP 404"]);
}

async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_full(f).await,
        testing::Served::Changes => serve_changes(f).await,
        testing::Served::Unmappable => {
            serve_full(f).await;
            let mut page = fixture("deals-page-1.json");
            let mut broken = page["data"][0].clone();
            broken["id"] = 77.into();
            broken["update_time"] = "yesterday".into();
            broken["add_time"] = serde_json::Value::Null;
            page["data"].as_array_mut().unwrap().push(broken);
            Mock::given(path("/api/v2/deals")).respond_with(json(page)).with_priority(1).mount(&f.server).await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = Record {
        entity_type: "deal".into(),
        entity_id: "99".into(),
        title: "Archived long ago".into(),
        url: "https://acme.pipedrive.com/deal/99".into(),
        content: serde_json::json!({ "status": "lost" }),
        updated_at: datetime!(2026-01-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/api",
            full: &FULL,
            since: datetime!(2026-03-05 09:00:00 +01:00),
            changes: &["upsert deal 101", "remove deal 104"],
            kept: &["upsert deal 101", "remove deal 102"],
            skipped: "deal 77",
            gone,
        },
    )
    .await;
}

/// Pipedrive's webhooks (v2), as its webhooks guide has them: a change
/// names a record to read again, a deletion removes it, and other
/// entities change nothing (CONNECTOR-RULES 18, 42).
mod hooks {
    use connector_core::webhooks::{Delivery, Event, Receiver};

    use super::*;

    fn events(body: &serde_json::Value) -> Vec<Event> {
        let body = body.to_string().into_bytes();
        PipedriveSource::default()
            .events(&Delivery { event: None, body: &body, received_at: datetime!(2026-03-05 14:31 UTC) })
            .unwrap()
    }

    #[test]
    fn changes_are_read_again_and_deletions_remove() {
        let changed = fixture("webhook-deal-updated.json");
        match &events(&changed)[..] {
            [Event::Lookup { unseen, at }] => {
                assert_eq!((unseen.entity_type.as_str(), unseen.entity_id.as_str()), ("deal", "101"));
                assert_eq!(*at, Some(datetime!(2026-03-05 14:30:00.412 UTC)));
            }
            other => panic!("{other:?}"),
        }
        let mut deleted = changed.clone();
        deleted["meta"]["action"] = "delete".into();
        deleted["data"] = serde_json::Value::Null;
        assert!(matches!(
            &events(&deleted)[..],
            [Event::Carried { change: Change::Remove { entity_type, entity_id }, .. }] if entity_type == "deal" && entity_id == "101"
        ));
        let mut activity = changed;
        activity["meta"]["entity"] = "activity".into();
        assert!(events(&activity).is_empty());
    }

    /// A record a webhook names is read by id: stored as it is now, or
    /// removed on Pipedrive's 404.
    #[tokio::test]
    async fn a_named_record_is_read_again_or_removed() {
        let f = start().await;
        serve_full(&f).await;
        Mock::given(path("/api/v2/deals/101")).respond_with(json(fixture("deal-101.json"))).mount(&f.server).await;
        Mock::given(path("/api/v2/deals/104"))
            .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
            .mount(&f.server)
            .await;
        let asked = ["101", "104"].map(|id| connector_core::source::Unseen {
            entity_type: "deal".into(),
            entity_id: id.into(),
            content: serde_json::json!({}),
        });
        let answered = f.confirm(&asked).await.unwrap();
        assert_eq!(keys(&answered), ["upsert deal 101", "remove deal 104"]);
    }
}
