//! One request per page of the item API.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::{Context, Mode},
};

use crate::types::ItemsPage;

/// Items per page: the API allows up to 200.
pub const PAGE_SIZE: u32 = 100;

/// Asks for the page at `cursor` of `mode`.
pub async fn items(cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<ItemsPage, FetchError> {
    let mut url = url::Url::parse(&format!("{}/items", cx.base_url.trim_end_matches('/')))
        .map_err(|_| FetchError::permanent(None, "the sandbox's API address is not a URL"))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("limit", &PAGE_SIZE.to_string());
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        if let Mode::Changes { since } = mode {
            query.append_pair("updated_since", &utc_rfc3339(since));
        }
    }
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = client.get(url.clone()).header("accept", "application/json");
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await?;
    read_json(response).await
}
