//! GitLab's issues and merge requests, project by project.

use std::collections::HashMap;

use connector_core::{
    containers::{self, Container, Containers, Visibility},
    http::FetchError,
    paging::record_name,
    related::fetch_where,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde::{Deserialize, Serialize};

use crate::{
    client::{self, Kind},
    mapping,
    types::{Item, Note, Project},
};

/// Walks the user's projects by id (the kit's container walk carries
/// each project's path onto its items, and makes every item of a private
/// project a removal), reading each project's issues, then its merge
/// requests, with their comments. Items are paged by number, so a delete
/// shifts the pages after it (CONNECTOR-RULES 36): what a full pass did
/// not see is looked up by project and number, and removed only when
/// GitLab says it, or its project, is gone (404) or no longer public.
#[derive(Clone, Copy, Debug, Default)]
pub struct GitlabSource;

/// Notes and lookups in flight at once.
const CONCURRENCY: usize = 4;

/// Where a project's walk is: which listing, and its next page.
#[derive(Debug, Deserialize, Serialize)]
struct Inner {
    kind: Kind,
    next: String,
}

fn container(project: &Project) -> Container {
    Container {
        id: project.id.to_string(),
        name: project.path_with_namespace.clone(),
        visibility: project.visibility(),
    }
}

fn project_id(container: &Container) -> Result<u64, FetchError> {
    container.id.parse().map_err(|_| FetchError::permanent(None, "the stored GitLab project id is not a number"))
}

/// Whether an item's comments are worth a request: it will be indexed
/// (its project is public and it is not a confidential issue) and GitLab
/// does not say it has none.
fn wants_notes(public: bool, kind: Kind, item: &Item) -> bool {
    public && (kind == Kind::MergeRequests || item.confidential == Some(false)) && item.user_notes_count != Some(0)
}

/// The comments of each item that wants them, in the items' order: `None`
/// where they were not read. A failed read is a partial error naming the
/// item; the item is kept without them (CONNECTOR-RULES 34).
async fn notes_of(
    cx: &Context<'_>,
    public: bool,
    kind: Kind,
    items: &[Item],
) -> (Vec<Option<Vec<Note>>>, Vec<connector_core::source::Skipped>) {
    fetch_where(
        items,
        |item| format!("the comments of {}", record_name(kind.entity_type(), &item.id)),
        |item| wants_notes(public, kind, item).then(|| client::notes(cx, item.project_id, kind, item.iid)),
        CONCURRENCY,
    )
    .await
}

#[async_trait::async_trait]
impl Containers for GitlabSource {
    async fn next_container(
        &self,
        cx: &Context<'_>,
        after: Option<&Container>,
    ) -> Result<Option<Container>, FetchError> {
        let after = after.map(project_id).transpose()?;
        Ok(client::project_after(cx, after).await?.as_ref().map(container))
    }

    async fn items(
        &self,
        cx: &Context<'_>,
        project: &Container,
        mode: Mode,
        cursor: Option<&str>,
    ) -> Result<Page, FetchError> {
        let id = project_id(project)?;
        let at = match cursor {
            None => Inner { kind: Kind::Issues, next: client::items_url(cx, id, Kind::Issues, mode) },
            Some(text) => serde_json::from_str(text)
                .map_err(|_| FetchError::permanent(None, "the stored GitLab cursor cannot be read"))?,
        };
        let (items, next) = client::list::<Item>(cx, &at.next).await?;
        let public = project.visibility == Visibility::Public;
        let (notes, mut skipped) = notes_of(cx, public, at.kind, &items).await;
        let pairs: Vec<(&Item, Option<Vec<Note>>)> = items.iter().zip(notes).collect();
        let (changes, unmapped) = map_each(
            &pairs,
            |(item, _)| record_name(at.kind.entity_type(), &item.id),
            |(item, notes)| mapping::change(&project.name, at.kind, item, notes.as_deref()),
        );
        skipped.extend(unmapped);
        let next = match (next, at.kind) {
            (Some(next), kind) => Some(Inner { kind, next }),
            (None, Kind::Issues) => {
                Some(Inner { kind: Kind::MergeRequests, next: client::items_url(cx, id, Kind::MergeRequests, mode) })
            }
            (None, Kind::MergeRequests) => None,
        };
        let next = next
            .map(|inner| serde_json::to_string(&inner))
            .transpose()
            .map_err(|_| FetchError::permanent(None, "the GitLab cursor cannot be written"))?;
        Ok(Page { changes, next, total: None, skipped, token: None })
    }
}

/// What a lookup found of a project.
enum Found {
    Gone,
    Here(Container),
}

/// An unseen record's item, read again by project and number: stored
/// again while it is there and may be indexed, removed when GitLab says
/// it or its project is gone or not public. One without a readable place
/// is kept.
async fn confirm_one(
    cx: &Context<'_>,
    projects: &HashMap<u64, Found>,
    record: &Unseen,
) -> Result<Option<Change>, FetchError> {
    let (Some(kind), Some(project), Some(iid)) = (
        Kind::of_entity_type(&record.entity_type),
        record.content["project_id"].as_u64(),
        record.content["iid"].as_u64(),
    ) else {
        return Ok(None);
    };
    let container = match projects.get(&project) {
        Some(Found::Gone) => return Ok(Some(record.removed())),
        Some(Found::Here(container)) if container.visibility != Visibility::Public => {
            return Ok(Some(record.removed()));
        }
        Some(Found::Here(container)) => container,
        None => return Ok(None),
    };
    let Some(item) = found(client::item(cx, project, kind, iid).await)? else { return Ok(Some(record.removed())) };
    let notes = if wants_notes(true, kind, &item) {
        // A failed read of the comments keeps the stored record as it is.
        match client::notes(cx, project, kind, iid).await {
            Ok(notes) => Some(notes),
            Err(_) => return Ok(None),
        }
    } else {
        None
    };
    let change = mapping::change(&container.name, kind, &item, notes.as_deref())?;
    Ok(Some(containers::within(container, change)))
}

/// Looks up the projects of `unseen`, each once.
async fn projects_of(cx: &Context<'_>, unseen: &[Unseen]) -> Result<HashMap<u64, Found>, FetchError> {
    let mut projects = HashMap::new();
    for id in unseen.iter().filter_map(|u| u.content["project_id"].as_u64()) {
        if let std::collections::hash_map::Entry::Vacant(entry) = projects.entry(id) {
            entry.insert(match found(client::project(cx, id).await)? {
                Some(project) => Found::Here(container(&project)),
                None => Found::Gone,
            });
        }
    }
    Ok(projects)
}

#[async_trait::async_trait]
impl Source for GitlabSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        containers::walk(self, cx, mode, cursor).await
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let projects = projects_of(cx, unseen).await?;
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, &projects, record)).collect();
        confirm_each(lookups, CONCURRENCY).await
    }
}
