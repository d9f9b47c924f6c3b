//! Teamwork's tasks, page by page.

use connector_core::{
    http::FetchError,
    paging::{Offset, read_id, record_name},
    related::fetch_where,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde_json::Value;

use crate::{ENTITY_TASK, client, mapping};

/// Lists the site's tasks by creation, page by page; a changes run asks
/// for those updated since its start (`updatedAfter`, which Teamwork asks
/// paged syncs to use). Pages are numbered, so a delete shifts them
/// (CONNECTOR-RULES 36): a task a full pass did not see is read by id,
/// and removed when Teamwork answers 404, says it is deleted, or it has
/// turned private. A task made private in Teamwork may also vanish from
/// the lists of a user who cannot see it: the same lookup removes it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TeamworkSource;

/// Comments and lookups in flight at once.
const CONCURRENCY: usize = 4;

async fn comments_of(
    cx: &Context<'_>,
    tasks: &[Value],
    included: &Value,
) -> (Vec<Option<Vec<Value>>>, Vec<connector_core::source::Skipped>) {
    fetch_where(
        tasks,
        |task| format!("the comments of {}", record_name(ENTITY_TASK, task.get("id").unwrap_or(&Value::Null))),
        |task| {
            let indexed = matches!(mapping::change("", task, included, None), Ok(Change::Upsert(_)));
            let id = task.get("id").and_then(read_id).filter(|_| indexed)?;
            Some(async move { client::comments(cx, &id).await })
        },
        CONCURRENCY,
    )
    .await
}

async fn confirm_one(cx: &Context<'_>, record: &Unseen) -> Result<Option<Change>, FetchError> {
    if record.entity_type != ENTITY_TASK {
        return Ok(None);
    }
    let Some((task, included)) = found(client::task(cx, &record.entity_id).await)? else {
        return Ok(Some(record.removed()));
    };
    let comments = match mapping::change(cx.base_url, &task, &included, None)? {
        removal @ Change::Remove { .. } => return Ok(Some(removal)),
        Change::Upsert(_) => match client::comments(cx, &record.entity_id).await {
            Ok(comments) => comments,
            // A failed read of the comments keeps the stored record as it is.
            Err(_) => return Ok(None),
        },
    };
    mapping::change(cx.base_url, &task, &included, Some(&comments)).map(Some)
}

#[async_trait::async_trait]
impl Source for TeamworkSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let at = Offset::at(cursor, client::PAGE_SIZE)?;
        let (tasks, included, more) = client::tasks(cx, &client::tasks_url(cx, mode, at.page())).await?;
        let (comments, mut skipped) = comments_of(cx, &tasks, &included).await;
        let pairs: Vec<(&Value, Option<Vec<Value>>)> = tasks.iter().zip(comments).collect();
        let (changes, unmapped) = map_each(
            &pairs,
            |(task, _)| record_name(ENTITY_TASK, task.get("id").unwrap_or(&Value::Null)),
            |(task, comments)| mapping::change(cx.base_url, task, &included, comments.as_deref()),
        );
        skipped.extend(unmapped);
        let next = if more { Some(format!("offset:{}", at.offset + client::PAGE_SIZE)) } else { None };
        Ok(Page { changes, next, total: None, skipped, token: None })
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, record)).collect();
        confirm_each(lookups, CONCURRENCY).await
    }
}
