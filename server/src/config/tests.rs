use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn error_of(pairs: &[(&str, &str)]) -> String {
    Config::load(env(pairs)).expect_err("configuration should be refused").to_string()
}

#[test]
fn an_empty_environment_gives_the_embedded_defaults() {
    let config = Config::load(HashMap::new()).unwrap();
    assert_eq!(config.bind, DEFAULT_BIND);
    assert_eq!(config.public_url, None);
    assert_eq!(config.data_dir, PathBuf::from("data"));
    assert_eq!(config.database_url.backend(), platform::Backend::Sqlite);
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!(config.site.root, "target/site");
    assert_eq!(config.site.pkg_dir, "pkg");
}

#[test]
fn each_invalid_setting_is_named_in_its_error() {
    let cases: &[(&str, &str)] = &[
        ("PATCHBAY_BIND", "not-an-address"),
        ("PATCHBAY_PUBLIC_URL", "ftp://example.com"),
        ("PATCHBAY_PUBLIC_URL", "https://example.com/sub/path"),
        ("PATCHBAY_PUBLIC_URL", "https://user:pw@example.com"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("PATCHBAY_DB_MAX_CONNECTIONS", "0"),
        ("PATCHBAY_LOG_FORMAT", "xml"),
        ("PATCHBAY_LOG", "info,[[["),
        ("PATCHBAY_SHUTDOWN_TIMEOUT", "-1"),
        ("LEPTOS_SITE_ADDR", "nowhere"),
        ("LEPTOS_RELOAD_PORT", "99999"),
        ("PATCHBAY_SECRETS", "vault"),
        ("PATCHBAY_SSM_PREFIX", "/aws/patchbay"),
        ("PATCHBAY_SSM_PREFIX", "/patch bay"),
    ];
    for (name, value) in cases {
        let message = error_of(&[(name, value)]);
        assert!(message.starts_with(name), "{name}={value} gave: {message}");
        assert!(message.contains("from the environment"), "{message}");
    }
}

#[test]
fn database_url_errors_do_not_echo_the_url() {
    let message = error_of(&[("DATABASE_URL", "mysql://user:canary-password@db/x")]);
    assert!(message.starts_with("DATABASE_URL"), "{message}");
    assert!(!message.contains("canary-password"), "{message}");
}

#[test]
fn the_local_secret_store_is_the_default_with_its_key_file_in_the_data_dir() {
    let config = Config::load(env(&[("PATCHBAY_DATA_DIR", "/srv/pb")])).unwrap();
    let SecretsConfig::Local(local) = config.secrets else { panic!("expected the local store") };
    assert_eq!(local.prefix.as_str(), "/patchbay");
    assert!(matches!(local.key, KeySource::File(dir) if dir == Path::new("/srv/pb")));
}

#[test]
fn ssm_settings_are_read_and_settings_of_the_other_backend_are_refused() {
    let config = Config::load(env(&[
        ("PATCHBAY_SECRETS", "ssm"),
        ("PATCHBAY_SSM_PREFIX", "/corp/patchbay"),
        ("PATCHBAY_SSM_KMS_KEY_ID", "alias/patchbay"),
        ("PATCHBAY_SSM_ADVANCED_TIER", "on"),
        ("PATCHBAY_SECRETS_CACHE_TTL", "60"),
    ]))
    .unwrap();
    let SecretsConfig::Ssm(ssm) = config.secrets else { panic!("expected SSM") };
    assert_eq!(ssm.prefix.as_str(), "/corp/patchbay");
    assert_eq!(ssm.kms_key_id.as_deref(), Some("alias/patchbay"));
    assert!(ssm.advanced_tier);
    assert_eq!(ssm.cache_ttl, Duration::from_secs(60));

    let message = error_of(&[("PATCHBAY_SSM_ADVANCED_TIER", "on")]);
    assert!(message.starts_with("PATCHBAY_SSM_ADVANCED_TIER") && message.contains("PATCHBAY_SECRETS=ssm"), "{message}");
    let message = error_of(&[("PATCHBAY_SECRETS", "ssm"), ("PATCHBAY_SECRET_KEY", "canary-key-value")]);
    assert!(message.starts_with("PATCHBAY_SECRET_KEY"), "{message}");
    assert!(!message.contains("canary-key-value"), "{message}");
}

#[test]
fn the_environment_overrides_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patchbay.toml");
    std::fs::write(&path, "bind = \"127.0.0.1:4000\"\ndata_dir = \"/srv/patchbay\"\ndb_max_connections = 3\n").unwrap();
    let config =
        Config::load(env(&[("PATCHBAY_CONFIG", path.to_str().unwrap()), ("PATCHBAY_BIND", "127.0.0.1:5000")])).unwrap();
    assert_eq!(config.bind.port(), 5000);
    assert_eq!(config.data_dir, PathBuf::from("/srv/patchbay"));
    assert_eq!(config.db_max_connections, 3);
}

