use leptos::prelude::*;

use crate::{
    components::{
        form::{FormError, form_error},
        page_header::PageHeader,
    },
    functions::team::{ChangeRole, CreateInvite, RemoveMember, RevokeInvite, get_team_overview},
    models::account::{CreatedInvite, Member, PendingInvite},
};

#[component]
pub fn TeamPage() -> impl IntoView {
    let change_role = ServerAction::<ChangeRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let create = ServerAction::<CreateInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    // Reload the lists whenever one of the actions finishes.
    let overview = Resource::new(
        move || (change_role.version().get(), remove.version().get(), create.version().get(), revoke.version().get()),
        |_| get_team_overview(),
    );
    let errors = Signal::derive(move || {
        [form_error(change_role.value(), &[]), form_error(remove.value(), &[]), form_error(revoke.value(), &[])]
            .iter()
            .find_map(|e| e.get())
    });

    view! {
        <PageHeader title="Team" description="The people who can see and manage your integrations."/>
        <FormError error=errors/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                overview.await.map(|team| {
                    let can_manage = team.can_manage;
                    view! {
                        <section class="panel" aria-labelledby="members-heading">
                            <h2 id="members-heading">"Members of " {team.team_name.clone()}</h2>
                            <MembersTable members=team.members can_manage change_role remove/>
                        </section>
                        <Show when=move || can_manage>
                            <InvitesPanel invites=team.invites.clone() create revoke/>
                        </Show>
                    }
                })
            })}
        </Transition>
    }
}

#[component]
fn MembersTable(
    members: Vec<Member>,
    can_manage: bool,
    change_role: ServerAction<ChangeRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    {can_manage.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {members
                    .into_iter()
                    .map(|m| {
                        let label = format!("Role of {}", m.name);
                        let remove_label = format!("Remove {}", m.name);
                        let role_cell = if can_manage {
                            let (id, role) = (m.id.clone(), m.role.clone());
                            view! {
                                <ActionForm action=change_role attr:class="inline">
                                    <input type="hidden" name="user_id" value=id/>
                                    <select name="role" aria-label=label>
                                        <option value="admin" selected=role == "admin">"Admin"</option>
                                        <option value="member" selected=role == "member">"Member"</option>
                                    </select>
                                    <button type="submit">"Save role"</button>
                                </ActionForm>
                            }
                                .into_any()
                        } else {
                            view! { <span class="badge">{m.role.clone()}</span> }.into_any()
                        };
                        view! {
                            <tr>
                                <td>{m.name.clone()} {m.is_you.then(|| view! { <span class="muted">" (you)"</span> })}</td>
                                <td>{m.email.clone()}</td>
                                <td>{role_cell}</td>
                                {can_manage
                                    .then(move || {
                                        view! {
                                            <td>
                                                <ActionForm action=remove attr:class="inline">
                                                    <input type="hidden" name="user_id" value=m.id.clone()/>
                                                    <button type="submit" class="danger" aria-label=remove_label>"Remove"</button>
                                                </ActionForm>
                                            </td>
                                        }
                                    })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn InvitesPanel(
    invites: Vec<PendingInvite>,
    create: ServerAction<CreateInvite>,
    revoke: ServerAction<RevokeInvite>,
) -> impl IntoView {
    let created = move || create.value().get().and_then(Result::ok);
    view! {
        <section class="panel" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a teammate"</h2>
            <ActionForm action=create attr:class="inline">
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    <option value="member" selected=true>"Member"</option>
                    <option value="admin">"Admin"</option>
                </select>
                <button type="submit" class="primary">"Create invite link"</button>
            </ActionForm>
            <FormError error=form_error(create.value(), &[])/>
            {move || created().map(|invite| view! { <CreatedLink invite/> })}
        </section>
        <section class="panel" aria-labelledby="pending-heading">
            <h2 id="pending-heading">"Pending invites"</h2>
            {if invites.is_empty() {
                view! { <p class="muted">"No invites are waiting to be accepted."</p> }.into_any()
            } else {
                view! {
                    <ul class="list">
                        {invites
                            .into_iter()
                            .map(|i| {
                                let label = format!("Revoke the {} invite created by {}", i.role, i.created_by);
                                view! {
                                    <li>
                                        <span>
                                            <strong>{i.role.clone()}</strong>
                                            " invite from " {i.created_by.clone()} ", expires " {i.expires_at.clone()}
                                        </span>
                                        <ActionForm action=revoke attr:class="inline">
                                            <input type="hidden" name="invite_id" value=i.id.clone()/>
                                            <button type="submit" class="danger" aria-label=label>"Revoke"</button>
                                        </ActionForm>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn CreatedLink(invite: CreatedInvite) -> impl IntoView {
    view! {
        <div class="notice" role="status">
            <label for="invite-link">"Invite link for a new " {invite.role} " (expires " {invite.expires_at} ")"</label>
            <input id="invite-link" type="text" readonly value=invite.url/>
            <p class="hint">"Copy it now and send it to your teammate: it works once and is not shown again."</p>
        </div>
    }
}
