//! Pipedrive's requests, at the company's `api_domain`: the v2 lists by id
//! with their keyset cursors, a record's notes (v1), and the reference
//! lists that name stages, users and deal labels.

use connector_core::{
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::{Context, Mode},
};
use serde::de::DeserializeOwned;

use crate::types::{Field, Item, Listing, Named, Note};

/// The most a v2 list gives per page.
pub const LIMIT: u32 = 500;

/// The three lists a connection syncs, in the order a run reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    Deals,
    Persons,
    Organizations,
}

impl List {
    pub fn path(self) -> &'static str {
        match self {
            List::Deals => "deals",
            List::Persons => "persons",
            List::Organizations => "organizations",
        }
    }

    /// The entity type, which is also the segment of the app's URLs.
    pub fn entity_type(self) -> &'static str {
        match self {
            List::Deals => "deal",
            List::Persons => "person",
            List::Organizations => "organization",
        }
    }

    /// The notes filter naming one of its records.
    fn notes_filter(self) -> &'static str {
        match self {
            List::Deals => "deal_id",
            List::Persons => "person_id",
            List::Organizations => "org_id",
        }
    }

    pub fn of_entity_type(entity_type: &str) -> Option<Self> {
        [List::Deals, List::Persons, List::Organizations].into_iter().find(|l| l.entity_type() == entity_type)
    }

    pub fn after(self) -> Option<Self> {
        match self {
            List::Deals => Some(List::Persons),
            List::Persons => Some(List::Organizations),
            List::Organizations => None,
        }
    }
}

fn v2<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

/// The v1 API beside the v2 base (`{api_domain}/api/v1`).
fn v1(cx: &Context<'_>) -> String {
    format!("{}/api/v1", v2(cx).trim_end_matches("/api/v2"))
}

/// The company's app, where records' pages are (`{api_domain}`).
pub fn app(cx: &Context<'_>) -> String {
    v2(cx).trim_end_matches("/api/v2").to_owned()
}

async fn get<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await?;
    read_json(response).await
}

/// A page of a list, by id ascending: the keyset cursor names the last id
/// read, so no record moves across pages while the list is read. A
/// changes run asks for those updated at or after `since`, deleted deals
/// included (`is_deleted`), which Pipedrive keeps listing for 30 days.
pub fn list_url(cx: &Context<'_>, list: List, mode: Mode, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &LIMIT.to_string()).append_pair("sort_by", "id").append_pair("sort_direction", "asc");
    if let Mode::Changes { since } = mode {
        query.append_pair("updated_since", &utc_rfc3339(since.replace_nanosecond(0).unwrap_or(since)));
        if list == List::Deals {
            query.append_pair("status", "open,won,lost,deleted");
        }
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    format!("{}/{}?{}", v2(cx), list.path(), query.finish())
}

pub async fn page(cx: &Context<'_>, url: &str) -> Result<(Vec<Item>, Option<String>), FetchError> {
    let listing: Listing<Item> = get(cx, url).await?;
    let next = listing.additional_data.and_then(|a| a.next_cursor).filter(|c| !c.is_empty());
    Ok((listing.data, next))
}

/// The first hundred notes of a record, oldest first.
pub async fn notes(cx: &Context<'_>, list: List, id: &str) -> Result<Vec<Note>, FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(None, "a Pipedrive id is not a number"));
    }
    let url = format!("{}/notes?{}={id}&limit=100&sort=add_time%20ASC", v1(cx), list.notes_filter());
    let listing: Listing<Note> = get(cx, &url).await?;
    Ok(listing.data)
}

pub async fn stages(cx: &Context<'_>) -> Result<Vec<Named>, FetchError> {
    Ok(get::<Listing<Named>>(cx, &format!("{}/stages?limit={LIMIT}", v2(cx))).await?.data)
}

pub async fn users(cx: &Context<'_>) -> Result<Vec<Named>, FetchError> {
    Ok(get::<Listing<Named>>(cx, &format!("{}/users", v1(cx))).await?.data)
}

pub async fn deal_fields(cx: &Context<'_>) -> Result<Vec<Field>, FetchError> {
    Ok(get::<Listing<Field>>(cx, &format!("{}/dealFields?limit={LIMIT}", v1(cx))).await?.data)
}

/// One record by id; 404 once it is deleted (Pipedrive's
/// `{"success": false, "error": …}`).
pub async fn one(cx: &Context<'_>, list: List, id: &str) -> Result<Item, FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(None, "a Pipedrive id is not a number"));
    }
    Ok(get::<crate::types::One<Item>>(cx, &format!("{}/{}/{id}", v2(cx), list.path())).await?.data)
}
