use leptos::prelude::*;

use crate::error::AppError;

/// Shown in place of a page that failed. Only messages written for users
/// ([`AppError`]) are displayed; anything else becomes a generic sentence.
#[component]
pub fn ErrorView(errors: ArcRwSignal<Errors>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
    let messages = move || {
        let mut messages: Vec<String> = errors
            .get()
            .into_iter()
            .map(|(_, e)| match e.downcast_ref::<AppError>() {
                Some(app) => app.to_string(),
                None => AppError::Internal.to_string(),
            })
            .collect();
        messages.dedup();
        messages
    };
    view! {
        <section class="error-panel" role="alert">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || messages().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
            <p><a href="/integrations">"Back to Integrations"</a></p>
        </section>
    }
}
