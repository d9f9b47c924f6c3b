use leptos::prelude::*;

use crate::{
    components::{copy::CopyButton, form::FormError, page_header::PageHeader},
    error::AppError,
    functions::{
        about::get_about,
        api_tokens::{
            AddPushDestination, CreateApiToken, RemovePushDestination, RetryPushDestination, RevokeApiToken,
            list_api_tokens, list_push_destinations,
        },
        oauth_apps::{RemoveOauthApp, SaveOauthApp, list_oauth_apps},
    },
    models::{
        about::About,
        api_tokens::ApiTokens,
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
        <ApiTokensPanel/>
        <PushPanel/>
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

/// Settings → API tokens: the team's credentials for the records API and
/// MCP. A new token is shown once, in the create's answer.
#[component]
fn ApiTokensPanel() -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_tokens());
    let create_error = Signal::derive(move || create.value().get()?.err().map(|e| e.to_string()));
    let revoke_error = Signal::derive(move || revoke.value().get()?.err().map(|e| e.to_string()));
    let revoked = Signal::derive(move || revoke.value().get()?.ok().map(|Saved { message }| message));
    view! {
        <section class="panel" id="api-tokens" aria-labelledby="api-tokens-heading">
            <h2 id="api-tokens-heading">"API tokens"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Err(AppError::Forbidden) => {
                            view! { <p class="muted">"Only an admin of the team manages API tokens."</p> }.into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(list) => view! { <ApiTokensBody list create revoke/> }.into_any(),
                    }
                })}
            </Transition>
            {move || {
                create.value().get().and_then(Result::ok).map(|created| {
                    view! {
                        <div class="notice" role="status" aria-label="New API token">
                            <p>
                                <strong>{format!("Token \"{}\" created.", created.row.name)}</strong>
                                " Copy it now: it is shown this once, and only its digest is kept."
                            </p>
                            <p>
                                <code class="secret" data-testid="new-api-token">{created.token.clone()}</code>
                                " "
                                <CopyButton text=created.token what="API token"/>
                            </p>
                        </div>
                    }
                })
            }}
            {move || revoked.get().map(|message| view! { <p class="notice" role="status">{message}</p> })}
            <FormError error=create_error/>
            <FormError error=revoke_error/>
        </section>
    }
}

