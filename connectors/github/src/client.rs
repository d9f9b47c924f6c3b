//! GitHub's requests: the documented headers, and `Link` paging that never
//! leaves the API's host.

use connector_core::{
    http::{FetchError, read_json},
    paging::{next_link, utc_rfc3339},
    source::{Context, Mode},
};
use serde::de::DeserializeOwned;

/// The most GitHub gives per page.
pub const PER_PAGE: u32 = 100;

/// The first page of the repositories the user can read through the app.
pub fn repositories_url(base: &str) -> String {
    format!("{}/user/repos?per_page={PER_PAGE}&sort=full_name&direction=asc", base.trim_end_matches('/'))
}

/// The first page of a repository's issues and pull requests, oldest change
/// first; a changes run adds `since` (updated at or after it).
pub fn issues_url(base: &str, full_name: &str, mode: Mode) -> Result<String, FetchError> {
    let mut url = format!(
        "{}/repos/{full_name}/issues?state=all&sort=updated&direction=asc&per_page={PER_PAGE}",
        base.trim_end_matches('/')
    );
    if let Mode::Changes { since } = mode {
        // GitHub documents whole seconds: YYYY-MM-DDTHH:MM:SSZ.
        let since = since.replace_nanosecond(0).unwrap_or(since);
        url.push_str(&format!("&since={}", utc_rfc3339(since)));
    }
    Ok(url)
}

/// One page of a list endpoint and the `rel="next"` URL after it, which
/// must be on the API's host: the token goes nowhere else.
pub async fn list<T: DeserializeOwned>(cx: &Context<'_>, url: &str) -> Result<(Vec<T>, Option<String>), FetchError> {
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = client
                .get(url)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await?;
    let next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
    if let Some(next) = &next
        && !next.starts_with(&format!("{}/", cx.base_url.trim_end_matches('/')))
    {
        return Err(FetchError::permanent(None, "GitHub's next page points away from its API"));
    }
    Ok((read_json(response).await?, next))
}
