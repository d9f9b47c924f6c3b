//! The OAuth panel of a provider page: connect, and the redirect URI to copy.

use super::*;
use crate::components::copy::CopyButton;

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