#[component]
fn ApiTokensBody(
    list: ApiTokens,
    create: ServerAction<CreateApiToken>,
    revoke: ServerAction<RevokeApiToken>,
) -> impl IntoView {
    let ApiTokens { tokens, scopes, api_base } = list;
    let mcp = format!("{}/mcp", api_base.trim_end_matches("/api/v1"));
    let rows = if tokens.is_empty() {
        view! { <p class="muted">"No API tokens yet."</p> }.into_any()
    } else {
        view! {
            <table class="table tokens">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Token"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"State"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {tokens
                        .into_iter()
                        .map(|token| {
                            let active = token.state == "Active";
                            let label = format!("Revoke {}", token.name);
                            let created = match &token.created_by {
                                Some(by) => format!("{} by {by}", token.created),
                                None => token.created.clone(),
                            };
                            view! {
                                <tr>
                                    <td>{token.name.clone()}</td>
                                    <td>{token.scopes.join(", ")}</td>
                                    <td><code>{token.hint.clone()}</code></td>
                                    <td>{created}</td>
                                    <td>{token.expires.clone().unwrap_or_else(|| "Never".to_owned())}</td>
                                    <td>{token.last_used.clone().unwrap_or_else(|| "Never".to_owned())}</td>
                                    <td>{token.state.clone()}</td>
                                    <td>
                                        {active
                                            .then(|| {
                                                view! {
                                                    <ActionForm action=revoke attr:class="inline">
                                                        <input type="hidden" name="id" value=token.id.clone()/>
                                                        <button type="submit" class="danger">{label}</button>
                                                    </ActionForm>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <p class="muted">
            "A token lets your knowledge platform read this team's records at " <code>{api_base}</code>
            " (the change feed, records, search, connections), and agents use the MCP server at " <code>{mcp}</code>
            ". It reads this team only. Send it as " <code>"Authorization: Bearer pb_…"</code> "."
        </p>
        {rows}
        <details class="flow">
            <summary>"Create a token"</summary>
            <ActionForm action=create attr:class="stack">
                <div class="field">
                    <label for="api-token-name">"Name"</label>
                    <input id="api-token-name" name="name" type="text" required maxlength="80" autocomplete="off"/>
                </div>
                <fieldset class="field">
                    <legend>"Scopes"</legend>
                    {scopes
                        .into_iter()
                        .map(|scope| {
                            let field = scope.name.replace(':', "_");
                            let id = format!("api-token-scope-{field}");
                            view! {
                                <div class="check">
                                    <input id=id.clone() name=field type="checkbox" value="on" checked/>
                                    <label for=id>
                                        <code>{scope.name.clone()}</code>
                                        " — "
                                        {scope.description.clone()}
                                    </label>
                                </div>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <div class="field">
                    <label for="api-token-expiry">"Expires"</label>
                    <select id="api-token-expiry" name="expires_in_days">
                        <option value="">"Never"</option>
                        <option value="30">"In 30 days"</option>
                        <option value="90" selected>"In 90 days"</option>
                        <option value="365">"In a year"</option>
                    </select>
                </div>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create the token"</button>
            </ActionForm>
        </details>
    }
}

/// Settings → Push: destinations the change feed is POSTed to, signed.
#[component]
fn PushPanel() -> impl IntoView {
    let add = ServerAction::<AddPushDestination>::new();
    let retry = ServerAction::<RetryPushDestination>::new();
    let remove = ServerAction::<RemovePushDestination>::new();
    let rows = Resource::new(
        move || (add.version().get(), retry.version().get(), remove.version().get()),
        |_| list_push_destinations(),
    );
    let add_error = Signal::derive(move || add.value().get()?.err().map(|e| e.to_string()));
    let retry_error = Signal::derive(move || retry.value().get()?.err().map(|e| e.to_string()));
    let done = Signal::derive(move || {
        retry
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| remove.value().get().and_then(Result::ok))
            .map(|s| s.message)
    });
    view! {
        <section class="panel" id="push" aria-labelledby="push-heading">
            <h2 id="push-heading">"Push destinations"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(AppError::Forbidden) => {
                            view! { <p class="muted">"Only an admin of the team manages push destinations."</p> }.into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(rows) => view! { <PushBody rows add retry remove/> }.into_any(),
                    }
                })}
            </Transition>
            {move || {
                add.value().get().and_then(Result::ok).map(|added| {
                    view! {
                        <div class="notice" role="status" aria-label="New push destination">
                            <p>
                                <strong>{format!("Pushing to {}.", added.row.url)}</strong>
                                " Its signing secret is shown this once: check "
                                <code>"Patchbay-Signature"</code>
                                " with it."
                            </p>
                            <p>
                                <code class="secret" data-testid="new-push-secret">{added.secret.clone()}</code>
                                " "
                                <CopyButton text=added.secret what="signing secret"/>
                            </p>
                        </div>
                    }
                })
            }}
            {move || done.get().map(|message| view! { <p class="notice" role="status">{message}</p> })}
            <FormError error=add_error/>
            <FormError error=retry_error/>
        </section>
    }
}

#[component]
fn PushBody(
    rows: Vec<crate::models::api_tokens::PushRow>,
    add: ServerAction<AddPushDestination>,
    retry: ServerAction<RetryPushDestination>,
    remove: ServerAction<RemovePushDestination>,
) -> impl IntoView {
    let list = if rows.is_empty() {
        view! { <p class="muted">"No push destinations."</p> }.into_any()
    } else {
        view! {
            <table class="table push">
                <thead>
                    <tr>
                        <th scope="col">"URL"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Last delivered"</th>
                        <th scope="col">"Last error"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let dead = row.state != "Active";
                            let (retry_id, remove_id) = (row.id.clone(), row.id.clone());
                            view! {
                                <tr>
                                    <td><code>{row.url.clone()}</code></td>
                                    <td>{row.state.clone()}</td>
                                    <td>{row.last_delivered.clone().unwrap_or_else(|| "Not yet".to_owned())}</td>
                                    <td>{row.last_error.clone().unwrap_or_default()}</td>
                                    <td>
                                        {dead
                                            .then(|| {
                                                view! {
                                                    <ActionForm action=retry attr:class="inline">
                                                        <input type="hidden" name="id" value=retry_id/>
                                                        <button type="submit" class="primary">"Retry"</button>
                                                    </ActionForm>
                                                }
                                            })}
                                        <ActionForm action=remove attr:class="inline">
                                            <input type="hidden" name="id" value=remove_id/>
                                            <button type="submit" class="danger">"Remove"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <p class="muted">
            "For a knowledge platform that wants to be called rather than poll: the team's changes are POSTed to \
             each destination in batches, in order, at least once, signed with HMAC-SHA256 over "
            <code>"timestamp.body"</code> " in " <code>"Patchbay-Signature: t=…,v1=…"</code>
            ". A batch keeps its id (" <code>"Patchbay-Batch"</code> ") on every retry. After 8 failures in a row a \
             destination is dead-lettered until Retry. It gets changes from when it is added on; copy what is already \
             synced once through the records API."
        </p>
        {list}
        <details class="flow">
            <summary>"Add a destination"</summary>
            <ActionForm action=add attr:class="stack">
                <div class="field">
                    <label for="push-url">"Destination URL"</label>
                    <input id="push-url" name="url" type="url" required placeholder="https://kb.example.com/patchbay"/>
                </div>
                <button type="submit" class="primary" disabled=move || add.pending().get()>"Add the destination"</button>
            </ActionForm>
        </details>
    }
}
