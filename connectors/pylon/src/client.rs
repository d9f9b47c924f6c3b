//! Pylon's requests: a search of issues whose `field` falls in one time
//! window, page by page; an issue's messages; one issue by id.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::Context,
};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::types::{Issue, IssuePage, Message, Messages, OneIssue};

/// Results a search page asks for (Pylon allows fewer than 1,000).
pub const LIMIT: u32 = 100;

/// The time field a search window is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Where an issue falls never changes: a full pass.
    CreatedAt,
    /// What changed: a changes run.
    UpdatedAt,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::CreatedAt => "created_at",
            Field::UpdatedAt => "updated_at",
        }
    }
}

fn base<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

fn accept(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("accept", "application/json")
}

async fn get<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    let response = cx.http.send(cx.call, |client, token| cx.auth.apply(accept(client.get(url)), token)).await?;
    read_json(response).await
}

/// The search of one window `(start, end)`: issues whose `field` is after
/// `start` and before `end`, at the page `cursor` names.
pub fn search_body(
    field: Field,
    start: OffsetDateTime,
    end: OffsetDateTime,
    cursor: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "filter": {
            "operator": "and",
            "subfilters": [
                { "field": field.name(), "operator": "time_is_after", "value": utc_rfc3339(start) },
                { "field": field.name(), "operator": "time_is_before", "value": utc_rfc3339(end) },
            ],
        },
        "limit": LIMIT,
    });
    if let Some(cursor) = cursor {
        body["cursor"] = cursor.into();
    }
    body
}

/// One page of a window's search, and the cursor of the next.
pub async fn search(
    cx: &Context<'_>,
    field: Field,
    window: (OffsetDateTime, OffsetDateTime),
    cursor: Option<&str>,
) -> Result<(Vec<Issue>, Option<String>), FetchError> {
    let url = format!("{}/issues/search", base(cx));
    let body = search_body(field, window.0, window.1, cursor).to_string();
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = accept(client.post(&url)).header("content-type", "application/json").body(body.clone());
            cx.auth.apply(request, token)
        })
        .await?;
    let page: IssuePage = read_json(response).await?;
    let next = page.pagination.filter(|p| p.has_next_page).and_then(|p| p.cursor).filter(|cursor| !cursor.is_empty());
    Ok((page.data.unwrap_or_default(), next))
}

/// An issue's messages, internal notes included (the mapping leaves them
/// out).
pub async fn messages(cx: &Context<'_>, id: &str) -> Result<Vec<Message>, FetchError> {
    let answer: Messages = get(cx, &format!("{}/issues/{}/messages", base(cx), path_segment(id)?)).await?;
    Ok(answer.data.unwrap_or_default())
}

/// One issue by id; 404 once it is deleted.
pub async fn issue(cx: &Context<'_>, id: &str) -> Result<Issue, FetchError> {
    let answer: OneIssue = get(cx, &format!("{}/issues/{}", base(cx), path_segment(id)?)).await?;
    Ok(answer.data)
}

/// An id as a path segment: Pylon's ids are UUIDs.
fn path_segment(id: &str) -> Result<&str, FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(FetchError::permanent(None, "a Pylon issue id is not one"));
    }
    Ok(id)
}
