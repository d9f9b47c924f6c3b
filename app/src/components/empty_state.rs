use leptos::prelude::*;

/// What a list shows before it has anything in it: what will appear here,
/// and what the admin can do about it.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="empty-state" aria-label=title>
            <h2>{title}</h2>
            {children()}
        </section>
    }
}
