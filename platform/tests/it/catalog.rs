//! The provider catalog: every built-in file is valid and has its logo, the
//! parsed catalog matches its snapshot, each validation rule refuses a file
//! with the file and key named, and operator files override built-ins.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::pid;
use std::path::{Path, PathBuf};

use platform::catalog::{Auth, BUILT_IN, Catalog, Problems, host_allowed};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn built_in_files() -> Vec<(String, String)> {
    BUILT_IN.iter().map(|(name, text)| (format!("providers/{name}"), (*text).to_owned())).collect()
}

#[test]
fn every_built_in_provider_passes_catalog_check_with_its_logo_in_public() {
    let logos = repo().join("public/logos");
    let catalog = Catalog::from_files(&built_in_files(), &[&logos]).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(catalog.len(), BUILT_IN.len());
    // build.rs compiles in every file of providers/, and nothing else.
    let on_disk = std::fs::read_dir(repo().join("providers"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"));
    assert_eq!(on_disk.count(), BUILT_IN.len());
}

#[test]
fn the_parsed_catalog_matches_its_snapshot() {
    let catalog = Catalog::load(None, Path::new("/nonexistent")).unwrap();
    let providers: Vec<_> = catalog.iter().collect();
    let parsed = serde_json::to_string_pretty(&providers).unwrap() + "\n";
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/catalog.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &parsed).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        parsed == expected,
        "the parsed catalog differs from {}; review the change, then run the test with UPDATE_SNAPSHOTS=1",
        snapshot.display()
    );
}

/// A valid API-key provider, for the fixtures below to break one rule each.
const VALID: &str = r#"
id = "acme"
name = "Acme"
category = "support"
description = "Tickets from Acme."
docs_url = "https://developer.acme.example/docs"
logo = "acme.svg"
availability = "beta"
sources = ["https://developer.acme.example/docs/auth"]
entities = ["ticket"]

[auth]
kind = "api_key"
[[auth.fields]]
name = "base_url"
label = "Base URL"
kind = "url"
example = "https://acme.example"
[[auth.fields]]
name = "api_token"
label = "API token"
kind = "secret"
pattern = "ak_[a-z0-9]{8}"
example = "ak_0123abcd"

[auth.verify]
url = "{base_url}/api/me"
headers = { Authorization = "Bearer {api_token}" }
account_id = "/account/id"
display_name = "/account/name"

[api]
base_url = "{base_url}/api"
pagination = "cursor"
"#;

/// A valid OAuth provider.
const VALID_OAUTH: &str = r#"
id = "acme"
name = "Acme"
category = "crm"
description = "Contacts from Acme."
docs_url = "https://developer.acme.example/docs"
logo = "acme.svg"
availability = "available"
sources = ["https://developer.acme.example/docs/oauth"]
entities = ["contact"]

[auth]
kind = "oauth2"
authorize_url = "https://acme.example/oauth/authorize"
token_url = "https://api.acme.example/oauth/token"
scopes = ["contacts.read"]
pkce = "required"
client_auth = "basic"
token_life = "short_lived"
refresh_token_rotates = true

[auth.user_info]
url = "https://api.acme.example/v1/me"
headers = { Authorization = "Bearer {access_token}" }
account_id = "/team_user/id"
display_name = "/team_user/team_name"

[api]
base_url = "https://api.acme.example/v1"
allowed_hosts = ["api.acme.example"]
pagination = "cursor"
"#;

/// [`VALID`] with a `[webhooks]` table ending in `events`.
fn with_webhooks(events: &str) -> String {
    format!(
        "{VALID}\n[webhooks]\nverify = {{ family = \"hmac_sha256\", header = \"x-acme-signature\", prefix = \"sha256=\", \
         encoding = \"hex\" }}\ndelivery_header = \"x-acme-delivery\"\nevent_header = \"x-acme-event\"\n\
         content_types = [\"application/json\"]\nretry_window_hours = 24\nsubscription = \"manual\"\n{events}\n"
    )
}

#[test]
fn a_webhooks_table_that_follows_the_rules_is_accepted() {
    let text = with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]");
    let catalog = Catalog::from_files(&[("custom/acme.toml".into(), text)], &[]);
    let catalog = catalog.unwrap_or_else(|problems| panic!("{problems}"));
    let hooks = catalog.iter().next().unwrap().webhooks.clone().expect("the webhooks table");
    assert_eq!(hooks.events["ticket.updated"], vec!["ticket".to_owned()]);
    assert_eq!(hooks.verify.headers(), vec!["x-acme-signature".to_owned()]);
}

