//! The sandbox connector against fixtures that follow the item API's
//! documentation (`sandbox/src/items.rs`), served by wiremock. Each test
//! names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_core::{
    http::Class,
    source::{Change, Mode, Page},
    testing::{self, Harness},
};
use connector_sandbox::SandboxSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<SandboxSource>;

async fn start() -> Fixture {
    Harness::start(SandboxSource, "/sandbox/api").await
}

async fn serve_full_listing(f: &Fixture) {
    Mock::given(method("GET"))
        .and(path("/sandbox/api/items"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("cursor"))
        .and(query_param_is_missing("updated_since"))
        .and(header("authorization", "Bearer new-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("items-page-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/sandbox/api/items"))
        .and(query_param("cursor", "MTc2MTk5MTIwMTAwMDox"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("items-page-2.json")))
        .mount(&f.server)
        .await;
}

fn ids(page: &Page) -> Vec<(&'static str, String)> {
    page.changes
        .iter()
        .map(|c| match c {
            Change::Upsert(r) => ("upsert", r.entity_id.clone()),
            Change::Remove { entity_id, .. } => ("remove", entity_id.clone()),
        })
        .collect()
}

/// CONNECTOR-RULES 5, 14: the mapped record, field by field (a snapshot of
/// the mapping); ids read as strings, timestamps parsed with their zone.
#[tokio::test]
async fn mapping_snapshot_of_a_public_item() {
    let f = start().await;
    serve_full_listing(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    let Change::Upsert(record) = &page.changes[0] else { panic!("{:?}", page.changes[0]) };
    assert_eq!(record.entity_type, "item");
    assert_eq!(record.entity_id, "itm_0");
    assert_eq!(record.title, "Item 0");
    assert_eq!(record.url, "https://sandbox.test/sandbox/items/itm_0");
    assert_eq!(record.updated_at, datetime!(2026-11-01 10:00:00 UTC));
    assert_eq!(
        record.content,
        serde_json::json!({
            "body": "The body of item 0, revision 0.",
            "state": "closed",
            "created_at": "2026-11-01T10:00:00Z",
        })
    );
    let second = f.page(Mode::Full, page.next.as_deref()).await.unwrap();
    let Change::Upsert(record) = &second.changes[0] else { panic!() };
    // `+00:00` and `Z` are the same instant.
    assert_eq!(record.updated_at, datetime!(2026-11-01 10:00:02 UTC));
}

/// CONNECTOR-RULES 7, 13: paging follows `next_cursor` to the end, reports
/// the total, and stops when there is no next cursor.
#[tokio::test]
async fn pagination_reaches_the_end() {
    let f = start().await;
    serve_full_listing(&f).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(first.total, Some(3));
    assert_eq!(first.next.as_deref(), Some("MTc2MTk5MTIwMTAwMDox"));
    let last = f.page(Mode::Full, first.next.as_deref()).await.unwrap();
    assert_eq!(ids(&last), vec![("upsert", "itm_2".to_owned())]);
    assert_eq!(last.next, None);
    assert_eq!(f.requests().await.len(), 2);
}

/// CONNECTOR-RULES 17: a private item, and one whose visibility is missing,
/// is not indexed: it becomes a removal, so a copy from when it was public
/// goes too.
#[tokio::test]
async fn private_items_are_removed_not_indexed() {
    let f = start().await;
    serve_full_listing(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(ids(&page), vec![("upsert", "itm_0".to_owned()), ("remove", "itm_1".to_owned())]);
}

/// CONNECTOR-RULES 3, 14: a changed item is read with its edit and its
/// timestamp's fraction (the suite checks which changes come).
#[tokio::test]
async fn a_changed_item_keeps_its_edit_and_its_instant() {
    let f = start().await;
    serve(&f, testing::Served::Changes).await;
    let page = f.page(Mode::Changes { since: datetime!(2026-11-20 08:00:00 UTC) }, None).await.unwrap();
    assert_eq!((page.next, page.total), (None, None));
    let Change::Upsert(record) = &page.changes[0] else { panic!() };
    assert_eq!(record.title, "Item 2 (edited 1×)");
    assert_eq!(record.updated_at, datetime!(2026-11-20 08:30:00.25 UTC));
}

/// CONNECTOR-RULES 32, 35: a 400 is permanent and not retried, and the
/// error carries neither the URL nor the provider's body.
#[tokio::test]
async fn a_400_is_permanent_and_says_nothing_of_the_body() {
    let f = start().await;
    Mock::given(path("/sandbox/api/items"))
        .respond_with(ResponseTemplate::new(400).set_body_string("cursor secret-echo is bad"))
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, Some("junk")).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(400)));
    assert!(!error.message.contains("secret-echo") && !error.message.contains("http"), "{}", error.message);
    assert_eq!(f.requests().await.len(), 1);
}

/// CONNECTOR-RULES 7, 36: a listing that pages by number names
/// `next_page`; the connector asks for it with `page` and `per_page`.
#[tokio::test]
async fn a_numbered_listing_is_followed_by_page() {
    let f = start().await;
    let mut first = fixture("items-page-1.json");
    first["next_cursor"] = serde_json::Value::Null;
    first["next_page"] = 2.into();
    Mock::given(path("/sandbox/api/items"))
        .and(query_param_is_missing("page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .mount(&f.server)
        .await;
    Mock::given(path("/sandbox/api/items"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("items-page-2.json")))
        .mount(&f.server)
        .await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(page.next.as_deref(), Some("page:2"));
    let last = f.page(Mode::Full, page.next.as_deref()).await.unwrap();
    assert_eq!(ids(&last), vec![("upsert", "itm_2".to_owned())]);
    assert_eq!(last.next, None);
}

/// CONNECTOR-RULES 17, 18, 36: an unseen item is looked up by id: a live
/// public one is stored again, a private one and a deleted one (404) are
/// removed, and a failure other than 404 fails the confirmation rather
/// than deleting anything.
#[tokio::test]
async fn unseen_items_are_confirmed_by_lookup() {
    use connector_core::source::Unseen;
    let f = start().await;
    let item = |id: &str, visibility: &str| {
        let mut item = fixture("items-page-2.json")["items"][0].clone();
        item["id"] = id.into();
        item["visibility"] = visibility.into();
        item
    };
    for (id, answer) in [
        ("itm_1", ResponseTemplate::new(200).set_body_json(item("itm_1", "public"))),
        ("itm_2", ResponseTemplate::new(200).set_body_json(item("itm_2", "private"))),
        ("itm_3", ResponseTemplate::new(404).set_body_json(serde_json::json!({ "error": "not_found" }))),
        ("itm_4", ResponseTemplate::new(403)),
    ] {
        Mock::given(path(format!("/sandbox/api/items/{id}")))
            .and(header("authorization", "Bearer new-token"))
            .respond_with(answer)
            .mount(&f.server)
            .await;
    }
    let unseen = |id: &str| Unseen { entity_type: "item".into(), entity_id: id.into(), content: serde_json::json!({}) };
    let changes = f.confirm(&[unseen("itm_1"), unseen("itm_2"), unseen("itm_3")]).await.unwrap();
    let page = Page { changes, ..Page::default() };
    assert_eq!(
        ids(&page),
        vec![("upsert", "itm_1".to_owned()), ("remove", "itm_2".to_owned()), ("remove", "itm_3".to_owned())]
    );
    let error = f.confirm(&[unseen("itm_1"), unseen("itm_4")]).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(403)));
}

/// A record an earlier pass stored, for the conformance suite's prune.
fn stored(entity_type: &str, entity_id: &str) -> connector_core::source::Record {
    connector_core::source::Record {
        entity_type: entity_type.into(),
        entity_id: entity_id.into(),
        title: "Stored earlier".into(),
        url: "https://sandbox.example/items/gone".into(),
        content: serde_json::json!({}),
        updated_at: datetime!(2026-11-01 00:00:00 UTC),
    }
}

/// The conformance suite's listings: the full one, the changes since
/// 08:00 (only when asked with `updated_since`), and a page with an item
/// whose `updated_at` cannot be read.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_full_listing(f).await,
        testing::Served::Changes => {
            Mock::given(method("GET"))
                .and(path("/sandbox/api/items"))
                .and(query_param("updated_since", "2026-11-20T08:00:00Z"))
                .respond_with(ResponseTemplate::new(200).set_body_json(fixture("items-changes.json")))
                .mount(&f.server)
                .await;
        }
        testing::Served::Unmappable => {
            let mut page = fixture("items-page-2.json");
            let mut broken = page["items"][0].clone();
            broken["id"] = "itm_9".into();
            broken["updated_at"] = "yesterday".into();
            page["items"].as_array_mut().unwrap().push(broken);
            Mock::given(path("/sandbox/api/items"))
                .respond_with(ResponseTemplate::new(200).set_body_json(page))
                .mount(&f.server)
                .await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/sandbox/api",
            full: &["upsert item itm_0", "remove item itm_1", "upsert item itm_2"],
            since: datetime!(2026-11-20 08:00:00 UTC),
            changes: &["upsert item itm_2", "remove item itm_0", "remove item itm_3"],
            kept: &["upsert item itm_2"],
            skipped: "item itm_9",
            gone: stored("item", "itm_77"),
        },
    )
    .await;
}

