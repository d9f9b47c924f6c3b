//! Pylon's issues, window by window.

use connector_core::{
    http::FetchError,
    paging::record_name,
    related::fetch_where,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, macros::datetime};

use crate::{
    ENTITY_ISSUE,
    client::{self, Field},
    mapping,
    types::{Issue, Message},
};

/// The longest span one query may cover.
pub const WINDOW: Duration = Duration::days(30);

/// Where a full pass stops walking back: Pylon opened in 2022, so no
/// organization has an older issue.
pub const FLOOR: OffsetDateTime = datetime!(2022-01-01 00:00 UTC);

/// Each query is widened by this on both sides, so an issue exactly on a
/// window's edge is read by both windows rather than by neither (Pylon
/// does not say whether its bounds are inclusive); it is stored once.
const EDGE: Duration = Duration::seconds(1);

/// Empty pages read in one call before one is answered (SECURITY F7).
const EMPTY_PER_CALL: usize = 50;

/// Related fetches in flight at once: the messages endpoint allows 20 a
/// minute, and the rate budget paces them.
const CONCURRENCY: usize = 2;

/// Walks windows of at most 30 days back from the run's start to a
/// floor, newest first, the last one clamped to the floor and never
/// skipped (CONNECTOR-RULES 9, 12): by creation from [`FLOOR`] in a full
/// pass, so an edit does not move an issue between windows; by update
/// from `since` in a changes run. Pylon's search cursors are not
/// documented as stable, so the listing may shift (rule 36): an issue the
/// full pass did not see is read by id and removed only on a 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct PylonSource;

/// Where a run is: the field its windows are on, the end of the window
/// being read, the floor, and the next page of the window.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct At {
    field: Field,
    end: i64,
    floor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl At {
    fn start(mode: Mode) -> Self {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match mode {
            Mode::Full => At { field: Field::CreatedAt, end: now, floor: FLOOR.unix_timestamp(), cursor: None },
            Mode::Changes { since } => {
                At { field: Field::UpdatedAt, end: now, floor: since.unix_timestamp().min(now), cursor: None }
            }
        }
    }

    /// The window being read, and where the next one ends.
    fn window(&self) -> Result<(OffsetDateTime, OffsetDateTime), FetchError> {
        let at = |t: i64| {
            OffsetDateTime::from_unix_timestamp(t)
                .map_err(|_| FetchError::permanent(None, "the stored Pylon cursor cannot be read"))
        };
        let end = at(self.end)?;
        Ok(((end - WINDOW).max(at(self.floor)?), end))
    }
}

async fn messages_of(
    cx: &Context<'_>,
    issues: &[Issue],
) -> (Vec<Option<Vec<Message>>>, Vec<connector_core::source::Skipped>) {
    fetch_where(
        issues,
        |issue| format!("the messages of {}", record_name(ENTITY_ISSUE, &issue.id)),
        |issue| {
            let id = connector_core::paging::read_id(&issue.id)?;
            Some(async move { client::messages(cx, &id).await })
        },
        CONCURRENCY,
    )
    .await
}

async fn confirm_one(cx: &Context<'_>, record: &Unseen) -> Result<Option<Change>, FetchError> {
    if record.entity_type != ENTITY_ISSUE {
        return Ok(None);
    }
    let Some(issue) = found(client::issue(cx, &record.entity_id).await)? else { return Ok(Some(record.removed())) };
    // A failed read of the messages keeps the stored record as it is.
    let Ok(messages) = client::messages(cx, &record.entity_id).await else { return Ok(None) };
    mapping::change(&issue, Some(&messages)).map(Some)
}

#[async_trait::async_trait]
impl Source for PylonSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let mut at = match cursor {
            None => At::start(mode),
            Some(text) => serde_json::from_str(text)
                .map_err(|_| FetchError::permanent(None, "the stored Pylon cursor cannot be read"))?,
        };
        for _ in 0..EMPTY_PER_CALL {
            let (start, end) = at.window()?;
            let (issues, next) = client::search(cx, at.field, (start - EDGE, end + EDGE), at.cursor.as_deref()).await?;
            let (messages, mut skipped) = messages_of(cx, &issues).await;
            let pairs: Vec<(&Issue, Option<Vec<Message>>)> = issues.iter().zip(messages).collect();
            let (changes, unmapped) = map_each(
                &pairs,
                |(issue, _)| record_name(ENTITY_ISSUE, &issue.id),
                |(issue, messages)| mapping::change(issue, messages.as_deref()),
            );
            skipped.extend(unmapped);
            let following = match next {
                Some(cursor) => Some(At { cursor: Some(cursor), ..at.clone() }),
                None if start.unix_timestamp() > at.floor => {
                    Some(At { end: start.unix_timestamp(), cursor: None, ..at.clone() })
                }
                None => None,
            };
            match following {
                Some(following) if changes.is_empty() && skipped.is_empty() => at = following,
                following => {
                    let next = following
                        .map(|f| serde_json::to_string(&f))
                        .transpose()
                        .map_err(|_| FetchError::permanent(None, "the Pylon cursor cannot be written"))?;
                    return Ok(Page { changes, next, total: None, skipped, token: None });
                }
            }
        }
        let next = serde_json::to_string(&at)
            .map_err(|_| FetchError::permanent(None, "the Pylon cursor cannot be written"))?;
        Ok(Page { next: Some(next), ..Page::default() })
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, record)).collect();
        confirm_each(lookups, CONCURRENCY).await
    }
}