fn problems_of(files: &[(&str, &str)], logos: &[&Path]) -> Problems {
    let files: Vec<(String, String)> = files.iter().map(|(f, t)| ((*f).to_owned(), (*t).to_owned())).collect();
    Catalog::from_files(&files, logos).expect_err("the catalog should be refused")
}

#[test]
fn the_valid_fixtures_are_valid_so_each_broken_one_fails_for_its_rule_alone() {
    for valid in [VALID, VALID_OAUTH] {
        let catalog = Catalog::from_files(&[("custom/acme.toml".into(), valid.into())], &[]);
        assert!(catalog.is_ok(), "{}", catalog.unwrap_err());
    }
}

#[test]
fn each_validation_rule_names_the_file_and_the_key() {
    // (rule, fixture, key, words in the message)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("unknown key", VALID.replace("entities =", "entitys = [\"x\"]\nentities ="), "entitys", "unknown field"),
        ("unknown nested key", VALID_OAUTH.replace("pkce =", "pkse = \"x\"\npkce ="), "auth.pkse", "unknown field"),
        (
            "wrong type",
            VALID_OAUTH.replace("scopes = [\"contacts.read\"]", "scopes = \"contacts.read\""),
            "auth.scopes",
            "invalid type",
        ),
        (
            "missing key",
            VALID_OAUTH.replace("token_url = \"https://api.acme.example/oauth/token\"\n", ""),
            "auth",
            "missing field `token_url`",
        ),
        ("unknown value", VALID.replace("category = \"support\"", "category = \"fun\""), "category", "unknown variant"),
        ("not TOML", VALID.replace("[api]", "[api"), "", "line 32: unclosed table"),
        (
            "plain http",
            VALID_OAUTH.replace("https://api.acme.example/oauth/token", "http://api.acme.example/oauth/token"),
            "auth.token_url",
            "must use https",
        ),
        ("not a URL", VALID.replace("https://developer.acme.example/docs\"", "docs\""), "docs_url", "is not a URL"),
        (
            "id differs from file",
            VALID.replace("id = \"acme\"", "id = \"acme-two\""),
            "id",
            "name the file acme-two.toml",
        ),
        ("bad id", VALID.replace("id = \"acme\"", "id = \"Acme!\""), "id", "is not an id"),
        (
            "bad pattern",
            VALID.replace("ak_[a-z0-9]{8}", "ak_[a-z0-9"),
            "auth.fields[1].pattern",
            "not a valid regular expression",
        ),
        (
            "example against pattern",
            VALID.replace("ak_0123abcd", "sk_0123abcd"),
            "auth.fields[1].example",
            "does not match the pattern",
        ),
        (
            "placeholder naming no field",
            VALID.replace("{base_url}/api/me", "{base}/api/me"),
            "auth.verify.url",
            "`{base}` names no field",
        ),
        (
            "header placeholder",
            VALID.replace("Bearer {api_token}", "Bearer {token}"),
            "auth.verify.headers.Authorization",
            "`{token}` names no field",
        ),
        (
            "JSON pointer",
            VALID_OAUTH.replace("\"/team_user/id\"", "\"team_user.id\""),
            "auth.user_info.account_id",
            "JSON pointer",
        ),
        (
            "host not allowed",
            VALID_OAUTH.replace("base_url = \"https://api.acme.example/v1\"", "base_url = \"https://evil.example/v1\""),
            "api.base_url",
            "not in api.allowed_hosts",
        ),
        (
            "OAuth without hosts",
            VALID_OAUTH.replace("allowed_hosts = [\"api.acme.example\"]\n", ""),
            "api.allowed_hosts",
            "must list the hosts",
        ),
        (
            "bad host",
            VALID_OAUTH.replace(
                "allowed_hosts = [\"api.acme.example\"]",
                "allowed_hosts = [\"api.acme.example\", \"https://x\"]",
            ),
            "api.allowed_hosts[1]",
            "not a host name",
        ),
        ("no secret field", VALID.replace("kind = \"secret\"", "kind = \"text\""), "auth.fields", "must be a secret"),
        (
            "duplicate field",
            VALID.replace("name = \"api_token\"", "name = \"base_url\""),
            "auth.fields[1].name",
            "already a field",
        ),
        (
            "no sources",
            VALID.replace("sources = [\"https://developer.acme.example/docs/auth\"]", "sources = []"),
            "sources",
            "documentation pages",
        ),
        ("no entities", VALID.replace("entities = [\"ticket\"]", "entities = []"), "entities", "at least one"),
        (
            "scope separator",
            VALID_OAUTH.replace("pkce =", "scope_separator = \";\"\npkce ="),
            "auth.scope_separator",
            "a space",
        ),
        (
            "stream sharing a type",
            VALID.replace(
                "pagination = \"cursor\"",
                "pagination = \"cursor\"\n[[api.streams]]\nname = \"tickets\"\nentity_types = [\"ticket\"]\n\
                 [[api.streams]]\nname = \"more\"\nentity_types = [\"ticket\"]",
            ),
            "api.streams[1].entity_types",
            "`ticket` is in two streams",
        ),
        (
            "bucket half a limit",
            VALID.replace(
                "pagination = \"cursor\"",
                "pagination = \"cursor\"\n[rate_limit]\nrequests = 10\nper_seconds = 1\n\
                 [[rate_limit.buckets]]\npath = \"/search\"\nrequests = 5",
            ),
            "rate_limit.buckets[0]",
            "give both requests and per_seconds",
        ),
        (
            "bucket cost",
            VALID.replace(
                "pagination = \"cursor\"",
                "pagination = \"cursor\"\n[rate_limit]\nrequests = 10\nper_seconds = 1\n\
                 [[rate_limit.buckets]]\npath = \"search\"\ncost = 0",
            ),
            "rate_limit.buckets[0].cost",
            "from 1 to 1000",
        ),
        (
            "stream name",
            VALID.replace(
                "pagination = \"cursor\"",
                "pagination = \"cursor\"\n[[api.streams]]\nname = \"Tickets!\"\nentity_types = [\"ticket\"]",
            ),
            "api.streams[0].name",
            "lowercase word",
        ),
        (
            "webhook event of an entity not synced",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"invoice\"]"),
            "webhooks.events.ticket.updated",
            "`invoice` is not one of `entities`",
        ),
        (
            "webhook header name",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("delivery_header = \"x-acme-delivery\"", "delivery_header = \"X-Acme Delivery\""),
            "webhooks.delivery_header",
            "lowercase header name",
        ),
        (
            "webhook retry window",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("retry_window_hours = 24", "retry_window_hours = 0"),
            "webhooks.retry_window_hours",
            "from 1 to 720",
        ),
        (
            "app-wide webhooks without a route",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"app\""),
            "webhooks.route",
            "must name the JSON pointer",
        ),
        (
            "a route for webhooks that are not app-wide",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"manual\"\nroute = \"/account/id\""),
            "webhooks.route",
            "only an app-wide subscription",
        ),
        (
            "a route that is not a JSON pointer",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"app\"\nroute = \"account.id\""),
            "webhooks.route",
            "must be a JSON pointer",
        ),
        (
            "webhook scopes for a form connect",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"manual\"\nscopes = [\"admin\"]"),
            "webhooks.scopes",
            "only an OAuth connect",
        ),
        (
            "webhooks signed with a field that is not a secret",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"manual\"\nsigned_with = \"base_url\""),
            "webhooks.signed_with",
            "`base_url` is not a secret field of the credential form",
        ),
        (
            "webhooks signed with a credential but registered through the API",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"api\"\nsigned_with = \"api_token\""),
            "webhooks.signed_with",
            "only a webhook an admin registers by hand",
        ),
        (
            "a delivery field that is not a pointer",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("subscription = \"manual\"", "subscription = \"manual\"\ndelivery_field = \"meta.id\""),
            "webhooks.delivery_field",
            "must be a JSON pointer",
        ),
        (
            "webhook family",
            with_webhooks("[webhooks.events]\n\"ticket.updated\" = [\"ticket\"]")
                .replace("family = \"hmac_sha256\"", "family = \"md5\""),
            "webhooks.verify.family",
            "unknown variant `md5`",
        ),
    ];
    for (rule, text, key, words) in cases {
        let problems = problems_of(&[("custom/acme.toml", &text)], &[]);
        let problem = problems
            .0
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("{rule}: no problem at `{key}`: {problems}"));
        assert_eq!(problem.file, "custom/acme.toml", "{rule}");
        assert!(problem.message.contains(words), "{rule}: {problem}");
        assert!(problem.to_string().starts_with(&format!("custom/acme.toml: {key}")), "{rule}: {problem}");
    }
}

