//! The answer to the issues query.

use serde::Deserialize;

/// `data` of the issues query (errors are read by the GraphQL helper).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Data {
    pub issues: Connection<Issue>,
}

/// A Relay connection.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    #[serde(default)]
    pub end_cursor: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub url: String,
    pub updated_at: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub archived_at: Option<String>,
    #[serde(default)]
    pub trashed: Option<bool>,
    #[serde(default)]
    pub state: Option<WorkflowState>,
    pub team: Team,
    #[serde(default)]
    pub comments: Option<Connection<Comment>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct WorkflowState {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Team {
    pub key: String,
    pub name: String,
    /// `public`, `private` or `restricted`; `private` (deprecated) is read
    /// too, for answers that carry only it.
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub private: Option<bool>,
}

impl Team {
    /// Only a team Linear says is public is indexed for everyone; private,
    /// restricted and unknown are not (CONNECTOR-RULES 17).
    pub fn is_public(&self) -> bool {
        match self.visibility.as_deref() {
            Some(visibility) => visibility.eq_ignore_ascii_case("public"),
            None => self.private == Some(false),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Null for comments by integrations and bots.
    #[serde(default)]
    pub user: Option<Person>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Person {
    pub name: String,
}
