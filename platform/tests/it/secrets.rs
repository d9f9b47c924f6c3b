//! The secret store contract: one suite, run against the local store on
//! SQLite and on Postgres, and against the SSM store on moto through the
//! real AWS SDK. Whatever a caller may rely on is asserted here, so the two
//! backends cannot drift apart.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::sync::Arc;

use platform::{
    Error,
    ids::TeamId,
    secrets::{
        ExposeSecret as _, Prefix, SecretPath, SecretStore, SecretString, Version,
        local::{KeySource, LocalSettings, LocalStore},
        ssm::SsmStore,
    },
    testing::{Moto, TestDatabase},
};

/// A store under test, with whatever it needs kept alive.
struct Subject {
    store: Arc<dyn SecretStore>,
    /// A second store over the same data, as another replica has it: its
    /// cache starts cold and never sees the first one's writes.
    replica: Arc<dyn SecretStore>,
    _db: Option<TestDatabase>,
    _data: Option<tempfile::TempDir>,
}

async fn local(db: TestDatabase) -> Subject {
    let data = tempfile::tempdir().unwrap();
    let settings = LocalSettings { prefix: Prefix::default(), key: KeySource::File(data.path().to_owned()) };
    let store = LocalStore::open(db.migrated().await, settings.clone()).await.unwrap();
    let replica = LocalStore::open(db.migrated().await, settings).await.unwrap();
    Subject { store: Arc::new(store), replica: Arc::new(replica), _db: Some(db), _data: Some(data) }
}

async fn ssm() -> Option<Subject> {
    let settings = Moto::shared()?.settings();
    let store = SsmStore::connect(settings.clone()).await.unwrap();
    let replica = SsmStore::connect(settings).await.unwrap();
    Some(Subject { store: Arc::new(store), replica: Arc::new(replica), _db: None, _data: None })
}

