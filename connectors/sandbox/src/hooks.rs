//! The sandbox's webhooks (`sandbox/src/hooks.rs` documents them): thin
//! events naming an item, read back by id so that privacy is checked as a
//! sync checks it, and subscriptions through `/api/webhooks`.

use connector_core::{
    http::{FetchError, read_json},
    paging::parse_instant,
    source::{Change, Context, Unseen, found},
    webhooks::{Delivery, Event, Hook, Receiver, Subscription},
};
use serde::Deserialize;

use crate::{ENTITY_ITEM, SandboxSource};

/// A delivery's body.
#[derive(Debug, Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    id: String,
    /// The item's kind: its entity type; `item` when left out.
    #[serde(default)]
    kind: Option<String>,
    updated_at: String,
}

/// `POST /api/webhooks` and `…/renew`.
#[derive(Debug, Deserialize)]
struct Registered {
    id: String,
    expires_at: String,
}

fn api(cx: &Context<'_>, segments: &[&str]) -> Result<url::Url, FetchError> {
    let mut url = url::Url::parse(&format!("{}/webhooks", cx.base_url.trim_end_matches('/')))
        .map_err(|_| FetchError::permanent(None, "the sandbox's API address is not a URL"))?;
    url.path_segments_mut()
        .map_err(|()| FetchError::permanent(None, "the sandbox's API address is not a URL"))?
        .extend(segments);
    Ok(url)
}

fn subscription(answer: Registered) -> Result<Subscription, FetchError> {
    let expires_at = parse_instant(&answer.expires_at)
        .ok_or_else(|| FetchError::permanent(None, "the sandbox named no expiry for the webhook"))?;
    Ok(Subscription { ids: vec![answer.id], expires_at: Some(expires_at) })
}

#[async_trait::async_trait]
impl Receiver for SandboxSource {
    /// A deletion is applied as it is; any other event names an item to
    /// read by id (a private one is then removed, CONNECTOR-RULES 17).
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let body: Body = serde_json::from_slice(delivery.body)
            .map_err(|e| FetchError::permanent(None, format!("the delivery is not a sandbox event: {e}")))?;
        let at = parse_instant(&body.data.updated_at);
        let entity_type = body.data.kind.unwrap_or_else(|| ENTITY_ITEM.to_owned());
        Ok(match body.kind.as_str() {
            "item.deleted" => {
                vec![Event::Carried { change: Change::Remove { entity_type, entity_id: body.data.id }, at }]
            }
            "item.created" | "item.updated" | "item.made_private" => vec![Event::Lookup {
                unseen: Unseen { entity_type, entity_id: body.data.id, content: serde_json::Value::Null },
                at,
            }],
            _ => Vec::new(),
        })
    }

    async fn subscribe(&self, cx: &Context<'_>, hook: &Hook<'_>) -> Result<Option<Subscription>, FetchError> {
        let url = api(cx, &[])?;
        let secret =
            hook.secret.ok_or_else(|| FetchError::permanent(None, "the sandbox signs with a secret of its own"))?;
        let body = serde_json::json!({ "url": hook.url, "secret": secret });
        let answer =
            cx.http.send(cx.call, |client, token| cx.auth.apply(client.post(url.clone()).json(&body), token)).await?;
        subscription(read_json(answer).await?).map(Some)
    }

    async fn renew(&self, cx: &Context<'_>, current: &Subscription) -> Result<Subscription, FetchError> {
        let id = current.ids.first().ok_or_else(|| FetchError::permanent(None, "no webhook to renew"))?;
        let url = api(cx, &[id, "renew"])?;
        let answer = cx.http.send(cx.call, |client, token| cx.auth.apply(client.post(url.clone()), token)).await?;
        subscription(read_json(answer).await?)
    }

    async fn unsubscribe(&self, cx: &Context<'_>, current: &Subscription) -> Result<(), FetchError> {
        for id in &current.ids {
            let url = api(cx, &[id])?;
            let deleted = cx.http.send(cx.call, |client, token| cx.auth.apply(client.delete(url.clone()), token)).await;
            // One already gone counts as deleted.
            found(deleted)?;
        }
        Ok(())
    }
}
