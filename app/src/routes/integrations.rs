use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    hooks::{use_navigate, use_query_map},
    location::Url,
};

use crate::{
    components::{empty_state::EmptyState, page_header::PageHeader},
    functions::integrations::list_integrations,
    models::integration::IntegrationCard,
};

/// Every integration as a card, with a search and a category filter. The
/// filter lives in the URL (`?q=…&category=…`), so a link reproduces it.
/// Without JavaScript the form is an ordinary GET form filtered on the
/// server; once hydrated, typing filters at once, with no round trip.
#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let cards = OnceResource::new(list_integrations());
    let query = use_query_map();
    let search = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let category = Memo::new(move |_| query.read().get("category").unwrap_or_default());
    view! {
        <PageHeader
            title="Integrations"
            description="Connect the tools your team works in, and watch their records sync."
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                cards.await.map(|cards| view! { <Catalog cards search category/> })
            })}
        </Suspense>
    }
}

#[component]
fn Catalog(cards: Vec<IntegrationCard>, search: Memo<String>, category: Memo<String>) -> impl IntoView {
    let navigate = use_navigate();
    // The categories that have cards, in the order they first appear.
    let mut categories: Vec<(String, String)> = Vec::new();
    for card in &cards {
        if !categories.iter().any(|(key, _)| *key == card.category) {
            categories.push((card.category.clone(), card.category_label.clone()));
        }
    }
    categories.sort_by(|a, b| a.1.cmp(&b.1));
    let set_filter = move |q: String, c: String| {
        let mut params = Vec::new();
        if !q.is_empty() {
            params.push(format!("q={}", Url::escape(&q)));
        }
        if !c.is_empty() {
            params.push(format!("category={}", Url::escape(&c)));
        }
        let path =
            if params.is_empty() { "/integrations".to_owned() } else { format!("/integrations?{}", params.join("&")) };
        navigate(&path, NavigateOptions { replace: true, scroll: false, ..Default::default() });
    };
    let on_search = {
        let set_filter = set_filter.clone();
        move |ev: leptos::ev::Event| set_filter(event_target_value(&ev), category.get_untracked())
    };
    let on_category = move |ev: leptos::ev::Event| set_filter(search.get_untracked(), event_target_value(&ev));
    let total = cards.len();
    let shown = {
        let cards = cards.clone();
        Memo::new(move |_| {
            let (q, c) = (search.get(), category.get());
            cards.iter().filter(|card| card.matches(&q, &c)).cloned().collect::<Vec<_>>()
        })
    };
    view! {
        <form class="filters" method="get" action="/integrations" role="search" aria-label="Filter integrations">
            <div class="field">
                <label for="integration-search">"Search"</label>
                <input
                    id="integration-search"
                    type="search"
                    name="q"
                    placeholder="Name, description or category"
                    autocomplete="off"
                    prop:value=move || search.get()
                    on:input=on_search
                />
            </div>
            <div class="field">
                <label for="integration-category">"Category"</label>
                <select id="integration-category" name="category" on:change=on_category>
                    <option value="" selected=move || category.get().is_empty()>"All categories"</option>
                    {categories
                        .into_iter()
                        .map(|(key, label)| {
                            let selected = {
                                let key = key.clone();
                                move || category.get() == key
                            };
                            view! { <option value=key selected=selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        <p class="muted" role="status" aria-live="polite">
            {move || {
                let n = shown.read().len();
                if n == total { format!("{total} integrations") } else { format!("{n} of {total} integrations") }
            }}
        </p>
        <Show
            when=move || !shown.read().is_empty()
            fallback=|| {
                view! {
                    <EmptyState title="No integration matches">
                        <p>"Try another word, or choose All categories."</p>
                    </EmptyState>
                }
            }
        >
            <ul class="cards" aria-label="Integrations">
                <For each=move || shown.get() key=|card| card.id.clone() let:card>
                    <Card card/>
                </For>
            </ul>
        </Show>
    }
}

#[component]
fn Card(card: IntegrationCard) -> impl IntoView {
    let heading = format!("card-{}", card.id);
    let labelled_by = heading.clone();
    let href = format!("/integrations/{}", card.id);
    view! {
        <li class="card" aria-labelledby=labelled_by>
            <div class="card-head">
                <img class="logo" src=card.logo alt="" width="40" height="40"/>
                <div>
                    <h2 id=heading>
                        <a class="card-link" href=href>{card.name}</a>
                    </h2>
                    <p class="card-meta">{card.category_label}" · "{card.auth}</p>
                </div>
            </div>
            <p class="card-description">{card.description}</p>
            <p class="card-status">
                <span class=card.status.class()>{card.status.label()}</span>
                {card.beta.then(|| view! { <span class="badge beta">"Beta"</span> })}
                {card.note.map(|note| view! { <span class="badge note">{note}</span> })}
            </p>
        </li>
    }
}
