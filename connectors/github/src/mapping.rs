//! An issue or pull request to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
};

use crate::types::{Issue, RepoRef};

/// The change an issue makes: an upsert when its repository is public, a
/// removal otherwise (CONNECTOR-RULES 17, 18). The repository is carried
/// on the record, not indexed itself (rule 19).
pub fn change(repo: &RepoRef, issue: &Issue) -> Result<Change, FetchError> {
    let id = read_id(&issue.id).ok_or_else(|| FetchError::permanent(None, "an issue without an id"))?;
    let entity_type = if issue.pull_request.is_some() { "pull_request" } else { "issue" };
    if !repo.public {
        return Ok(Change::Remove { entity_type: entity_type.into(), entity_id: id });
    }
    let updated_at = parse_instant(&issue.updated_at)
        .ok_or_else(|| FetchError::permanent(None, format!("issue {id} has an unreadable updated_at")))?;
    Ok(Change::Upsert(Record {
        entity_type: entity_type.into(),
        title: format!("{}#{}: {}", repo.full_name, issue.number, issue.title),
        url: issue.html_url.clone(),
        content: serde_json::json!({
            "repository": repo.full_name,
            "number": issue.number,
            "state": issue.state,
            "body": issue.body,
            "author": issue.user.as_ref().map(|u| u.login.clone()),
            "labels": issue.labels.iter().map(|l| l.name().to_owned()).collect::<Vec<_>>(),
            "created_at": issue.created_at,
            "closed_at": issue.closed_at,
            "merged_at": issue.pull_request.as_ref().and_then(|p| p.merged_at.clone()),
        }),
        updated_at,
        entity_id: id,
    }))
}
