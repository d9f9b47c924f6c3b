//! The records and changes as they go out: the JSON the records API
//! answers, the MCP tools return and push batches carry, written once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{artifacts, changes};

/// RFC 3339, UTC.
pub fn instant(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A synced record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Record {
    pub provider: String,
    pub entity_type: String,
    pub entity_id: String,
    pub title: String,
    /// The deep link back to the record in its source app.
    pub url: String,
    /// The record's fields as the connector mapped them.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// When the source last changed it (RFC 3339).
    pub source_updated_at: String,
    /// When Patchbay last wrote it (RFC 3339).
    pub synced_at: String,
}

impl Record {
    fn of(provider: String, entity_type: String, entity_id: String, snapshot: changes::Snapshot) -> Self {
        Self {
            provider,
            entity_type,
            entity_id,
            title: snapshot.title,
            url: snapshot.url,
            content: serde_json::from_str(&snapshot.content).unwrap_or(serde_json::Value::Null),
            source_updated_at: instant(snapshot.source_updated_at),
            synced_at: instant(snapshot.synced_at),
        }
    }
}

impl From<artifacts::Stored> for Record {
    fn from(s: artifacts::Stored) -> Self {
        let snapshot = changes::Snapshot {
            title: s.title,
            url: s.url,
            content: s.content,
            source_updated_at: s.source_updated_at,
            synced_at: s.synced_at,
        };
        Self::of(s.provider, s.entity_type, s.entity_id, snapshot)
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

/// One change of the feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// The change's place in the team's feed: increasing, in commit order.
    pub seq: i64,
    pub op: Op,
    pub provider: String,
    pub entity_type: String,
    pub entity_id: String,
    /// The record as written, for an upsert; absent for a delete (the
    /// record was removed at the source, became private, or its
    /// connection was disconnected: de-index it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// When the change was committed (RFC 3339).
    pub committed_at: String,
}

impl From<changes::Change> for Change {
    fn from(c: changes::Change) -> Self {
        Self {
            seq: c.seq,
            op: match c.op {
                changes::Op::Upsert => Op::Upsert,
                changes::Op::Delete => Op::Delete,
            },
            record: c
                .record
                .map(|snapshot| Record::of(c.provider.clone(), c.entity_type.clone(), c.entity_id.clone(), snapshot)),
            provider: c.provider,
            entity_type: c.entity_type,
            entity_id: c.entity_id,
            committed_at: instant(c.committed_at),
        }
    }
}
