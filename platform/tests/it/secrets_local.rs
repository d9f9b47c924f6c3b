//! The local secret store beyond the shared contract: authenticated
//! encryption, the key file, `PATCHBAY_SECRET_KEY`, and key rotation.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::path::Path;

use platform::{
    Db, Error,
    ids::TeamId,
    secrets::{
        ExposeSecret as _, Prefix, SecretPath, SecretStore as _, SecretString,
        local::{KEY_FILE, KeySource, LocalSettings, LocalStore, generate_key},
    },
    testing::TestDatabase,
};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn file_key(dir: &Path) -> LocalSettings {
    LocalSettings { prefix: Prefix::default(), key: KeySource::File(dir.to_owned()) }
}

fn env_key(value: &str) -> LocalSettings {
    LocalSettings { prefix: Prefix::default(), key: KeySource::Env(secret(value)) }
}

async fn open(db: &Db, settings: LocalSettings) -> LocalStore {
    LocalStore::open(db.clone(), settings).await.unwrap()
}

async fn open_error(db: &Db, settings: LocalSettings) -> String {
    LocalStore::open(db.clone(), settings).await.unwrap_err().to_string()
}

fn token_path(team: &TeamId, key: &str) -> SecretPath {
    SecretPath::of(team, &["salesforce", key]).unwrap()
}

#[tokio::test]
async fn the_key_file_is_created_private_on_first_run_and_reused_after() {
    let db = TestDatabase::sqlite();
    let db = db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    let at = token_path(&TeamId::new(), "ACCESS_TOKEN");
    open(&db, file_key(data.path())).await.put(&at, &secret("kept")).await.unwrap();

    let file = data.path().join(KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A restart reads the same key and the value back.
    let again = open(&db, file_key(data.path())).await;
    assert_eq!(again.get(&at).await.unwrap().unwrap().value.expose_secret(), "kept");
}

#[cfg(unix)]
#[tokio::test]
async fn a_key_file_other_users_can_read_stops_start_up_with_what_to_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = TestDatabase::sqlite();
    let db = db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    drop(open(&db, file_key(data.path())).await);
    let file = data.path().join(KEY_FILE);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let message = open_error(&db, file_key(data.path())).await;
    assert!(message.contains("other users may read it (mode 644)"), "{message}");
    assert!(message.contains(&format!("chmod 600 {}", file.display())), "{message}");
}

#[tokio::test]
async fn a_missing_key_file_with_stored_secrets_is_an_error_not_a_new_key() {
    let db = TestDatabase::sqlite();
    let db = db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    open(&db, file_key(data.path())).await.put(&token_path(&TeamId::new(), "A"), &secret("v")).await.unwrap();
    std::fs::remove_file(data.path().join(KEY_FILE)).unwrap();

    let message = open_error(&db, file_key(data.path())).await;
    assert!(message.contains("no key file at") && message.contains("restore the key file"), "{message}");
    assert!(!data.path().join(KEY_FILE).exists(), "a new key was made, which would orphan the stored values");
}

#[tokio::test]
async fn an_invalid_or_wrong_secret_key_is_a_clear_start_up_error_that_never_echoes_it() {
    let db = TestDatabase::sqlite();
    let db = db.migrated().await;
    for bad in ["not-base64-canary!", "c2hvcnQtY2FuYXJ5", ""] {
        let message = open_error(&db, env_key(bad)).await;
        assert!(message.starts_with("PATCHBAY_SECRET_KEY"), "{bad}: {message}");
        assert!(bad.is_empty() || !message.contains(bad), "the key was echoed: {message}");
    }
    // Values written under one key, then a server started with another.
    let first = generate_key();
    open(&db, env_key(&first)).await.put(&token_path(&TeamId::new(), "A"), &secret("v")).await.unwrap();
    let message = open_error(&db, env_key(&generate_key())).await;
    assert!(message.contains("PATCHBAY_SECRET_KEY lacks key"), "{message}");
    assert!(!message.contains(first.as_str()), "{message}");
}

