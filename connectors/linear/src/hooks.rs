//! Linear's webhooks: one per connection, made with `webhookCreate` for
//! the workspace's public teams and the connection's own URL and secret,
//! deleted with `webhookDelete` on disconnect. Deliveries are signed over
//! the body (`Linear-Signature`, hex HMAC-SHA256) and carry the time they
//! were sent (`webhookTimestamp`), both checked by the kit; they name the
//! event's type in `Linear-Event` and the delivery in `Linear-Delivery`.
//!
//! A payload holds the issue's fields but not its team's visibility, so
//! an issue it names is read back by id (rule 17); a comment names its
//! issue, which is read back with its latest comments.
//!
//! Linear lets only workspace admins, or apps granted the `admin` scope,
//! create webhooks: the catalog asks for that scope while webhooks are on.

use connector_core::{
    graphql,
    http::FetchError,
    paging::parse_instant,
    source::{Change, Context, Unseen},
    webhooks::{Delivery, Event, Hook, Receiver, Subscription},
};
use serde::Deserialize;

use crate::{LinearSource, mapping::ENTITY_ISSUE};

/// What the webhook is made to send: issues, and the comments that
/// change them.
pub const RESOURCE_TYPES: [&str; 2] = ["Issue", "Comment"];

/// A delivery's body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    action: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
    /// When the action happened (RFC 3339).
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    id: String,
    /// A comment's issue; none for a comment on something else (a
    /// project update, a document).
    #[serde(default)]
    issue_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    webhook_create: Outcome,
}

#[derive(Debug, Deserialize)]
struct Outcome {
    success: bool,
    #[serde(default)]
    webhook: Option<Made>,
}

#[derive(Debug, Deserialize)]
struct Made {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    webhook_delete: Success,
}

#[derive(Debug, Deserialize)]
struct Success {
    success: bool,
}

const CREATE: &str = "mutation Subscribe($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { success webhook { id enabled } }
}";

const DELETE: &str = "mutation Unsubscribe($id: String!) {
  webhookDelete(id: $id) { success }
}";

fn lookup(issue: String, at: Option<time::OffsetDateTime>) -> Event {
    Event::Lookup {
        unseen: Unseen { entity_type: ENTITY_ISSUE.into(), entity_id: issue, content: serde_json::Value::Null },
        at,
    }
}

#[async_trait::async_trait]
impl Receiver for LinearSource {
    /// An issue removed is removed as the event says; any other issue
    /// event, and any comment event, names an issue to read back.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let body: Body = serde_json::from_slice(delivery.body)
            .map_err(|e| FetchError::permanent(None, format!("the delivery is not a Linear event: {e}")))?;
        let at = body.created_at.as_deref().and_then(parse_instant);
        Ok(match (body.kind.as_str(), body.action.as_str()) {
            ("Issue", "remove") => vec![Event::Carried {
                change: Change::Remove { entity_type: ENTITY_ISSUE.into(), entity_id: body.data.id },
                at,
            }],
            ("Issue", _) => vec![lookup(body.data.id, at)],
            // A comment's change is read back with its issue, as it is now.
            ("Comment", _) => body.data.issue_id.map(|issue| lookup(issue, None)).into_iter().collect(),
            _ => Vec::new(),
        })
    }

    async fn subscribe(&self, cx: &Context<'_>, hook: &Hook<'_>) -> Result<Option<Subscription>, FetchError> {
        let secret = hook.secret.ok_or_else(|| FetchError::permanent(None, "Linear's webhook needs its own secret"))?;
        let input = serde_json::json!({
            "url": hook.url,
            "secret": secret,
            "label": "Patchbay",
            "resourceTypes": RESOURCE_TYPES,
            "allPublicTeams": true,
        });
        let answer = graphql::post::<Created>(cx, "Linear", CREATE, serde_json::json!({ "input": input })).await?;
        match answer.data.webhook_create {
            Outcome { success: true, webhook: Some(made) } => {
                Ok(Some(Subscription { ids: vec![made.id], expires_at: None }))
            }
            _ => Err(FetchError::permanent(
                Some(200),
                "Linear did not make the webhook (webhookCreate answered no success)",
            )),
        }
    }

    /// Deletes each webhook; one Linear no longer has counts as deleted.
    async fn unsubscribe(&self, cx: &Context<'_>, current: &Subscription) -> Result<(), FetchError> {
        for id in &current.ids {
            match graphql::post::<Deleted>(cx, "Linear", DELETE, serde_json::json!({ "id": id })).await {
                Ok(answer) if answer.data.webhook_delete.success => {}
                Ok(_) => return Err(FetchError::permanent(Some(200), "Linear did not delete the webhook")),
                Err(error) if error.message.to_ascii_lowercase().contains("not found") => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
