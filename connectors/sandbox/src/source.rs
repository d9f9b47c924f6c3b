//! The sandbox's items, page by page.

use connector_core::{
    http::FetchError,
    paging::record_name,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};

use crate::{
    ENTITY_ITEM,
    client::{self, At},
    mapping,
};

/// An unseen item, looked up: stored again while it is live and public,
/// removed when private or gone.
async fn confirm_one(cx: &Context<'_>, record: &Unseen) -> Result<Option<Change>, FetchError> {
    if !record.entity_id.starts_with("itm_") {
        return Ok(None);
    }
    match found(client::item(cx, &record.entity_id).await)? {
        Some(item) => mapping::change(&item).map(Some),
        None => Ok(Some(record.removed())),
    }
}

/// Lookups of unseen items in flight at once.
const LOOKUPS: usize = 4;

/// Pages through `GET /api/items` with its opaque cursor, or by page
/// number when the listing says it pages so; a changes run asks with
/// `updated_since`, which also reports deletions.
///
/// Page numbers shift as items change, so the listing may shift
/// (CONNECTOR-RULES 36): an item a full pass did not see is looked up by
/// id before it is removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct SandboxSource;

#[async_trait::async_trait]
impl Source for SandboxSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let at = cursor.map(At::decode);
        let answer = client::items(cx, mode, at.as_ref()).await?;
        let name = |i: &crate::types::Item| record_name(i.kind.as_deref().unwrap_or(ENTITY_ITEM), &i.id);
        let (changes, skipped) = map_each(&answer.items, name, mapping::change);
        let next = match (answer.next_cursor.filter(|c| !c.is_empty()), answer.next_page) {
            (Some(cursor), _) => Some(At::Cursor(cursor)),
            (None, Some(page)) => Some(At::Page(page)),
            (None, None) => None,
        };
        Ok(Page {
            changes,
            next: next.map(|at| at.encode()),
            total: answer.total_count,
            skipped,
            token: answer.sync_token.filter(|t| !t.is_empty()),
        })
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, record)).collect();
        confirm_each(lookups, LOOKUPS).await
    }
}
