//! An item to what the console stores.

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
};

use crate::{ENTITY_ITEM, types::Item};

/// The change an item makes: an upsert for a live public item; a removal
/// for a deleted one (rule 18) and for one that is private or whose
/// visibility is unknown (rule 17: fail closed).
pub fn change(item: &Item) -> Result<Change, FetchError> {
    let id = read_id(&item.id).ok_or_else(|| FetchError::permanent(None, "an item without an id"))?;
    let entity_type = item.kind.clone().unwrap_or_else(|| ENTITY_ITEM.to_owned());
    let public = item.visibility.as_deref() == Some("public");
    if item.deleted || !public {
        return Ok(Change::Remove { entity_type, entity_id: id });
    }
    let updated_at = parse_instant(&item.updated_at)
        .ok_or_else(|| FetchError::permanent(None, format!("item {id} has an unreadable updated_at")))?;
    let url = item.url.clone().ok_or_else(|| FetchError::permanent(None, format!("item {id} has no url")))?;
    Ok(Change::Upsert(Record {
        entity_type,
        title: item.title.clone().unwrap_or_else(|| format!("Item {id}")),
        url,
        content: serde_json::json!({
            "body": item.body,
            "state": item.state,
            "created_at": item.created_at,
        }),
        updated_at,
        entity_id: id,
    }))
}
