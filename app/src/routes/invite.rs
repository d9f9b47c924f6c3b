use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    components::{
        auth_layout::AuthLayout,
        form::{FormError, NewAccountFields, field_error, form_error},
    },
    functions::invites::{AcceptInvite, get_invite_status},
    models::account::InviteStatus,
};

const FIELDS: &[&str] = &["name", "email", "password"];

/// Where an invite link leads: a sign-up form while the invite is open, and
/// a page of its own for each way it can no longer be used.
#[component]
pub fn InvitePage() -> impl IntoView {
    let token = use_params_map().with_untracked(|p| p.get("token")).unwrap_or_default();
    let status = OnceResource::new(get_invite_status(token.clone()));
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let token = token.clone();
                Suspend::new(async move {
                    match status.await {
                        Ok(InviteStatus::Open { team_name, role }) => view! { <AcceptForm token team_name role/> }.into_any(),
                        Ok(closed) => view! { <ClosedInvite status=closed/> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn AcceptForm(token: String, team_name: String, role: String) -> impl IntoView {
    let accept = ServerAction::<AcceptInvite>::new();
    let value = accept.value();
    let role_text = if role == "admin" { "an admin" } else { "a member" };
    view! {
        <Title text="Join your team"/>
        <AuthLayout heading="Join your team">
            <p class="lede">"You are invited to join " <strong>{team_name}</strong> " as " {role_text} "."</p>
            <ActionForm action=accept attr:class="stack" attr:novalidate=true>
                <FormError error=form_error(value, FIELDS)/>
                <input type="hidden" name="token" value=token/>
                <NewAccountFields
                    name_error=field_error(value, "name")
                    email_error=field_error(value, "email")
                    password_error=field_error(value, "password")
                />
                <button type="submit" class="primary" disabled=move || accept.pending().get()>"Join team"</button>
            </ActionForm>
        </AuthLayout>
    }
}

#[component]
fn ClosedInvite(status: InviteStatus) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(if status == InviteStatus::Unknown {
        http::StatusCode::NOT_FOUND
    } else {
        http::StatusCode::GONE
    });
    let (heading, text) = match status {
        InviteStatus::Expired => {
            ("This invite has expired", "Invite links work for seven days. Ask an admin of the team for a new one.")
        }
        InviteStatus::Used => (
            "This invite has already been used",
            "Each invite link works once. If it was yours, sign in; otherwise ask an admin for a new one.",
        ),
        InviteStatus::Revoked => {
            ("This invite was revoked", "An admin withdrew it. Ask an admin of the team for a new one.")
        }
        InviteStatus::Open { .. } | InviteStatus::Unknown => (
            "This invite link is not valid",
            "Check that you copied the whole link, or ask an admin of the team for a new one.",
        ),
    };
    view! {
        <Title text=heading/>
        <AuthLayout heading=heading>
            <p>{text}</p>
            <p><a href="/login">"Go to sign-in"</a></p>
        </AuthLayout>
    }
}
