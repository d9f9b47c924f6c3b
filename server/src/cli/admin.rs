//! `patchbay admin create-team`: a team and its first admin without a browser.

use anyhow::Context as _;
use server::{Config, startup};

pub(super) async fn create_team(
    config: &Config,
    team_name: &str,
    email: &str,
    admin_name: Option<&str>,
) -> anyhow::Result<()> {
    use platform::accounts::{Email, NewPassword, PersonName, TeamName};

    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    // A refused value, said with the option it came from.
    let refused = |option: &str| {
        let option = option.to_owned();
        move |e: platform::Error| match e {
            platform::Error::Invalid { message, .. } => anyhow::anyhow!("{option}: {message}"),
            other => anyhow::anyhow!("{option}: {other}"),
        }
    };
    let email = Email::parse(email).map_err(refused("--email"))?;
    let admin_name = admin_name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default());
    let new = platform::store::teams::NewTeam {
        team_name: TeamName::parse(team_name).map_err(refused("--name"))?,
        admin_name: PersonName::parse(admin_name).map_err(refused("--admin-name"))?,
        admin_email: email,
        admin_password: NewPassword::parse(password).map_err(refused("the password on standard input"))?,
    };
    let db = startup::connect_and_migrate(config).await?;
    let result = platform::store::teams::create_with_admin(&db, new, false).await;
    db.close().await;
    let (team, admin) = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("patchbay: created team \"{}\" ({}) with admin {}", team.name, team.id, admin.email);
    Ok(())
}
