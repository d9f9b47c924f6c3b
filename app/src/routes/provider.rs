//! `/integrations/{provider}`: what a provider syncs and how it connects,
//! and, for `api_key` and `basic` providers, the credential form. Once
//! connected, secrets are shown masked, with flows to replace them, edit
//! the settings, and disconnect, and the sync panel follows the connection's
//! jobs live. Every form works without JavaScript;
//! hydrated, they submit in place.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{form::FormError, sync::SyncPanel},
    error::AppError,
    functions::integrations::{
        CheckConnection, ConnectProvider, DisconnectProvider, EditSettings, ReplaceCredentials, get_provider,
    },
    models::integration::{ConnectMethod, ConnectionDetail, FormField, ProviderDetail, Saved},
    routes::not_found::NotFound,
};

#[derive(Clone, Copy)]
struct Actions {
    connect: ServerAction<ConnectProvider>,
    replace: ServerAction<ReplaceCredentials>,
    edit: ServerAction<EditSettings>,
    check: ServerAction<CheckConnection>,
    disconnect: ServerAction<DisconnectProvider>,
}

#[component]
pub fn ProviderPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("provider").unwrap_or_default());
    let actions = Actions {
        connect: ServerAction::new(),
        replace: ServerAction::new(),
        edit: ServerAction::new(),
        check: ServerAction::new(),
        disconnect: ServerAction::new(),
    };
    // Read again whenever an action finishes: the page shows what is stored.
    let detail = Resource::new(
        move || {
            (
                id.get(),
                actions.connect.version().get(),
                actions.replace.version().get(),
                actions.edit.version().get(),
                actions.check.version().get(),
                actions.disconnect.version().get(),
            )
        },
        |(id, ..)| get_provider(id),
    );
    // The last change's outcome, announced once it is saved.
    let saved = RwSignal::new(None::<String>);
    for value in [
        outcome(actions.connect.value()),
        outcome(actions.replace.value()),
        outcome(actions.edit.value()),
        outcome(actions.check.value()),
        outcome(actions.disconnect.value()),
    ] {
        Effect::new(move |_| {
            if let Some(Ok(Saved { message })) = value.get() {
                saved.set(Some(message));
            }
        });
    }
    view! {
        <p class="back"><a href="/integrations">"← All integrations"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <Provider detail actions saved/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Provider(detail: ProviderDetail, actions: Actions, saved: RwSignal<Option<String>>) -> impl IntoView {
    let ProviderDetail {
        id,
        name,
        description,
        category_label,
        auth,
        logo,
        docs_url,
        entities,
        rate_limit,
        beta,
        status,
        can_manage,
        connect,
        connection,
    } = detail;
    let fields = match &connect {
        ConnectMethod::Form { fields } => fields.clone(),
        _ => Vec::new(),
    };
    let oauth = matches!(connect, ConnectMethod::OAuth { .. });
    let body = match (connection, connect) {
        (Some(connection), _) => view! {
            <Connected id=id.clone() name=name.clone() connection fields oauth can_manage actions/>
            <SyncPanel provider=id.clone() name=name.clone()/>
        }
        .into_any(),
        (None, ConnectMethod::ComingSoon) => view! {
            <section class="panel" aria-labelledby="connect-heading">
                <h2 id="connect-heading">"Connect"</h2>
                <p>{format!("Patchbay cannot connect to {name} yet. Its card will say when it can.")}</p>
            </section>
        }
        .into_any(),
        (None, ConnectMethod::OAuth { redirect_uri, app_configured, env_prefix }) => view! {
            <OAuthPanel id=id.clone() name=name.clone() redirect_uri app_configured env_prefix can_manage/>
        }
        .into_any(),
        (None, ConnectMethod::Form { fields }) if can_manage => {
            view! { <ConnectForm id=id.clone() name=name.clone() fields action=actions.connect/> }.into_any()
        }
        (None, ConnectMethod::Form { .. }) => view! {
            <section class="panel" aria-labelledby="connect-heading">
                <h2 id="connect-heading">"Connect"</h2>
                <p>{format!("Only admins of your team can connect {name}.")}</p>
            </section>
        }
        .into_any(),
    };
    view! {
        <Title text=name.clone()/>
        <header class="page-header provider-head">
            <img class="logo" src=logo alt="" width="56" height="56"/>
            <div>
                <h1>{name.clone()}</h1>
                <p class="lede">{description}</p>
                <p class="card-status">
                    <span class=status.class()>{status.label()}</span>
                    {beta.then(|| view! { <span class="badge beta">"Beta"</span> })}
                </p>
            </div>
        </header>
        {move || saved.get().map(|message| view! { <p class="notice" role="status">{message}</p> })}
        <section class="panel" aria-labelledby="about-heading">
            <h2 id="about-heading">"About"</h2>
            <dl class="facts">
                <dt>"Category"</dt>
                <dd>{category_label}</dd>
                <dt>"Connects with"</dt>
                <dd>{auth}</dd>
                <dt>"Syncs"</dt>
                <dd>{entities.join(", ")}</dd>
                {rate_limit.map(|limit| view! { <dt>"Rate limit"</dt><dd>{limit}</dd> })}
                <dt>"Documentation"</dt>
                <dd>
                    <a href=docs_url.clone() rel="noreferrer noopener" target="_blank">
                        {format!("{name} API documentation")}
                        <span class="visually-hidden">" (opens in a new tab)"</span>
                    </a>
                </dd>
            </dl>
        </section>
        {body}
    }
}

#[component]
fn OAuthPanel(
    id: String,
    name: String,
    redirect_uri: String,
    app_configured: bool,
    env_prefix: String,
    can_manage: bool,
) -> impl IntoView {
    let action = match (app_configured, can_manage) {
        // A plain link: the connect starts with a GET and works without JavaScript.
        (true, true) => view! {
            <p><a class="button primary" rel="external" href=format!("/oauth/{id}/start")>{format!("Connect with {name}")}</a></p>
            <p class="hint">{format!("You will approve access at {name}, then come back here.")}</p>
        }
        .into_any(),
        (true, false) => view! { <p>{format!("Only admins of your team can connect {name}.")}</p> }.into_any(),
        (false, _) => view! {
            <p class="form-error" role="status">
                {format!("No OAuth app is configured for {name}, so it cannot be connected yet. ")}
                "Create one at the provider with the redirect URI above, then enter it under "
                <a href="/settings#oauth-apps">"Settings → OAuth apps"</a> ", or set "
                <code>{format!("{env_prefix}_CLIENT_ID")}</code> " and " <code>{format!("{env_prefix}_CLIENT_SECRET")}</code>
                " and restart Patchbay."
            </p>
        }
        .into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="connect-heading">
            <h2 id="connect-heading">"Connect"</h2>
            <p>{format!("{name} connects with OAuth. The redirect URI registered in its OAuth app must be exactly:")}</p>
            <div class="copy-row">
                <label class="visually-hidden" for="redirect-uri">"Redirect URI"</label>
                <input id="redirect-uri" type="text" readonly value=redirect_uri.clone()/>
                <CopyButton text=redirect_uri what="redirect URI"/>
            </div>
            {action}
        </section>
    }
}

/// Copies `text` to the clipboard. It appears once the page is hydrated;
/// without JavaScript the text beside it can be selected and copied.
#[component]
fn CopyButton(text: String, what: &'static str) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // `None` until clicked; then whether the browser let us copy.
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let promise = window.navigator().clipboard().write_text(&text);
            leptos::task::spawn_local(async move {
                copied.set(Some(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <Show when=move || hydrated.get()>
            <button type="button" on:click=copy.clone() aria-label=format!("Copy the {what}")>
                {move || if copied.get() == Some(true) { "Copied" } else { "Copy" }}
            </button>
        </Show>
        <span class="hint" role="status">
            {move || match copied.get() {
                Some(true) => "Copied to the clipboard.",
                Some(false) => "The browser did not allow copying: select the text and copy it.",
                None => "",
            }}
        </span>
    }
}

/// The last result of an action of this page.
type Outcome = Signal<Option<Result<Saved, AppError>>>;

fn outcome(value: MappedSignal<Option<Result<Saved, AppError>>>) -> Outcome {
    Signal::derive(move || value.get())
}

/// The error of an action that is about none of `fields` (those are shown
/// beside their input).
fn general_error(value: Outcome, fields: Vec<String>) -> Signal<Option<String>> {
    Signal::derive(move || match value.get() {
        Some(Err(AppError::Invalid { field, .. })) if fields.contains(&field) => None,
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    })
}

/// One input of a credential form. Its name (`values[api_token]`) is what
/// the server function reads; `prefix` keeps ids unique on the page.
#[component]
fn CredentialInput(
    field: FormField,
    prefix: &'static str,
    value: Outcome,
    #[prop(optional)] current: Option<String>,
) -> impl IntoView {
    let id = format!("{prefix}-{}", field.name);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let name = field.name.clone();
    let error = Signal::derive(move || value.get().and_then(Result::err).and_then(|e| e.for_field(&name)));
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        let has_hint = field.help.is_some();
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let title = field.example.as_ref().map(|e| format!("For example {e}"));
    let label = if field.required { field.label.clone() } else { format!("{} (optional)", field.label) };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=format!("values[{}]", field.name)
                type=field.input_type
                required=field.required
                pattern=field.pattern
                title=title
                placeholder=field.example
                value=current
                autocomplete="off"
                spellcheck="false"
                aria-invalid=move || error.get().map(|_| "true")
                aria-describedby=described_by
            />
            {field.help.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            {move || error.get().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

#[component]
fn ConnectForm(
    id: String,
    name: String,
    fields: Vec<FormField>,
    action: ServerAction<ConnectProvider>,
) -> impl IntoView {
    let value = outcome(action.value());
    let names = fields.iter().map(|f| f.name.clone()).collect();
    view! {
        <section class="panel" aria-labelledby="connect-heading">
            <h2 id="connect-heading">{format!("Connect {name}")}</h2>
            <p class="muted">
                "Patchbay checks the credentials with " {name.clone()}
                " before it stores them. Keys are kept in the secret store and never shown again."
            </p>
            <ActionForm action attr:class="stack">
                <FormError error=general_error(value, names)/>
                <input type="hidden" name="provider" value=id/>
                {fields
                    .into_iter()
                    .map(|field| view! { <CredentialInput field prefix="connect" value/> })
                    .collect_view()}
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Checking…" } else { "Verify and connect" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Connected(
    id: String,
    name: String,
    connection: ConnectionDetail,
    fields: Vec<FormField>,
    oauth: bool,
    can_manage: bool,
    actions: Actions,
) -> impl IntoView {
    let needs_reauth = connection.needs_reauth;
    let reauth = connection
        .needs_reauth
        .then(|| format!("{name} no longer accepts the stored authorization, so nothing syncs. Reconnect to resume."));
    let since = match (&connection.connected_at, &connection.connected_by) {
        (Some(at), Some(by)) => format!("Connected on {at} by {by}."),
        (Some(at), None) => format!("Connected on {at}."),
        _ => String::new(),
    };
    let secrets: Vec<FormField> = fields.iter().filter(|f| f.secret).cloned().collect();
    let settings: Vec<FormField> = fields.iter().filter(|f| !f.secret).cloned().collect();
    let current = connection.values.clone();
    let manage = can_manage.then(|| {
        let replace_value = outcome(actions.replace.value());
        let edit_value = outcome(actions.edit.value());
        let secret_names = secrets.iter().map(|f| f.name.clone()).collect();
        let setting_names = settings.iter().map(|f| f.name.clone()).collect();
        let edit = (!settings.is_empty()).then(|| {
            let id = id.clone();
            view! {
                <details class="flow">
                    <summary>"Edit settings"</summary>
                    <p class="muted">
                        "Patchbay checks the new settings with the stored credentials. Sync continues where it \
                         left off while they reach the same account."
                    </p>
                    <ActionForm action=actions.edit attr:class="stack">
                        <FormError error=general_error(edit_value, setting_names)/>
                        <input type="hidden" name="provider" value=id/>
                        {settings
                            .into_iter()
                            .map(|field| {
                                let now = current.iter().find(|v| v.name == field.name).and_then(|v| v.shown.clone());
                                view! { <CredentialInput field prefix="edit" value=edit_value current=now.unwrap_or_default()/> }
                            })
                            .collect_view()}
                        <button type="submit" class="primary" disabled=move || actions.edit.pending().get()>"Verify and save"</button>
                    </ActionForm>
                </details>
            }
        });
        let (replace_id, check_id, disconnect_id) = (id.clone(), id.clone(), id.clone());
        let check = view! {
            <ActionForm action=actions.check attr:class="inline flow">
                <input type="hidden" name="provider" value=check_id/>
                <button type="submit" disabled=move || actions.check.pending().get()>"Check connection"</button>
                <span class="muted">" asks the provider, with what is stored, whether it still works."</span>
            </ActionForm>
            <FormError error=general_error(outcome(actions.check.value()), Vec::new())/>
        };
        let replace = if oauth {
            needs_reauth
                .then(|| {
                    view! {
                        <p class="flow">
                            <a class="button primary" rel="external" href=format!("/oauth/{id}/start")>"Reconnect"</a>
                            <span class="muted">" and approve access again."</span>
                        </p>
                    }
                })
                .into_any()
        } else {
            view! {
            <details class="flow">
                <summary>"Replace credentials"</summary>
                <p class="muted">"Enter the new values. Patchbay checks them before it replaces the stored ones."</p>
                <ActionForm action=actions.replace attr:class="stack">
                    <FormError error=general_error(replace_value, secret_names)/>
                    <input type="hidden" name="provider" value=replace_id/>
                    {secrets
                        .into_iter()
                        .map(|field| view! { <CredentialInput field prefix="replace" value=replace_value/> })
                        .collect_view()}
                    <button type="submit" class="primary" disabled=move || actions.replace.pending().get()>"Verify and replace"</button>
                </ActionForm>
            </details>
            }
            .into_any()
        };
        view! {
            {check}
            {replace}
            {edit}
            <details class="flow danger-zone">
                <summary>"Disconnect…"</summary>
                <p>
                    {format!(
                        "Disconnecting deletes every stored key, sync cursor and synced record of {name}. To connect again, \
                         you enter the credentials anew, and the sync starts from the beginning."
                    )}
                </p>
                <ActionForm action=actions.disconnect attr:class="inline">
                    <input type="hidden" name="provider" value=disconnect_id/>
                    <button type="submit" class="danger" disabled=move || actions.disconnect.pending().get()>
                        {format!("Disconnect {name}")}
                    </button>
                </ActionForm>
                <FormError error=general_error(outcome(actions.disconnect.value()), Vec::new())/>
            </details>
        }
    });
    view! {
        <section class="panel" aria-labelledby="connection-heading">
            <h2 id="connection-heading">"Connection"</h2>
            {reauth.map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <p>
                "Connected as " <strong>{connection.account_name.clone()}</strong>
                <span class="muted">{format!(" (account {})", connection.account_id)}</span> ". " {since}
            </p>
            <dl class="facts stored">
                {connection
                    .values
                    .into_iter()
                    .map(|value| {
                        let shown = match (value.shown, value.secret) {
                            (Some(shown), _) => view! { <code>{shown}</code> }.into_any(),
                            (None, true) => view! { <span class="muted">"Not stored"</span> }.into_any(),
                            (None, false) => view! { <span class="muted">"Not set"</span> }.into_any(),
                        };
                        view! { <dt>{value.label}</dt><dd>{shown}</dd> }
                    })
                    .collect_view()}
            </dl>
            {manage}
            {(!can_manage).then(|| view! { <p class="muted">"Only admins of your team can change or disconnect it."</p> })}
        </section>
    }
}