#[test]
fn plain_http_is_accepted_for_loopback_hosts_only() {
    let local = VALID_OAUTH
        .replace("https://api.acme.example/oauth/token", "http://127.0.0.1:8080/oauth/token")
        .replace("https://acme.example/oauth/authorize", "http://localhost:8080/oauth/authorize");
    assert!(Catalog::from_files(&[("acme.toml".into(), local)], &[]).is_ok());
    let lan = VALID_OAUTH.replace("https://api.acme.example/oauth/token", "http://10.0.0.5/oauth/token");
    let problems = problems_of(&[("acme.toml", &lan)], &[]);
    assert_eq!(problems.0[0].key, "auth.token_url");
}

#[test]
fn a_missing_logo_and_a_duplicate_id_are_refused_with_their_files() {
    let logos = tempfile::tempdir().unwrap();
    let problems = problems_of(&[("a/acme.toml", VALID)], &[logos.path()]);
    assert_eq!(problems.0[0].key, "logo");
    assert!(problems.0[0].message.contains("no file acme.svg in"), "{problems}");
    std::fs::write(logos.path().join("acme.svg"), "<svg/>").unwrap();
    assert!(Catalog::from_files(&[("a/acme.toml".into(), VALID.into())], &[logos.path()]).is_ok());

    let problems = problems_of(&[("a/acme.toml", VALID), ("b/acme.toml", VALID_OAUTH)], &[]);
    assert_eq!(problems.to_string(), "b/acme.toml: id: `acme` is already the id of a/acme.toml");
}

