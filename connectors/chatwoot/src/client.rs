//! The conversation listing: `status=all` and `assignee_type=all` so that
//! nothing the token can read is left out, one page number at a time.

use connector_core::{
    http::{FetchError, read_json},
    source::Context,
};

use crate::types::{Conversation, Listing};

/// How a listing is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The listing's own order, with no `sort_by`: a full pass does not
    /// depend on a sort Chatwoot's API reference does not document. Its
    /// pages may shift, so the pass confirms what it did not see.
    Default,
    /// Most recent activity first (`sort_by=last_activity_at_desc`): a
    /// changes run stops at the first conversation older than its start,
    /// once the page shows the order was applied.
    ActivityDesc,
}

/// The conversations URL of the account the base URL names.
pub fn conversations_url(base: &str, order: Order, page: u64) -> String {
    let sort = match order {
        Order::Default => String::new(),
        Order::ActivityDesc => "&sort_by=last_activity_at_desc".to_owned(),
    };
    format!("{}/conversations?status=all&assignee_type=all{sort}&page={page}", base.trim_end_matches('/'))
}

async fn get<T: serde::de::DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await?;
    read_json(response).await
}

/// One page of the listing. Chatwoot's 429 (rack-attack) is plain text
/// without `Retry-After`; the shared client backs off by itself.
pub async fn conversations(cx: &Context<'_>, order: Order, page: u64) -> Result<Listing, FetchError> {
    get(cx, &conversations_url(cx.base_url, order, page)).await
}

/// One conversation by its display id
/// (`GET /api/v1/accounts/{account_id}/conversations/{id}`); 404 once it
/// is deleted.
pub async fn conversation(cx: &Context<'_>, id: &str) -> Result<Conversation, FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(None, "a stored Chatwoot conversation id is not a number"));
    }
    get(cx, &format!("{}/conversations/{id}", cx.base_url.trim_end_matches('/'))).await
}