async fn stored_row(db: &Db, name: &str) -> (String, String, String) {
    sqlx::query_as("SELECT key_id, nonce, ciphertext FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn a_tampered_value_is_an_error_never_garbage(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    let store = open(&db, file_key(data.path())).await;
    let at = token_path(&TeamId::new(), "ACCESS_TOKEN");
    store.put(&at, &secret("the-real-token")).await.unwrap();
    let name = store.name_of(&at).unwrap();
    let (_, _, sealed) = stored_row(&db, &name).await;
    assert!(!sealed.contains("the-real-token"), "stored in plain text");

    // Flip one bit of the ciphertext.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(&sealed).unwrap();
    bytes[3] ^= 0x01;
    sqlx::query("UPDATE secrets SET ciphertext = $1 WHERE name = $2")
        .bind(b64.encode(&bytes))
        .bind(&name)
        .execute(db.pool())
        .await
        .unwrap();
    let error = store.get(&at).await.unwrap_err();
    assert!(matches!(error, Error::SecretUndecryptable { .. }), "{error}");
    assert!(error.to_string().contains("altered"), "{error}");
}
platform::test_on_both_backends!(tampered_value, a_tampered_value_is_an_error_never_garbage);

async fn a_value_copied_to_another_name_does_not_decrypt_there(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    let store = open(&db, file_key(data.path())).await;
    let (team_a, team_b) = (TeamId::new(), TeamId::new());
    let theirs = token_path(&team_a, "ACCESS_TOKEN");
    let mine = token_path(&team_b, "ACCESS_TOKEN");
    store.put(&theirs, &secret("team-a-token")).await.unwrap();
    store.put(&mine, &secret("team-b-token")).await.unwrap();

    // Someone with write access to the table copies team A's row over team B's.
    let (key_id, nonce, sealed) = stored_row(&db, &store.name_of(&theirs).unwrap()).await;
    sqlx::query("UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 WHERE name = $4")
        .bind(key_id)
        .bind(nonce)
        .bind(sealed)
        .bind(store.name_of(&mine).unwrap())
        .execute(db.pool())
        .await
        .unwrap();
    let error = store.get(&mine).await.unwrap_err();
    assert!(matches!(error, Error::SecretUndecryptable { .. }), "{error}");
    assert_eq!(store.get(&theirs).await.unwrap().unwrap().value.expose_secret(), "team-a-token");
}
platform::test_on_both_backends!(copied_value, a_value_copied_to_another_name_does_not_decrypt_there);

async fn key_rotation_re_encrypts_everything_while_a_running_server_keeps_working(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let data = tempfile::tempdir().unwrap();
    let team = TeamId::new();
    // The "server": opened before the rotation, holding the old key only.
    let server = open(&db, file_key(data.path())).await;
    for i in 0..30 {
        server.put(&token_path(&team, &format!("K{i}")), &secret(&format!("v{i}"))).await.unwrap();
    }
    let old_ids: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT key_id FROM secrets").fetch_all(db.pool()).await.unwrap();
    assert_eq!(old_ids.len(), 1);

    // The operator's `patchbay secrets rotate-key`, another process.
    let operator = open(&db, file_key(data.path())).await;
    let rotation = operator.rotate_key().await.unwrap();
    assert_eq!(rotation.reencrypted, 30);
    assert_ne!(rotation.primary, old_ids[0]);
    assert_eq!(rotation.unused, old_ids, "the old key is no longer needed");
    assert!(rotation.still_needed.is_empty());
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT key_id FROM secrets").fetch_all(db.pool()).await.unwrap();
    assert_eq!(ids, vec![rotation.primary.clone()]);
    let file = std::fs::read_to_string(data.path().join(KEY_FILE)).unwrap();
    assert_eq!(file.lines().filter(|l| !l.starts_with('#')).count(), 1, "the retired key was dropped");

    // The running server reads every value, re-encrypted under a key it
    // did not have, and writes under the new key.
    for i in 0..30 {
        let got = server.get(&token_path(&team, &format!("K{i}"))).await.unwrap().unwrap();
        assert_eq!(got.value.expose_secret(), format!("v{i}"));
    }
    server.put(&token_path(&team, "AFTER"), &secret("after")).await.unwrap();
    let (key_id, _, _) = stored_row(&db, &server.name_of(&token_path(&team, "AFTER")).unwrap()).await;
    assert_eq!(key_id, rotation.primary);
    // And a restart works with the rotated file alone.
    let restarted = open(&db, file_key(data.path())).await;
    assert_eq!(restarted.get(&token_path(&team, "K29")).await.unwrap().unwrap().value.expose_secret(), "v29");
}
platform::test_on_both_backends!(rotation, key_rotation_re_encrypts_everything_while_a_running_server_keeps_working);

#[tokio::test]
async fn rotation_with_the_environment_key_re_encrypts_under_the_first_key_listed() {
    let db = TestDatabase::sqlite();
    let db = db.migrated().await;
    let team = TeamId::new();
    let (old, new) = (generate_key(), generate_key());
    open(&db, env_key(&old)).await.put(&token_path(&team, "A"), &secret("a")).await.unwrap();

    let both = open(&db, env_key(&format!("{}, {}", new.as_str(), old.as_str()))).await;
    let rotation = both.rotate_key().await.unwrap();
    assert_eq!(rotation.reencrypted, 1);
    assert_eq!(rotation.unused.len(), 1, "the old key can be removed from PATCHBAY_SECRET_KEY");

    let only_new = open(&db, env_key(&new)).await;
    assert_eq!(only_new.get(&token_path(&team, "A")).await.unwrap().unwrap().value.expose_secret(), "a");
}
