//! Inbound webhooks, the connector's half (DESIGN: Webhooks): the
//! verifiers ([`verify`]), delivery ids, handshakes, what a verified
//! delivery says changed ([`Event`]), and the subscriptions a connector
//! registers at its provider ([`Receiver`]). Where deliveries are routed,
//! recorded and applied is `platform::webhooks`.

pub mod verify;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;

pub use verify::{Encoding, Inbound, Refusal, Verified, Verifier, constant_time_eq, sign, twilio_signature};

use crate::{
    http::FetchError,
    source::{Change, Context, Unseen},
};

/// The largest body read (SECURITY H4); a longer one is refused before it
/// is read whole.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The id a delivery is de-duplicated by (CONNECTOR-RULES 41): the
/// provider's delivery header where it sends one, or else `sha256:` and a
/// digest of the body, so the same body sent twice is one delivery.
pub fn delivery_id(headers: &HeaderMap, header: Option<&str>, body: &[u8]) -> String {
    delivery_id_in(headers, header, None, body)
}

/// The same, reading the id from the verified body's field at `field` (a
/// JSON pointer) when no header names it: for a provider whose retries
/// differ in their bodies (Pipedrive's `meta.attempt`) but keep one event
/// id (`/meta/id`).
pub fn delivery_id_in(headers: &HeaderMap, header: Option<&str>, field: Option<&str>, body: &[u8]) -> String {
    let usable = |value: &str| !value.is_empty() && value.len() <= 200;
    if let Some(value) = header.and_then(|name| headers.get(name)).and_then(|v| v.to_str().ok())
        && usable(value)
    {
        return value.to_owned();
    }
    if let Some(pointer) = field
        && let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(value) = parsed.pointer(pointer).and_then(crate::paging::read_id)
        && usable(&value)
    {
        return value;
    }
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
}

/// A request that sets a subscription up rather than reporting a change,
/// answered by the kit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    /// Slack's signed `{"type": "url_verification", "challenge": …}`:
    /// answered with the challenge.
    SlackUrlVerification,
    /// Microsoft Graph's `?validationToken=…`, sent unsigned when a
    /// subscription is made: answered with the token as `text/plain`.
    GraphValidationToken,
    /// monday's `{"challenge": …}`, sent when a webhook is made: answered
    /// with the same JSON.
    MondayChallenge,
    /// Asana's first request, carrying `X-Hook-Secret`: answered with the
    /// same header; the secret is what later deliveries are signed with.
    AsanaHookSecret,
    /// Figma's `{"event_type": "PING"}` when a webhook is made: answered
    /// 200 and not processed.
    FigmaPing,
}

/// How the kit answers a handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with this body.
    Body { content_type: &'static str, body: String },
    /// 200 with this header and no body.
    Header { name: &'static str, value: String },
    /// 200, empty.
    Empty,
}

impl Handshake {
    /// Whether it comes unsigned, before any secret is shared or signed
    /// with, so it is answered before verification.
    pub fn before_verification(self) -> bool {
        matches!(self, Handshake::GraphValidationToken | Handshake::MondayChallenge | Handshake::AsanaHookSecret)
    }

    /// The answer when `inbound` is this handshake, and the secret it
    /// hands over (Asana's).
    pub fn answer(self, inbound: &Inbound<'_>) -> Option<(Answer, Option<String>)> {
        let json = || serde_json::from_slice::<serde_json::Value>(inbound.body).ok();
        match self {
            Handshake::SlackUrlVerification => {
                let body = json()?;
                (body.get("type")?.as_str()? == "url_verification").then_some(())?;
                let challenge = body.get("challenge")?.as_str()?.to_owned();
                Some((Answer::Body { content_type: "text/plain", body: challenge }, None))
            }
            Handshake::GraphValidationToken => {
                let url = url::Url::parse(inbound.url).ok()?;
                let token = url.query_pairs().find(|(name, _)| name == "validationToken")?.1.into_owned();
                Some((Answer::Body { content_type: "text/plain", body: token }, None))
            }
            Handshake::MondayChallenge => {
                let body = json()?;
                let challenge = body.as_object().filter(|o| o.len() == 1)?.get("challenge")?.as_str()?;
                let answer = serde_json::json!({ "challenge": challenge }).to_string();
                Some((Answer::Body { content_type: "application/json", body: answer }, None))
            }
            Handshake::AsanaHookSecret => {
                let secret = inbound.headers.get("x-hook-secret")?.to_str().ok()?.to_owned();
                Some((Answer::Header { name: "x-hook-secret", value: secret.clone() }, Some(secret)))
            }
            Handshake::FigmaPing => {
                let body = json()?;
                (body.get("event_type")?.as_str()? == "PING").then_some((Answer::Empty, None))
            }
        }
    }
}

/// A verified delivery, as a connector reads it.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The event's name from the catalog's event header (`issues`), if
    /// the provider sends one.
    pub event: Option<&'a str>,
    pub body: &'a [u8],
    pub received_at: OffsetDateTime,
}

/// A change a delivery reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The payload carries the record, mapped as a sync maps it: a
    /// private or deleted one is a removal (CONNECTOR-RULES 17, 18).
    Carried { change: Change, at: Option<OffsetDateTime> },
    /// The payload only names the record: it is read by id through
    /// [`crate::source::Source::confirm`] and stored, or removed when the
    /// provider says it is gone or no longer public.
    Lookup { unseen: Unseen, at: Option<OffsetDateTime> },
    /// Too coarse to apply (a Google channel's "something changed"): a
    /// changes run of the connection is asked for.
    Resync,
}

