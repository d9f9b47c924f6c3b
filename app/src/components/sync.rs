//! The sync panel of a provider page, and the pieces the activity page
//! shares with it. The panel renders on the server from
//! [`get_sync_status`]; once hydrated it follows the server-sent events of
//! `/api/sync/{provider}/events` and updates in place while a job runs.

use leptos::prelude::*;

use crate::{
    components::form::FormError,
    functions::sync::{StartSync, get_sync_status},
    models::{
        integration::Saved,
        sync::{JobState, JobView, SyncStatus, kind_label, thousands},
    },
};

/// A job's state as a badge.
#[component]
pub fn JobBadge(state: JobState) -> impl IntoView {
    view! { <span class=state.class()>{state.label()}</span> }
}

/// A job's progress bar and its words: done of total with the time left,
/// or an honest "estimating…" while the total or the pace is unknown.
#[component]
pub fn JobProgress(job: JobView) -> impl IntoView {
    let bar = match (job.total, job.percent()) {
        (Some(total), Some(_)) => {
            let done = if job.state == JobState::Completed { total } else { job.done.clamp(0, total) };
            view! { <progress aria-label="Sync progress" max=total value=done></progress> }.into_any()
        }
        // No value: the browser shows it as under way, amount unknown.
        _ if job.state.is_live() => view! { <progress aria-label="Sync progress"></progress> }.into_any(),
        _ => ().into_any(),
    };
    let mut words = job.progress();
    if let Some(percent) = job.percent() {
        words.push_str(&format!(" ({percent}%)"));
    }
    if job.state == JobState::Running {
        words.push_str(" · ");
        words.push_str(job.eta.as_deref().unwrap_or("estimating…"));
    }
    if job.items > 0 {
        words.push_str(&format!(" · {} stored", thousands(job.items)));
    }
    view! {
        {bar}
        <p class="muted progress-words">{words}</p>
    }
}

