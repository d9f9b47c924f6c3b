use leptos::prelude::*;

use crate::error::AppError;

/// A labelled input whose server-side error, if any, is announced and tied
/// to it with `aria-describedby`.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required
                aria-invalid=move || error.get().map(|_| "true")
                aria-describedby=described_by
            />
            {hint.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            {move || error.get().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

/// The error of an action's last run, if it was not about one field in
/// `fields` (those are shown beside their input).
pub fn form_error<T, V>(value: V, fields: &'static [&'static str]) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || match value.get() {
        Some(Err(AppError::Invalid { field, .. })) if fields.contains(&field.as_str()) => None,
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    })
}

/// The error of an action's last run for one field.
pub fn field_error<T, V>(value: V, field: &'static str) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
    V: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()).and_then(|e| e.for_field(field)))
}

/// A message that screen readers announce when it appears.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    view! { {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })} }
}

/// The fields of a new account, on first-run set-up and on an invite.
#[component]
pub fn NewAccountFields(
    #[prop(into)] name_error: Signal<Option<String>>,
    #[prop(into)] email_error: Signal<Option<String>>,
    #[prop(into)] password_error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <Field label="Your name" name="name" autocomplete="name" error=name_error/>
        <Field label="Email" name="email" kind="email" autocomplete="username" error=email_error/>
        <Field
            label="Password"
            name="password"
            kind="password"
            autocomplete="new-password"
            hint="At least 12 characters."
            error=password_error
        />
    }
}
