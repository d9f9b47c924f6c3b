//! A deal, person or organization to what the console stores.

use std::collections::HashMap;

use connector_core::{
    http::FetchError,
    paging::{parse_instant, read_id},
    source::{Change, Record},
    text::html_to_text,
};

use crate::{
    client::List,
    types::{Field, Item, Named, Note},
};

/// What names a record's ids, and which visibility values mean the whole
/// company, read once a run (CONNECTOR-RULES 4).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refs {
    pub stages: HashMap<u64, String>,
    pub users: HashMap<u64, String>,
    pub labels: HashMap<u64, String>,
    /// The `visible_to` values that mean the entire company.
    pub company_wide: Vec<u64>,
}

impl Refs {
    /// From the reference lists. `visible_to` means different things by
    /// plan: on Lite, Growth and Professional 1 is owner and followers and
    /// 3 the entire company; on Premium and Ultimate 1 is the owner, 3 and
    /// 5 visibility groups, and 7 the entire company. 7 is company-wide
    /// wherever it exists; 3 is only where the deal fields' `visible_to`
    /// offers neither 5 nor 7 (a plan without visibility groups). When the
    /// field does not say, only 7 counts (CONNECTOR-RULES 17: fail
    /// closed).
    pub fn new(stages: &[Named], users: &[Named], fields: &[Field]) -> Self {
        let names =
            |list: &[Named]| list.iter().filter_map(|n| Some((n.id, n.name.clone()?))).collect::<HashMap<_, _>>();
        let options = |key: &str| -> Option<Vec<(u64, Option<String>)>> {
            let field = fields.iter().find(|f| f.key == key)?;
            Some(field.options.iter().flatten().filter_map(|o| Some((number(&o.id)?, o.label.clone()))).collect())
        };
        let labels =
            options("label").unwrap_or_default().into_iter().filter_map(|(id, label)| Some((id, label?))).collect();
        let company_wide = match options("visible_to") {
            Some(values) if !values.is_empty() && values.iter().all(|(v, _)| !matches!(v, 5 | 7)) => vec![3],
            _ => vec![7],
        };
        Self { stages: names(stages), users: names(users), labels, company_wide }
    }
}

/// An id or a number sent as a number or a string (`7`, `"7"`).
pub fn number(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A v1 time (`2026-02-21 10:12:00`, UTC) as RFC 3339.
fn v1_time(text: &str) -> Option<String> {
    let iso = format!("{}Z", text.replacen(' ', "T", 1));
    parse_instant(&iso).map(connector_core::paging::utc_rfc3339)
}

/// The change a record makes: a removal when it is deleted, or when its
/// visibility is not the whole company's (CONNECTOR-RULES 17, 18, 20);
/// otherwise an upsert with its ids named and its notes as text (`None`
/// when they were not read). `app` is the company's address.
pub fn change(app: &str, list: List, item: &Item, refs: &Refs, notes: Option<&[Note]>) -> Result<Change, FetchError> {
    let entity_type = list.entity_type();
    let id = read_id(&item.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| FetchError::permanent(None, format!("a Pipedrive {entity_type} without an id")))?;
    let public = item.visible_to.as_ref().and_then(number).is_some_and(|v| refs.company_wide.contains(&v));
    if item.is_deleted == Some(true) || !public {
        return Ok(Change::Remove { entity_type: entity_type.into(), entity_id: id });
    }
    let updated_at = [&item.update_time, &item.add_time]
        .into_iter()
        .find_map(|t| t.as_deref().and_then(parse_instant))
        .ok_or_else(|| FetchError::permanent(None, format!("{entity_type} {id} has no readable time")))?;
    let title = item.title.clone().or_else(|| item.name.clone()).unwrap_or_else(|| format!("{} {id}", entity_type));
    let owner = item.owner_id.and_then(|o| refs.users.get(&o).cloned());
    let mut content = serde_json::json!({ "owner": owner, "created_at": item.add_time });
    match list {
        List::Deals => {
            content["value"] = item.value.into();
            content["currency"] = item.currency.clone().into();
            content["status"] = item.status.clone().into();
            content["stage"] = item.stage_id.and_then(|s| refs.stages.get(&s).cloned()).into();
            content["labels"] =
                item.label_ids.iter().flatten().filter_map(|l| refs.labels.get(l).cloned()).collect::<Vec<_>>().into();
            content["person_id"] = item.person_id.into();
            content["organization_id"] = item.org_id.into();
            content["expected_close_date"] = item.expected_close_date.clone().into();
        }
        List::Persons => {
            let values = |list: &Option<Vec<crate::types::Contact>>| -> Vec<String> {
                list.iter().flatten().filter_map(|c| c.value.clone()).filter(|v| !v.is_empty()).collect()
            };
            content["emails"] = values(&item.emails).into();
            content["phones"] = values(&item.phones).into();
            content["organization_id"] = item.org_id.into();
        }
        List::Organizations => {
            content["address"] = item.address.as_ref().and_then(|a| a.value.clone()).into();
        }
    }
    if let Some(notes) = notes {
        content["notes"] = notes
            .iter()
            .map(|n| {
                serde_json::json!({
                    "author": n.user.as_ref().and_then(|u| u.name.clone()),
                    "text": n.content.as_deref().map(html_to_text),
                    "at": n.add_time.as_deref().and_then(v1_time),
                })
            })
            .collect();
    }
    Ok(Change::Upsert(Record {
        entity_type: entity_type.into(),
        url: format!("{}/{entity_type}/{id}", app.trim_end_matches('/')),
        title,
        content,
        updated_at,
        entity_id: id,
    }))
}
