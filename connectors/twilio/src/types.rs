//! Twilio's answers, as its OpenAPI description (`twilio_api_v2010`)
//! has them. Times are RFC 2822 in GMT (`Mon, 30 Nov 2026 16:20:42
//! +0000`); counts and prices are strings; every field may be null.

use serde::Deserialize;

/// A list page: the records under `messages` or `calls`, and the next
/// page's URI, relative to the API's host.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ListPage {
    #[serde(default)]
    pub messages: Option<Vec<Message>>,
    #[serde(default)]
    pub calls: Option<Vec<Call>>,
    #[serde(default)]
    pub next_page_uri: Option<String>,
}

/// `…/Messages.json`: one SMS, MMS or chat message.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Message {
    /// `SM…` or `MM…`.
    pub sid: serde_json::Value,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// `inbound`, `outbound-api`, `outbound-call` or `outbound-reply`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub date_sent: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
    #[serde(default)]
    pub num_media: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
}

/// `…/Calls.json`: one call record.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Call {
    /// `CA…`.
    pub sid: serde_json::Value,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from_formatted: Option<String>,
    #[serde(default)]
    pub to_formatted: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    /// Seconds, as a string; empty or null for a call that did not connect.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub caller_name: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
    #[serde(default)]
    pub parent_call_sid: Option<String>,
    #[serde(default)]
    pub forwarded_from: Option<String>,
}
