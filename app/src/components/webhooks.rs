//! The webhook panel of a provider page: registered or not, when it
//! renews, a failed renewal, the last event, the day's events and
//! refusals, and Recent deliveries with Replay for admins. It renders on
//! the server; Replay works without JavaScript and, hydrated, in place.

use leptos::prelude::*;

use crate::{
    components::{copy::CopyButton, form::FormError},
    functions::webhooks::{ReplayDelivery, RevealWebhookSecret, get_webhook_status},
    models::{
        integration::Saved,
        webhooks::{DeliveryView, WebhookStatus},
    },
};

#[component]
pub fn WebhookPanel(provider: String, name: String) -> impl IntoView {
    let replay = ServerAction::<ReplayDelivery>::new();
    let id = provider.clone();
    let loaded =
        Resource::new(move || (provider.clone(), replay.version().get()), |(provider, _)| get_webhook_status(provider));
    view! {
        <Transition fallback=|| ()>
            {move || {
                let name = name.clone();
                let provider = id.clone();
                Suspend::new(async move {
                    match loaded.await {
                        Ok(status) if status.offered => {
                            view! { <WebhookBody status provider name replay/> }.into_any()
                        }
                        Ok(_) => ().into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn WebhookBody(
    status: WebhookStatus,
    provider: String,
    name: String,
    replay: ServerAction<ReplayDelivery>,
) -> impl IntoView {
    let outcome = Signal::derive(move || replay.value().get());
    let state = match (status.registered, &status.renew_error) {
        (_, Some(_)) => view! { <span class="badge job-failed">"Not delivering"</span> }.into_any(),
        (true, None) => view! { <span class="badge job-completed">"Registered"</span> }.into_any(),
        (false, None) => view! { <span class="badge job-waiting">"Registering"</span> }.into_any(),
    };
    let can_replay = status.can_replay;
    let deliveries = status.deliveries;
    let url = status.url.clone().unwrap_or_default();
    let app_secret = status.app_secret_setting.clone();
    view! {
        <section class="panel webhook-panel" aria-labelledby="webhooks-heading">
            <h2 id="webhooks-heading">"Webhooks"</h2>
            <p class="job-line">
                {state}
                <span class="muted">{format!(" · changes in {name} arrive within seconds; a sync still runs on schedule behind them")}</span>
            </p>
            {status.renew_error.map(|error| view! {
                <p class="field-error" role="alert">
                    {format!("{error}. Patchbay polls {name} for changes meanwhile, and tries again.")}
                </p>
            })}
            <dl class="facts">
                <dt>"Renews"</dt>
                <dd>{status.renews.unwrap_or_else(|| "Does not expire".to_owned())}</dd>
                <dt>"Last event"</dt>
                <dd>{status.last_event.unwrap_or_else(|| "None yet".to_owned())}</dd>
                <dt>"Last 24 hours"</dt>
                <dd>{format!("{} events, {} refused", status.events_24h, status.refusals_24h)}</dd>
                <dt>"Endpoint"</dt>
                <dd class="copy-row">
                    <code class="endpoint">{url.clone()}</code>
                    {(!url.is_empty()).then(|| view! { <CopyButton text=url.clone() what="webhook URL"/> })}
                </dd>
                {app_secret.map(|setting| view! {
                    <dt>"Signed with"</dt>
                    <dd>
                        "the app's webhook secret, which this console reads from "
                        <code>{setting}</code>
                        {format!(". Every connection of {name} shares the app's one URL.")}
                    </dd>
                })}
            </dl>
            {match (status.manual && can_replay, status.signed_with) {
                (true, Some(credential)) => Some(view! {
                    <div class="manual-webhook">
                        <p>{format!("Register this webhook in {name}'s settings yourself: paste the endpoint above as its URL. {name} signs every request with the connection's {credential}, so there is no other secret to paste.")}</p>
                    </div>
                }.into_any()),
                (true, None) => Some(view! { <ManualSetup provider=provider.clone() name=name.clone()/> }.into_any()),
                (false, _) => None,
            }}
            <h3>"Recent deliveries"</h3>
            {if deliveries.is_empty() {
                view! { <p class="muted">"No deliveries yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table deliveries">
                        <thead>
                            <tr>
                                <th scope="col">"Received"</th>
                                <th scope="col">"Event"</th>
                                <th scope="col">"Result"</th>
                                {can_replay.then(|| view! { <th scope="col"><span class="visually-hidden">"Replay"</span></th> })}
                            </tr>
                        </thead>
                        <tbody>
                            {deliveries
                                .into_iter()
                                .map(|delivery| view! { <DeliveryRow delivery can_replay replay/> })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
            {move || match outcome.get() {
                Some(Ok(Saved { message })) => Some(view! { <p class="notice" role="status">{message}</p> }),
                _ => None,
            }}
            <FormError error=Signal::derive(move || outcome.get().and_then(Result::err).map(|e| e.to_string()))/>
        </section>
    }
}

/// For a webhook an admin registers at the provider by hand: the secret
/// to paste beside the URL, shown only when asked for (and audited).
#[component]
fn ManualSetup(provider: String, name: String) -> impl IntoView {
    let reveal = ServerAction::<RevealWebhookSecret>::new();
    let shown = Signal::derive(move || reveal.value().get().and_then(Result::ok));
    view! {
        <div class="manual-webhook">
            <p>{format!("Register this webhook in {name}'s settings yourself: paste the endpoint above as its URL, and this secret as its signing secret.")}</p>
            {move || match shown.get() {
                Some(hook) => view! {
                    <div class="copy-row">
                        <label class="visually-hidden" for="webhook-secret">"Webhook secret"</label>
                        <input id="webhook-secret" type="text" readonly value=hook.secret.clone()/>
                        <CopyButton text=hook.secret what="webhook secret"/>
                    </div>
                }
                .into_any(),
                None => {
                    let provider = provider.clone();
                    view! {
                    <ActionForm action=reveal attr:class="inline">
                        <input type="hidden" name="provider" value=provider/>
                        <button type="submit" disabled=move || reveal.pending().get()>"Show the secret"</button>
                    </ActionForm>
                    }
                    .into_any()
                }
            }}
            <FormError error=Signal::derive(move || reveal.value().get().and_then(Result::err).map(|e| e.to_string()))/>
        </div>
    }
}

#[component]
fn DeliveryRow(delivery: DeliveryView, can_replay: bool, replay: ServerAction<ReplayDelivery>) -> impl IntoView {
    let id = delivery.id.clone();
    let result = if delivery.result.is_empty() {
        delivery.state.clone()
    } else {
        format!("{}: {}", delivery.state, delivery.result)
    };
    view! {
        <tr>
            <td>{delivery.received}</td>
            <td><code>{delivery.event}</code></td>
            <td>{result}</td>
            {can_replay.then(|| view! {
                <td>
                    <ActionForm action=replay attr:class="inline">
                        <input type="hidden" name="delivery" value=id/>
                        <button type="submit" disabled=move || replay.pending().get()>"Replay"</button>
                    </ActionForm>
                </td>
            })}
        </tr>
    }
}
