//! Chatwoot's conversations, page by page.

use connector_core::{
    http::FetchError,
    paging::{newest_until, record_name},
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};

use crate::{
    ENTITY_CONVERSATION,
    client::{self, Order},
    mapping,
};

/// An unseen conversation, looked up by its display id: stored again
/// while it exists, removed on a 404. One whose id is not a number is kept.
async fn confirm_one(cx: &Context<'_>, record: &Unseen) -> Result<Option<Change>, FetchError> {
    let numbered = !record.entity_id.is_empty() && record.entity_id.bytes().all(|b| b.is_ascii_digit());
    if record.entity_type != ENTITY_CONVERSATION || !numbered {
        return Ok(None);
    }
    match found(client::conversation(cx, &record.entity_id).await)? {
        Some(conversation) => mapping::change(cx.base_url, &conversation).map(Some),
        None => Ok(Some(record.removed())),
    }
}

/// Lookups of unseen conversations in flight at once.
const LOOKUPS: usize = 4;

/// A full pass lists every conversation in the listing's own order, page
/// by page; the cursor is the next page number. A changes run lists by
/// last activity, newest first, and ends at the first conversation whose
/// activity is older than `since`: the listing has no paged "changed
/// since" filter. A page that is not newest first shows the order was not
/// applied, and the run then reads to the end instead.
///
/// The listing does not report deleted conversations (CONNECTOR-RULES 18
/// needs a prune for those), and its numbered pages shift as
/// conversations come and go (rule 36): what a full pass did not see is
/// looked up by id, and removed only on a 404.
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
            Mode::Full => Order::Default,
            Mode::Changes { .. } => Order::ActivityDesc,
        };
        let listing = client::conversations(cx, order, page).await?.data;
        let mut conversations = listing.payload.as_slice();
        let mut ended = conversations.is_empty();
        if let Mode::Changes { since } = mode {
            // Chatwoot counts whole seconds.
            let since = since.replace_nanosecond(0).unwrap_or(since);
            let (newer, older_reached) = newest_until(conversations, since, |c| {
                time::OffsetDateTime::from_unix_timestamp(c.last_activity_at).ok()
            });
            conversations = newer;
            ended |= older_reached;
        }
        let (changes, skipped) =
            map_each(conversations, |c| record_name(ENTITY_CONVERSATION, &c.id), |c| mapping::change(cx.base_url, c));
        Ok(Page {
            changes,
            next: (!ended).then(|| (page + 1).to_string()),
            total: matches!(mode, Mode::Full).then_some(listing.meta.all_count).flatten(),
            skipped,
            token: None,
        })
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, record)).collect();
        confirm_each(lookups, LOOKUPS).await
    }
}
