//! Twilio's webhooks: a message's status callback, an inbound message,
//! and a call's status callback, each a form POST to the URL an admin set
//! on the number or the Messaging Service, signed with the account's Auth
//! Token (`X-Twilio-Signature`, over the public URL and the sorted form),
//! which the console verifies before it reads anything (SECURITY H1).
//!
//! Each names a message or call by SID; the record is read again, so a
//! status that moved on meanwhile is stored as it is now.

use connector_core::{
    http::FetchError,
    source::Unseen,
    webhooks::{Delivery, Event, Receiver},
};

use crate::{TwilioSource, client::List};

fn lookup(list: List, sid: String) -> Event {
    Event::Lookup {
        unseen: Unseen { entity_type: list.entity_type().into(), entity_id: sid, content: serde_json::json!({}) },
        at: None,
    }
}

#[async_trait::async_trait]
impl Receiver for TwilioSource {
    /// `MessageSid` (a status callback or an inbound message) or
    /// `CallSid` (a call's status callback); a body with neither changes
    /// nothing.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(delivery.body).into_owned().collect();
        let named = |name: &str| form.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone());
        Ok(match (named("MessageSid"), named("CallSid")) {
            (Some(sid), _) => vec![lookup(List::Messages, sid)],
            (None, Some(sid)) => vec![lookup(List::Calls, sid)],
            (None, None) => Vec::new(),
        })
    }
}
