//! GitHub's issues and pull requests, page by page, across repositories.

use std::collections::{HashMap, VecDeque};

use connector_core::{
    http::FetchError,
    paging::record_name,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde::{Deserialize, Serialize};

use crate::{
    client, mapping,
    types::{Issue, RepoRef, Repository},
};

/// Where a pass is: the repositories still to list, those listed and not
/// yet read, and the one being read with its next issues page.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
struct Cursor {
    /// The next page of `/user/repos`; `None` once all are listed.
    repos: Option<String>,
    queue: VecDeque<RepoRef>,
    current: Option<RepoRef>,
    /// The next page of the current repository's issues.
    issues: Option<String>,
}

impl Cursor {
    fn is_done(&self) -> bool {
        self.repos.is_none() && self.queue.is_empty() && self.issues.is_none()
    }
}

/// Lists repositories, then each one's issues and pull requests by page
/// number. A delete shifts those pages, so the listing may shift
/// (CONNECTOR-RULES 36): what a full pass did not see is looked up
/// (`GET /repos/{owner}/{repo}` once, then the issue by number) and
/// removed only when GitHub says it or its repository is gone (404, 410)
/// or no longer public.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubSource;

/// Lookups of unseen issues in flight at once.
const LOOKUPS: usize = 4;

/// What a lookup found of a repository.
#[derive(Clone, Debug)]
enum Repo {
    Gone,
    Here(RepoRef),
    /// Moved (301: renamed or transferred), or not a name: the records are
    /// kept, and the next pass reads them where they are now.
    Unknown,
}

/// A lookup that answers 301 (moved) says nothing of the record: `None`.
fn unless_moved<T>(looked_up: Result<T, FetchError>) -> Result<Option<Option<T>>, FetchError> {
    match looked_up {
        Err(error) if error.status == Some(301) => Ok(None),
        other => found(other).map(Some),
    }
}

async fn repository(cx: &Context<'_>, full_name: &str) -> Result<Repo, FetchError> {
    let Some(url) = client::repo_url(cx.base_url, full_name, &[]) else { return Ok(Repo::Unknown) };
    Ok(match unless_moved(client::get::<Repository>(cx, &url).await)? {
        None => Repo::Unknown,
        Some(None) => Repo::Gone,
        Some(Some(repo)) => Repo::Here(RepoRef { public: repo.is_public(), full_name: repo.full_name }),
    })
}

async fn confirm_one(
    cx: &Context<'_>,
    repos: &HashMap<String, Repo>,
    record: &Unseen,
) -> Result<Option<Change>, FetchError> {
    let (Some(full_name), Some(number)) = (record.content["repository"].as_str(), record.content["number"].as_u64())
    else {
        return Ok(None);
    };
    let repo = match repos.get(full_name) {
        Some(Repo::Gone) => return Ok(Some(record.removed())),
        Some(Repo::Here(repo)) if !repo.public => return Ok(Some(record.removed())),
        Some(Repo::Here(repo)) => repo,
        Some(Repo::Unknown) | None => return Ok(None),
    };
    let number = number.to_string();
    let Some(url) = client::repo_url(cx.base_url, &repo.full_name, &["issues", &number]) else { return Ok(None) };
    match unless_moved(client::get::<Issue>(cx, &url).await)? {
        None => Ok(None),
        Some(None) => Ok(Some(record.removed())),
        Some(Some(issue)) => mapping::change(repo, &issue).map(Some),
    }
}

#[async_trait::async_trait]
impl Source for GithubSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let mut at = match cursor {
            None => Cursor { repos: Some(client::repositories_url(cx.base_url)), ..Cursor::default() },
            Some(text) => serde_json::from_str(text)
                .map_err(|_| FetchError::permanent(None, "the stored GitHub cursor cannot be read"))?,
        };
        loop {
            if let (Some(url), Some(repo)) = (at.issues.take(), at.current.clone()) {
                let (issues, next) = client::list::<Issue>(cx, &url).await?;
                let (changes, skipped) =
                    map_each(&issues, |issue| record_name("issue", &issue.id), |issue| mapping::change(&repo, issue));
                at.issues = next;
                // An empty repository is passed over here, so a run of them
                // is not mistaken for a stuck cursor (SECURITY F7).
                if issues.is_empty() && !at.is_done() {
                    continue;
                }
                let next = (!at.is_done())
                    .then(|| serde_json::to_string(&at))
                    .transpose()
                    .map_err(|_| FetchError::permanent(None, "the GitHub cursor cannot be written"))?;
                return Ok(Page { changes, next, total: None, skipped, token: None });
            }
            if let Some(repo) = at.queue.pop_front() {
                at.issues = Some(client::issues_url(cx.base_url, &repo.full_name, mode)?);
                at.current = Some(repo);
                continue;
            }
            if let Some(url) = at.repos.take() {
                let (repos, next) = client::list::<Repository>(cx, &url).await?;
                at.queue
                    .extend(repos.iter().map(|r| RepoRef { full_name: r.full_name.clone(), public: r.is_public() }));
                at.repos = next;
                continue;
            }
            // No repository at all, or the last one's issues were empty.
            return Ok(Page::default());
        }
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let mut repos = HashMap::new();
        for name in unseen.iter().filter_map(|u| u.content["repository"].as_str()) {
            if !repos.contains_key(name) {
                repos.insert(name.to_owned(), repository(cx, name).await?);
            }
        }
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, &repos, record)).collect();
        confirm_each(lookups, LOOKUPS).await
    }
}
