//! Pipedrive's answers: v2 lists `{success, data, additional_data:
//! {next_cursor}}` with RFC 3339 times; v1 notes, users and deal fields
//! with `YYYY-MM-DD HH:MM:SS` times (UTC).

use serde::Deserialize;

/// A v2 list page.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Listing<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_as_empty")]
    pub data: Vec<T>,
    #[serde(default)]
    pub additional_data: Option<NextCursor>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct NextCursor {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `data: null` is an empty list (Pipedrive sends it for no notes).
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A v2 single object.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct One<T> {
    pub data: T,
}

/// A deal, person or organization: the fields the three share, and each
/// one's own.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Item {
    pub id: serde_json::Value,
    /// A deal's.
    #[serde(default)]
    pub title: Option<String>,
    /// A person's or organization's.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub owner_id: Option<u64>,
    #[serde(default)]
    pub update_time: Option<String>,
    #[serde(default)]
    pub add_time: Option<String>,
    #[serde(default)]
    pub is_deleted: Option<bool>,
    /// An integer in v2 (a string in webhooks and v1).
    #[serde(default)]
    pub visible_to: Option<serde_json::Value>,
    #[serde(default)]
    pub label_ids: Option<Vec<u64>>,
    // Deals.
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub stage_id: Option<u64>,
    #[serde(default)]
    pub person_id: Option<u64>,
    #[serde(default)]
    pub org_id: Option<u64>,
    #[serde(default)]
    pub expected_close_date: Option<String>,
    // Persons.
    #[serde(default)]
    pub emails: Option<Vec<Contact>>,
    #[serde(default)]
    pub phones: Option<Vec<Contact>>,
    // Organizations.
    #[serde(default)]
    pub address: Option<Address>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Contact {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub primary: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Address {
    #[serde(default)]
    pub value: Option<String>,
}

/// `GET /api/v1/notes`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Note {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub add_time: Option<String>,
    #[serde(default)]
    pub user: Option<NoteUser>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct NoteUser {
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /api/v2/stages`, `GET /api/v1/users`: an id and a name.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Named {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /api/v1/dealFields`: a field, with its options' labels.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Field {
    pub key: String,
    #[serde(default)]
    pub options: Option<Vec<FieldOption>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FieldOption {
    pub id: serde_json::Value,
    #[serde(default)]
    pub label: Option<String>,
}
