//! A task to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
    text::html_to_text,
};
use serde_json::Value;

use crate::ENTITY_TASK;

/// Whether a task may be indexed for the whole team: the task, and the
/// task list it is in, both say they are not private (CONNECTOR-RULES 17:
/// a missing flag, or a task list that was not sideloaded, counts as
/// private). A task that turns private is removed (rule 18).
fn is_shared(task: &Value) -> bool {
    let open = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(false);
    open(task.get("isPrivate")) && open(task.pointer("/related/tasklist/isPrivate"))
}

fn is_deleted(task: &Value) -> bool {
    task.get("status").and_then(Value::as_str) == Some("deleted") || task.get("deletedAt").is_some_and(|d| !d.is_null())
}

fn person(user: &Value) -> Option<String> {
    let first = user.get("firstName").and_then(Value::as_str).unwrap_or_default();
    let last = user.get("lastName").and_then(Value::as_str).unwrap_or_default();
    let name = format!("{first} {last}").trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// The change a task makes. `site` is the site's address, `included` the
/// page's sideloads (projects are named through task lists), `comments`
/// the task's (`None` when not read). Comments deleted in Teamwork are
/// left out.
pub fn change(site: &str, task: &Value, included: &Value, comments: Option<&[Value]>) -> Result<Change, FetchError> {
    let id = task
        .get("id")
        .and_then(read_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FetchError::permanent(None, "a Teamwork task without an id"))?;
    if is_deleted(task) || !is_shared(task) {
        return Ok(Change::Remove { entity_type: ENTITY_TASK.into(), entity_id: id });
    }
    let updated_at = ["updatedAt", "createdAt"]
        .iter()
        .find_map(|f| task.get(*f).and_then(Value::as_str).and_then(parse_instant))
        .ok_or_else(|| FetchError::permanent(None, format!("task {id} has no readable time")))?;
    let tasklist = task.pointer("/related/tasklist");
    let project = tasklist
        .and_then(|l| l.get("projectId"))
        .and_then(read_id)
        .and_then(|p| included.pointer(&format!("/projects/{p}/name")))
        .cloned();
    let mut content = serde_json::json!({
        "project": project,
        "tasklist": tasklist.and_then(|l| l.get("name")).cloned(),
        "status": task.get("status"),
        "priority": task.get("priority"),
        "description": task.get("description").and_then(Value::as_str).map(html_to_text),
        "assignees": task.pointer("/related/assignees").and_then(Value::as_array).map(|users| users.iter().filter_map(person).collect::<Vec<_>>()),
        "tags": task.pointer("/related/tags").and_then(Value::as_array).map(|tags| tags.iter().filter_map(|t| t.get("name").cloned()).collect::<Vec<_>>()),
        "start_date": task.get("startDate"),
        "due_date": task.get("dueDate"),
        "parent_task": task.get("parentTaskId"),
        "created_at": task.get("createdAt"),
    });
    if let Some(comments) = comments {
        content["comments"] = comments
            .iter()
            .filter(|c| c.get("deleted").and_then(Value::as_bool) != Some(true))
            .map(|c| {
                let text = c
                    .get("htmlBody")
                    .and_then(Value::as_str)
                    .map(html_to_text)
                    .or_else(|| c.get("body").and_then(Value::as_str).map(str::to_owned));
                serde_json::json!({ "text": text, "posted_by": c.get("postedBy"), "at": c.get("postedDateTime") })
            })
            .collect();
    }
    let name = task.get("name").and_then(Value::as_str).unwrap_or("Untitled task");
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_TASK.into(),
        title: name.to_owned(),
        url: format!("{}/app/tasks/{id}", site.trim_end_matches('/')),
        content,
        updated_at,
        entity_id: id,
    }))
}
