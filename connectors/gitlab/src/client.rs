//! GitLab's requests: projects by id, a project's issues and merge
//! requests page by page (`Link` headers, followed only to the API's own
//! host), one item by its number, and an item's notes.

use connector_core::{
    http::{FetchError, read_json},
    paging::{next_link, next_url, utc_rfc3339},
    source::{Context, Mode},
};
use serde::de::DeserializeOwned;

use crate::{
    ENTITY_ISSUE, ENTITY_MERGE_REQUEST,
    types::{Item, Note, Project},
};

/// The most GitLab gives per page.
pub const PER_PAGE: u32 = 100;

/// A project's two listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Issues,
    MergeRequests,
}

impl Kind {
    /// The path segment under `/projects/:id/`.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Issues => "issues",
            Kind::MergeRequests => "merge_requests",
        }
    }

    /// The entity type its records are stored as.
    pub fn entity_type(self) -> &'static str {
        match self {
            Kind::Issues => ENTITY_ISSUE,
            Kind::MergeRequests => ENTITY_MERGE_REQUEST,
        }
    }

    pub fn of_entity_type(entity_type: &str) -> Option<Self> {
        match entity_type {
            ENTITY_ISSUE => Some(Kind::Issues),
            ENTITY_MERGE_REQUEST => Some(Kind::MergeRequests),
            _ => None,
        }
    }
}

fn base<'a>(cx: &Context<'a>) -> &'a str {
    cx.base_url.trim_end_matches('/')
}

/// A GET with the connection's token, answered.
pub async fn send(cx: &Context<'_>, url: &str) -> Result<reqwest::Response, FetchError> {
    cx.http
        .send(cx.call, |client, token| cx.auth.apply(client.get(url).header("accept", "application/json"), token))
        .await
}

pub async fn get<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    read_json(send(cx, url).await?).await
}

/// One page of a list and the `rel="next"` URL after it, kept to the API's
/// host: the token goes nowhere else.
pub async fn list<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<(Vec<T>, Option<String>), FetchError> {
    let response = send(cx, url).await?;
    let next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
    let next = next.map(|next| next_url(cx, &next)).transpose()?;
    Ok((read_json(response).await?, next))
}

/// The first project of the user's after project `after`, by id: a
/// listing in an order no edit changes, one project a request
/// (`id_after` is GitLab's keyset for projects).
pub async fn project_after(cx: &Context<'_>, after: Option<u64>) -> Result<Option<Project>, FetchError> {
    let mut url = format!("{}/projects?membership=true&order_by=id&sort=asc&per_page=1", base(cx));
    if let Some(after) = after {
        url.push_str(&format!("&id_after={after}"));
    }
    let projects: Vec<Project> = get(cx, &url).await?;
    Ok(projects.into_iter().next())
}

/// One project by id; 404 once it is deleted or out of the user's reach.
pub async fn project(cx: &Context<'_>, id: u64) -> Result<Project, FetchError> {
    get(cx, &format!("{}/projects/{id}", base(cx))).await
}

/// The first page of a project's issues or merge requests. A full pass
/// lists them by creation, oldest first, so an edit does not move one
/// across pages (a delete still shifts the pages after it: the pass
/// confirms what it did not see). A changes run asks for those updated
/// at or after `since`, by update.
pub fn items_url(cx: &Context<'_>, project: u64, kind: Kind, mode: Mode) -> String {
    let (order, since) = match mode {
        Mode::Full => ("created_at", String::new()),
        Mode::Changes { since } => ("updated_at", format!("&updated_after={}", utc_rfc3339(since))),
    };
    // `scope=all`: not only those the user created or is assigned to.
    format!(
        "{}/projects/{project}/{}?scope=all&order_by={order}&sort=asc&per_page={PER_PAGE}{since}",
        base(cx),
        kind.segment()
    )
}

/// One issue or merge request by its number in the project.
pub async fn item(cx: &Context<'_>, project: u64, kind: Kind, iid: u64) -> Result<Item, FetchError> {
    get(cx, &format!("{}/projects/{project}/{}/{iid}", base(cx), kind.segment())).await
}

/// The first hundred notes of an item, oldest first.
pub async fn notes(cx: &Context<'_>, project: u64, kind: Kind, iid: u64) -> Result<Vec<Note>, FetchError> {
    let url = format!(
        "{}/projects/{project}/{}/{iid}/notes?sort=asc&order_by=created_at&per_page={PER_PAGE}",
        base(cx),
        kind.segment()
    );
    get(cx, &url).await
}
