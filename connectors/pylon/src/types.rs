//! Pylon's answers, as its OpenAPI description has them: results in
//! `data` beside a `request_id`, lists with `pagination`. Times are RFC
//! 3339; absent values come as `null`.

use serde::Deserialize;

/// `POST /issues/search`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct IssuePage {
    /// Left out of some empty answers.
    #[serde(default)]
    pub data: Option<Vec<Issue>>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Pagination {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub has_next_page: bool,
}

/// `GET /issues/{id}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct OneIssue {
    pub data: Issue,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Issue {
    pub id: serde_json::Value,
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body_html: Option<String>,
    /// `new`, `waiting_on_you`, `waiting_on_customer`, `on_hold`, `closed`,
    /// or a custom status's slug.
    #[serde(default)]
    pub state: Option<String>,
    /// `conversation` or `ticket`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub latest_message_time: Option<String>,
    #[serde(default)]
    pub resolution_time: Option<String>,
    /// The issue in Pylon's app.
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub assignee: Option<Person>,
    #[serde(default)]
    pub account: Option<Named>,
    #[serde(default)]
    pub team: Option<Named>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Person {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Named {
    #[serde(default)]
    pub id: Option<String>,
}

/// `GET /issues/{id}/messages`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Messages {
    #[serde(default)]
    pub data: Option<Vec<Message>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Message {
    #[serde(default)]
    pub message_html: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    /// An internal note, seen by the team only.
    #[serde(default)]
    pub is_private: Option<bool>,
    #[serde(default)]
    pub author: Option<Author>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Author {
    #[serde(default)]
    pub name: Option<String>,
    /// Set when a customer wrote it.
    #[serde(default)]
    pub contact: Option<serde_json::Value>,
    /// Set when someone of the organization wrote it.
    #[serde(default)]
    pub user: Option<serde_json::Value>,
}
