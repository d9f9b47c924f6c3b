//! Asana's tasks, project by project.

use std::sync::{Arc, Mutex};

use connector_core::{
    containers::{self, Container, Containers, Visibility},
    http::FetchError,
    paging::{read_id, record_name},
    related::fetch_where,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde_json::Value;

use crate::{ENTITY_TASK, client, mapping};

/// Walks the projects of the user's workspaces in gid order (the kit's
/// container walk carries each project's name onto its tasks and makes
/// the tasks of a project that is not public to its workspace removals),
/// reading each project's tasks with their comments; a changes run asks
/// each project for tasks modified since its start (`modified_since`,
/// which a new comment also moves). A task in several projects is indexed
/// through a public one, and a private project's listing leaves it be.
///
/// Why not the Events API's sync tokens: `GET /events` takes no read scope
/// of its own, so it would need a full-permission app where this one asks
/// only for read scopes; its tokens expire within a day and its delivery
/// is at most once, so a full pass is needed behind it anyway, and a 412
/// (an expired token) would force one. Deleted tasks are found by the full
/// pass: offsets may shift, so each task it did not see is read by gid
/// and removed on Asana's 404 (CONNECTOR-RULES 36).
#[derive(Debug, Default)]
pub struct AsanaSource {
    projects: Mutex<Option<Arc<Vec<Container>>>>,
}

/// Stories and lookups in flight at once.
const CONCURRENCY: usize = 4;

/// Gids are decimal numbers: shorter is smaller.
fn gid_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

impl AsanaSource {
    /// Every project of the user's workspaces, read once a run.
    async fn projects(&self, cx: &Context<'_>) -> Result<Arc<Vec<Container>>, FetchError> {
        if let Some(known) = self.projects.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone() {
            return Ok(known);
        }
        let mut projects = Vec::new();
        for workspace in client::workspaces(cx).await? {
            let Some(workspace) = workspace.get("gid").and_then(read_id) else { continue };
            for project in client::projects(cx, &workspace).await? {
                let Some(id) = project.get("gid").and_then(read_id) else { continue };
                let name = project.get("name").and_then(Value::as_str).unwrap_or("Untitled project").to_owned();
                let visibility = if mapping::is_public(&project) { Visibility::Public } else { Visibility::Private };
                projects.push(Container { id, name, visibility });
            }
        }
        projects.sort_by(|a, b| gid_order(&a.id, &b.id));
        let projects = Arc::new(projects);
        *self.projects.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(projects.clone());
        Ok(projects)
    }
}

/// The public project a task is in, if any.
fn public_home<'p>(task: &Value, projects: &'p [Container]) -> Option<&'p Container> {
    let homes: Vec<String> = task
        .get("memberships")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(|m| m.pointer("/project/gid").and_then(read_id)).collect())
        .unwrap_or_default();
    projects.iter().find(|p| p.visibility == Visibility::Public && homes.contains(&p.id))
}

async fn stories_of(
    cx: &Context<'_>,
    public: bool,
    tasks: &[Value],
) -> (Vec<Option<Vec<Value>>>, Vec<connector_core::source::Skipped>) {
    fetch_where(
        tasks,
        |task| format!("the comments of {}", record_name(ENTITY_TASK, task.get("gid").unwrap_or(&Value::Null))),
        |task| {
            let gid = task.get("gid").and_then(read_id).filter(|_| public)?;
            Some(async move { client::stories(cx, &gid).await })
        },
        CONCURRENCY,
    )
    .await
}

#[async_trait::async_trait]
impl Containers for AsanaSource {
    async fn next_container(
        &self,
        cx: &Context<'_>,
        after: Option<&Container>,
    ) -> Result<Option<Container>, FetchError> {
        let projects = self.projects(cx).await?;
        Ok(projects.iter().find(|p| after.is_none_or(|a| gid_order(&p.id, &a.id).is_gt())).cloned())
    }

    async fn items(
        &self,
        cx: &Context<'_>,
        project: &Container,
        mode: Mode,
        cursor: Option<&str>,
    ) -> Result<Page, FetchError> {
        let (mut tasks, next) = client::list(cx, &client::tasks_url(cx, &project.id, mode, cursor)).await?;
        let public = project.visibility == Visibility::Public;
        if !public {
            // Indexed through its public project, not removed through this one.
            let projects = self.projects(cx).await?;
            tasks.retain(|task| public_home(task, &projects).is_none());
        }
        let (stories, mut skipped) = stories_of(cx, public, &tasks).await;
        let pairs: Vec<(&Value, Option<Vec<Value>>)> = tasks.iter().zip(stories).collect();
        let (changes, unmapped) = map_each(
            &pairs,
            |(task, _)| record_name(ENTITY_TASK, task.get("gid").unwrap_or(&Value::Null)),
            |(task, stories)| mapping::change(task, stories.as_deref()),
        );
        skipped.extend(unmapped);
        Ok(Page { changes, next, total: None, skipped, token: None })
    }
}

async fn confirm_one(cx: &Context<'_>, projects: &[Container], record: &Unseen) -> Result<Option<Change>, FetchError> {
    if record.entity_type != ENTITY_TASK {
        return Ok(None);
    }
    let Some(task) = found(client::task(cx, &record.entity_id).await)? else { return Ok(Some(record.removed())) };
    let Some(home) = public_home(&task, projects) else { return Ok(Some(record.removed())) };
    // A failed read of the comments keeps the stored record as it is.
    let Ok(stories) = client::stories(cx, &record.entity_id).await else { return Ok(None) };
    Ok(Some(containers::within(home, mapping::change(&task, Some(&stories))?)))
}

#[async_trait::async_trait]
impl Source for AsanaSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        containers::walk(self, cx, mode, cursor).await
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let projects = self.projects(cx).await?;
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, &projects, record)).collect();
        confirm_each(lookups, CONCURRENCY).await
    }
}
