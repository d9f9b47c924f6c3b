//! Chatwoot's conversations, page by page.

use connector_core::{
    http::FetchError,
    source::{Context, Mode, Page, Source},
};

use crate::{
    client::{self, Order},
    mapping,
};

/// A full pass lists every conversation oldest first, page by page; the
/// cursor is the next page number. A changes run lists by last activity,
/// newest first, and ends at the first conversation whose activity is
/// older than `since`: the listing has no paged "changed since" filter.
///
/// The listing does not report deleted conversations (CONNECTOR-RULES 18
/// needs a prune for those).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChatwootSource;

#[async_trait::async_trait]
impl Source for ChatwootSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let page = match cursor {
            None => 1,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| FetchError::permanent(None, "the stored Chatwoot cursor cannot be read"))?,
        };
        let order = match mode {
            Mode::Full => Order::CreatedAsc,
            Mode::Changes { .. } => Order::ActivityDesc,
        };
        let listing = client::conversations(cx, order, page).await?.data;
        let mut conversations = listing.payload.as_slice();
        let mut ended = conversations.is_empty();
        if let Mode::Changes { since } = mode {
            let since = since.unix_timestamp();
            if let Some(older) = conversations.iter().position(|c| c.last_activity_at < since) {
                conversations = &conversations[..older];
                ended = true;
            }
        }
        let changes = conversations.iter().map(|c| mapping::change(cx.base_url, c)).collect::<Result<_, _>>()?;
        Ok(Page {
            changes,
            next: (!ended).then(|| (page + 1).to_string()),
            total: matches!(mode, Mode::Full).then_some(listing.meta.all_count).flatten(),
        })
    }
}
