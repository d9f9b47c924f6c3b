//! API tokens, as Settings → API tokens shows them.

use serde::{Deserialize, Serialize};

/// A scope the form offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeOption {
    pub name: String,
    pub description: String,
}

/// A token in the list: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// `…` and the token's last four characters.
    pub hint: String,
    pub created: String,
    pub created_by: Option<String>,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    /// `Active`, `Expired` or `Revoked`.
    pub state: String,
}

/// The token page: the list and what the form offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokens {
    pub tokens: Vec<ApiTokenRow>,
    pub scopes: Vec<ScopeOption>,
    /// Where the API is (for the page's instructions).
    pub api_base: String,
}

/// A token just created: shown once, in the answer to the create only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    pub token: String,
    pub row: ApiTokenRow,
}

impl std::fmt::Debug for CreatedApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiToken").field("token", &"[redacted]").field("row", &self.row).finish()
    }
}

/// A push destination in the list: never its signing secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRow {
    pub id: String,
    pub url: String,
    /// `Active` or `Dead-lettered`.
    pub state: String,
    pub last_delivered: Option<String>,
    /// Why the last attempt failed, with how many failed in a row.
    pub last_error: Option<String>,
}

/// A destination just added, with its signing secret: shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedPush {
    pub secret: String,
    pub row: PushRow,
}

impl std::fmt::Debug for AddedPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddedPush").field("secret", &"[redacted]").field("row", &self.row).finish()
    }
}
