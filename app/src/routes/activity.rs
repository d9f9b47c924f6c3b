//! `/activity`: every job across the team's connections, newest first,
//! filtered by provider, kind and state. The filters are a plain GET form,
//! so the list reads and filters without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{
        empty_state::EmptyState,
        page_header::PageHeader,
        sync::{JobBadge, JobProgress},
    },
    functions::sync::list_activity,
    models::sync::{Activity, JOB_KINDS, JobState, JobView, kind_label},
};

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        let get = |key: &str| q.get(key).unwrap_or_default();
        (get("provider"), get("kind"), get("state"))
    });
    let activity = Resource::new(move || filters.get(), |(provider, kind, state)| list_activity(provider, kind, state));
    view! {
        <PageHeader title="Activity" description="Backfills, syncs and revokes across your team's connections, newest first."/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (provider, kind, state) = filters.get_untracked();
                match activity.await {
                    Ok(activity) => view! { <ActivityList activity provider kind state/> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ActivityList(activity: Activity, provider: String, kind: String, state: String) -> impl IntoView {
    let Activity { jobs, providers, more } = activity;
    let filtered = !(provider.is_empty() && kind.is_empty() && state.is_empty());
    let option = |value: String, label: String, current: &str| {
        let selected = value == current;
        view! { <option value=value selected=selected>{label}</option> }
    };
    let list = if jobs.is_empty() && !filtered {
        view! {
            <EmptyState title="Nothing has happened yet">
                <p>"Connect an integration: its first backfill, and every sync after it, is listed here."</p>
            </EmptyState>
        }
        .into_any()
    } else if jobs.is_empty() {
        view! { <p class="muted" role="status">"No job matches these filters."</p> }.into_any()
    } else {
        view! {
            <table class="table jobs">
                <caption class="visually-hidden">"Jobs, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Queued"</th>
                        <th scope="col">"Integration"</th>
                        <th scope="col">"Job"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Progress"</th>
                    </tr>
                </thead>
                <tbody>{jobs.into_iter().map(|job| view! { <JobRow job/> }).collect_view()}</tbody>
            </table>
            {more.then(|| view! { <p class="muted">"Only the newest 100 are listed; narrow the filters to see older ones."</p> })}
        }
        .into_any()
    };
    view! {
        <form method="get" action="/activity" class="filters" aria-label="Filter jobs">
            <label>
                "Integration "
                <select name="provider">
                    {option(String::new(), "Any".to_owned(), &provider)}
                    {providers.into_iter().map(|(id, name)| option(id, name, &provider)).collect_view()}
                </select>
            </label>
            <label>
                "Job "
                <select name="kind">
                    {option(String::new(), "Any".to_owned(), &kind)}
                    {JOB_KINDS.iter().map(|(key, label)| option((*key).to_owned(), (*label).to_owned(), &kind)).collect_view()}
                </select>
            </label>
            <label>
                "State "
                <select name="state">
                    {option(String::new(), "Any".to_owned(), &state)}
                    {JobState::ALL.iter().map(|s| option(s.key().to_owned(), s.label().to_owned(), &state)).collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
            {filtered.then(|| view! { <a href="/activity">"Clear filters"</a> })}
        </form>
        {list}
    }
}

#[component]
fn JobRow(job: JobView) -> impl IntoView {
    let href = format!("/integrations/{}", job.provider);
    let error = job.error.clone();
    view! {
        <tr>
            <td>{job.queued_at.clone()}</td>
            <td><a href=href>{job.provider_name.clone()}</a></td>
            <td>
                {kind_label(&job.kind)}
                {(job.attempts > 1).then(|| view! { <span class="muted">{format!(" (attempt {})", job.attempts)}</span> })}
            </td>
            <td><JobBadge state=job.state/></td>
            <td>
                {matches!(job.kind.as_str(), "full_backfill" | "incremental" | "prune").then(|| view! { <JobProgress job=job.clone()/> })}
                {error.map(|e| view! { <p class="field-error">{e}</p> })}
            </td>
        </tr>
    }
}
