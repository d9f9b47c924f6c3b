use leptos::prelude::*;

use crate::components::{empty_state::EmptyState, page_header::PageHeader};

#[component]
pub fn ActivityPage() -> impl IntoView {
    view! {
        <PageHeader title="Activity" description="Syncs, connections and changes made by your team."/>
        <EmptyState title="Nothing has happened yet">
            <p>"Backfills, syncs, connects and disconnects will be listed here, newest first."</p>
        </EmptyState>
    }
}
