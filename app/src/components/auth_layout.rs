use leptos::prelude::*;

use crate::components::error_view::ErrorView;

/// The frame of the signed-out pages (sign-in, first-run set-up, invites):
/// the brand and one centred card, no navigation.
#[component]
pub fn AuthLayout(heading: &'static str, children: Children) -> impl IntoView {
    // Marks that the WASM is running (effects run only in the browser).
    let (enhanced, set_enhanced) = signal(false);
    Effect::new(move |_| set_enhanced.set(true));
    view! {
        <main id="main" class="auth-page" class:enhanced=move || enhanced.get()>
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
