//! Concurrency guarantees of the account rules, on SQLite and on Postgres:
//! what two simultaneous requests must not be able to break.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use platform::{
    Error,
    accounts::{Email, NewPassword, PersonName, Role, TeamName},
    store::invites,
    store::teams,
    store::users,
    test_on_both_backends,
    testing::TestDatabase,
};

const PASSWORD: &str = "correct horse battery staple";

async fn team_with_admin(db: &platform::Db) -> (teams::Team, users::User) {
    teams::create_with_admin(
        db,
        teams::NewTeam {
            team_name: TeamName::parse("Acme").unwrap(),
            admin_name: PersonName::parse("Ada").unwrap(),
            admin_email: Email::parse("ada@example.com").unwrap(),
            admin_password: NewPassword::parse(PASSWORD).unwrap(),
        },
        true,
    )
    .await
    .unwrap()
}

async fn two_admins_demoting_each_other_at_once_leave_one_admin(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, ada) = team_with_admin(&db).await;
    let token = invites::create(&db, &team.id, &ada.id, Role::Admin).await.unwrap().token;
    let bob = invites::accept(
        &db,
        &token,
        PersonName::parse("Bob").unwrap(),
        Email::parse("bob@example.com").unwrap(),
        NewPassword::parse(PASSWORD).unwrap(),
    )
    .await
    .unwrap();

    for _ in 0..5 {
        let (a, b) = tokio::join!(
            users::change_role(&db, &team.id, &ada.id, Role::Member),
            users::change_role(&db, &team.id, &bob.id, Role::Member),
        );
        let refused = [&a, &b].iter().filter(|r| matches!(r, Err(Error::LastAdmin))).count();
        assert_eq!(refused, 1, "exactly one demotion must be refused: {a:?} {b:?}");
        let admins = users::list(&db, &team.id).await.unwrap().into_iter().filter(|u| u.role == Role::Admin).count();
        assert_eq!(admins, 1);
        // Restore two admins for the next round.
        let member = if a.is_ok() { &ada } else { &bob };
        users::change_role(&db, &team.id, &member.id, Role::Admin).await.unwrap();
    }
}
test_on_both_backends!(last_admin_race, two_admins_demoting_each_other_at_once_leave_one_admin);

async fn two_simultaneous_accepts_of_one_invite_create_one_user(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, ada) = team_with_admin(&db).await;
    let token = invites::create(&db, &team.id, &ada.id, Role::Member).await.unwrap().token;
    let join = |email: &'static str| {
        invites::accept(
            &db,
            &token,
            PersonName::parse("Someone").unwrap(),
            Email::parse(email).unwrap(),
            NewPassword::parse(PASSWORD).unwrap(),
        )
    };
    let (a, b) = tokio::join!(join("one@example.com"), join("two@example.com"));
    assert_eq!([&a, &b].iter().filter(|r| r.is_ok()).count(), 1, "{a:?} {b:?}");
    assert!([&a, &b].iter().any(|r| matches!(r, Err(Error::InviteUsed))), "{a:?} {b:?}");
    assert_eq!(users::list(&db, &team.id).await.unwrap().len(), 2);
}
test_on_both_backends!(invite_accept_race, two_simultaneous_accepts_of_one_invite_create_one_user);

async fn a_second_first_run_setup_is_refused(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    team_with_admin(&db).await;
    let again = teams::create_with_admin(
        &db,
        teams::NewTeam {
            team_name: TeamName::parse("Other").unwrap(),
            admin_name: PersonName::parse("Eve").unwrap(),
            admin_email: Email::parse("eve@example.com").unwrap(),
            admin_password: NewPassword::parse(PASSWORD).unwrap(),
        },
        true,
    )
    .await;
    assert!(matches!(again, Err(Error::AlreadySetUp)), "{again:?}");
}
test_on_both_backends!(setup_once, a_second_first_run_setup_is_refused);
