//! The Twilio connector against fixtures that follow Twilio's 2010-04-01
//! API as its OpenAPI description has it (message and call lists with
//! relative `next_page_uri`, one record by SID, the JSON error bodies
//! 20003, 20404 and 20429, status-callback and inbound-message forms),
//! served by wiremock. Each test names the CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_core::{
    auth::Placement,
    http::Class,
    source::{Mode, Record},
    testing::{self, Harness, json_ok as json, keys, upserted},
};
use connector_twilio::TwilioSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

const ACCOUNT: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef";

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn form(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

type Fixture = Harness<TwilioSource>;

async fn start() -> Fixture {
    Harness::start(TwilioSource, ACCOUNT).await.with_auth(Placement::Basic)
}

fn messages(path_: &str) -> String {
    format!("{ACCOUNT}/{path_}")
}

const FULL: [&str; 5] = [
    "upsert message SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3",
    "upsert message SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f",
    "upsert message SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d",
    "upsert call CA0f1e2d3c4b5a49687f8e9d0c1b2a3948",
    "upsert call CA6e5d4c3b2a194f8e7d6c5b4a39281706",
];

/// Every message over two pages (the second reached through the first's
/// relative `next_page_uri`), then every call, with no day filter.
async fn serve_full(f: &Fixture) {
    let mut first = fixture("messages-day-1.json");
    first["next_page_uri"] =
        format!("{ACCOUNT}/Messages.json?PageSize=1000&Page=1&PageToken=PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f").into();
    Mock::given(method("GET"))
        .and(path(messages("Messages.json")))
        .and(query_param("PageSize", "1000"))
        .and(query_param_is_missing("PageToken"))
        .and(query_param_is_missing("DateSent"))
        // base64("new-token:"): HTTP Basic with the connection's pair.
        .and(header("authorization", "Basic bmV3LXRva2VuOg=="))
        .respond_with(json(first))
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Messages.json")))
        .and(query_param("PageToken", "PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f"))
        .respond_with(json(fixture("messages-day-1-page-2.json")))
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Calls.json")))
        .and(query_param_is_missing("StartTime"))
        .respond_with(json(fixture("calls-day-1.json")))
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Messages/SMffffffffffffffffffffffffffffffff.json")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .mount(&f.server)
        .await;
}

/// Day by day: 30 November's messages and calls, 1 December's message,
/// and no records on any other day. Answered only with a day filter.
async fn serve_days(f: &Fixture) {
    Mock::given(path(messages("Messages.json")))
        .and(query_param("DateSent", "2026-11-30"))
        .and(query_param_is_missing("PageToken"))
        .respond_with(json(fixture("messages-day-1.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Messages.json")))
        .and(query_param("DateSent", "2026-11-30"))
        .and(query_param("PageToken", "PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f"))
        .respond_with(json(fixture("messages-day-1-page-2.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Messages.json")))
        .and(query_param("DateSent", "2026-12-01"))
        .respond_with(json(fixture("messages-day-2.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    Mock::given(path(messages("Calls.json")))
        .and(query_param("StartTime", "2026-11-30"))
        .respond_with(json(fixture("calls-day-1.json")))
        .with_priority(1)
        .mount(&f.server)
        .await;
    for (list, filter, empty) in
        [("Messages.json", "DateSent", "messages-empty.json"), ("Calls.json", "StartTime", "calls-empty.json")]
    {
        Mock::given(path(messages(list)))
            .and(wiremock::matchers::query_param_contains(filter, "-"))
            .respond_with(json(fixture(empty)))
            .with_priority(2)
            .mount(&f.server)
            .await;
    }
}

/// CONNECTOR-RULES 14, 15: a message and a call mapped field by field:
/// RFC 2822 times read as instants, counts kept as Twilio gives them, a
/// call that was not answered without a duration, and deep links into the
/// Console's logs.
#[tokio::test]
async fn mapping_snapshot_of_a_message_and_a_call() {
    let f = start().await;
    serve_full(&f).await;
    let changes = f.walk(Mode::Full, None).await;
    let sms = upserted(&changes, "SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3");
    assert_eq!(sms.title, "Message from +14155550100 to +14155550143");
    assert_eq!(sms.url, "https://console.twilio.com/us1/monitor/logs/sms/SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3");
    assert_eq!(sms.updated_at, datetime!(2026-11-30 16:20:46 UTC));
    assert_eq!(
        sms.content,
        serde_json::json!({
            "body": "Your order #4821 has shipped and should arrive Thursday.",
            "from": "+14155550100",
            "to": "+14155550143",
            "status": "delivered",
            "direction": "outbound-api",
            "sent_at": "2026-11-30T16:20:42Z",
            "segments": "1",
            "media": "0",
            "error_code": null,
            "error_message": null,
            "messaging_service": "MG5b2c7e1a9d4f4c0e8a6b3d2f1e0c9a87",
        })
    );
    let answered = upserted(&changes, "CA6e5d4c3b2a194f8e7d6c5b4a39281706");
    assert_eq!(answered.title, "Call from +14155550143 to +14155550100");
    assert_eq!(answered.url, "https://console.twilio.com/us1/monitor/logs/calls/CA6e5d4c3b2a194f8e7d6c5b4a39281706");
    assert_eq!(answered.content["duration_seconds"], 127);
    assert_eq!(answered.content["from"], "(415) 555-0143");
    assert_eq!(answered.content["started_at"], "2026-11-30T10:17:53Z");
    let missed = upserted(&changes, "CA0f1e2d3c4b5a49687f8e9d0c1b2a3948");
    assert_eq!(
        (&missed.content["status"], &missed.content["duration_seconds"]),
        (&"no-answer".into(), &serde_json::Value::Null)
    );
}

/// CONNECTOR-RULES 7, 9, 12: a changes run walks whole days, since Twilio
/// filters by day only: from the day before `since`'s (an overlap that
/// catches statuses that moved on) through today, messages then calls,
/// every day asked for once, the last one included.
#[tokio::test]
async fn a_changes_run_walks_every_day_from_the_day_before_since() {
    let f = start().await;
    serve_days(&f).await;
    let changes = f.walk(Mode::Changes { since: datetime!(2026-12-01 10:00 UTC) }, None).await;
    assert_eq!(
        keys(&changes),
        [
            "upsert message SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3",
            "upsert message SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f",
            "upsert message SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d",
            "upsert message SMd4c3b2a1f0e94d8c7b6a5f4e3d2c1b0a",
            "upsert call CA0f1e2d3c4b5a49687f8e9d0c1b2a3948",
            "upsert call CA6e5d4c3b2a194f8e7d6c5b4a39281706",
        ]
    );
    let requests = f.requests().await;
    let days = |filter: &str| -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.url.query_pairs().all(|(k, _)| k != "PageToken"))
            .filter_map(|r| r.url.query_pairs().find(|(k, _)| k == filter).map(|(_, v)| v.into_owned()))
            .collect()
    };
    let today = time::OffsetDateTime::now_utc().date();
    let expected: Vec<String> = std::iter::successors(Some(datetime!(2026-11-30 00:00 UTC).date()), |d| d.next_day())
        .take_while(|d| *d <= today)
        .map(|d| d.to_string())
        .collect();
    assert_eq!(days("DateSent"), expected, "each message day once, through today");
    assert_eq!(days("StartTime"), expected, "each call day once, through today");
}

/// CONNECTOR-RULES 31, 38: Twilio's 429 (error 20429, its concurrency
/// limit) carries no `Retry-After`: backed off and asked again.
#[tokio::test]
async fn a_20429_is_backed_off_and_asked_again() {
    let f = start().await;
    Mock::given(path(messages("Messages.json")))
        .respond_with(ResponseTemplate::new(429).set_body_json(fixture("error-429.json")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&f.server)
        .await;
    serve_full(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    assert_eq!(keys(&page.changes), FULL[..2]);
    assert_eq!(f.requests().await.len(), 3);
}

/// CONNECTOR-RULES 32, 35: a refused pair (error 20003) fails for good,
/// in words, without Twilio's body and without a second try.
#[tokio::test]
async fn a_refused_pair_is_permanent_and_not_echoed() {
    let f = start().await;
    Mock::given(path(messages("Messages.json")))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-401.json")))
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(401)));
    assert!(!error.message.contains("AuthToken"), "{}", error.message);
}

/// SECURITY A10: a `next_page_uri` that leads to another host is not
/// followed with the Auth Token.
#[tokio::test]
async fn a_next_page_on_another_host_is_refused() {
    let f = start().await;
    let mut first = fixture("messages-day-1.json");
    first["next_page_uri"] = "https://evil.example/2010-04-01/Accounts/AC0/Messages.json?PageToken=x".into();
    Mock::given(path(messages("Messages.json"))).respond_with(json(first)).mount(&f.server).await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert!(error.message.contains("points away from its API"), "{}", error.message);
}

/// The conformance suite's listings beyond the full one.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_full(f).await,
        testing::Served::Changes => serve_days(f).await,
        testing::Served::Unmappable => {
            serve_full(f).await;
            let mut page = fixture("messages-day-1.json");
            let mut broken = page["messages"][0].clone();
            broken["sid"] = "SM77777777777777777777777777777777".into();
            broken["date_updated"] = "yesterday".into();
            broken["date_created"] = serde_json::Value::Null;
            page["messages"].as_array_mut().unwrap().push(broken);
            page["next_page_uri"] = serde_json::Value::Null;
            Mock::given(path(messages("Messages.json")))
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
        entity_type: "message".into(),
        entity_id: "SMffffffffffffffffffffffffffffffff".into(),
        title: "Message from +14155550100 to +14155550199".into(),
        url: "https://console.twilio.com/us1/monitor/logs/sms/SMffffffffffffffffffffffffffffffff".into(),
        content: serde_json::json!({ "status": "delivered" }),
        updated_at: datetime!(2026-11-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: ACCOUNT,
            full: &FULL,
            since: datetime!(2026-12-01 10:00 UTC),
            changes: &[
                "upsert message SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3",
                "upsert message SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f",
                "upsert message SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d",
                "upsert message SMd4c3b2a1f0e94d8c7b6a5f4e3d2c1b0a",
                "upsert call CA0f1e2d3c4b5a49687f8e9d0c1b2a3948",
                "upsert call CA6e5d4c3b2a194f8e7d6c5b4a39281706",
            ],
            kept: &[
                "upsert message SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3",
                "upsert message SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f",
            ],
            skipped: "message SM77777777777777777777777777777777",
            gone,
        },
    )
    .await;
}

/// Twilio's callbacks, as it posts them (form bodies): each names a
/// record by SID, to read again.
mod hooks {
    use connector_core::webhooks::{Delivery, Event, Receiver};

    use super::*;

    fn named(body: &[u8]) -> Vec<(String, String)> {
        let delivery = Delivery { event: None, body, received_at: datetime!(2026-12-01 09:00 UTC) };
        TwilioSource
            .events(&delivery)
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Event::Lookup { unseen, at: None } => (unseen.entity_type, unseen.entity_id),
                other => panic!("not a lookup: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn callbacks_name_the_message_or_call_they_are_about() {
        assert_eq!(
            named(&form("status-callback.form.txt")),
            [("message".to_owned(), "SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3".to_owned())]
        );
        assert_eq!(
            named(&form("inbound-message.form.txt")),
            [("message".to_owned(), "SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f".to_owned())]
        );
        let call = b"CallSid=CA6e5d4c3b2a194f8e7d6c5b4a39281706&CallStatus=completed&CallDuration=127&AccountSid=AC0123456789abcdef0123456789abcdef";
        assert_eq!(named(call), [("call".to_owned(), "CA6e5d4c3b2a194f8e7d6c5b4a39281706".to_owned())]);
        assert!(named(b"AccountSid=AC0123456789abcdef0123456789abcdef&MessageSid=").is_empty());
    }
}