/// Declares the contract test `$name` once per backend.
macro_rules! contract {
    ($name:ident) => {
        mod $name {
            use platform::testing::TestDatabase;

            #[tokio::test]
            async fn local_on_sqlite() {
                super::$name(super::local(TestDatabase::sqlite()).await).await;
            }

            #[tokio::test]
            async fn local_on_postgres() {
                let Some(db) = TestDatabase::postgres().await else { return };
                super::$name(super::local(db).await).await;
            }

            #[tokio::test]
            async fn ssm_on_moto() {
                let Some(subject) = super::ssm().await else { return };
                super::$name(subject).await;
            }
        }
    };
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn path(team: &TeamId, segments: &[&str]) -> SecretPath {
    SecretPath::of(team, segments).unwrap()
}

async fn value_at(store: &dyn SecretStore, at: &SecretPath) -> Option<String> {
    store.get_fresh(at).await.unwrap().map(|s| s.value.expose_secret().to_owned())
}

async fn put_then_get_returns_the_value_and_overwrites_count_versions(s: Subject) {
    let store = s.store.as_ref();
    let at = path(&TeamId::new(), &["linear", "ACCESS_TOKEN"]);
    assert!(store.get(&at).await.unwrap().is_none(), "nothing is stored yet");

    assert_eq!(store.put(&at, &secret("first")).await.unwrap(), Version::new(1));
    let got = store.get(&at).await.unwrap().unwrap();
    assert_eq!((got.value.expose_secret(), got.version), ("first", Version::new(1)));

    assert_eq!(store.put(&at, &secret("second")).await.unwrap(), Version::new(2));
    // The overwrite is seen at once, from the cache as from the backend,
    // and by another replica.
    let got = store.get(&at).await.unwrap().unwrap();
    assert_eq!((got.value.expose_secret(), got.version), ("second", Version::new(2)));
    assert_eq!(value_at(store, &at).await.as_deref(), Some("second"));
    let theirs = s.replica.get(&at).await.unwrap().unwrap();
    assert_eq!((theirs.value.expose_secret(), theirs.version), ("second", Version::new(2)));

    assert!(store.delete(&at).await.unwrap());
    assert!(!store.delete(&at).await.unwrap(), "a second delete finds nothing");
    assert!(store.get(&at).await.unwrap().is_none(), "a delete is seen at once");
}
contract!(put_then_get_returns_the_value_and_overwrites_count_versions);

async fn versioned_writes_refuse_a_stale_version_and_write_nothing(s: Subject) {
    let store = s.store.as_ref();
    let at = path(&TeamId::new(), &["hubspot", "REFRESH_TOKEN"]);

    let v1 = store.put_if_version(&at, None, &secret("rt-1")).await.unwrap();
    assert_eq!(v1, Version::new(1));
    let again = store.put_if_version(&at, None, &secret("rt-other")).await.unwrap_err();
    assert!(matches!(again, Error::SecretConflict { .. }), "create-only over a value: {again}");

    let v2 = store.put_if_version(&at, Some(v1), &secret("rt-2")).await.unwrap();
    assert_eq!(v2, Version::new(2));
    // A second writer that read v1 loses, and its token is not stored.
    let stale = store.put_if_version(&at, Some(v1), &secret("rt-stale")).await.unwrap_err();
    assert!(matches!(stale, Error::SecretConflict { .. }), "{stale}");
    assert_eq!(value_at(store, &at).await.as_deref(), Some("rt-2"));

    let missing = path(&TeamId::new(), &["hubspot", "REFRESH_TOKEN"]);
    let error = store.put_if_version(&missing, Some(v1), &secret("x")).await.unwrap_err();
    assert!(matches!(error, Error::SecretConflict { .. }), "a version of nothing: {error}");
    assert!(store.get_fresh(&missing).await.unwrap().is_none());
}
contract!(versioned_writes_refuse_a_stale_version_and_write_nothing);

// SECURITY D4
async fn twenty_five_keys_are_listed_read_and_deleted_by_prefix_with_none_lost(s: Subject) {
    let store = s.store.as_ref();
    let team = TeamId::new();
    let connection = path(&team, &["github"]);
    for i in 0..25 {
        store.put(&connection.join(&format!("KEY_{i:02}")).unwrap(), &secret(&format!("value-{i}"))).await.unwrap();
    }
    // Neighbours that must not be touched: a provider whose name extends
    // this one, and the same provider in another team.
    let sibling = path(&team, &["github-enterprise", "KEY_00"]);
    let other_team = path(&TeamId::new(), &["github", "KEY_00"]);
    store.put(&sibling, &secret("sibling")).await.unwrap();
    store.put(&other_team, &secret("other-team")).await.unwrap();

    let listed = store.list(&connection).await.unwrap();
    assert_eq!(listed.len(), 25, "{listed:?}");
    assert!(listed.iter().all(|e| e.path.is_under(&connection) && e.version == Version::new(1)));

    let all = store.get_all(&connection).await.unwrap();
    assert_eq!(all.len(), 25);
    for (i, (at, value)) in all.iter().enumerate() {
        assert_eq!(at.segments().last().unwrap(), &format!("KEY_{i:02}"));
        assert_eq!(value.value.expose_secret(), &format!("value-{i}"));
    }
    assert_eq!(store.list(&SecretPath::team(&team)).await.unwrap().len(), 26, "the team holds both providers");

    assert_eq!(store.delete_all(&connection).await.unwrap(), 25);
    assert!(store.list(&connection).await.unwrap().is_empty());
    assert!(store.get(&connection.join("KEY_07").unwrap()).await.unwrap().is_none(), "no stale cache");
    assert_eq!(value_at(store, &sibling).await.as_deref(), Some("sibling"));
    assert_eq!(value_at(store, &other_team).await.as_deref(), Some("other-team"));
}
contract!(twenty_five_keys_are_listed_read_and_deleted_by_prefix_with_none_lost);

async fn get_many_answers_in_order_across_batches_with_none_for_missing(s: Subject) {
    let store = s.store.as_ref();
    let team = TeamId::new();
    let paths: Vec<SecretPath> = (0..13).map(|i| path(&team, &["jira", &format!("K{i}")])).collect();
    for (i, at) in paths.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
        store.put(at, &secret(&format!("v{i}"))).await.unwrap();
    }
    // Asked of a replica that has cached one value and none of the others,
    // and of the writer, which may have cached them all.
    s.replica.get(&paths[1]).await.unwrap().unwrap();
    for reader in [&s.replica, &s.store] {
        let got = reader.get_many(&paths).await.unwrap();
        assert_eq!(got.len(), 13);
        for (i, value) in got.iter().enumerate() {
            let value = value.as_ref().map(|s| s.value.expose_secret().to_owned());
            assert_eq!(value, (i % 3 != 0).then(|| format!("v{i}")), "position {i}");
        }
    }
}
contract!(get_many_answers_in_order_across_batches_with_none_for_missing);

