//! Presenters of the sync panel, the activity list and the items view:
//! from jobs and artifacts to what the pages show. Public for the server's
//! live-update stream, which sends the same status.

use platform::ids::ProviderId;
use platform::{
    Platform,
    jobs::{self, Job, Kind},
};

use crate::functions::sync::ITEMS_PER_PAGE;
use crate::{
    error::AppError,
    models::sync::{Activity, EntityCount, ItemView, ItemsPage, JobState, JobView, SyncStatus},
    ssr::SignedIn,
};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn at(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds).map(crate::ssr::format_time).unwrap_or_default()
}

/// A span of time in words: "12 s", "99 min", "5 h", "4 days".
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..7200 => format!("{} min", (s + 30) / 60),
        7200..172_800 => format!("{} h", (s + 1800) / 3600),
        _ => format!("{} days", (s + 43_200) / 86_400),
    }
}

/// An instant, with how far it is from now.
pub fn relative(when: i64, now: i64) -> String {
    let delta = when - now;
    if delta.abs() < 5 {
        format!("{} (now)", at(when))
    } else if delta > 0 {
        format!("{} (in {})", at(when), span(delta))
    } else {
        format!("{} ({} ago)", at(when), span(-delta))
    }
}

/// A job's error as a sentence: the runner records lower-case clauses
/// ("the provider refused the credentials (HTTP 401)").
pub fn sentence(clause: &str) -> String {
    let mut chars = clause.trim().chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.extend(chars);
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

fn state(job: &Job) -> JobState {
    match job.state {
        jobs::State::Queued if job.last_error.is_some() => JobState::Retrying,
        jobs::State::Queued => JobState::Queued,
        jobs::State::Running => JobState::Running,
        jobs::State::Interrupted => JobState::Interrupted,
        jobs::State::Completed => JobState::Completed,
        jobs::State::Failed => JobState::Failed,
    }
}

/// The time left, from the pace so far; `None` until there is enough to
/// go on (a few seconds of running and some records read).
pub fn eta(done: i64, total: Option<i64>, running_for: i64) -> Option<String> {
    let total = total?;
    if done <= 0 || running_for < 2 {
        return None;
    }
    let left = (total - done).max(0);
    // left / (done / running_for), rounded up.
    let seconds = (left * running_for + done - 1) / done;
    Some(format!("about {} left", span(seconds)))
}

pub fn job_view(platform: &Platform, job: &Job, now: i64) -> JobView {
    let state = state(job);
    let running_for = job.started_at.map_or(0, |started| now - started);
    JobView {
        id: job.id.to_string(),
        provider: job.provider.to_string(),
        // A push job is the console's own, about no provider.
        provider_name: match platform.catalog.get(&job.provider) {
            Some(provider) => provider.name.clone(),
            None if job.provider.as_str() == jobs::CONSOLE => "Patchbay".to_owned(),
            None => job.provider.to_string(),
        },
        kind: job.kind.as_str().to_owned(),
        stream: Some(job.stream().to_owned()).filter(|s| !s.is_empty()),
        state,
        done: job.progress_done,
        total: job.progress_total,
        items: job.items,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        error_class: job.error_class.clone(),
        error: job.last_error.as_deref().map(sentence),
        queued_at: at(job.created_at),
        eta: (state == JobState::Running).then(|| eta(job.progress_done, job.progress_total, running_for)).flatten(),
        retry_at: (state == JobState::Retrying).then(|| relative(job.run_after, now)),
    }
}

pub async fn status(platform: &Platform, viewer: &SignedIn, provider: &ProviderId) -> Result<SyncStatus, AppError> {
    platform.catalog.get(provider).ok_or(AppError::NotFound)?;
    let status = platform::status::connection(platform, &viewer.user.team_id, provider).await?;
    let now = now();
    Ok(SyncStatus {
        syncs: status.syncs,
        current: status.current.as_ref().map(|job| job_view(platform, job, now)),
        last_success: status.last_success.map(|when| relative(when, now)),
        next_sync: status.syncs.then(|| status.next_due.map(|when| relative(when.max(now), now))).flatten(),
        counts: status
            .counts
            .into_iter()
            .map(|(entity_type, count)| EntityCount { entity_type: entity_type.replace('_', " "), count })
            .collect(),
        errors: status.errors.iter().map(|job| job_view(platform, job, now)).collect(),
        streams: status
            .streams
            .iter()
            .map(|(name, job)| (name.clone(), job.as_ref().map(|job| job_view(platform, job, now))))
            .collect(),
        can_manage: viewer.user.role == platform::accounts::Role::Admin,
        provider: provider.to_string(),
    })
}

/// Jobs listed on one activity page.
const ACTIVITY_LIMIT: i64 = 100;

pub async fn activity(
    platform: &Platform,
    viewer: &SignedIn,
    provider: &str,
    kind: &str,
    state: &str,
) -> Result<Activity, AppError> {
    let team = &viewer.user.team_id;
    let state = (!state.is_empty()).then(|| JobState::from_key(state)).flatten();
    // A provider filter that names no provider lists nothing, as before.
    let provider = if provider.is_empty() { None } else { Some(ProviderId::parse(provider)?) };
    let mut filter = jobs::Filter {
        provider,
        kinds: (!kind.is_empty()).then(|| Kind::parse(kind).ok()).flatten().into_iter().collect(),
        ..jobs::Filter::default()
    };
    // Webhook deliveries come by the thousand; the provider page lists
    // them (Recent deliveries), and Activity only when asked for.
    if filter.kinds.is_empty() {
        filter.kinds = Kind::ALL.iter().copied().filter(|k| *k != Kind::Webhook).collect();
    }
    match state {
        Some(JobState::Queued) => filter.state = Some(jobs::State::Queued),
        Some(JobState::Retrying) => (filter.state, filter.with_error) = (Some(jobs::State::Queued), true),
        Some(JobState::Running) => filter.state = Some(jobs::State::Running),
        Some(JobState::Interrupted) => filter.state = Some(jobs::State::Interrupted),
        Some(JobState::Completed) => filter.state = Some(jobs::State::Completed),
        Some(JobState::Failed) => filter.state = Some(jobs::State::Failed),
        None => {}
    }
    let mut found = jobs::list(&platform.db, team, &filter, ACTIVITY_LIMIT + 1).await?;
    let more = found.len() > usize::try_from(ACTIVITY_LIMIT).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(ACTIVITY_LIMIT).unwrap_or(usize::MAX));
    let now = now();
    // "Queued" lists the jobs waiting for their first run only.
    let jobs: Vec<JobView> = found
        .iter()
        .map(|job| job_view(platform, job, now))
        .filter(|job| state.is_none_or(|s| s == job.state))
        .collect();
    let connected = platform::store::installations::list_active(&platform.db, team).await?;
    let mut providers: Vec<(String, String)> = platform
        .catalog
        .iter()
        .filter(|p| connected.iter().any(|i| i.provider == p.id) || jobs.iter().any(|j| j.provider == p.id.as_str()))
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    providers.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(Activity { jobs, providers, more })
}