mod webhooks {
    //! The sandbox's webhooks (`sandbox/src/hooks.rs`): events read from
    //! fixtures of its documented body, and the subscription's calls.

    use connector_core::{
        source::{Change, Unseen},
        webhooks::{Delivery, Event, Hook, Receiver as _, Subscription},
    };
    use time::macros::datetime;
    use wiremock::{
        Mock, ResponseTemplate,
        matchers::{body_json, header, method, path},
    };

    use super::{fixture, start};

    fn delivery(body: &[u8]) -> Delivery<'_> {
        Delivery { event: Some("item.updated"), body, received_at: datetime!(2026-12-03 08:00:02 UTC) }
    }

    /// CONNECTOR-RULES 17, 42: an update names the item to read back by id
    /// (so its privacy is checked as a sync checks it), with its time; a
    /// deletion is carried as a removal of the item's own kind.
    #[tokio::test]
    async fn events_name_the_item_to_read_or_carry_its_removal() {
        let f = start().await;
        let body = fixture("webhook-item-updated.json").to_string().into_bytes();
        let events = f.source().events(&delivery(&body)).unwrap();
        assert_eq!(
            events,
            vec![Event::Lookup {
                unseen: Unseen {
                    entity_type: "item".into(),
                    entity_id: "itm_7".into(),
                    content: serde_json::Value::Null
                },
                at: Some(datetime!(2026-12-03 08:00:01.2 UTC)),
            }]
        );
        let body = fixture("webhook-item-deleted.json").to_string().into_bytes();
        let events = f.source().events(&delivery(&body)).unwrap();
        assert_eq!(
            events,
            vec![Event::Carried {
                change: Change::Remove { entity_type: "note".into(), entity_id: "itm_8".into() },
                at: Some(datetime!(2026-12-03 08:00:02 UTC)),
            }]
        );
        let unknown = br#"{"type":"item.archived","data":{"id":"itm_9","updated_at":"2026-12-03T08:00:02Z"}}"#;
        assert_eq!(f.source().events(&delivery(unknown)).unwrap(), Vec::new());
        let error = f.source().events(&delivery(b"not json")).unwrap_err();
        assert!(error.message.contains("not a sandbox event"), "{}", error.message);
    }

    /// CONNECTOR-RULES 29, 43: subscribing posts the URL and the secret with
    /// the connection's token and keeps the id and expiry; renewing asks
    /// for the same id; deleting one already gone counts as deleted.
    #[tokio::test]
    async fn subscriptions_are_made_renewed_and_deleted_with_the_connections_token() {
        let f = start().await;
        let url = "https://console.example/webhooks/sandbox/0123456789abcdef0123456789abcdef";
        Mock::given(method("POST"))
            .and(path("/sandbox/api/webhooks"))
            .and(header("authorization", "Bearer new-token"))
            .and(body_json(serde_json::json!({ "url": url, "secret": "s3cret-of-sixteen-chars" })))
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("webhook-registered.json")))
            .expect(1)
            .mount(&f.server)
            .await;
        let made = f
            .source()
            .subscribe(&f.cx(), &Hook { url, secret: Some("s3cret-of-sixteen-chars") })
            .await
            .unwrap()
            .expect("the sandbox's API registers webhooks");
        assert_eq!(made, Subscription { ids: vec!["wh_1".into()], expires_at: Some(datetime!(2026-12-06 08:00 UTC)) });

        let mut renewed = fixture("webhook-registered.json");
        renewed["expires_at"] = "2026-12-09T08:00:00Z".into();
        Mock::given(method("POST"))
            .and(path("/sandbox/api/webhooks/wh_1/renew"))
            .respond_with(ResponseTemplate::new(200).set_body_json(renewed))
            .expect(1)
            .mount(&f.server)
            .await;
        let renewed = f.source().renew(&f.cx(), &made).await.unwrap();
        assert_eq!(renewed.expires_at, Some(datetime!(2026-12-09 08:00 UTC)));

        Mock::given(method("DELETE"))
            .and(path("/sandbox/api/webhooks/wh_1"))
            .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({ "error": "not_found" })))
            .expect(1)
            .mount(&f.server)
            .await;
        f.source().unsubscribe(&f.cx(), &renewed).await.unwrap();

        // A refusal to register is the provider's words, classed.
        Mock::given(method("POST"))
            .and(path("/sandbox/api/webhooks"))
            .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({ "error": "invalid_webhook" })))
            .mount(&f.server)
            .await;
        let refused =
            f.source().subscribe(&f.cx(), &Hook { url: "ftp://nowhere", secret: Some("short") }).await.unwrap_err();
        assert_eq!((refused.class, refused.status), (connector_core::http::Class::Permanent, Some(422)));
        let nothing = f.source().renew(&f.cx(), &Subscription { ids: vec![], expires_at: None }).await.unwrap_err();
        assert!(nothing.message.contains("no webhook"), "{}", nothing.message);
    }
}
