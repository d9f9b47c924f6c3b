use leptos::prelude::*;

use crate::components::{empty_state::EmptyState, page_header::PageHeader};

#[component]
pub fn TeamPage() -> impl IntoView {
    view! {
        <PageHeader title="Team" description="The people who can see and manage your integrations."/>
        <EmptyState title="No members listed yet">
            <p>"Members, their roles and pending invites will be listed here."</p>
        </EmptyState>
    }
}
