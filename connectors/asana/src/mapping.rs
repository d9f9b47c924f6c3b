//! A task to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
};
use serde_json::Value;

use crate::ENTITY_TASK;

/// Whether a project's tasks may be indexed for the whole team: Asana says
/// the project is public to its workspace (`privacy_setting`, or the older
/// `public` where that is not given). Private projects and
/// `private_to_team` ones are shared with some people only (CONNECTOR-
/// RULES 17, 20); anything else counts as private.
pub fn is_public(project: &Value) -> bool {
    match project.get("privacy_setting").and_then(Value::as_str) {
        Some(setting) => setting == "public_to_workspace",
        None => project.get("public").and_then(Value::as_bool) == Some(true),
    }
}

/// The task as a record, with its comments (`None` when not read); the
/// project it is read through is carried by the container walk.
pub fn change(task: &Value, stories: Option<&[Value]>) -> Result<Change, FetchError> {
    let id = task
        .get("gid")
        .and_then(read_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FetchError::permanent(None, "an Asana task without a gid"))?;
    let updated_at = ["modified_at", "created_at"]
        .iter()
        .find_map(|f| task.get(*f).and_then(Value::as_str).and_then(parse_instant))
        .ok_or_else(|| FetchError::permanent(None, format!("task {id} has no readable time")))?;
    let url = task
        .get("permalink_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://"))
        .ok_or_else(|| FetchError::permanent(None, format!("task {id} has no permalink")))?;
    let names = |field: &str| -> Vec<Value> {
        task.get(field)
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|t| t.get("name").cloned()).collect())
            .unwrap_or_default()
    };
    let mut content = serde_json::json!({
        "notes": task.get("notes"),
        "completed": task.get("completed"),
        "completed_at": task.get("completed_at"),
        "assignee": task.pointer("/assignee/name"),
        "tags": names("tags"),
        "sections": task.get("memberships").and_then(Value::as_array).map(|m| m.iter().filter_map(|m| m.pointer("/section/name").cloned()).collect::<Vec<_>>()),
        "created_at": task.get("created_at"),
    });
    if let Some(stories) = stories {
        content["comments"] = stories
            .iter()
            .filter(|s| s.get("resource_subtype").and_then(Value::as_str) == Some("comment_added"))
            .map(|s| serde_json::json!({ "author": s.pointer("/created_by/name"), "text": s.get("text"), "at": s.get("created_at") }))
            .collect();
    }
    let name = task.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or("Untitled task");
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_TASK.into(),
        title: name.to_owned(),
        url: url.to_owned(),
        content,
        updated_at,
        entity_id: id,
    }))
}
