//! Linear's issues, page by page.

use connector_core::{
    http::FetchError,
    source::{Context, Mode, Page, Source},
};

use crate::{client, mapping};

/// Pages the `issues` connection with `first`/`after`; the stored cursor is
/// Linear's `endCursor`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinearSource;

#[async_trait::async_trait]
impl Source for LinearSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let issues = client::issues(cx, mode, cursor).await?;
        let changes = issues.nodes.iter().map(mapping::change).collect::<Result<_, _>>()?;
        let next = issues.page_info.filter(|p| p.has_next_page).and_then(|p| p.end_cursor).filter(|c| !c.is_empty());
        Ok(Page { changes, next, total: None })
    }
}
