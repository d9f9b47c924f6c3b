//! The conversation listing: `status=all` and `assignee_type=all` so that
//! nothing the token can read is left out, one page number at a time.

use connector_core::{
    http::{FetchError, read_json},
    source::Context,
};

use crate::types::Listing;

/// The listing's orders this connector uses (Chatwoot's `sort_by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Oldest first: new conversations join the end, so a full pass by
    /// page number does not skip as the account grows.
    CreatedAsc,
    /// Most recent activity first: a changes run stops at the first
    /// conversation older than its start.
    ActivityDesc,
}

impl Order {
    fn sort_by(self) -> &'static str {
        match self {
            Order::CreatedAsc => "created_at_asc",
            Order::ActivityDesc => "last_activity_at_desc",
        }
    }
}

/// The conversations URL of the account the base URL names.
pub fn conversations_url(base: &str, order: Order, page: u64) -> String {
    format!(
        "{}/conversations?status=all&assignee_type=all&sort_by={}&page={page}",
        base.trim_end_matches('/'),
        order.sort_by()
    )
}

/// One page of the listing. Chatwoot's 429 (rack-attack) is plain text
/// without `Retry-After`; the shared client backs off by itself.
pub async fn conversations(cx: &Context<'_>, order: Order, page: u64) -> Result<Listing, FetchError> {
    let url = conversations_url(cx.base_url, order, page);
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = client.get(&url).header("accept", "application/json");
            match token {
                Some(token) => request.header("api_access_token", token),
                None => request,
            }
        })
        .await?;
    read_json(response).await
}
