//! GitHub's requests: the documented headers, and `Link` paging that never
//! leaves the API's host.

use std::time::Duration;

use connector_core::{
    headers,
    http::{BodySignals, FetchError, RateLimited, read_json},
    paging::{next_link, next_url, utc_rfc3339},
    source::{Context, Mode},
};
use serde::de::DeserializeOwned;

/// GitHub's rate limits as its answers say them: the primary limit in the
/// headers (403 or 429 with `x-ratelimit-remaining: 0`, until
/// `x-ratelimit-reset`), and the secondary limits in the message of a 403
/// or any 429. With no `retry-after` and requests still left, GitHub says
/// to wait at least a minute, and longer each time after (the job's retry
/// backs off).
#[derive(Clone, Copy, Debug)]
pub struct Limits;

/// What GitHub documents waiting for a secondary limit that names no time.
pub const SECONDARY_WAIT: Duration = Duration::from_secs(60);

impl BodySignals for Limits {
    fn rate_limited(&self, status: u16, head: &reqwest::header::HeaderMap, body: &[u8]) -> Option<RateLimited> {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let limited = status == 429 || (status == 403 && message.contains("rate limit"));
        if !limited {
            return None;
        }
        let asked = headers::retry_after(head);
        let spent = headers::limit_spent(head);
        let at_least = if asked.is_none() && !spent { SECONDARY_WAIT } else { Duration::ZERO };
        Some(RateLimited { wait: asked.or_else(|| spent.then(|| headers::reset_after(head)).flatten()), at_least })
    }
}

/// The most GitHub gives per page.
pub const PER_PAGE: u32 = 100;

/// The first page of the repositories the user can read through the app.
pub fn repositories_url(base: &str) -> String {
    format!("{}/user/repos?per_page={PER_PAGE}&sort=full_name&direction=asc", base.trim_end_matches('/'))
}

/// The first page of a repository's issues and pull requests. A full pass
/// lists them by creation, oldest first: an edit does not move an issue
/// across pages, though a delete still shifts the pages after it (GitHub
/// pages by number), so the pass confirms what it did not see. A changes
/// run lists by last change with `since` (updated at or after it).
pub fn issues_url(base: &str, full_name: &str, mode: Mode) -> Result<String, FetchError> {
    let sort = match mode {
        Mode::Full => "created",
        Mode::Changes { .. } => "updated",
    };
    let mut url = format!(
        "{}/repos/{full_name}/issues?state=all&sort={sort}&direction=asc&per_page={PER_PAGE}",
        base.trim_end_matches('/')
    );
    if let Mode::Changes { since } = mode {
        // GitHub documents whole seconds: YYYY-MM-DDTHH:MM:SSZ.
        let since = since.replace_nanosecond(0).unwrap_or(since);
        url.push_str(&format!("&since={}", utc_rfc3339(since)));
    }
    Ok(url)
}

/// `{base}/repos/{owner}/{repo}` and the segments after it, each encoded,
/// from a repository's `owner/repo` name; `None` when it is not one.
pub fn repo_url(base: &str, full_name: &str, rest: &[&str]) -> Option<String> {
    let (owner, repo) = full_name.split_once('/')?;
    let valid = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('/');
    if !valid(owner) || !valid(repo) {
        return None;
    }
    let mut url = url::Url::parse(base).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().extend(["repos", owner, repo]).extend(rest);
    Some(url.into())
}

/// One object from the API: a repository, or an issue by number.
pub async fn get<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<T, FetchError> {
    read_json(send(cx, url).await?).await
}

/// A GET with GitHub's headers and rate limits, answered.
pub async fn send(cx: &Context<'_>, url: &str) -> Result<reqwest::Response, FetchError> {
    cx.http.send(cx.call.with_body_signals(&Limits), |client, token| request(cx, client, url, token)).await
}

fn request(cx: &Context<'_>, client: &reqwest::Client, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let request =
        client.get(url).header("accept", "application/vnd.github+json").header("x-github-api-version", "2022-11-28");
    cx.auth.apply(request, token)
}

/// One page of a list endpoint and the `rel="next"` URL after it, which
/// must be on the API's host: the token goes nowhere else.
pub async fn list<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<(Vec<T>, Option<String>), FetchError> {
    let response = send(cx, url).await?;
    let next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
    let next = next.map(|next| next_url(cx, &next)).transpose()?;
    Ok((read_json(response).await?, next))
}
