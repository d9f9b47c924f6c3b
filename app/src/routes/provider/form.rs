//! The credential form of `api_key` and `basic` providers, and the outcome
//! signals every form of the page shares.

use super::*;

/// The last result of an action of this page.
pub(super) type Outcome = Signal<Option<Result<Saved, AppError>>>;

pub(super) fn outcome(value: MappedSignal<Option<Result<Saved, AppError>>>) -> Outcome {
    Signal::derive(move || value.get())
}

/// The error of an action that is about none of `fields` (those are shown
/// beside their input).
pub(super) fn general_error(value: Outcome, fields: Vec<String>) -> Signal<Option<String>> {
    Signal::derive(move || match value.get() {
        Some(Err(AppError::Invalid { field, .. })) if fields.contains(&field) => None,
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    })
}

/// One input of a credential form. Its name (`values[api_token]`) is what
/// the server function reads; `prefix` keeps ids unique on the page.
#[component]
pub(super) fn CredentialInput(
    field: FormField,
    prefix: &'static str,
    value: Outcome,
    #[prop(optional)] current: Option<String>,
) -> impl IntoView {
    let id = format!("{prefix}-{}", field.name);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let name = field.name.clone();
    let error = Signal::derive(move || value.get().and_then(Result::err).and_then(|e| e.for_field(&name)));
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        let has_hint = field.help.is_some();
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let title = field.example.as_ref().map(|e| format!("For example {e}"));
    let label = if field.required { field.label.clone() } else { format!("{} (optional)", field.label) };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=format!("values[{}]", field.name)
                type=field.input_type
                required=field.required
                pattern=field.pattern
                title=title
                placeholder=field.example
                value=current
                autocomplete="off"
                spellcheck="false"
                aria-invalid=move || error.get().map(|_| "true")
                aria-describedby=described_by
            />
            {field.help.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            {move || error.get().map(|message| view! { <p class="field-error" id=error_id.clone()>{message}</p> })}
        </div>
    }
}

#[component]
pub(super) fn ConnectForm(
    id: String,
    name: String,
    fields: Vec<FormField>,
    action: ServerAction<ConnectProvider>,
) -> impl IntoView {
    let value = outcome(action.value());
    let names = fields.iter().map(|f| f.name.clone()).collect();
    view! {
        <section class="panel" aria-labelledby="connect-heading">
            <h2 id="connect-heading">{format!("Connect {name}")}</h2>
            <p class="muted">
                "Patchbay checks the credentials with " {name.clone()}
                " before it stores them. Keys are kept in the secret store and never shown again."
            </p>
            <ActionForm action attr:class="stack">
                <FormError error=general_error(value, names)/>
                <input type="hidden" name="provider" value=id/>
                {fields
                    .into_iter()
                    .map(|field| view! { <CredentialInput field prefix="connect" value/> })
                    .collect_view()}
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Checking…" } else { "Verify and connect" }}
                </button>
            </ActionForm>
        </section>
    }
}
