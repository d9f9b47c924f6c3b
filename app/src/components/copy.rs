//! A button that copies a value the admin pastes elsewhere: a redirect
//! URI, a webhook URL.

use leptos::prelude::*;

/// Copies `text` to the clipboard. It appears once the page is hydrated;
/// without JavaScript the text beside it can be selected and copied.
#[component]
pub fn CopyButton(text: String, what: &'static str) -> impl IntoView {
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
