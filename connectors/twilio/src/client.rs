//! Twilio's requests: a list's pages, following `next_page_uri` (relative
//! to the API's host, and kept to it), and one record by its SID.

use connector_core::{
    http::{FetchError, read_json},
    paging::next_url,
    source::Context,
};
use serde::de::DeserializeOwned;

use crate::{ENTITY_CALL, ENTITY_MESSAGE, types::ListPage};

/// The most Twilio gives per page.
pub const PAGE_SIZE: u32 = 1000;

/// The account's two lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    Messages,
    Calls,
}

impl List {
    fn resource(self) -> &'static str {
        match self {
            List::Messages => "Messages",
            List::Calls => "Calls",
        }
    }

    /// The filter that picks one day (GMT): when a message was sent, when
    /// a call started.
    fn day_filter(self) -> &'static str {
        match self {
            List::Messages => "DateSent",
            List::Calls => "StartTime",
        }
    }

    pub fn entity_type(self) -> &'static str {
        match self {
            List::Messages => ENTITY_MESSAGE,
            List::Calls => ENTITY_CALL,
        }
    }

    pub fn of_entity_type(entity_type: &str) -> Option<Self> {
        match entity_type {
            ENTITY_MESSAGE => Some(List::Messages),
            ENTITY_CALL => Some(List::Calls),
            _ => None,
        }
    }
}

fn base<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

/// The first page of a list: all of it, or one day's (`YYYY-MM-DD`).
pub fn first_url(cx: &Context<'_>, list: List, day: Option<&str>) -> String {
    let mut url = format!("{}/{}.json?PageSize={PAGE_SIZE}", base(cx), list.resource());
    if let Some(day) = day {
        url.push_str(&format!("&{}={day}", list.day_filter()));
    }
    url
}

async fn get<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await?;
    read_json(response).await
}

/// One page of a list, and the next page's URL on the API's host.
pub async fn page(cx: &Context<'_>, url: &str) -> Result<(ListPage, Option<String>), FetchError> {
    let page: ListPage = get(cx, url).await?;
    let next = page.next_page_uri.as_deref().filter(|uri| !uri.is_empty()).map(|uri| next_url(cx, uri)).transpose()?;
    Ok((page, next))
}

/// One message or call by its SID; 404 (error 20404) once it is deleted.
pub async fn one<T: DeserializeOwned>(cx: &Context<'_>, list: List, sid: &str) -> Result<T, FetchError> {
    if sid.len() != 34 || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FetchError::permanent(None, "a stored Twilio SID is not one"));
    }
    get(cx, &format!("{}/{}/{sid}.json", base(cx), list.resource())).await
}
