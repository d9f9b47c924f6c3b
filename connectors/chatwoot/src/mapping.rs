//! A conversation to what the console stores.

use connector_core::{
    http::FetchError,
    paging::read_id,
    source::{Change, Record},
};
use time::OffsetDateTime;

use crate::{
    ENTITY_CONVERSATION,
    types::{Conversation, Message},
};

/// Where a conversation is in the Chatwoot app: the API's base URL
/// (`{site}/api/v1/accounts/{account}`) gives the site and the account.
pub fn deep_link(api_base: &str, id: &str) -> Option<String> {
    let (site, account) = api_base.trim_end_matches('/').rsplit_once("/api/v1/accounts/")?;
    (!account.is_empty() && !account.contains('/')).then(|| format!("{site}/app/accounts/{account}/conversations/{id}"))
}

/// The message the record carries: only one Chatwoot says is not private
/// and that is a conversation message (incoming or outgoing). A note
/// whose privacy is not stated is left out too (CONNECTOR-RULES 17: fail
/// closed).
fn public_text(message: Option<&Message>) -> Option<&str> {
    let message = message?;
    let conversational = matches!(message.message_type, Some(0 | 1));
    (message.private == Some(false) && conversational).then_some(message.content.as_deref()).flatten()
}

/// The later of the last activity and the last update: what changed last.
fn changed_at(conversation: &Conversation) -> Option<OffsetDateTime> {
    #[allow(clippy::cast_possible_truncation, reason = "whole seconds of a unix time fit in i64")]
    let updated = conversation.updated_at.map_or(0, |u| u.floor() as i64);
    let seconds = conversation.last_activity_at.max(conversation.created_at).max(updated);
    OffsetDateTime::from_unix_timestamp(seconds).ok().filter(|_| seconds > 0)
}

pub fn change(api_base: &str, conversation: &Conversation) -> Result<Change, FetchError> {
    let id = read_id(&conversation.id).ok_or_else(|| FetchError::permanent(None, "a conversation without an id"))?;
    let updated_at = changed_at(conversation)
        .ok_or_else(|| FetchError::permanent(None, format!("conversation {id} has no readable time")))?;
    let url = deep_link(api_base, &id)
        .ok_or_else(|| FetchError::permanent(None, "the Chatwoot address does not name an account"))?;
    let contact = conversation.meta.sender.as_ref().and_then(|s| s.name.clone());
    let title = match &contact {
        Some(name) => format!("Conversation #{id} with {name}"),
        None => format!("Conversation #{id}"),
    };
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_CONVERSATION.into(),
        title,
        url,
        content: serde_json::json!({
            "status": conversation.status,
            "priority": conversation.priority,
            "labels": conversation.labels,
            "inbox_id": conversation.inbox_id,
            "contact": contact,
            "assignee": conversation.meta.assignee.as_ref().and_then(|a| a.name.clone()),
            "last_message": public_text(conversation.last_non_activity_message.as_ref()),
            "created_at": conversation.created_at,
        }),
        updated_at,
        entity_id: id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_links_name_the_site_and_the_account() {
        assert_eq!(
            deep_link("https://chat.example/api/v1/accounts/7", "42").as_deref(),
            Some("https://chat.example/app/accounts/7/conversations/42")
        );
        assert_eq!(
            deep_link("https://x.example/chat/api/v1/accounts/3/", "1").as_deref(),
            Some("https://x.example/chat/app/accounts/3/conversations/1")
        );
        assert_eq!(deep_link("https://chat.example/api/v2/things", "1"), None);
    }
}
