//! `scripts/bench-secrets.sh`: what a token read costs, in one run.
//!
//! - a cached read from the SSM store on a warm cache, in µs;
//! - an uncached read from SSM (moto on loopback), in ms;
//! - a read from the local store (SQLite, decrypting), in µs, for scale;
//! - the SSM calls made by 1,000 token reads for one connection within a
//!   token's lifetime (the cache TTL is set to that lifetime). Target: at
//!   most 1. The process exits non-zero when it is missed.

#![allow(clippy::print_stdout, clippy::unwrap_used, reason = "a benchmark prints its figures and stops at errors")]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use platform::{
    ids::TeamId,
    secrets::{
        Prefix, SecretPath, SecretStore, SecretString,
        local::{KeySource, LocalSettings, LocalStore},
        ssm::SsmStore,
    },
    testing::{Moto, TestDatabase},
};

/// The short-lived access tokens of the sandbox provider live 5 minutes.
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

async fn mean(n: u32, mut read: impl AsyncFnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        read().await;
    }
    started.elapsed() / n
}

#[tokio::main]
async fn main() {
    let moto = Moto::shared().expect("moto is needed: pip install 'moto[server]'");
    let mut settings = moto.settings();
    settings.cache_ttl = TOKEN_LIFETIME;
    // The token is stored by one replica (the one that refreshed it) and
    // read by another, which starts with a cold cache.
    let writer = SsmStore::connect(settings.clone()).await.unwrap();
    let ssm = Arc::new(SsmStore::connect(settings).await.unwrap());
    let at = SecretPath::of(&TeamId::new(), &["linear", "ACCESS_TOKEN"]).unwrap();
    let token = SecretString::from("lin_oauth_0123456789abcdef0123456789abcdef".to_owned());
    writer.put(&at, &token).await.unwrap();

    // 1,000 reads of one connection's token, from 10 concurrent tasks, as a
    // backfill's requests would make them.
    let before = ssm.api_calls();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (ssm, at) = (ssm.clone(), at.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    ssm.get(&at).await.unwrap().unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let calls = ssm.api_calls() - before;

    let cached = mean(100_000, async || {
        ssm.get(&at).await.unwrap().unwrap();
    })
    .await;
    let uncached = mean(200, async || {
        ssm.get_fresh(&at).await.unwrap().unwrap();
    })
    .await;

    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let local = LocalStore::open(
        db.migrated().await,
        LocalSettings { prefix: Prefix::default(), key: KeySource::File(data.path().to_owned()) },
    )
    .await
    .unwrap();
    local.put(&at, &token).await.unwrap();
    let local_read = mean(2_000, async || {
        local.get(&at).await.unwrap().unwrap();
    })
    .await;

    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("secret store benchmark (one run, loopback, moto for SSM)");
    println!("  SSM cached read, warm cache      {:>10.2} µs", micros(cached));
    println!("  SSM uncached read (moto)         {:>10.3} ms", micros(uncached) / 1000.0);
    println!("  local store read (SQLite)        {:>10.2} µs", micros(local_read));
    println!("  uncached / cached                {:>10.0}x", uncached.as_secs_f64() / cached.as_secs_f64());
    println!(
        "  SSM calls for 1,000 token reads  {calls:>10}    (one connection, within a {} s token lifetime; target ≤ 1)",
        TOKEN_LIFETIME.as_secs()
    );
    if calls > 1 {
        println!("TARGET MISSED: more than one SSM call per connection per token lifetime");
        std::process::exit(1);
    }
}
