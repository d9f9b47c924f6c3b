//! The OAuth panel of a provider page: connect, and the redirect URI to copy.

use super::*;

#[component]
pub(super) fn OAuthPanel(
    id: String,
    name: String,
    redirect_uri: String,
    app_configured: bool,
    env_prefix: String,
    can_manage: bool,
) -> impl IntoView {
    let action = match (app_configured, can_manage) {
        // A plain form: the connect starts with a POST from this site
        // (SECURITY B5) and works without JavaScript.
        (true, true) => view! {
            <form method="post" action=format!("/oauth/{id}/start")>
                <button class="button primary" type="submit">{format!("Connect with {name}")}</button>
            </form>
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
pub(super) fn CopyButton(text: String, what: &'static str) -> impl IntoView {
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
