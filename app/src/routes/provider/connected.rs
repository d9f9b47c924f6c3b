//! A connected provider: its masked credentials, the flows to replace them
//! and edit the settings, Check connection, and Disconnect.

use super::*;

#[component]
pub(super) fn Connected(
    id: String,
    name: String,
    connection: ConnectionDetail,
    fields: Vec<FormField>,
    oauth: bool,
    can_manage: bool,
    actions: Actions,
) -> impl IntoView {
    let needs_reauth = connection.needs_reauth;
    let reauth = connection
        .needs_reauth
        .then(|| format!("{name} no longer accepts the stored authorization, so nothing syncs. Reconnect to resume."));
    let since = match (&connection.connected_at, &connection.connected_by) {
        (Some(at), Some(by)) => format!("Connected on {at} by {by}."),
        (Some(at), None) => format!("Connected on {at}."),
        _ => String::new(),
    };
    let secrets: Vec<FormField> = fields.iter().filter(|f| f.secret).cloned().collect();
    let settings: Vec<FormField> = fields.iter().filter(|f| !f.secret).cloned().collect();
    let current = connection.values.clone();
    let manage = can_manage.then(|| {
        let replace_value = outcome(actions.replace.value());
        let edit_value = outcome(actions.edit.value());
        let secret_names = secrets.iter().map(|f| f.name.clone()).collect();
        let setting_names = settings.iter().map(|f| f.name.clone()).collect();
        let edit = (!settings.is_empty()).then(|| {
            let id = id.clone();
            view! {
                <details class="flow">
                    <summary>"Edit settings"</summary>
                    <p class="muted">
                        "Patchbay checks the new settings with the stored credentials. Sync continues where it \
                         left off while they reach the same account."
                    </p>
                    <ActionForm action=actions.edit attr:class="stack">
                        <FormError error=general_error(edit_value, setting_names)/>
                        <input type="hidden" name="provider" value=id/>
                        {settings
                            .into_iter()
                            .map(|field| {
                                let now = current.iter().find(|v| v.name == field.name).and_then(|v| v.shown.clone());
                                view! { <CredentialInput field prefix="edit" value=edit_value current=now.unwrap_or_default()/> }
                            })
                            .collect_view()}
                        <button type="submit" class="primary" disabled=move || actions.edit.pending().get()>"Verify and save"</button>
                    </ActionForm>
                </details>
            }
        });
        let (replace_id, check_id, disconnect_id) = (id.clone(), id.clone(), id.clone());
        let check = view! {
            <ActionForm action=actions.check attr:class="inline flow">
                <input type="hidden" name="provider" value=check_id/>
                <button type="submit" disabled=move || actions.check.pending().get()>"Check connection"</button>
                <span class="muted">" asks the provider, with what is stored, whether it still works."</span>
            </ActionForm>
            <FormError error=general_error(outcome(actions.check.value()), Vec::new())/>
        };
        let replace = if oauth {
            needs_reauth
                .then(|| {
                    view! {
                        <form class="flow" method="post" action=format!("/oauth/{id}/start")>
                            <button class="button primary" type="submit">"Reconnect"</button>
                            <span class="muted">" and approve access again."</span>
                        </form>
                    }
                })
                .into_any()
        } else {
            view! {
            <details class="flow">
                <summary>"Replace credentials"</summary>
                <p class="muted">"Enter the new values. Patchbay checks them before it replaces the stored ones."</p>
                <ActionForm action=actions.replace attr:class="stack">
                    <FormError error=general_error(replace_value, secret_names)/>
                    <input type="hidden" name="provider" value=replace_id/>
                    {secrets
                        .into_iter()
                        .map(|field| view! { <CredentialInput field prefix="replace" value=replace_value/> })
                        .collect_view()}
                    <button type="submit" class="primary" disabled=move || actions.replace.pending().get()>"Verify and replace"</button>
                </ActionForm>
            </details>
            }
            .into_any()
        };
        view! {
            {check}
            {replace}
            {edit}
            <details class="flow danger-zone">
                <summary>"Disconnect…"</summary>
                <p>
                    {format!(
                        "Disconnecting deletes every stored key, sync cursor and synced record of {name}. To connect again, \
                         you enter the credentials anew, and the sync starts from the beginning."
                    )}
                </p>
                <ActionForm action=actions.disconnect attr:class="inline">
                    <input type="hidden" name="provider" value=disconnect_id/>
                    <button type="submit" class="danger" disabled=move || actions.disconnect.pending().get()>
                        {format!("Disconnect {name}")}
                    </button>
                </ActionForm>
                <FormError error=general_error(outcome(actions.disconnect.value()), Vec::new())/>
            </details>
        }
    });
    view! {
        <section class="panel" aria-labelledby="connection-heading">
            <h2 id="connection-heading">"Connection"</h2>
            {reauth.map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <p>
                "Connected as " <strong>{connection.account_name.clone()}</strong>
                <span class="muted">{format!(" (account {})", connection.account_id)}</span> ". " {since}
            </p>
            <dl class="facts stored">
                {connection
                    .values
                    .into_iter()
                    .map(|value| {
                        let shown = match (value.shown, value.secret) {
                            (Some(shown), _) => view! { <code>{shown}</code> }.into_any(),
                            (None, true) => view! { <span class="muted">"Not stored"</span> }.into_any(),
                            (None, false) => view! { <span class="muted">"Not set"</span> }.into_any(),
                        };
                        view! { <dt>{value.label}</dt><dd>{shown}</dd> }
                    })
                    .collect_view()}
            </dl>
            {manage}
            {(!can_manage).then(|| view! { <p class="muted">"Only admins of your team can change or disconnect it."</p> })}
        </section>
    }
}
