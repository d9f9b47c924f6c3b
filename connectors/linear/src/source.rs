//! Linear's issues, page by page.

use connector_core::{
    http::FetchError,
    source::{Change, Context, Listing, Mode, Page, Source, Unseen, map_each},
};

use crate::{client, mapping};

/// Pages the `issues` connection with `first`/`after`; the stored cursor is
/// Linear's `endCursor`. Relay cursors point at a record, not an offset,
/// so nothing a delete or an edit does mid-pass moves a record past the
/// reader: the listing is stable (CONNECTOR-RULES 36), and what a full
/// pass did not see is gone.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinearSource;

#[async_trait::async_trait]
impl Source for LinearSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let answer = client::issues(cx, mode, cursor).await?;
        let issues = answer.data.issues;
        let (changes, mut skipped) =
            map_each(&issues.nodes, |issue| format!("issue {}", issue.identifier), mapping::change);
        skipped.extend(answer.partial);
        let next = issues.page_info.filter(|p| p.has_next_page).and_then(|p| p.end_cursor).filter(|c| !c.is_empty());
        Ok(Page { changes, next, total: None, skipped, token: None })
    }

    fn listing(&self) -> Listing {
        Listing::Stable
    }

    /// Reads the issues by id, [`client::PAGE_SIZE`] at a time. One Linear
    /// does not answer is gone, or in a team the viewer cannot read: either
    /// way it is not indexed, and is removed. (A full pass never asks: its
    /// listing is stable; webhooks do.)
    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let mut changes = Vec::new();
        let issues: Vec<&Unseen> = unseen.iter().filter(|u| u.entity_type == mapping::ENTITY_ISSUE).collect();
        for chunk in issues.chunks(client::PAGE_SIZE as usize) {
            let ids: Vec<&str> = chunk.iter().map(|u| u.entity_id.as_str()).collect();
            let answer = client::issues_by_id(cx, &ids).await?;
            if !answer.partial.is_empty() {
                // A spoiled answer says nothing of what it left out.
                let why = answer.partial.iter().map(|s| s.reason.as_str()).collect::<Vec<_>>().join("; ");
                return Err(FetchError::transient(Some(200), format!("Linear answered the lookup in part: {why}")));
            }
            for record in chunk {
                match answer.data.issues.nodes.iter().find(|issue| issue.id == record.entity_id) {
                    Some(issue) => changes.push(mapping::change(issue)?),
                    None => changes.push(record.removed()),
                }
            }
        }
        Ok(changes)
    }
}
