//! Asana's requests: answers in `data`, lists paged by `next_page.offset`.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::{Context, Mode},
};
use serde_json::Value;

/// The most a list gives per page.
pub const LIMIT: u32 = 100;

/// The task fields a record is made of.
pub const TASK_FIELDS: &str = "name,notes,completed,completed_at,created_at,modified_at,assignee.name,permalink_url,\
                               memberships.project.gid,memberships.project.name,memberships.section.name,tags.name,\
                               resource_subtype,workspace.gid";

fn base<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

async fn get(cx: &Context<'_>, url: &str) -> Result<Value, FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await?;
    read_json(response).await
}

/// Every page of a list, as its records.
async fn all(cx: &Context<'_>, first: String) -> Result<Vec<Value>, FetchError> {
    let mut records = Vec::new();
    let mut url = Some(first);
    let mut pages = 0;
    while let Some(at) = url.take() {
        let (page, next) = list(cx, &at).await?;
        records.extend(page);
        pages += 1;
        url = next.filter(|_| pages < 1000).map(|offset| with_offset(&at, &offset));
    }
    Ok(records)
}

fn with_offset(url: &str, offset: &str) -> String {
    let stripped = url.split("&offset=").next().unwrap_or(url);
    let encoded: String = url::form_urlencoded::byte_serialize(offset.as_bytes()).collect();
    format!("{stripped}&offset={encoded}")
}

/// A page of a list and the offset of the next.
pub async fn list(cx: &Context<'_>, url: &str) -> Result<(Vec<Value>, Option<String>), FetchError> {
    let mut answer = get(cx, url).await?;
    let next = answer.pointer("/next_page/offset").and_then(Value::as_str).map(str::to_owned);
    let Some(Value::Array(data)) = answer.get_mut("data").map(Value::take) else {
        return Err(FetchError::permanent(None, "the provider's answer is not in its documented shape (no data)"));
    };
    Ok((data, next))
}

/// The user's workspaces.
pub async fn workspaces(cx: &Context<'_>) -> Result<Vec<Value>, FetchError> {
    all(cx, format!("{}/workspaces?limit={LIMIT}", base(cx))).await
}

/// A workspace's projects, archived ones too (their tasks are still the
/// team's), with their privacy.
pub async fn projects(cx: &Context<'_>, workspace: &str) -> Result<Vec<Value>, FetchError> {
    let workspace: String = url::form_urlencoded::byte_serialize(workspace.as_bytes()).collect();
    all(
        cx,
        format!(
            "{}/projects?workspace={workspace}&limit={LIMIT}&opt_fields=name,archived,privacy_setting,public",
            base(cx)
        ),
    )
    .await
}

/// A page of a project's tasks: all of them, or those modified since a
/// changes run's start (Asana counts a new comment as a modification).
pub fn tasks_url(cx: &Context<'_>, project: &str, mode: Mode, offset: Option<&str>) -> String {
    let project: String = url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
    let mut url = format!("{}/tasks?project={project}&limit={LIMIT}&opt_fields={TASK_FIELDS}", base(cx));
    if let Mode::Changes { since } = mode {
        url.push_str(&format!("&modified_since={}", utc_rfc3339(since)));
    }
    match offset {
        Some(offset) => with_offset(&url, offset),
        None => url,
    }
}

/// One task; 404 once it is deleted.
pub async fn task(cx: &Context<'_>, gid: &str) -> Result<Value, FetchError> {
    if gid.is_empty() || !gid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(None, "an Asana gid is not a number"));
    }
    let mut answer = get(cx, &format!("{}/tasks/{gid}?opt_fields={TASK_FIELDS}", base(cx))).await?;
    Ok(answer.get_mut("data").map(Value::take).unwrap_or_default())
}

/// The first hundred stories of a task: comments and system stories.
pub async fn stories(cx: &Context<'_>, gid: &str) -> Result<Vec<Value>, FetchError> {
    let url = format!(
        "{}/tasks/{gid}/stories?limit={LIMIT}&opt_fields=type,resource_subtype,text,created_at,created_by.name",
        base(cx)
    );
    Ok(list(cx, &url).await?.0)
}
