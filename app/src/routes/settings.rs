use leptos::prelude::*;

use crate::{components::page_header::PageHeader, functions::about::get_about, models::about::About};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let about = OnceResource::new(get_about());
    view! {
        <PageHeader title="Settings" description="How this Patchbay deployment is set up."/>
        <section class="panel" aria-labelledby="about-heading">
            <h2 id="about-heading">"About this deployment"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move { about.await.map(|about| view! { <AboutList about/> }) })}
            </Suspense>
        </section>
    }
}

#[component]
fn AboutList(about: About) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt>"Version"</dt>
            <dd>{about.version}</dd>
            <dt>"Database"</dt>
            <dd>{about.database}</dd>
            <dt>"Deployment ID"</dt>
            <dd><code>{about.instance_id}</code></dd>
            <dt>"Running since"</dt>
            <dd>{about.created_at}</dd>
        </dl>
    }
}
