//! One request per page of the item API, and one per item looked up.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::{Context, Mode},
};

use crate::types::{Item, ItemsPage};

/// Items per page: the API allows up to 200.
pub const PAGE_SIZE: u32 = 100;

/// Where a page is: the API's opaque cursor, or a page number when the
/// listing pages by number (it says so by naming `next_page`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    Cursor(String),
    Page(u64),
}

/// A page position as the runner stores it: `page:N` for a page number,
/// anything else is the API's cursor.
impl At {
    pub fn decode(text: &str) -> Self {
        match text.strip_prefix("page:").and_then(|n| n.parse().ok()) {
            Some(page) => Self::Page(page),
            None => Self::Cursor(text.to_owned()),
        }
    }

    pub fn encode(&self) -> String {
        match self {
            Self::Cursor(cursor) => cursor.clone(),
            Self::Page(page) => format!("page:{page}"),
        }
    }
}

fn api(cx: &Context<'_>, path: &str) -> Result<url::Url, FetchError> {
    url::Url::parse(&format!("{}/{path}", cx.base_url.trim_end_matches('/')))
        .map_err(|_| FetchError::permanent(None, "the sandbox's API address is not a URL"))
}

async fn get(cx: &Context<'_>, url: url::Url) -> Result<reqwest::Response, FetchError> {
    cx.http
        .send(cx.call, |client, token| {
            cx.auth.apply(client.get(url.clone()).header("accept", "application/json"), token)
        })
        .await
}

/// Asks for the page of `mode` at `at` (`None`: the first).
pub async fn items(cx: &Context<'_>, mode: Mode, at: Option<&At>) -> Result<ItemsPage, FetchError> {
    let mut url = api(cx, "items")?;
    {
        let mut query = url.query_pairs_mut();
        match at {
            Some(At::Page(page)) => {
                query.append_pair("page", &page.to_string());
                query.append_pair("per_page", &PAGE_SIZE.to_string());
            }
            Some(At::Cursor(cursor)) => {
                query.append_pair("limit", &PAGE_SIZE.to_string());
                query.append_pair("cursor", cursor);
            }
            None => {
                // Either paging takes `limit` as the page size.
                query.append_pair("limit", &PAGE_SIZE.to_string());
            }
        }
        match (mode, cx.token) {
            // The stream the last run's end handed back, when there is one.
            (Mode::Changes { .. }, Some(token)) => {
                query.append_pair("sync_token", token);
            }
            (Mode::Changes { since }, None) => {
                query.append_pair("updated_since", &utc_rfc3339(since));
            }
            (Mode::Full, _) => {}
        }
        // A connection with named streams reads one kind of item per
        // stream (the sandbox's `PATCHBAY_SANDBOX_KINDS`).
        if !cx.stream.is_empty() {
            query.append_pair("kind", cx.stream);
        }
    }
    let response = get(cx, url).await.map_err(|e| if cx.token.is_some() { e.or_stream_expired() } else { e })?;
    read_json(response).await
}

/// One item by id, private ones included; 404 once it is deleted.
pub async fn item(cx: &Context<'_>, id: &str) -> Result<Item, FetchError> {
    let mut url = api(cx, "items")?;
    url.path_segments_mut()
        .map_err(|()| FetchError::permanent(None, "the sandbox's API address is not a URL"))?
        .push(id);
    read_json(get(cx, url).await?).await
}
