//! GitHub's answers, as documented (REST API 2022-11-28).

use serde::{Deserialize, Serialize};

/// `GET /user/repos`: one repository.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Repository {
    pub full_name: String,
    #[serde(default)]
    pub private: Option<bool>,
    /// `public`, `private` or `internal`.
    #[serde(default)]
    pub visibility: Option<String>,
}

impl Repository {
    /// Only a repository GitHub says is public is indexed for the whole
    /// team; private, internal and unknown are not (CONNECTOR-RULES 17, 20).
    pub fn is_public(&self) -> bool {
        self.private == Some(false) && self.visibility.as_deref().is_none_or(|v| v == "public")
    }
}

/// `GET /repos/{owner}/{repo}/issues`: an issue, or a pull request when
/// `pull_request` is there.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Issue {
    pub id: serde_json::Value,
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub state: String,
    pub html_url: String,
    pub updated_at: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub pull_request: Option<PullRequestLink>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct User {
    pub login: String,
}

/// A label: an object, or (in older answers) a bare name.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Label {
    Object { name: String },
    Name(String),
}

impl Label {
    pub fn name(&self) -> &str {
        match self {
            Label::Object { name } | Label::Name(name) => name,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PullRequestLink {
    #[serde(default)]
    pub merged_at: Option<String>,
}

/// A repository waiting to be read, as kept in the cursor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct RepoRef {
    pub full_name: String,
    pub public: bool,
}
