use leptos::prelude::*;

use crate::components::error_view::ErrorView;

/// The frame of the signed-out pages (sign-in, first-run set-up, invites):
/// the brand and one centred card, no navigation.
#[component]
pub fn AuthLayout(heading: &'static str, children: Children) -> impl IntoView {
    view! {
        <main id="main" class="auth-page">
            <div class="auth-card">
                <p class="brand">
                    <img src="/logo.svg" alt="" width="28" height="28"/>
                    <span>"Patchbay"</span>
                </p>
                <h1>{heading}</h1>
                <ErrorBoundary fallback=|errors| view! { <ErrorView errors/> }>{children()}</ErrorBoundary>
            </div>
        </main>
    }
}
