use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(http::StatusCode::NOT_FOUND);
    view! {
        <Title text="Page not found"/>
        <section class="error-panel">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <p><a href="/integrations">"Go to Integrations"</a></p>
        </section>
    }
}
