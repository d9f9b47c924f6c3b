//! An issue or merge request to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
};

use crate::{
    client::Kind,
    types::{Item, Note},
};

/// The change an item makes, before its project's visibility is applied
/// (the container walk, or [`crate::source`]'s lookups, do that): a
/// removal for an issue that is confidential, or whose confidentiality is
/// not stated (CONNECTOR-RULES 17, 18: fail closed); an upsert otherwise,
/// carrying the project's path and the item's public comments (`notes`,
/// `None` when they were not read).
pub fn change(project: &str, kind: Kind, item: &Item, notes: Option<&[Note]>) -> Result<Change, FetchError> {
    let entity_type = kind.entity_type();
    let id = read_id(&item.id).filter(|id| !id.is_empty()).ok_or_else(|| {
        FetchError::permanent(None, format!("a GitLab {} without an id", entity_type.replace('_', " ")))
    })?;
    if kind == Kind::Issues && item.confidential != Some(false) {
        return Ok(Change::Remove { entity_type: entity_type.into(), entity_id: id });
    }
    let updated_at = parse_instant(&item.updated_at)
        .ok_or_else(|| FetchError::permanent(None, format!("{entity_type} {id} has an unreadable updated_at")))?;
    if !(item.web_url.starts_with("https://") || item.web_url.starts_with("http://")) {
        return Err(FetchError::permanent(None, format!("{entity_type} {id} has no web address")));
    }
    // GitLab's own references: `group/project#1` for an issue, `!7` for a
    // merge request.
    let sign = if kind == Kind::Issues { '#' } else { '!' };
    let mut content = serde_json::json!({
        "project": project,
        "project_id": item.project_id,
        "iid": item.iid,
        "state": item.state,
        "description": item.description,
        "author": item.author.as_ref().and_then(|u| u.shown()),
        "assignees": item.assignees.iter().filter_map(|u| u.shown()).collect::<Vec<_>>(),
        "labels": item.labels,
        "milestone": item.milestone.as_ref().and_then(|m| m.title.clone()),
        "created_at": item.created_at,
        "closed_at": item.closed_at,
    });
    if kind == Kind::MergeRequests {
        content["merged_at"] = item.merged_at.clone().into();
        content["source_branch"] = item.source_branch.clone().into();
        content["target_branch"] = item.target_branch.clone().into();
        content["draft"] = item.draft.into();
    }
    if let Some(notes) = notes {
        content["comments"] = notes
            .iter()
            .filter(|note| note.is_public_comment())
            .map(|note| {
                serde_json::json!({
                    "author": note.author.as_ref().and_then(|u| u.shown()),
                    "body": note.body,
                    "created_at": note.created_at,
                })
            })
            .collect();
    }
    Ok(Change::Upsert(Record {
        entity_type: entity_type.into(),
        title: format!("{project}{sign}{}: {}", item.iid, item.title),
        url: item.web_url.clone(),
        content,
        updated_at,
        entity_id: id,
    }))
}
