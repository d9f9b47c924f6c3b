//! The sandbox's items, page by page.

use connector_core::{
    http::FetchError,
    source::{Context, Mode, Page, Source},
};

use crate::{client, mapping};

/// Pages through `GET /api/items`, with its opaque cursor; a changes run
/// asks with `updated_since`, which also reports deletions.
#[derive(Clone, Copy, Debug, Default)]
pub struct SandboxSource;

#[async_trait::async_trait]
impl Source for SandboxSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let answer = client::items(cx, mode, cursor).await?;
        let changes = answer.items.iter().map(mapping::change).collect::<Result<_, _>>()?;
        Ok(Page { changes, next: answer.next_cursor.filter(|c| !c.is_empty()), total: answer.total_count })
    }
}
