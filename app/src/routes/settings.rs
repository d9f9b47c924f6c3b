use leptos::prelude::*;

use crate::{
    components::{form::FormError, page_header::PageHeader},
    error::AppError,
    functions::{
        about::get_about,
        oauth_apps::{RemoveOauthApp, SaveOauthApp, list_oauth_apps},
    },
    models::{
        about::About,
        integration::{OAuthAppRow, Saved},
    },
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let about = OnceResource::new(get_about());
    view! {
        <PageHeader title="Settings" description="How this Patchbay deployment is set up."/>
        <section class="panel" aria-labelledby="about-heading">
            <h2 id="about-heading">"About this deployment"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move { about.await.map(|about| view! { <AboutList about/> }) })}
            </Suspense>
        </section>
        <OAuthAppsPanel/>
    }
}

#[component]
fn AboutList(about: About) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt>"Version"</dt>
            <dd>{about.version}</dd>
            <dt>"Database"</dt>
            <dd>{about.database}</dd>
            <dt>"Deployment ID"</dt>
            <dd><code>{about.instance_id}</code></dd>
            <dt>"Running since"</dt>
            <dd>{about.created_at}</dd>
        </dl>
    }
}

/// The OAuth app each OAuth provider connects with, for this team.
#[component]
fn OAuthAppsPanel() -> impl IntoView {
    let save = ServerAction::<SaveOauthApp>::new();
    let remove = ServerAction::<RemoveOauthApp>::new();
    let apps = Resource::new(move || (save.version().get(), remove.version().get()), |_| list_oauth_apps());
    let done = RwSignal::new(None::<String>);
    for value in [Signal::derive(move || save.value().get()), Signal::derive(move || remove.value().get())] {
        Effect::new(move |_| {
            if let Some(Ok(Saved { message })) = value.get() {
                done.set(Some(message));
            }
        });
    }
    let failed = |value: Signal<Option<Result<Saved, AppError>>>| {
        Signal::derive(move || value.get()?.err().map(|e| e.to_string()))
    };
    let save_error = failed(Signal::derive(move || save.value().get()));
    let remove_error = failed(Signal::derive(move || remove.value().get()));
    view! {
        <section class="panel" id="oauth-apps" aria-labelledby="oauth-apps-heading">
            <h2 id="oauth-apps-heading">"OAuth apps"</h2>
            <p class="muted">
                "To connect an OAuth provider, Patchbay needs an OAuth app registered at that provider, with \
                 the redirect URI shown below. An app saved here is your team's; its client secret is kept in \
                 the secret store and never shown again. Without one, the app the deployment's environment \
                 configures is used."
            </p>
            {move || done.get().map(|message| view! { <p class="notice" role="status">{message}</p> })}
            <FormError error=save_error/>
            <FormError error=remove_error/>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    apps.await.map(|list| {
                        let can_manage = list.can_manage;
                        view! {
                            <ul class="oauth-apps">
                                {list
                                    .apps
                                    .into_iter()
                                    .map(|app| view! { <OAuthAppItem app can_manage save remove/> })
                                    .collect_view()}
                            </ul>
                        }
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn OAuthAppItem(
    app: OAuthAppRow,
    can_manage: bool,
    save: ServerAction<SaveOauthApp>,
    remove: ServerAction<RemoveOauthApp>,
) -> impl IntoView {
    let status = match (app.source.as_deref(), &app.client_id) {
        (Some("team"), Some(client)) if app.environment_too => {
            format!("Uses the app saved for your team (client id {client}), instead of the environment's.")
        }
        (Some("team"), Some(client)) => format!("Uses the app saved for your team (client id {client})."),
        (Some(_), Some(client)) => format!("Uses the app configured in the environment (client id {client})."),
        _ => "No OAuth app yet: it cannot be connected.".to_owned(),
    };
    let saved_here = app.source.as_deref() == Some("team");
    let ids = (format!("{}-client-id", app.provider), format!("{}-client-secret", app.provider));
    let manage = can_manage.then(|| {
        let (provider, remove_provider) = (app.provider.clone(), app.provider.clone());
        let current = if saved_here { app.client_id.clone().unwrap_or_default() } else { String::new() };
        let save_label = format!("Save the app for {}", app.name);
        let remove_label = format!("Remove the app for {}", app.name);
        view! {
            <details class="flow">
                <summary>{if saved_here { "Change the app" } else { "Enter an app" }}</summary>
                <p>
                    "Register this redirect URI in the app at " {app.name.clone()} ": " <code>{app.redirect_uri.clone()}</code>
                </p>
                <ActionForm action=save attr:class="stack">
                    <input type="hidden" name="provider" value=provider/>
                    <div class="field">
                        <label for=ids.0.clone()>"Client id"</label>
                        <input id=ids.0.clone() name="client_id" type="text" autocomplete="off" required value=current/>
                    </div>
                    <div class="field">
                        <label for=ids.1.clone()>"Client secret"</label>
                        <input
                            id=ids.1.clone()
                            name="client_secret"
                            type="password"
                            autocomplete="off"
                            required
                            // Emptied after each save, so the secret does not linger in the page.
                            prop:value=move || {
                                save.version().get();
                                String::new()
                            }
                        />
                    </div>
                    <button type="submit" class="primary" disabled=move || save.pending().get()>
                        {save_label}
                    </button>
                </ActionForm>
                {saved_here
                    .then(|| {
                        view! {
                            <ActionForm action=remove attr:class="inline">
                                <input type="hidden" name="provider" value=remove_provider/>
                                <button type="submit" class="danger">{remove_label}</button>
                            </ActionForm>
                        }
                    })}
                <p class="hint">
                    "Connections made with another app may stop refreshing after a change; reconnect them if so. \
                     For the whole deployment, set " <code>{format!("{}_CLIENT_ID", app.env_prefix)}</code> " and "
                    <code>{format!("{}_CLIENT_SECRET", app.env_prefix)}</code> " instead."
                </p>
            </details>
        }
    });
    view! {
        <li>
            <h3>{app.name.clone()}</h3>
            <p>{status}</p>
            {manage}
        </li>
    }
}
