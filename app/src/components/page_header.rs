use leptos::prelude::*;
use leptos_meta::Title;

/// A page's title (also the document title) and a one-line description.
#[component]
pub fn PageHeader(title: &'static str, description: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <header class="page-header">
            <h1>{title}</h1>
            <p class="lede">{description}</p>
        </header>
    }
}
