//! What a connector's source yields: records mapped to artifacts, and the
//! removals of records deleted or made private at the source
//! (CONNECTOR-RULES 17, 18).

use time::OffsetDateTime;

/// One synced record, as the console stores it: keyed by team, provider,
/// entity type and entity id (SECURITY F1).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub entity_type: String,
    pub entity_id: String,
    pub title: String,
    /// A deep link back to the record in the source app.
    pub url: String,
    pub content: serde_json::Value,
    pub updated_at: OffsetDateTime,
}

/// A change a page carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Upsert(Record),
    /// Deleted at the source, or no longer allowed to be indexed.
    Remove {
        entity_type: String,
        entity_id: String,
    },
}