// SECURITY D2
async fn values_and_names_ssm_would_refuse_are_refused_before_anything_is_written(s: Subject) {
    let store = s.store.as_ref();
    let team = TeamId::new();
    let at = path(&team, &["zendesk", "API_TOKEN"]);

    let error = store.put(&at, &secret("")).await.unwrap_err();
    assert!(matches!(error, Error::InvalidSecretValue(_)), "empty: {error}");
    let error = store.put(&at, &secret(&"x".repeat(8193))).await.unwrap_err();
    assert!(error.to_string().contains("8193 bytes"), "{error}");
    let error = store.put_if_version(&at, None, &secret(&"x".repeat(8193))).await.unwrap_err();
    assert!(matches!(error, Error::InvalidSecretValue(_)), "{error}");

    let deep = path(&team, &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"]);
    let error = store.put(&deep, &secret("v")).await.unwrap_err();
    assert!(error.to_string().contains("at most 15"), "{error}");
    let segment = "n".repeat(128);
    let long = path(&team, &[segment.as_str(); 8]);
    let error = store.put(&long, &secret("v")).await.unwrap_err();
    assert!(error.to_string().contains("over SSM's limit of 1011"), "{error}");

    assert!(store.list(&SecretPath::team(&team)).await.unwrap().is_empty(), "something was written");
}
contract!(values_and_names_ssm_would_refuse_are_refused_before_anything_is_written);

// SECURITY G3
async fn path_segments_that_could_move_a_secret_cannot_be_built(s: Subject) {
    let store = s.store.as_ref();
    let team = TeamId::new();
    let connection = path(&team, &["linear"]);
    for bad in ["..", ".", "", "a/b", "/etc", "..%2F", "ACCESS TOKEN", "токен", "key\u{202e}", "k\n"] {
        let error = connection.join(bad).unwrap_err();
        assert!(matches!(error, Error::InvalidSecretPath(_)), "`{bad}`: {error}");
    }
    // A team id is only ever a canonical UUID.
    assert!(TeamId::parse("../other-team").is_err());
    // And a store never hands back a name outside the path it was asked about.
    store.put(&connection.join("ACCESS_TOKEN").unwrap(), &secret("t")).await.unwrap();
    store.put(&path(&team, &["linear.old", "ACCESS_TOKEN"]), &secret("t")).await.unwrap();
    let listed = store.list(&connection).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}
contract!(path_segments_that_could_move_a_secret_cannot_be_built);

async fn check_reports_where_the_store_is(s: Subject) {
    let status = s.store.check().await.unwrap();
    let expected = if s.store.backend() == "ssm" { "SSM Parameter Store" } else { "encrypted table" };
    assert!(status.location.contains(expected), "{status:?}");
}
contract!(check_reports_where_the_store_is);

// SECURITY D1
async fn a_canary_value_never_appears_in_debug_output_errors_or_logs(s: Subject) {
    let logs = platform::testing::capture_logs();
    let store = s.store.as_ref();
    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let at = path(&TeamId::new(), &["attio", "API_KEY"]);

    let v1 = store.put(&at, &secret(&canary)).await.unwrap();
    let read = store.get(&at).await.unwrap().unwrap();
    let fresh = store.get_fresh(&at).await.unwrap().unwrap();
    let all = store.get_all(&path(at.team_id(), &["attio"])).await.unwrap();
    let listed = store.list(&path(at.team_id(), &["attio"])).await.unwrap();
    let conflict = store.put_if_version(&at, Some(Version::new(v1.get() + 7)), &secret(&canary)).await.unwrap_err();
    let too_big = store.put(&at, &secret(&format!("{canary}{}", "x".repeat(9000)))).await.unwrap_err();
    let shown = format!(
        "{read:?} {fresh:?} {all:?} {listed:?} {conflict} {conflict:?} {too_big} {too_big:?} {store:?} {:?}",
        secret(&canary)
    );
    assert_eq!(read.value.expose_secret(), canary, "the value itself is readable when asked for");
    assert!(!shown.contains(&canary), "the canary leaked: {shown}");
    let logged = logs.text();
    assert!(!logged.is_empty(), "nothing was captured, so nothing was proven");
    assert!(!logged.contains(&canary), "the canary was logged");
}
contract!(a_canary_value_never_appears_in_debug_output_errors_or_logs);