#[test]
fn operator_files_override_built_ins_and_add_providers() {
    let dir = tempfile::tempdir().unwrap();
    let site_logos = tempfile::tempdir().unwrap();
    let (name, text) = BUILT_IN[0];
    let id = name.trim_end_matches(".toml");
    let renamed = text.replacen("name = \"", "name = \"Self-hosted ", 1);
    std::fs::write(dir.path().join(name), renamed).unwrap();
    std::fs::write(dir.path().join("acme.toml"), VALID).unwrap();
    // Logos are served from the site: an operator file's logo must be there.
    std::fs::write(dir.path().join("acme.svg"), "<svg/>").unwrap();
    let problems = Catalog::load(Some(dir.path()), site_logos.path()).unwrap_err().to_string();
    assert!(problems.contains("acme.toml: logo: no file acme.svg in"), "{problems}");
    std::fs::write(site_logos.path().join(format!("{id}.svg")), "<svg/>").unwrap();
    std::fs::write(site_logos.path().join("acme.svg"), "<svg/>").unwrap();

    let catalog = Catalog::load(Some(dir.path()), site_logos.path()).unwrap();
    assert_eq!(catalog.len(), BUILT_IN.len() + 1);
    assert!(catalog.get(&pid(id)).unwrap().name.starts_with("Self-hosted "));
    assert!(matches!(catalog.get(&pid("acme")).unwrap().auth, Auth::ApiKey(_)));

    // A broken operator file stops loading, naming its path.
    std::fs::write(dir.path().join("broken.toml"), VALID.replace("id = \"acme\"", "id = \"broken\"\nextra = 1"))
        .unwrap();
    let problems = Catalog::load(Some(dir.path()), site_logos.path()).unwrap_err();
    let shown = problems.to_string();
    assert!(shown.contains(&format!("{}: extra: unknown field", dir.path().join("broken.toml").display())), "{shown}");
}

// SECURITY A10: the allow-list a returned instance or API host is checked against.
#[test]
fn allowed_hosts_match_exactly_or_under_a_wildcard_and_nothing_else() {
    let allowed = ["*.pipedrive.com".to_owned(), "api.linear.app".to_owned()];
    for host in ["acme.pipedrive.com", "EU1.Pipedrive.com", "api.linear.app"] {
        assert!(host_allowed(host, &allowed), "{host} was refused");
    }
    for host in
        ["pipedrive.com", "evilpipedrive.com", "pipedrive.com.evil.example", "linear.app", "api.linear.app.evil"]
    {
        assert!(!host_allowed(host, &allowed), "{host} was allowed");
    }
}
