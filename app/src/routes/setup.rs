use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    components::{
        auth_layout::AuthLayout,
        form::{Field, FormError, NewAccountFields, field_error, form_error},
    },
    functions::auth::{Setup, setup_open},
    routes::not_found::NotFound,
};

const FIELDS: &[&str] = &["team_name", "name", "email", "password"];

/// First run only: creates the team and its first admin. Once a team
/// exists this page is gone (404).
#[component]
pub fn SetupPage() -> impl IntoView {
    let open = OnceResource::new(setup_open());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match open.await {
                    Ok(true) => view! { <SetupForm/> }.into_any(),
                    Ok(false) => view! { <NotFound/> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SetupForm() -> impl IntoView {
    let setup = ServerAction::<Setup>::new();
    let value = setup.value();
    view! {
        <Title text="Set up Patchbay"/>
        <AuthLayout heading="Set up Patchbay">
            <p class="lede">"Name your team and create the first admin account. You can invite teammates next."</p>
            <ActionForm action=setup attr:class="stack" attr:novalidate=true>
                <FormError error=form_error(value, FIELDS)/>
                <Field label="Team name" name="team_name" autocomplete="organization" error=field_error(value, "team_name")/>
                <NewAccountFields
                    name_error=field_error(value, "name")
                    email_error=field_error(value, "email")
                    password_error=field_error(value, "password")
                />
                <button type="submit" class="primary" disabled=move || setup.pending().get()>"Create team"</button>
            </ActionForm>
        </AuthLayout>
    }
}