/// Only `http` and `https` links leave the console: a provider's
/// record cannot make the items view run script (`javascript:`).
pub fn safe_link(url: &str) -> Option<String> {
    let lower = url.trim_start().to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    (web && !url.chars().any(|c| c.is_control() || c.is_whitespace())).then(|| url.to_owned())
}

/// The most records a search on the items view shows.
const SEARCH_RESULTS: i64 = 50;

pub async fn items(
    platform: &Platform,
    viewer: &SignedIn,
    provider: &ProviderId,
    page: u32,
    query: &str,
) -> Result<ItemsPage, AppError> {
    let team = &viewer.user.team_id;
    let provider = platform.catalog.get(provider).ok_or(AppError::NotFound)?;
    let view = |a: platform::store::artifacts::Stored| ItemView {
        entity_type: a.entity_type.replace('_', " "),
        url: safe_link(&a.url),
        entity_id: a.entity_id,
        title: a.title,
        source_updated_at: at(a.source_updated_at),
        synced_at: at(a.synced_at),
    };
    if !query.trim().is_empty() {
        // The same search the records API and MCP answer with.
        let found =
            platform::delivery::records::search(platform, team, query, Some(&provider.id), Some(SEARCH_RESULTS))
                .await?
                .map_err(|refusal| platform::Error::Invalid { field: "q".into(), message: refusal.to_string() })?;
        let items: Vec<ItemView> = found.into_iter().map(|(found, _)| view(found)).collect();
        return Ok(ItemsPage {
            provider: provider.id.to_string(),
            provider_name: provider.name.clone(),
            total: i64::try_from(items.len()).unwrap_or(i64::MAX),
            items,
            page: 1,
            pages: 1,
            query: Some(query.trim().to_owned()),
        });
    }
    let total: i64 =
        platform::store::artifacts::counts(&platform.db, team, &provider.id).await?.iter().map(|(_, n)| n).sum();
    let per_page = i64::from(ITEMS_PER_PAGE);
    let pages = u32::try_from(((total + per_page - 1) / per_page).max(1)).unwrap_or(u32::MAX);
    let page = page.clamp(1, pages);
    let offset = i64::from(page - 1) * per_page;
    let items = platform::store::artifacts::list(&platform.db, team, &provider.id, per_page, offset)
        .await?
        .into_iter()
        .map(|a| ItemView {
            entity_type: a.entity_type.replace('_', " "),
            url: safe_link(&a.url),
            entity_id: a.entity_id,
            title: a.title,
            source_updated_at: at(a.source_updated_at),
            synced_at: at(a.synced_at),
        })
        .collect();
    Ok(ItemsPage {
        provider: provider.id.to_string(),
        provider_name: provider.name.clone(),
        items,
        page,
        pages,
        total,
        query: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_follows_the_pace_so_far_and_waits_for_enough_to_go_on() {
        assert_eq!(eta(0, Some(100), 10), None, "nothing read yet");
        assert_eq!(eta(10, None, 10), None, "total unknown");
        assert_eq!(eta(10, Some(100), 1), None, "too soon");
        assert_eq!(eta(50, Some(100), 10).as_deref(), Some("about 10 s left"));
        assert_eq!(eta(1_000, Some(100_000), 60).as_deref(), Some("about 99 min left"));
        assert_eq!(eta(200, Some(100), 10).as_deref(), Some("about 0 s left"), "done past the total");
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(sentence("the provider refused it (HTTP 401)"), "The provider refused it (HTTP 401).");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn spans_read_in_the_largest_fitting_unit() {
        assert_eq!(span(-3), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(90), "2 min");
        assert_eq!(span(7200), "2 h");
        assert_eq!(span(3 * 86_400), "3 days");
    }

    /// SECURITY (output encoding): a stored link that is not http(s)
    /// is never rendered as a link.
    #[test]
    fn only_web_links_are_linked() {
        assert_eq!(safe_link("https://github.com/a/b/issues/1").as_deref(), Some("https://github.com/a/b/issues/1"));
        assert_eq!(safe_link("HTTP://x.example/1").as_deref(), Some("HTTP://x.example/1"));
        for bad in ["javascript:alert(1)", " javascript:alert(1)", "data:text/html,x", "//x.example", "https://x\n.y"] {
            assert_eq!(safe_link(bad), None, "{bad:?}");
        }
    }
}