#[test]
fn a_config_file_can_set_every_setting_the_environment_can() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patchbay.toml");
    let text = "secrets = \"ssm\"\nssm_prefix = \"/corp/pb\"\nsecrets_cache_ttl = 30\n\
                providers_dir = \"/etc/patchbay/providers\"\nprovider_timeout = 25\n\
                session_idle_timeout = 600\n";
    std::fs::write(&path, text).unwrap();
    let config = Config::load(env(&[("PATCHBAY_CONFIG", path.to_str().unwrap())])).unwrap();
    assert!(matches!(&config.secrets, SecretsConfig::Ssm(s) if s.cache_ttl == Duration::from_secs(30)));
    assert_eq!(config.providers_dir, Some(PathBuf::from("/etc/patchbay/providers")));
    assert_eq!(config.provider_timeout, Duration::from_secs(25));
    assert_eq!(config.session_idle_timeout, Duration::from_secs(600));
    assert_eq!(config.sandbox, None);
    // Every setting has a file key, and each key is listed once.
    let keys: std::collections::BTreeSet<&str> = SETTINGS.iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), SETTINGS.len());
}

#[test]
fn config_file_errors_name_the_setting_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patchbay.toml");
    std::fs::write(&path, "public_url = \"https://console.example.com/x\"\n").unwrap();
    let message = error_of(&[("PATCHBAY_CONFIG", path.to_str().unwrap())]);
    assert!(message.starts_with("PATCHBAY_PUBLIC_URL (key `public_url` from "), "{message}");
    assert!(message.contains("patchbay.toml"), "{message}");

    std::fs::write(&path, "bnd = \"127.0.0.1:1\"\n").unwrap();
    let message = error_of(&[("PATCHBAY_CONFIG", path.to_str().unwrap())]);
    assert!(message.contains("unknown key `bnd`"), "{message}");

    let message = error_of(&[("PATCHBAY_CONFIG", "/nonexistent/patchbay.toml")]);
    assert!(message.starts_with("PATCHBAY_CONFIG: cannot read /nonexistent/patchbay.toml"), "{message}");
}

#[test]
fn public_url_is_normalised_and_derived_from_loopback() {
    let url: PublicUrl = "https://console.example.com/".parse().unwrap();
    assert_eq!(url.as_str(), "https://console.example.com");
    assert!(url.is_https());
    assert_eq!(PublicUrl::for_listen_addr("0.0.0.0:3000".parse().unwrap()).as_str(), "http://127.0.0.1:3000");
    assert_eq!(PublicUrl::for_listen_addr("[::]:3000".parse().unwrap()).as_str(), "http://[::1]:3000");
}

#[test]
fn leptos_site_addr_is_the_bind_address_when_patchbay_bind_is_unset() {
    let config = Config::load(env(&[("LEPTOS_SITE_ADDR", "127.0.0.1:3999")])).unwrap();
    assert_eq!(config.bind.port(), 3999);
    let config =
        Config::load(env(&[("LEPTOS_SITE_ADDR", "127.0.0.1:3999"), ("PATCHBAY_BIND", "127.0.0.1:4001")])).unwrap();
    assert_eq!(config.bind.port(), 4001);
}
