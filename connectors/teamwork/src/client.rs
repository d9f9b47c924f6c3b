//! Teamwork's requests: `GET /projects/api/v3/tasks.json` with its
//! sideloads, a task's comments, and one task.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    related::merge_keyed,
    source::{Context, Mode},
};

/// Tasks a page asks for (v3 allows up to 500).
pub const PAGE_SIZE: u64 = 250;

/// The references a task carries whose objects `include=` sideloads.
const SIDELOADED: [&str; 3] = ["tasklist", "assignees", "tags"];

fn base<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

async fn get(cx: &Context<'_>, url: &str) -> Result<serde_json::Value, FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await?;
    read_json(response).await
}

/// A page of tasks (`page` from 1), completed ones and those of completed
/// lists included, oldest first in a full pass; updated at or after
/// `since` in a changes run.
pub fn tasks_url(cx: &Context<'_>, mode: Mode, page: u64) -> String {
    let mut url = format!(
        "{}/projects/api/v3/tasks.json?include=users,tasklists,projects,tags&includeCompletedTasks=true\
         &showCompletedLists=true&orderBy=createdat&orderMode=asc&page={page}&pageSize={PAGE_SIZE}",
        base(cx)
    );
    if let Mode::Changes { since } = mode {
        url.push_str(&format!("&updatedAfter={}", utc_rfc3339(since.replace_nanosecond(0).unwrap_or(since))));
    }
    url
}

/// A page of tasks with their sideloads merged back, the `included`
/// section (for the projects of task lists), and whether more follow.
pub async fn tasks(
    cx: &Context<'_>,
    url: &str,
) -> Result<(Vec<serde_json::Value>, serde_json::Value, bool), FetchError> {
    let mut answer = get(cx, url).await?;
    let included = answer.get_mut("included").map(serde_json::Value::take).unwrap_or_default();
    let Some(serde_json::Value::Array(mut tasks)) = answer.get_mut("tasks").map(serde_json::Value::take) else {
        return Err(FetchError::permanent(None, "the provider's answer is not in its documented shape (no tasks)"));
    };
    merge_keyed(&mut tasks, &included, &SIDELOADED);
    let more = answer.pointer("/meta/page/hasMore").and_then(serde_json::Value::as_bool).unwrap_or(false);
    Ok((tasks, included, more))
}

/// One task by id, with its sideloads; 404 once it is gone.
pub async fn task(cx: &Context<'_>, id: &str) -> Result<(serde_json::Value, serde_json::Value), FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(None, "a Teamwork task id is not a number"));
    }
    let url = format!("{}/projects/api/v3/tasks/{id}.json?include=users,tasklists,projects,tags", base(cx));
    let mut answer = get(cx, &url).await?;
    let included = answer.get_mut("included").map(serde_json::Value::take).unwrap_or_default();
    let mut task = vec![answer.get_mut("task").map(serde_json::Value::take).unwrap_or_default()];
    merge_keyed(&mut task, &included, &SIDELOADED);
    Ok((task.remove(0), included))
}

/// The first page of a task's comments.
pub async fn comments(cx: &Context<'_>, id: &str) -> Result<Vec<serde_json::Value>, FetchError> {
    let answer = get(cx, &format!("{}/projects/api/v3/tasks/{id}/comments.json?pageSize=100", base(cx))).await?;
    Ok(answer.get("comments").and_then(serde_json::Value::as_array).cloned().unwrap_or_default())
}