impl Event {
    /// When the event happened, where the payload says: an event older
    /// than a record's stored state does not overwrite it (rule 42).
    pub fn at(&self) -> Option<OffsetDateTime> {
        match self {
            Event::Carried { at, .. } | Event::Lookup { at, .. } => *at,
            Event::Resync => None,
        }
    }

    /// The (entity type, entity id) it is about.
    pub fn key(&self) -> Option<(&str, &str)> {
        match self {
            Event::Carried { change, .. } => Some(change.key()),
            Event::Lookup { unseen, .. } => Some((&unseen.entity_type, &unseen.entity_id)),
            Event::Resync => None,
        }
    }
}

/// What a connector's webhooks need at its provider: where to deliver,
/// and the fresh secret to sign with (none for an app-wide subscription,
/// which the app's own secret signs).
#[derive(Clone, Copy)]
pub struct Hook<'a> {
    pub url: &'a str,
    pub secret: Option<&'a str>,
}

impl std::fmt::Debug for Hook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook").field("url", &self.url).field("secret", &"[redacted]").finish()
    }
}

/// A webhook registered at a provider.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Subscription {
    /// The provider's ids for it: one, or one per repository.
    pub ids: Vec<String>,
    /// When the provider stops delivering unless it is renewed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A connector's webhooks.
#[async_trait::async_trait]
pub trait Receiver: Send + Sync {
    /// The changes a verified delivery reports. An event the connector
    /// does not sync answers none.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError>;

    /// Registers the connection's webhooks at the provider. A connector
    /// whose admin registers them by hand answers `None`.
    async fn subscribe(&self, cx: &Context<'_>, hook: &Hook<'_>) -> Result<Option<Subscription>, FetchError> {
        let _ = (cx, hook);
        Ok(None)
    }

    /// Extends a subscription that expires, before it does.
    async fn renew(&self, cx: &Context<'_>, subscription: &Subscription) -> Result<Subscription, FetchError> {
        let _ = cx;
        Ok(subscription.clone())
    }

    /// Deletes the connection's webhooks at the provider (SECURITY H7);
    /// one already gone counts as deleted.
    async fn unsubscribe(&self, cx: &Context<'_>, subscription: &Subscription) -> Result<(), FetchError> {
        let _ = (cx, subscription);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_named_by_its_header_or_else_by_its_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap());
        assert_eq!(delivery_id(&headers, Some("x-github-delivery"), b"{}"), "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        let by_body = delivery_id(&HeaderMap::new(), Some("x-github-delivery"), b"{}");
        assert_eq!(by_body, delivery_id(&HeaderMap::new(), None, b"{}"));
        assert_ne!(by_body, delivery_id(&HeaderMap::new(), None, b"{ }"));
        assert!(by_body.starts_with("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"));
    }

    /// CONNECTOR-RULES 41: Pipedrive's retries differ in `meta.attempt`
    /// but keep `meta.id`: named by the field, they are one delivery.
    #[test]
    fn a_delivery_may_be_named_by_a_field_of_its_body() {
        let none = HeaderMap::new();
        let first = br#"{"meta":{"id":"c0ffee00-1234","attempt":1}}"#;
        let retry = br#"{"meta":{"id":"c0ffee00-1234","attempt":2}}"#;
        assert_eq!(delivery_id_in(&none, None, Some("/meta/id"), first), "c0ffee00-1234");
        assert_eq!(delivery_id_in(&none, None, Some("/meta/id"), retry), "c0ffee00-1234");
        let unnamed = br#"{"meta":{"attempt":1}}"#;
        assert_eq!(delivery_id_in(&none, None, Some("/meta/id"), unnamed), delivery_id(&none, None, unnamed));
    }

    fn inbound<'a>(url: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Inbound<'a> {
        Inbound { method: "POST", url, headers, body }
    }

    #[test]
    fn handshakes_answer_what_each_provider_expects() {
        let none = HeaderMap::new();
        let slack = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            Handshake::SlackUrlVerification.answer(&inbound("https://c/w", &none, slack)),
            Some((
                Answer::Body {
                    content_type: "text/plain",
                    body: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
                },
                None
            ))
        );
        assert_eq!(
            Handshake::SlackUrlVerification.answer(&inbound("https://c/w", &none, br#"{"type":"event_callback"}"#)),
            None
        );
        let graph = Handshake::GraphValidationToken.answer(&inbound(
            "https://c/w?validationToken=Validation%3A%20Testing",
            &none,
            b"",
        ));
        assert_eq!(
            graph,
            Some((Answer::Body { content_type: "text/plain", body: "Validation: Testing".into() }, None))
        );
        assert_eq!(Handshake::GraphValidationToken.answer(&inbound("https://c/w", &none, b"")), None);
        let monday = Handshake::MondayChallenge.answer(&inbound("https://c/w", &none, br#"{"challenge":"3eZbrw1a"}"#));
        assert_eq!(
            monday,
            Some((Answer::Body { content_type: "application/json", body: r#"{"challenge":"3eZbrw1a"}"#.into() }, None))
        );
        let mut asana = HeaderMap::new();
        asana.insert(
            "x-hook-secret",
            "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81".parse().unwrap(),
        );
        let (answer, secret) = Handshake::AsanaHookSecret.answer(&inbound("https://c/w", &asana, b"")).unwrap();
        assert_eq!(answer, Answer::Header { name: "x-hook-secret", value: secret.clone().unwrap() });
        assert_eq!(
            Handshake::FigmaPing.answer(&inbound("https://c/w", &none, br#"{"event_type":"PING"}"#)),
            Some((Answer::Empty, None))
        );
        assert_eq!(
            Handshake::FigmaPing.answer(&inbound("https://c/w", &none, br#"{"event_type":"FILE_UPDATE"}"#)),
            None
        );
    }
}
