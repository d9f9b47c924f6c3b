//! What a connector implements: a [`Source`] that yields pages of mapped
//! records and removals, each with the cursor that follows it. The runner
//! (in `platform`) stores a page's changes and its cursor together, so the
//! cursor is all a source needs to resume (SECURITY F2, CONNECTOR-RULES 6).
//!
//! A full pass ends by removing the stored records it did not see. A
//! listing that can shift while it is read (page numbers, offsets, a sort
//! by a field that changes) lets a live record slip past a page boundary,
//! so a source says which kind it has ([`Listing`]), and what a pass over
//! a shifting one did not see is looked up by id ([`Source::confirm`])
//! before anything is deleted (SECURITY F8, CONNECTOR-RULES 36).

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

    /// The removal of the record it is about.
    pub fn into_removal(self) -> Change {
        match self {
            Change::Upsert(record) => Change::Remove { entity_type: record.entity_type, entity_id: record.entity_id },
            removal => removal,
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
    /// Records of this page that could not be read: kept out, while the
    /// rest of the page is stored (CONNECTOR-RULES 39).
    pub skipped: Vec<Skipped>,
    /// A change token for the changes after this run (a delta link, a
    /// sync token, an offset): stored when the run ends, and handed to the
    /// next changes run in [`Context::token`] (CONNECTOR-RULES 37).
    pub token: Option<String>,
}

/// A record a page could not read, and why: a partial error the admin is
/// told of, naming the record (CONNECTOR-RULES 32, 39).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The record, as the admin would find it: `item itm_7`, or what is
    /// known of it when its id is unreadable.
    pub record: String,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.record, self.reason)
    }
}

/// Maps a page's records one by one (CONNECTOR-RULES 39): a record that
/// cannot be mapped is skipped with its name and the reason, and the rest
/// are kept. `name` says which record it is (`issue 42`).
pub fn map_each<T>(
    records: &[T],
    name: impl Fn(&T) -> String,
    map: impl Fn(&T) -> Result<Change, FetchError>,
) -> (Vec<Change>, Vec<Skipped>) {
    let mut changes = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    for record in records {
        match map(record) {
            Ok(change) => changes.push(change),
            Err(error) => skipped.push(Skipped { record: name(record), reason: error.message }),
        }
    }
    (changes, skipped)
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
    /// Hosts besides the base URL's that the catalog lets a next-page URL
    /// lead to (`*.` allows subdomains; [`crate::paging::next_url`]).
    pub allowed_hosts: &'a [String],
    /// Where requests carry the connection's secret, as the catalog says.
    pub auth: &'a crate::auth::Placement,
    /// The change token the last run's end handed back ([`Page::token`]),
    /// for a changes run to resume the provider's stream from; `None` in a
    /// full pass.
    pub token: Option<&'a str>,
    /// Which of the connection's streams this run reads ([`Stream`]): ""
    /// for a connection that syncs as one stream.
    pub stream: &'a str,
}

/// One of a connection's streams: a set of entity types synced with its
/// own cursors, progress and job (HubSpot's contacts, companies and deals;
/// Jira's issues and comments), so streams run side by side and a full
/// pass of one prunes only its own entity types. The catalog declares a
/// provider's streams (`[[api.streams]]`); a provider that declares none
/// syncs as one stream, named "", over every entity type.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// A lowercase word, unique in the provider (`contacts`).
    pub name: String,
    /// The entity types its pages carry, and its prune may delete; none
    /// for the one stream of a connection without named streams.
    #[serde(default)]
    pub entity_types: Vec<String>,
}

impl Stream {
    /// Whether a change is about one of this stream's entity types: a page
    /// may carry no other (a stream cannot write or delete another's).
    pub fn covers(&self, entity_type: &str) -> bool {
        self.entity_types.is_empty() || self.entity_types.iter().any(|t| t == entity_type)
    }
}

/// Whether a full listing can lose a live record while it is read
/// (CONNECTOR-RULES 36).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Keyset or opaque cursors over a key that does not change: every
    /// record that exists for the whole pass is on some page, so what the
    /// pass did not see is gone and is deleted at its end.
    Stable,
    /// Page numbers, offsets, or a sort by a field that changes: an edit
    /// or a delete mid-pass moves later records up a page, past the
    /// reader. What the pass did not see is looked up by id
    /// ([`Source::confirm`]) and deleted only when the provider says it is
    /// gone or no longer public.
    MayShift,
}

/// A stored record that a full pass did not see: what [`Source::confirm`]
/// is asked about, with the content the connector stored for it (which
/// holds whatever the lookup needs, such as a repository and a number).
#[derive(Clone, Debug, PartialEq)]
pub struct Unseen {
    pub entity_type: String,
    pub entity_id: String,
    pub content: serde_json::Value,
}

/// How many unseen records the runner asks [`Source::confirm`] about at
/// once.
pub const CONFIRM_BATCH: usize = 50;

/// A provider's records, page by page.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The page of `mode` at `cursor` (`None`: the first page).
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError>;

    /// What kind of full listing [`Source::page`] reads. Unless a source
    /// says otherwise, its listing may shift.
    fn listing(&self) -> Listing {
        Listing::MayShift
    }

    /// The change each of `unseen` makes, read from the provider by id: an
    /// upsert for a record that is still there and public, a removal for
    /// one the provider says is gone (404, 410) or no longer public. A
    /// record left out of the answer is kept. The default confirms
    /// nothing, so a shifting listing without a lookup never deletes a
    /// record by its absence (CONNECTOR-RULES 36).
    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let _ = (cx, unseen);
        Ok(Vec::new())
    }
}

/// The changes of a [`Source::confirm`] answer that are about records it
/// was asked about: a source cannot delete or write anything else through
/// a confirmation.
pub fn about_asked(unseen: &[Unseen], answered: Vec<Change>) -> Vec<Change> {
    let asked: std::collections::HashSet<(&str, &str)> =
        unseen.iter().map(|u| (u.entity_type.as_str(), u.entity_id.as_str())).collect();
    answered.into_iter().filter(|c| asked.contains(&c.key())).collect()
}

impl Unseen {
    /// This record's removal: the provider says it is gone or not public.
    pub fn removed(&self) -> Change {
        Change::Remove { entity_type: self.entity_type.clone(), entity_id: self.entity_id.clone() }
    }
}

/// A lookup by id as [`Source::confirm`] reads it: 404 and 410 say the
/// record is gone (`None`); every other failure stays a failure.
pub fn found<T>(looked_up: Result<T, FetchError>) -> Result<Option<T>, FetchError> {
    match looked_up {
        Ok(value) => Ok(Some(value)),
        Err(error) if matches!(error.status, Some(404 | 410)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Runs one lookup a record, at most `concurrency` at once, for
/// providers without a lookup of many ids: each answers its record's
/// change, or `None` to keep it. The first failure fails the whole batch,
/// which the runner tries again. (The lookups come made, not as a closure,
/// so that a source's `confirm` stays `Send`.)
pub async fn confirm_each<Fut>(lookups: Vec<Fut>, concurrency: usize) -> Result<Vec<Change>, FetchError>
where
    Fut: std::future::Future<Output = Result<Option<Change>, FetchError>>,
{
    use futures_util::{StreamExt as _, TryStreamExt as _};
    let changes: Vec<Option<Change>> =
        futures_util::stream::iter(lookups).buffered(concurrency.max(1)).try_collect().await?;
    Ok(changes.into_iter().flatten().collect())
}
