//! GitLab's answers, as the REST API v4 documents them. Times are ISO
//! 8601 with milliseconds (`2026-11-30T10:12:43.512Z`).

use serde::Deserialize;

/// `GET /projects`, `GET /projects/:id`: a project.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Project {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    pub path_with_namespace: String,
    /// `public`, `internal` or `private`.
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

impl Project {
    /// Who may read the project's items, allow-listed (CONNECTOR-RULES 17,
    /// 20): `public` (anyone) and `internal` (every signed-in user of the
    /// instance, not external users: on a self-managed instance, the
    /// organization itself; GitLab.com offers no internal projects).
    /// `private` projects are shared with their members only, and a
    /// missing or unknown value counts as private.
    pub fn visibility(&self) -> connector_core::containers::Visibility {
        connector_core::containers::Visibility::read(self.visibility.as_deref(), &["public", "internal"])
    }
}

/// A user as items and notes carry one.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct User {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

impl User {
    /// The name people know them by: the display name, else the username.
    pub fn shown(&self) -> Option<String> {
        self.name.clone().filter(|n| !n.is_empty()).or_else(|| self.username.clone())
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Milestone {
    #[serde(default)]
    pub title: Option<String>,
}

/// `GET /projects/:id/issues` and `…/merge_requests`: an issue, or a merge
/// request (which has no `confidential` and has branches instead).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Item {
    /// Unique across the instance: the record's id.
    pub id: serde_json::Value,
    /// The number within the project, in its URLs and references.
    pub iid: u64,
    pub project_id: u64,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `opened`, `closed`, and for merge requests `merged` or `locked`.
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub milestone: Option<Milestone>,
    /// Issues only: seen by project members with at least the Planner
    /// role, and the author and assignees.
    #[serde(default)]
    pub confidential: Option<bool>,
    pub web_url: String,
    /// Comments by people, system notes excluded.
    #[serde(default)]
    pub user_notes_count: Option<u64>,
    // Merge requests only.
    #[serde(default)]
    pub merged_at: Option<String>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    #[serde(default)]
    pub draft: Option<bool>,
}

/// `GET /projects/:id/issues/:iid/notes`: a comment, or a system note
/// ("changed the description").
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Note {
    pub id: serde_json::Value,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub system: Option<bool>,
    /// An internal note, seen by project members with at least the
    /// Reporter role; `confidential` is its deprecated twin.
    #[serde(default)]
    pub internal: Option<bool>,
    #[serde(default)]
    pub confidential: Option<bool>,
}

impl Note {
    /// Whether the note may travel with its item: written by a person and
    /// stated to be neither internal nor confidential (fail closed).
    /// Instances from before `internal` send only `confidential`.
    pub fn is_public_comment(&self) -> bool {
        let shared = match (self.internal, self.confidential) {
            (Some(false), confidential) => confidential != Some(true),
            (None, Some(false)) => true,
            _ => false,
        };
        self.system == Some(false) && shared
    }
}
