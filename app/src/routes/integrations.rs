use leptos::prelude::*;

use crate::components::{empty_state::EmptyState, page_header::PageHeader};

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Integrations"
            description="Connect the tools your team works in, and watch their records sync."
        />
        <EmptyState title="No integrations yet">
            <p>
                "Each tool you can connect will appear here as a card, with its status: "
                "not connected, connected, syncing, or needing attention."
            </p>
            <p>"Once a tool is connected, its first backfill starts on its own."</p>
        </EmptyState>
    }
}
