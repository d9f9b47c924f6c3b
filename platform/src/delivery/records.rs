//! The team's records, their search, and its connections, as the records
//! API and the MCP tools read them: always one team's, by construction
//! (SECURITY I1): every read takes the caller's team.

use base64::Engine as _;

use crate::{
    Platform,
    error::Result,
    ids::{ProviderId, TeamId},
    store::{
        artifacts::{self, Filter, Key, Stored},
        installations,
        jobs::{self, Kind},
    },
};

/// The most records a page holds.
pub const MAX_PAGE: i64 = 1_000;
pub const DEFAULT_PAGE: i64 = 100;
/// The most results a search returns.
pub const MAX_RESULTS: i64 = 100;

/// A page of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordsPage {
    pub records: Vec<Stored>,
    /// The next page's cursor; `None` at the end.
    pub next_cursor: Option<String>,
    /// The change feed's head, read before the page: a mirror that copies
    /// every page, then follows the feed from the first page's cursor,
    /// misses nothing.
    pub changes_cursor: String,
}

/// What is wrong with a request for records, in words for the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the cursor is not one this API handed out")]
    BadCursor,
    #[error("limit must be between 1 and {0}")]
    BadLimit(i64),
    #[error("q must hold at least one word")]
    EmptyQuery,
}

const CURSOR_VERSION: &str = "r1.";

fn encode(key: &Key) -> String {
    let json = serde_json::to_string(&[&key.0, &key.1, &key.2]).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}{json}"))
}

fn decode(cursor: &str) -> Option<Key> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let [provider, entity_type, entity_id]: [String; 3] =
        serde_json::from_str(text.strip_prefix(CURSOR_VERSION)?).ok()?;
    Some((provider, entity_type, entity_id))
}

/// A page of the team's records, in key order.
pub async fn list(
    platform: &Platform,
    team: &TeamId,
    filter: &Filter,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<std::result::Result<RecordsPage, Refusal>> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Ok(Err(Refusal::BadLimit(MAX_PAGE)));
    }
    let after = match cursor {
        Some(cursor) => match decode(cursor) {
            Some(key) => Some(key),
            None => return Ok(Err(Refusal::BadCursor)),
        },
        None => None,
    };
    let changes_cursor = super::feed::head_cursor(platform, team).await?;
    let records = artifacts::page(&platform.db, team, filter, after.as_ref(), limit).await?;
    let next_cursor = (i64::try_from(records.len()).unwrap_or(i64::MAX) >= limit)
        .then(|| records.last().map(|r| encode(&(r.provider.clone(), r.entity_type.clone(), r.entity_id.clone()))))
        .flatten();
    Ok(Ok(RecordsPage { records, next_cursor, changes_cursor }))
}

/// One of the team's records; `None` also for another team's.
pub async fn get(
    platform: &Platform,
    team: &TeamId,
    provider: &str,
    entity_type: &str,
    entity_id: &str,
) -> Result<Option<Stored>> {
    artifacts::get(&platform.db, team, provider, entity_type, entity_id).await
}

/// The words of a query: at most 16, each at most 64 characters.
pub fn words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).take(64).collect::<String>())
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(16)
        .collect()
}

/// The team's records that hold every word of `query`, best first.
pub async fn search(
    platform: &Platform,
    team: &TeamId,
    query: &str,
    provider: Option<&ProviderId>,
    limit: Option<i64>,
) -> Result<std::result::Result<Vec<(Stored, f64)>, Refusal>> {
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_RESULTS).contains(&limit) {
        return Ok(Err(Refusal::BadLimit(MAX_RESULTS)));
    }
    let words = words(query);
    if words.is_empty() {
        return Ok(Err(Refusal::EmptyQuery));
    }
    Ok(Ok(artifacts::search(&platform.db, team, &words, provider, limit).await?))
}

/// A connection as the API lists it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub provider: ProviderId,
    pub provider_name: String,
    pub state: installations::State,
    pub account_id: String,
    pub account_name: String,
    pub connected_at: Option<i64>,
    /// The newest sync job, if any.
    pub last_sync: Option<crate::store::jobs::Job>,
    /// Records held per entity type.
    pub counts: Vec<(String, i64)>,
}

/// The team's active connections, in three queries however many there are.
pub async fn connections(platform: &Platform, team: &TeamId) -> Result<Vec<Connection>> {
    let active = installations::list_active(&platform.db, team).await?;
    let mut newest = jobs::newest_by_installation(&platform.db, team, Kind::SYNC).await?;
    let counts = artifacts::counts_by_provider(&platform.db, team).await?;
    Ok(active
        .into_iter()
        .map(|installation| Connection {
            provider_name: platform
                .catalog
                .get(&installation.provider)
                .map_or_else(|| installation.provider.to_string(), |p| p.name.clone()),
            counts: counts
                .iter()
                .filter(|(provider, _, _)| provider == installation.provider.as_str())
                .map(|(_, entity_type, n)| (entity_type.clone(), *n))
                .collect(),
            last_sync: newest.remove(&installation.id),
            state: installation.state,
            account_id: installation.account_id,
            account_name: installation.display_name,
            connected_at: installation.connected_at.map(time::OffsetDateTime::unix_timestamp),
            provider: installation.provider,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_records_cursor_decodes_to_its_key() {
        let key = ("linear".to_owned(), "issue".to_owned(), "a\"b/c".to_owned());
        assert_eq!(decode(&encode(&key)), Some(key));
        assert_eq!(decode("nope"), None);
    }

    #[test]
    fn a_query_keeps_its_words_and_drops_what_is_not_one() {
        assert_eq!(words("  deploy  \"failed\" -- NEAR(x) "), vec!["deploy", "\"failed\"", "NEAR(x)"]);
        assert!(words(" -- ** ").is_empty());
        assert_eq!(words(&"w ".repeat(40)).len(), 16);
    }
}
