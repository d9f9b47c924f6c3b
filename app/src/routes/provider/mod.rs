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
    components::{form::FormError, sync::SyncPanel, webhooks::WebhookPanel},
    error::AppError,
    functions::integrations::{
        CheckConnection, ConnectProvider, DisconnectProvider, EditSettings, ReplaceCredentials, get_provider,
    },
    models::integration::{ConnectMethod, ConnectionDetail, FormField, ProviderDetail, Saved},
    routes::not_found::NotFound,
};

mod connected;
mod form;
mod oauth;

use self::{connected::Connected, form::*, oauth::*};

/// The server actions of the page, shared by its forms.
#[derive(Clone, Copy)]
#[expect(missing_debug_implementations, reason = "server actions do not implement Debug")]
pub struct Actions {
    pub(super) connect: ServerAction<ConnectProvider>,
    pub(super) replace: ServerAction<ReplaceCredentials>,
    pub(super) edit: ServerAction<EditSettings>,
    pub(super) check: ServerAction<CheckConnection>,
    pub(super) disconnect: ServerAction<DisconnectProvider>,
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
pub(super) fn Provider(detail: ProviderDetail, actions: Actions, saved: RwSignal<Option<String>>) -> impl IntoView {
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
            <WebhookPanel provider=id.clone() name=name.clone()/>
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
