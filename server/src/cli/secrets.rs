//! `patchbay secrets`: list names, check the store, generate and rotate the local key.

use server::{Config, startup};

use super::{SecretsCommand, say};

pub(super) async fn secrets(config: &Config, command: SecretsCommand) -> anyhow::Result<()> {
    use platform::secrets::{SecretPath, SecretsConfig, local::LocalStore};

    if let SecretsCommand::GenerateKey = command {
        return say(&platform::secrets::local::generate_key());
    }
    let db = startup::connect_and_migrate(config).await?;
    let result = async {
        match command {
            SecretsCommand::List { team } => {
                let store = startup::open_secret_store(config, &db).await?;
                let team = platform::store::teams::find(&db, &team).await.map_err(|e| match e {
                    platform::Error::NotFound => anyhow::anyhow!("--team: no team has the id or name `{team}`"),
                    other => anyhow::anyhow!("--team: {other}"),
                })?;
                let entries = store.list(&SecretPath::team(&team.id)).await?;
                for entry in &entries {
                    say(&format!("{}\t{}", store.name_of(&entry.path)?, entry.version))?;
                }
                eprintln!(
                    "patchbay: {} secret(s) of team \"{}\" in the {} store; values are never shown",
                    entries.len(),
                    team.name,
                    store.backend()
                );
                Ok(())
            }
            SecretsCommand::Check => {
                let store = startup::open_secret_store(config, &db).await?;
                let status = store.check().await?;
                say(&format!("secret store ({}): ok, {}", store.backend(), status.location))
            }
            SecretsCommand::RotateKey => {
                let SecretsConfig::Local(settings) = &config.secrets else {
                    anyhow::bail!(
                        "rotate-key applies to the local store; SSM values are encrypted with KMS keys, which \
                         are rotated in KMS"
                    );
                };
                let store = LocalStore::open(db.clone(), settings.clone()).await?;
                let rotation = store.rotate_key().await?;
                say(&format!(
                    "key {} now encrypts; {} value(s) re-encrypted under it",
                    rotation.primary, rotation.reencrypted
                ))?;
                if !rotation.unused.is_empty() {
                    say(&format!("no value needs key {} any more", rotation.unused.join(", ")))?;
                }
                if !rotation.still_needed.is_empty() {
                    say(&format!(
                        "key {} is still needed by values written during the rotation; run rotate-key again",
                        rotation.still_needed.join(", ")
                    ))?;
                }
                Ok(())
            }
            SecretsCommand::GenerateKey => Ok(()), // answered above, without a database
        }
    }
    .await;
    db.close().await;
    result
}
