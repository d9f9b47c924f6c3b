//! The Patchbay console: pages, components, server functions and the types
//! they exchange. It compiles twice: natively with `ssr` for the server, and
//! to WASM with `hydrate` for the browser. Server-only code sits behind `ssr`.

pub mod components;
pub mod error;
pub mod functions;
pub mod models;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod views;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{ParentRoute, Redirect, Route, Router, Routes},
    path,
};

use crate::components::layout::Layout;
use crate::routes::{
    activity::ActivityPage, integrations::IntegrationsPage, invite::InvitePage, items::ItemsRoute, login::LoginPage,
    not_found::NotFound, provider::ProviderPage, settings::SettingsPage, setup::SetupPage, team::TeamPage,
};

/// The HTML document around [`App`], rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::provide_request_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/patchbay.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Patchbay".to_owned() } else { format!("{page} · Patchbay") }/>
        <Router>
            // Every page renders whole before it is sent (`SsrMode::Async`):
            // data is in the HTML itself, so pages read without JavaScript,
            // and a page can still choose its status or redirect once its
            // data has loaded. Signed-out visitors reach only sign-in,
            // first-run set-up and invites; the server redirects the rest.
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=Layout ssr=SsrMode::Async>
                    <Route path=path!("/") view=|| view! { <Redirect path="/integrations"/> } ssr=SsrMode::Async/>
                    <Route path=path!("/integrations") view=IntegrationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:provider") view=ProviderPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:provider/items") view=ItemsRoute ssr=SsrMode::Async/>
                    <Route path=path!("/activity") view=ActivityPage ssr=SsrMode::Async/>
                    <Route path=path!("/team") view=TeamPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
