//! Pipedrive's webhooks (v2): one an admin adds under Tools and apps →
//! Webhooks with the connection's URL, the user `patchbay` and the
//! connection's secret as the HTTP Basic password, which is Pipedrive's
//! only check (creating webhooks through the API would need the `admin`
//! scope). A body `{meta, data, previous}` names a deal, person or
//! organization: a change is read again by id, a deletion removes it.

use connector_core::{
    http::FetchError,
    paging::parse_instant,
    source::{Change, Unseen},
    webhooks::{Delivery, Event, Receiver},
};
use serde::Deserialize;

use crate::{PipedriveSource, client::List};

#[derive(Debug, Deserialize)]
struct Body {
    meta: Meta,
}

#[derive(Debug, Deserialize)]
struct Meta {
    /// `create`, `change` or `delete`.
    action: String,
    /// `deal`, `person`, `organization`, and others not synced.
    entity: String,
    /// A string in v2 payloads.
    entity_id: serde_json::Value,
    #[serde(default)]
    timestamp: Option<String>,
}

#[async_trait::async_trait]
impl Receiver for PipedriveSource {
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let body: Body = serde_json::from_slice(delivery.body).map_err(|error| {
            FetchError::permanent(None, format!("the delivery is not a Pipedrive webhook (v2): {error}"))
        })?;
        let Some(list) = List::of_entity_type(&body.meta.entity) else { return Ok(Vec::new()) };
        let Some(id) = connector_core::paging::read_id(&body.meta.entity_id).filter(|id| !id.is_empty()) else {
            return Err(FetchError::permanent(None, "the Pipedrive delivery names no record"));
        };
        let at = body.meta.timestamp.as_deref().and_then(parse_instant);
        let entity_type = list.entity_type().to_owned();
        Ok(vec![match body.meta.action.as_str() {
            "delete" => Event::Carried { change: Change::Remove { entity_type, entity_id: id }, at },
            _ => Event::Lookup { unseen: Unseen { entity_type, entity_id: id, content: serde_json::json!({}) }, at },
        }])
    }
}
