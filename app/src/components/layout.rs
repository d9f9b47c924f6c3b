use leptos::{html, prelude::*};
use leptos_router::components::{A, Outlet};

use crate::{
    components::error_view::ErrorView,
    functions::auth::{Logout, whoami},
};

/// The console frame: brand bar, primary navigation and the main region.
///
/// Without JavaScript the navigation is always shown. Once hydrated, narrow
/// screens fold it behind a Menu button; the `enhanced` class marks that the
/// WASM is running, so the CSS never hides what only script could reveal.
#[component]
pub fn Layout() -> impl IntoView {
    let (enhanced, set_enhanced) = signal(false);
    let (menu_open, set_menu_open) = signal(false);
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| set_enhanced.set(true));
    let main_ref = NodeRef::<html::Main>::new();

    // Once hydrated, the router handles every link click, so the skip link
    // moves focus itself, as the browser would without script.
    let skip_to_main = move |ev: leptos::ev::MouseEvent| {
        if let Some(main) = main_ref.get() {
            ev.prevent_default();
            let _ = main.focus();
        }
    };

    view! {
        <a class="skip-link" href="#main" on:click=skip_to_main>"Skip to content"</a>
        <div class="app" class:enhanced=move || enhanced.get() class:menu-open=move || menu_open.get()>
            <header class="topbar">
                <a class="brand" href="/integrations">
                    <img src="/logo.svg" alt="" width="28" height="28"/>
                    <span>"Patchbay"</span>
                </a>
                <UserBox/>
                <Show when=move || enhanced.get()>
                    <button
                        type="button"
                        class="menu-toggle"
                        aria-controls="primary-nav"
                        aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| set_menu_open.update(|open| *open = !*open)
                    >
                        "Menu"
                    </button>
                </Show>
            </header>
            <nav
                id="primary-nav"
                class="sidebar"
                aria-label="Primary"
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        set_menu_open.set(false);
                    }
                }
                // Choosing a destination closes the menu.
                on:click=move |ev| {
                    let on_link = ev
                        .target()
                        .and_then(|t| leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::Element>(t).ok())
                        .and_then(|el| el.closest("a").ok().flatten())
                        .is_some();
                    if on_link {
                        set_menu_open.set(false);
                    }
                }
            >
                <ul>
                    <li><A href="/integrations">"Integrations"</A></li>
                    <li><A href="/activity">"Activity"</A></li>
                    <li><A href="/team">"Team"</A></li>
                    <li><A href="/settings">"Settings"</A></li>
                </ul>
            </nav>
            <main id="main" tabindex="-1" node_ref=main_ref>
                <ErrorBoundary fallback=|errors| view! { <ErrorView errors/> }>
                    <Outlet/>
                </ErrorBoundary>
            </main>
        </div>
    }
}

/// Who is signed in, to which team, and the way out.
#[component]
fn UserBox() -> impl IntoView {
    let viewer = OnceResource::new(whoami());
    let logout = ServerAction::<Logout>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                viewer
                    .await
                    .ok()
                    .flatten()
                    .map(|v| {
                        view! {
                            <div class="user-box">
                                <span class="who">
                                    <span class="name">{v.name}</span>
                                    <span class="team">
                                        {v.team_name} " · " {if v.is_admin { "admin" } else { "member" }}
                                    </span>
                                </span>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }
                    })
            })}
        </Suspense>
    }
}
