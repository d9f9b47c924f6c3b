//! Linear's issues, page by page.

use connector_core::{
    http::FetchError,
    source::{Context, Listing, Mode, Page, Source, map_each},
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
}
