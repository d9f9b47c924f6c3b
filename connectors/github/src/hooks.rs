//! GitHub's webhooks, as a GitHub App receives them: every installation's
//! events go to the app's one URL, signed with the app's one secret
//! (`X-Hub-Signature-256`), named by `X-GitHub-Delivery` and
//! `X-GitHub-Event`, and routed by `installation.id`. The console verifies
//! and routes them (`platform::webhooks::ingress::receive_app`); here they
//! are read, and a connection's installations are listed so that its
//! deliveries find it.
//!
//! Why the app's webhook rather than one per repository: the app already
//! receives its installations' events with the read-only permissions it
//! has, while repository webhooks would need the Webhooks write
//! permission, admin rights on every repository, and one registration per
//! repository, kept in step as repositories come and go.

use connector_core::{
    http::{FetchError, read_json},
    paging::{next_link, next_url, parse_instant},
    source::{Change, Context},
    webhooks::{Delivery, Event, Hook, Receiver, Subscription},
};
use serde::Deserialize;

use crate::{
    GithubSource, client, mapping,
    types::{Issue, RepoRef, Repository},
};

/// How often a connection's installations are listed again, so that an
/// organization that installs the app later routes here within a day.
pub const RELIST_EVERY: time::Duration = time::Duration::hours(24);

/// `issues` and `issue_comment`: the issue as the REST API has it, and its
/// repository.
#[derive(Debug, Deserialize)]
struct IssueEvent {
    action: String,
    issue: Issue,
    repository: Repository,
}

/// `GET /user/installations`.
#[derive(Debug, Deserialize)]
struct Installations {
    installations: Vec<Installation>,
}

#[derive(Debug, Deserialize)]
struct Installation {
    id: serde_json::Value,
}

fn unreadable(event: &str, error: &serde_json::Error) -> FetchError {
    FetchError::permanent(None, format!("the {event} delivery is not one GitHub documents: {error}"))
}

#[async_trait::async_trait]
impl Receiver for GithubSource {
    /// `issues` and `issue_comment` carry the whole issue (a pull request's
    /// too, for a comment on one), mapped as a sync maps it: one in a
    /// repository that is not public, deleted, or transferred away is a
    /// removal (CONNECTOR-RULES 17, 18). A `pull_request` event names the
    /// pull request by its own id, not the issue id it is stored under, so
    /// it asks for a changes run instead.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        match delivery.event {
            Some(event @ ("issues" | "issue_comment")) => {
                let body: IssueEvent =
                    serde_json::from_slice(delivery.body).map_err(|error| unreadable(event, &error))?;
                let repo = RepoRef { public: body.repository.is_public(), full_name: body.repository.full_name };
                let at = parse_instant(&body.issue.updated_at);
                let change = match mapping::change(&repo, &body.issue)? {
                    upsert @ Change::Upsert(_) if !(event == "issues" && gone(&body.action)) => upsert,
                    other => other.into_removal(),
                };
                Ok(vec![Event::Carried { change, at }])
            }
            Some("pull_request") => Ok(vec![Event::Resync]),
            _ => Ok(Vec::new()),
        }
    }

    /// Lists the installations of the app the user can reach; their ids
    /// route the app's deliveries to this connection. Nothing is created
    /// at GitHub, so there is nothing to delete on disconnect.
    async fn subscribe(&self, cx: &Context<'_>, _hook: &Hook<'_>) -> Result<Option<Subscription>, FetchError> {
        installations(cx).await.map(Some)
    }

    async fn renew(&self, cx: &Context<'_>, _current: &Subscription) -> Result<Subscription, FetchError> {
        installations(cx).await
    }
}

/// An issue that is deleted, or moved to another repository (where it has
/// a new id), leaves this one.
fn gone(action: &str) -> bool {
    matches!(action, "deleted" | "transferred")
}

/// Every page of `GET /user/installations`, as routing ids.
async fn installations(cx: &Context<'_>) -> Result<Subscription, FetchError> {
    let mut url =
        Some(format!("{}/user/installations?per_page={}", cx.base_url.trim_end_matches('/'), client::PER_PAGE));
    let mut ids = Vec::new();
    while let Some(at) = url.take() {
        let response = client::send(cx, &at).await?;
        let next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
        url = next.map(|next| next_url(cx, &next)).transpose()?;
        let page: Installations = read_json(response).await?;
        ids.extend(page.installations.into_iter().filter_map(|i| match i.id {
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        }));
    }
    ids.sort();
    ids.dedup();
    Ok(Subscription { ids, expires_at: Some(time::OffsetDateTime::now_utc() + RELIST_EVERY) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deletion_and_transfer_take_an_issue_away() {
        assert!(gone("deleted") && gone("transferred"));
        assert!(!gone("edited") && !gone("closed") && !gone("opened"));
    }
}
