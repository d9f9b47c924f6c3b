//! An issue to what the console stores.

use connector_core::{
    http::FetchError,
    paging::parse_instant,
    source::{Change, Record},
};

use crate::types::Issue;

pub const ENTITY_ISSUE: &str = "issue";

/// An upsert for a live issue of a public team; a removal for one that is
/// archived, trashed, or in a team that is not public (CONNECTOR-RULES 17,
/// 18). Its latest comments travel with it (rule 34: they come in the same
/// answer, so a missing one fails nothing).
pub fn change(issue: &Issue) -> Result<Change, FetchError> {
    let gone = issue.archived_at.is_some() || issue.trashed == Some(true);
    if gone || !issue.team.is_public() {
        return Ok(Change::Remove { entity_type: ENTITY_ISSUE.into(), entity_id: issue.id.clone() });
    }
    let updated_at = parse_instant(&issue.updated_at).ok_or_else(|| {
        FetchError::permanent(None, format!("issue {} has an unreadable updatedAt", issue.identifier))
    })?;
    // Newest first, whatever order the answer came in: the query asks by
    // creation, and the order is made explicit here.
    let mut nodes: Vec<_> = issue.comments.iter().flat_map(|c| &c.nodes).collect();
    nodes.sort_by_cached_key(|c| std::cmp::Reverse(c.created_at.as_deref().and_then(parse_instant)));
    let comments: Vec<_> = nodes
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "body": c.body,
                "author": c.user.as_ref().map(|u| u.name.clone()),
                "updated_at": c.updated_at,
            })
        })
        .collect();
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_ISSUE.into(),
        entity_id: issue.id.clone(),
        title: format!("{}: {}", issue.identifier, issue.title),
        url: issue.url.clone(),
        content: serde_json::json!({
            "identifier": issue.identifier,
            "team": issue.team.name,
            "state": issue.state.as_ref().map(|s| s.name.clone()),
            "state_type": issue.state.as_ref().map(|s| s.kind.clone()),
            "description": issue.description,
            "created_at": issue.created_at,
            "comments": comments,
        }),
        updated_at,
    }))
}
