use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{
        auth_layout::AuthLayout,
        form::{Field, FormError, field_error, form_error},
    },
    functions::auth::Login,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let value = login.value();
    let next = move || use_query_map().with(|q| q.get("next")).unwrap_or_default();
    view! {
        <Title text="Sign in"/>
        <AuthLayout heading="Sign in to Patchbay">
            <ActionForm action=login attr:class="stack" attr:novalidate=true>
                <FormError error=form_error(value, &["email"])/>
                <input type="hidden" name="next" value=next/>
                <Field label="Email" name="email" kind="email" autocomplete="username" error=field_error(value, "email")/>
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error=Signal::derive(|| None::<String>)/>
                <button type="submit" class="primary" disabled=move || login.pending().get()>"Sign in"</button>
            </ActionForm>
        </AuthLayout>
    }
}
