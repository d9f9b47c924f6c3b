//! An issue to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
    text::html_to_text,
};

use crate::{
    ENTITY_ISSUE,
    types::{Issue, Message},
};

/// Whether a message may travel with its issue: Pylon says it is not an
/// internal note (CONNECTOR-RULES 17: one whose privacy is not stated is
/// left out).
fn is_public(message: &Message) -> bool {
    message.is_private == Some(false)
}

/// The issue as a record, with its public messages as text (`None` when
/// they were not read). Pylon has no visibility on issues themselves:
/// every issue is seen by the organization's whole support team.
pub fn change(issue: &Issue, messages: Option<&[Message]>) -> Result<Change, FetchError> {
    let id = read_id(&issue.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FetchError::permanent(None, "a Pylon issue without an id"))?;
    let updated_at = [&issue.updated_at, &issue.latest_message_time, &issue.created_at]
        .into_iter()
        .find_map(|t| t.as_deref().and_then(parse_instant))
        .ok_or_else(|| FetchError::permanent(None, format!("issue {id} has no readable time")))?;
    let url = issue
        .link
        .clone()
        .filter(|link| link.starts_with("https://"))
        .ok_or_else(|| FetchError::permanent(None, format!("issue {id} has no link into Pylon")))?;
    let title = match (issue.number, issue.title.as_deref()) {
        (Some(number), Some(title)) => format!("#{number}: {title}"),
        (Some(number), None) => format!("Issue #{number}"),
        (None, title) => title.unwrap_or("Untitled issue").to_owned(),
    };
    let mut content = serde_json::json!({
        "number": issue.number,
        "state": issue.state,
        "type": issue.kind,
        "source": issue.source,
        "tags": issue.tags.clone().unwrap_or_default(),
        "body": issue.body_html.as_deref().map(html_to_text),
        "assignee": issue.assignee.as_ref().and_then(|a| a.email.clone()),
        "account_id": issue.account.as_ref().and_then(|a| a.id.clone()),
        "created_at": issue.created_at,
        "resolved_at": issue.resolution_time,
    });
    if let Some(messages) = messages {
        content["messages"] = messages
            .iter()
            .filter(|m| is_public(m))
            .map(|m| {
                let from = m.author.as_ref().map(|a| if a.user.is_some() { "team" } else { "customer" });
                serde_json::json!({
                    "author": m.author.as_ref().and_then(|a| a.name.clone()),
                    "from": from,
                    "text": m.message_html.as_deref().map(html_to_text),
                    "at": m.timestamp,
                })
            })
            .collect();
    }
    Ok(Change::Upsert(Record { entity_type: ENTITY_ISSUE.into(), entity_id: id, title, url, content, updated_at }))
}
