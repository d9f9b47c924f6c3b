//! What a connector implements: a [`Source`] that yields pages of mapped
//! records and removals, each with the cursor that follows it. The runner
//! (in `platform`) stores a page's changes and its cursor together, so the
//! cursor is all a source needs to resume (SECURITY F2, CONNECTOR-RULES 6).

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::http::{Call, FetchError, Http};

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
    /// Deleted at the source, or no longer allowed to be indexed
    /// (CONNECTOR-RULES 17, 18).
    Remove {
        entity_type: String,
        entity_id: String,
    },
}

impl Change {
    /// The (entity type, entity id) it is about.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Change::Upsert(record) => (&record.entity_type, &record.entity_id),
            Change::Remove { entity_type, entity_id } => (entity_type, entity_id),
        }
    }
}

/// Which pass a run makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything the connection can see.
    Full,
    /// What changed at or after `since`; the runner chooses it with an
    /// overlap, and upserts make the overlap harmless.
    Changes { since: OffsetDateTime },
}

/// One page of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    /// Where the next page starts; `None` ends the run.
    pub next: Option<String>,
    /// Records in the whole run, when the provider says.
    pub total: Option<u64>,
}

/// What a source calls the provider with: the shared client, the
/// connection's credentials, rate budget and circuit breaker, and its
/// non-secret settings.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub http: &'a Http,
    pub call: Call<'a>,
    /// Where the API is: the catalog's base URL, filled in with the
    /// connection's settings (a self-hosted base URL) where it names one.
    pub base_url: &'a str,
    pub settings: &'a BTreeMap<String, String>,
}

/// A provider's records, page by page.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The page of `mode` at `cursor` (`None`: the first page).
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError>;
}
