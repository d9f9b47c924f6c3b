//! Chatwoot's answers, as its Application API renders them
//! (`api/v1/accounts/conversations/index.json.jbuilder` and the
//! conversation partial). Times are unix seconds; a missing one is `0`.

use serde::Deserialize;

/// `GET /api/v1/accounts/{account_id}/conversations`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Listing {
    pub data: ListingData,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ListingData {
    #[serde(default)]
    pub meta: ListingMeta,
    pub payload: Vec<Conversation>,
}

/// Counts over the whole listing (before the assignee filter).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ListingMeta {
    #[serde(default)]
    pub all_count: Option<u64>,
}

/// One conversation. `id` is the account's display id, the one in the
/// app's URLs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Conversation {
    pub id: serde_json::Value,
    #[serde(default)]
    pub account_id: Option<serde_json::Value>,
    #[serde(default)]
    pub inbox_id: Option<serde_json::Value>,
    /// `open`, `resolved`, `pending` or `snoozed`.
    pub status: String,
    #[serde(default)]
    pub priority: Option<String>,
    pub created_at: i64,
    pub last_activity_at: i64,
    /// Fractional seconds.
    #[serde(default)]
    pub updated_at: Option<f64>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub meta: ConversationMeta,
    /// The newest message that is not an activity note.
    #[serde(default)]
    pub last_non_activity_message: Option<Message>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ConversationMeta {
    /// The contact.
    #[serde(default)]
    pub sender: Option<Person>,
    /// Left out when nobody is assigned.
    #[serde(default)]
    pub assignee: Option<Person>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Person {
    #[serde(default)]
    pub name: Option<String>,
}

/// A message. `private` marks an internal note, seen by agents only.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Message {
    pub id: serde_json::Value,
    #[serde(default)]
    pub content: Option<String>,
    /// 0 incoming, 1 outgoing, 2 activity, 3 template.
    #[serde(default)]
    pub message_type: Option<i64>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub created_at: Option<i64>,
}
