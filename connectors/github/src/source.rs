//! GitHub's issues and pull requests, page by page, across repositories.

use std::collections::VecDeque;

use connector_core::{
    http::FetchError,
    source::{Context, Mode, Page, Source},
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

#[derive(Clone, Copy, Debug, Default)]
pub struct GithubSource;

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
                let changes = issues.iter().map(|issue| mapping::change(&repo, issue)).collect::<Result<_, _>>()?;
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
                return Ok(Page { changes, next, total: None });
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
}
