//! `/integrations/{provider}/items`: the records synced from a provider,
//! most recently changed first, each with its link back to the source app.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    components::empty_state::EmptyState,
    error::AppError,
    functions::sync::list_items,
    models::sync::{ItemsPage, thousands},
    routes::not_found::NotFound,
};

#[component]
pub fn ItemsRoute() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let provider = params.read().get("provider").unwrap_or_default();
        let page = query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1);
        let q = query.read().get("q").unwrap_or_default();
        (provider, page, q)
    });
    let items = Resource::new(move || key.get(), |(provider, page, q)| list_items(provider, page, q));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(items) => view! { <Items items/> }.into_any(),
                    Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Items(items: ItemsPage) -> impl IntoView {
    let ItemsPage { provider, provider_name, items, page, pages, total, query } = items;
    let title = format!("{provider_name} records");
    let back = format!("/integrations/{provider}");
    let back_label = format!("← {provider_name}");
    let link = |to: u32| format!("/integrations/{provider}/items?page={to}");
    let nav = (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">"← Newer"</a> })}
                <span>{format!("Page {page} of {pages}")}</span>
                {(page < pages).then(|| view! { <a href=link(page + 1) rel="next">"Older →"</a> })}
            </nav>
        }
    });
    let searched = query.is_some();
    let lede = match &query {
        Some(q) => format!(
            "{} matching “{q}”, best first.",
            if total == 1 { "1 record".to_owned() } else { format!("{} records", thousands(total)) }
        ),
        None => format!("{} records, most recently changed first.", thousands(total)),
    };
    let search = view! {
        <form method="get" action=format!("/integrations/{provider}/items") class="search" role="search">
            <label for="items-search" class="visually-hidden">{format!("Search {provider_name} records")}</label>
            <input id="items-search" name="q" type="search" placeholder="Search titles and content" value=query.clone().unwrap_or_default()/>
            <button type="submit">"Search"</button>
            {searched.then(|| view! { <a href=format!("/integrations/{provider}/items")>"Show all"</a> })}
        </form>
    };
    let body = if items.is_empty() && searched {
        view! {
            <EmptyState title="Nothing matches">
                <p>"No record holds every one of those words. Try fewer words."</p>
            </EmptyState>
        }
        .into_any()
    } else if items.is_empty() {
        view! {
            <EmptyState title="No records yet">
                <p>{format!("Records appear here as the sync of {} stores them.", provider_name.clone())}</p>
            </EmptyState>
        }
        .into_any()
    } else {
        view! {
            <table class="table items">
                <caption class="visually-hidden">{format!("{provider_name} records, most recently changed first")}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Changed at the source"</th>
                        <th scope="col">"Synced"</th>
                    </tr>
                </thead>
                <tbody>
                    {items
                        .into_iter()
                        .map(|item| {
                            let title = match item.url {
                                Some(url) => view! {
                                    <a href=url rel="noreferrer noopener" target="_blank">
                                        {item.title}
                                        <span class="visually-hidden">" (opens in a new tab)"</span>
                                    </a>
                                }
                                .into_any(),
                                None => view! { <span>{item.title}</span> }.into_any(),
                            };
                            view! {
                                <tr>
                                    <td>{title} <span class="muted">{format!(" {}", item.entity_id)}</span></td>
                                    <td>{item.entity_type}</td>
                                    <td>{item.source_updated_at}</td>
                                    <td>{item.synced_at}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <Title text=title.clone()/>
        <p class="back"><a href=back>{back_label}</a></p>
        <header class="page-header">
            <h1>{title}</h1>
            <p class="lede">{lede}</p>
        </header>
        {search}
        {body}
        {nav}
    }
}
