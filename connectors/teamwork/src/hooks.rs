//! Teamwork's webhooks: one an admin adds under Site Settings → Webhooks
//! with the connection's URL and its secret as the webhook's token, which
//! signs each delivery (`X-Projects-Signature`, hex HMAC-SHA256 of the
//! body). A task's or comment's event names the task; it is read again by
//! id, so its privacy and comments are as a sync would find them.

use connector_core::{
    http::FetchError,
    paging::read_id,
    source::Unseen,
    webhooks::{Delivery, Event, Receiver},
};

use crate::{ENTITY_TASK, TeamworkSource};

#[async_trait::async_trait]
impl Receiver for TeamworkSource {
    /// The task a delivery is about: its `task`, or a comment's `comment`
    /// on a task. Teamwork does not document its payloads field by field,
    /// so a delivery is only a hint, and the task is read again.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let body: serde_json::Value = serde_json::from_slice(delivery.body)
            .map_err(|error| FetchError::permanent(None, format!("the delivery is not Teamwork's JSON: {error}")))?;
        let task = body
            .pointer("/task/id")
            .or_else(|| {
                body.pointer("/comment/objectId")
                    .filter(|_| body.pointer("/comment/objectType") == Some(&"task".into()))
            })
            .and_then(read_id);
        Ok(task
            .map(|id| Event::Lookup {
                unseen: Unseen { entity_type: ENTITY_TASK.into(), entity_id: id, content: serde_json::json!({}) },
                at: None,
            })
            .into_iter()
            .collect())
    }
}
