//! The item API's answers.

use serde::Deserialize;

/// `GET /api/items`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ItemsPage {
    pub items: Vec<Item>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// In page-number mode, instead of `next_cursor`.
    #[serde(default)]
    pub next_page: Option<u64>,
    /// On a listing's last page, with stream tokens on: where the next
    /// changes run resumes.
    #[serde(default)]
    pub sync_token: Option<String>,
    /// Only on a full listing.
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// An item; a deleted one carries only its id, `deleted` and `updated_at`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Item {
    /// A string in the documentation; read leniently (CONNECTOR-RULES 5).
    pub id: serde_json::Value,
    #[serde(default)]
    pub deleted: bool,
    pub updated_at: String,
    /// The item's kind (`item`, `note`…): its entity type, and the stream
    /// it is listed in. `item` when left out.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// `public` or `private`; anything else is treated as private.
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}
