//! Pipedrive's deals, persons and organizations, list by list.

use std::sync::{Arc, Mutex};

use connector_core::{
    http::FetchError,
    paging::{read_id, record_name},
    related::fetch_where,
    source::{Change, Context, Listing, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde::{Deserialize, Serialize};

use crate::{
    client::{self, List},
    mapping::{self, Refs},
    types::{Item, Note},
};

/// Reads deals, then persons, then organizations, each by id with v2's
/// keyset cursor, so a record that exists for the whole pass is on some
/// page, and what a full pass did not see is gone (a stable listing,
/// CONNECTOR-RULES 36). A changes run asks each list for what was updated
/// since its start; deleted deals come with `is_deleted` and are removed
/// (rule 18); deleted persons and organizations are not listed, and the
/// daily full pass removes them. Stages, users and deal labels are read
/// once a run and name the ids records carry (rule 4).
#[derive(Debug, Default)]
pub struct PipedriveSource {
    refs: Mutex<Option<Arc<Refs>>>,
}

/// Notes in flight at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, Deserialize, Serialize)]
struct At {
    list: List,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl PipedriveSource {
    async fn refs(&self, cx: &Context<'_>) -> Result<Arc<Refs>, FetchError> {
        if let Some(refs) = self.refs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
            return Ok(refs);
        }
        let refs =
            Arc::new(Refs::new(&client::stages(cx).await?, &client::users(cx).await?, &client::deal_fields(cx).await?));
        *self.refs.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(refs.clone());
        Ok(refs)
    }
}

async fn notes_of(
    cx: &Context<'_>,
    list: List,
    items: &[Item],
    refs: &Refs,
) -> (Vec<Option<Vec<Note>>>, Vec<connector_core::source::Skipped>) {
    fetch_where(
        items,
        |item| format!("the notes of {}", record_name(list.entity_type(), &item.id)),
        |item| {
            let indexed = matches!(mapping::change("", list, item, refs, None), Ok(Change::Upsert(_)));
            let id = read_id(&item.id).filter(|_| indexed)?;
            Some(async move { client::notes(cx, list, &id).await })
        },
        CONCURRENCY,
    )
    .await
}

async fn confirm_one(cx: &Context<'_>, app: &str, refs: &Refs, record: &Unseen) -> Result<Option<Change>, FetchError> {
    let Some(list) = List::of_entity_type(&record.entity_type) else { return Ok(None) };
    let Some(item) = found(client::one(cx, list, &record.entity_id).await)? else { return Ok(Some(record.removed())) };
    let notes = match mapping::change(app, list, &item, refs, None)? {
        Change::Upsert(_) => match client::notes(cx, list, &record.entity_id).await {
            Ok(notes) => Some(notes),
            // A failed read of the notes keeps the stored record as it is.
            Err(_) => return Ok(None),
        },
        removal @ Change::Remove { .. } => return Ok(Some(removal)),
    };
    mapping::change(app, list, &item, refs, notes.as_deref()).map(Some)
}

#[async_trait::async_trait]
impl Source for PipedriveSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let at = match cursor {
            None => At { list: List::Deals, cursor: None },
            Some(text) => serde_json::from_str(text)
                .map_err(|_| FetchError::permanent(None, "the stored Pipedrive cursor cannot be read"))?,
        };
        let refs = self.refs(cx).await?;
        let (items, next) = client::page(cx, &client::list_url(cx, at.list, mode, at.cursor.as_deref())).await?;
        let (notes, mut skipped) = notes_of(cx, at.list, &items, &refs).await;
        let app = client::app(cx);
        let pairs: Vec<(&Item, Option<Vec<Note>>)> = items.iter().zip(notes).collect();
        let (changes, unmapped) = map_each(
            &pairs,
            |(item, _)| record_name(at.list.entity_type(), &item.id),
            |(item, notes)| mapping::change(&app, at.list, item, &refs, notes.as_deref()),
        );
        skipped.extend(unmapped);
        let next = match next {
            Some(cursor) => Some(At { list: at.list, cursor: Some(cursor) }),
            None => at.list.after().map(|list| At { list, cursor: None }),
        };
        let next = next
            .map(|n| serde_json::to_string(&n))
            .transpose()
            .map_err(|_| FetchError::permanent(None, "the Pipedrive cursor cannot be written"))?;
        Ok(Page { changes, next, total: None, skipped, token: None })
    }

    fn listing(&self) -> Listing {
        Listing::Stable
    }

    /// What a webhook names, read again by id: stored as it is now, or
    /// removed when Pipedrive answers 404 or it is no longer the company's.
    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let refs = self.refs(cx).await?;
        let app = client::app(cx);
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, &app, &refs, record)).collect();
        confirm_each(lookups, CONCURRENCY).await
    }
}