#[component]
pub fn SyncPanel(provider: String, name: String) -> impl IntoView {
    let start = ServerAction::<StartSync>::new();
    let loaded = {
        let provider = provider.clone();
        Resource::new(move || (provider.clone(), start.version().get()), |(provider, _)| get_sync_status(provider))
    };
    // The newest status from the server's events; `None` until one comes
    // (and again after an action, whose reload is newer).
    let live = RwSignal::new(None::<SyncStatus>);
    Effect::new(move |_| {
        start.version().track();
        live.set(None);
    });
    follow(provider, live);
    view! {
        <section class="panel sync-panel" aria-labelledby="sync-heading">
            <h2 id="sync-heading">"Sync"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let name = name.clone();
                    Suspend::new(async move {
                        match loaded.await {
                            Ok(initial) => {
                                let status = Signal::derive(move || live.get().unwrap_or_else(|| initial.clone()));
                                view! { <SyncBody status name start/> }.into_any()
                            }
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn SyncBody(status: Signal<SyncStatus>, name: String, start: ServerAction<StartSync>) -> impl IntoView {
    let untracked = status.get_untracked();
    if !untracked.syncs {
        return view! {
            <p>
                {format!(
                    "Patchbay cannot sync {name} yet. The connection is kept, and syncing starts once its connector ships."
                )}
            </p>
        }
        .into_any();
    }
    let provider = untracked.provider.clone();
    let current = Memo::new(move |_| status.with(|s| s.current.clone()));
    let streams = Memo::new(move |_| status.with(|s| s.streams.clone()));
    let errors = Memo::new(move |_| status.with(|s| s.errors.clone()));
    let facts = Memo::new(move |_| {
        status.with(|s| (s.last_success.clone(), s.next_sync.clone(), s.counts.clone(), s.total_records()))
    });
    let can_manage = untracked.can_manage;
    let outcome = Signal::derive(move || start.value().get());
    let items_href = format!("/integrations/{provider}/items");
    view! {
        <div class="sync-current" aria-live="polite">
            {move || match current.get() {
                None => view! { <p class="muted">"No sync has run yet. The first starts within a minute."</p> }.into_any(),
                Some(job) => view! {
                    <p class="job-line">
                        <JobBadge state=job.state/> " " <strong>{kind_label(&job.kind)}</strong>
                        <span class="muted">{format!(" · queued {}", job.queued_at)}</span>
                        {(job.attempts > 1).then(|| view! { <span class="muted">{format!(" · attempt {} of {}", job.attempts, job.max_attempts)}</span> })}
                    </p>
                    <JobProgress job=job.clone()/>
                    {job.retry_at.map(|at| view! { <p class="muted">{format!("Tried again at {at}.")}</p> })}
                }
                .into_any(),
            }}
        </div>
        {move || {
            let streams = streams.get();
            (!streams.is_empty()).then(|| view! {
                <h3>"Streams"</h3>
                <ul class="streams" aria-live="polite">
                    {streams
                        .into_iter()
                        .map(|(name, job)| view! {
                            <li>
                                <strong>{name}</strong> " "
                                {match job {
                                    Some(job) => view! {
                                        <JobBadge state=job.state/> " "
                                        <span class="muted">{format!("{} · queued {}", kind_label(&job.kind), job.queued_at)}</span>
                                        <JobProgress job=job.clone()/>
                                    }
                                    .into_any(),
                                    None => view! { <span class="muted">"not synced yet"</span> }.into_any(),
                                }}
                            </li>
                        })
                        .collect_view()}
                </ul>
            })
        }}
        <dl class="facts">
            {move || {
                let (last, next, counts, total) = facts.get();
                view! {
                    <dt>"Last successful sync"</dt>
                    <dd>{last.unwrap_or_else(|| "None yet".to_owned())}</dd>
                    <dt>"Next sync"</dt>
                    <dd>{next.unwrap_or_else(|| "After the one running now".to_owned())}</dd>
                    <dt>"Records"</dt>
                    <dd>
                        {if counts.is_empty() {
                            view! { <span class="muted">"None synced yet"</span> }.into_any()
                        } else {
                            view! {
                                <ul class="counts">
                                    {counts
                                        .into_iter()
                                        .map(|c| view! { <li><strong>{thousands(c.count)}</strong> " " {c.entity_type}</li> })
                                        .collect_view()}
                                </ul>
                            }
                            .into_any()
                        }}
                        {(total > 0).then(|| view! { <a href=items_href.clone()>"View synced records"</a> })}
                    </dd>
                }
            }}
        </dl>
        {move || {
            let errors = errors.get();
            (!errors.is_empty()).then(|| view! {
                <h3>"Recent errors"</h3>
                <ul class="job-errors">
                    {errors.into_iter().map(|job| view! { <ErrorRow job can_manage start/> }).collect_view()}
                </ul>
            })
        }}
        {can_manage.then(|| {
            let (sync_provider, full_provider) = (provider.clone(), provider.clone());
            view! {
                <div class="sync-actions">
                    <ActionForm action=start attr:class="inline">
                        <input type="hidden" name="provider" value=sync_provider/>
                        <input type="hidden" name="kind" value="incremental"/>
                        <button type="submit" class="primary" disabled=move || start.pending().get()>"Sync now"</button>
                    </ActionForm>
                    <ActionForm action=start attr:class="inline">
                        <input type="hidden" name="provider" value=full_provider/>
                        <input type="hidden" name="kind" value="full_backfill"/>
                        <button type="submit" disabled=move || start.pending().get()>"Full re-sync"</button>
                    </ActionForm>
                </div>
                <p class="hint">{format!("Sync now reads what changed in {name} since the last sync; a full re-sync reads everything again.")}</p>
                {move || match outcome.get() {
                    Some(Ok(Saved { message })) => Some(view! { <p class="notice" role="status">{message}</p> }),
                    _ => None,
                }}
                <FormError error=Signal::derive(move || outcome.get().and_then(Result::err).map(|e| e.to_string()))/>
            }
        })}
    }
    .into_any()
}

/// One recent error: its class, what happened, and Retry when it failed.
#[component]
fn ErrorRow(job: JobView, can_manage: bool, start: ServerAction<StartSync>) -> impl IntoView {
    let class = match job.error_class.as_deref() {
        Some("transient") => "Passing error",
        Some("permanent") => "Lasting error",
        Some("partial") => "Partly done",
        _ => "Error",
    };
    // A prune is retried as what it is, a full pass.
    let kind = if job.kind == "prune" { "full_backfill".to_owned() } else { job.kind.clone() };
    let provider = job.provider.clone();
    let retry = (can_manage && job.state == JobState::Failed).then(|| {
        view! {
            <ActionForm action=start attr:class="inline">
                <input type="hidden" name="provider" value=provider/>
                <input type="hidden" name="kind" value=kind/>
                <button type="submit" disabled=move || start.pending().get()>"Retry"</button>
            </ActionForm>
        }
    });
    view! {
        <li>
            <p class="job-line">
                <span class="badge error-class">{class}</span> " " <strong>{kind_label(&job.kind)}</strong>
                {job.stream.clone().map(|stream| view! { <span class="muted">{format!(" · {stream}")}</span> })}
                <span class="muted">{format!(" · queued {}", job.queued_at)}</span> " " <JobBadge state=job.state/>
            </p>
            <p>{job.error.unwrap_or_default()}</p>
            {retry}
        </li>
    }
}

/// Keeps `live` on the newest status the server sends for `provider`, for
/// as long as the panel is shown. The browser's `EventSource` reconnects
/// by itself when the stream ends or the network drops.
#[cfg(feature = "hydrate")]
fn follow(provider: String, live: RwSignal<Option<SyncStatus>>) {
    use wasm_bindgen::{JsCast as _, closure::Closure};
    Effect::new(move |_| {
        let Ok(source) = web_sys::EventSource::new(&format!("/api/sync/{provider}/events")) else { return };
        let on_status = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if let Some(status) = event.data().as_string().and_then(|text| serde_json::from_str(&text).ok()) {
                live.set(Some(status));
            }
        });
        source.set_onmessage(Some(on_status.as_ref().unchecked_ref()));
        let held = send_wrapper::SendWrapper::new((source, on_status));
        on_cleanup(move || {
            let (source, on_status) = held.take();
            source.close();
            drop(on_status);
        });
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow(_provider: String, _live: RwSignal<Option<SyncStatus>>) {}
