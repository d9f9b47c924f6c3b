//! The embedded secret store: the `secrets` table in Patchbay's own
//! database, each value encrypted with XChaCha20-Poly1305.
//!
//! - Every write draws a fresh 24-byte random nonce, so values never share one.
//! - The full name is the associated data: a value copied into another row
//!   fails to decrypt instead of standing in for that row's secret.
//! - The key lives outside the database: in `PATCHBAY_SECRET_KEY`, or in the
//!   key file `secrets.key` in the data dir, created with mode 0600 on first
//!   run. A key ring may hold several keys; the first encrypts, the others
//!   still decrypt what older keys wrote, so [`LocalStore::rotate_key`] can
//!   re-encrypt while servers keep serving.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write as _,
    path::{Path, PathBuf},
    sync::RwLock,
    time::SystemTime,
};

use async_trait::async_trait;
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{
    ADVANCED_VALUE_BYTES, Prefix, Secret, SecretEntry, SecretPath, SecretStore, StoreStatus, Version, check_value,
};
use crate::{
    Db,
    error::{Error, Result},
};

/// The key file's name inside the data dir.
pub const KEY_FILE: &str = "secrets.key";
/// Bound into every value's associated data with its name, so that a future
/// format cannot be confused with this one.
const AAD_CONTEXT: &[u8] = b"patchbay/secret/v1\0";
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;

/// Where the local store's key ring comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// The key file `secrets.key` in this directory (the data dir).
    File(PathBuf),
    /// `PATCHBAY_SECRET_KEY`: base64 keys separated by commas, the first
    /// one encrypting.
    Env(SecretString),
}

#[derive(Clone, Debug)]
pub struct LocalSettings {
    pub prefix: Prefix,
    pub key: KeySource,
}

/// One key: its public id (a digest prefix, safe to store and show) and the cipher.
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_BYTES {
            return None;
        }
        let id = hex::encode(&Sha256::digest(bytes)[..8]);
        Some(Self { id, cipher: XChaCha20Poly1305::new_from_slice(bytes).ok()? })
    }

    fn generate() -> (Self, Zeroizing<String>) {
        let bytes = Zeroizing::new(rand::random::<[u8; KEY_BYTES]>());
        let encoded = Zeroizing::new(B64.encode(bytes.as_slice()));
        let key = Self::from_bytes(bytes.as_slice()).expect("a freshly generated key has the right length");
        (key, encoded)
    }
}

/// The keys in use; the first encrypts.
struct Keyring {
    keys: Vec<Key>,
    /// Each key in base64, in order: what the key file holds.
    encoded: Vec<Zeroizing<String>>,
    /// The key file as it was when read, to notice a rotation by another
    /// process.
    file_stamp: Option<FileStamp>,
}

/// What tells one version of the key file from the next. A rotation renames
/// a new file into place, so the inode changes even where timestamps are coarse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self { modified: meta.modified().ok(), len: meta.len(), inode }
    }
}

impl Keyring {
    fn primary(&self) -> &Key {
        &self.keys[0]
    }

    fn find(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Parses base64 keys; `what` names the source in errors.
    fn parse<'a>(entries: impl Iterator<Item = &'a str>, what: &dyn Fn(usize) -> String) -> Result<Self> {
        let mut ring = Keyring { keys: Vec::new(), encoded: Vec::new(), file_stamp: None };
        for (i, entry) in entries.map(str::trim).filter(|e| !e.is_empty() && !e.starts_with('#')).enumerate() {
            let bytes = Zeroizing::new(B64.decode(entry).unwrap_or_default());
            let key = Key::from_bytes(&bytes).ok_or_else(|| {
                Error::SecretKey(format!(
                    "{} is not a 32-byte key in base64; `patchbay secrets generate-key` prints a new one",
                    what(i + 1)
                ))
            })?;
            if ring.find(&key.id).is_none() {
                ring.keys.push(key);
                ring.encoded.push(Zeroizing::new(entry.to_owned()));
            }
        }
        Ok(ring)
    }
}

/// What a key rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The id of the key that now encrypts.
    pub primary: String,
    /// Values re-encrypted under it.
    pub reencrypted: usize,
    /// Older keys no value needs any more; dropped from the key file, or
    /// safe to remove from `PATCHBAY_SECRET_KEY`.
    pub unused: Vec<String>,
    /// Older keys some value still needs (written concurrently); kept.
    pub still_needed: Vec<String>,
}

type Row = (i64, String, String, String);
/// A row with its name: (name, version, key id, nonce, ciphertext).
type NamedRow = (String, i64, String, String, String);

/// Rows whose name begins with `$1`, a name of `$2` characters.
const NAME_STARTS_WITH: &str = "substr(name, 1, CAST($2 AS INTEGER)) = $1";

/// The local backend. See the module documentation.
pub struct LocalStore {
    db: Db,
    prefix: Prefix,
    source: KeySource,
    keys: RwLock<Keyring>,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = self.keys.read().map(|k| k.ids()).unwrap_or_default();
        f.debug_struct("LocalStore").field("prefix", &self.prefix).field("key_ids", &ids).finish_non_exhaustive()
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn key_file(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

fn read_key_file(path: &Path) -> Result<Keyring> {
    let fail = |why: String| Error::SecretKey(format!("the key file {}: {why}", path.display()));
    let meta = fs::metadata(path).map_err(|e| fail(format!("cannot read it ({e})")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "other users may read it (mode {mode:o}); run `chmod 600 {}` and start again",
                path.display()
            )));
        }
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| fail(format!("cannot read it ({e})")))?);
    let mut ring = Keyring::parse(text.lines(), &|n| format!("the key file {}: key {n}", path.display()))?;
    if ring.keys.is_empty() {
        return Err(fail("it holds no key".into()));
    }
    ring.file_stamp = Some(FileStamp::of(&meta));
    Ok(ring)
}

/// Writes the key ring to `path` through a private temporary file and a
/// rename, so that a reader sees the old ring or the new one, never half.
fn write_key_file(path: &Path, encoded: &[Zeroizing<String>]) -> Result<()> {
    let fail = |e: std::io::Error| Error::SecretKey(format!("cannot write the key file {}: {e}", path.display()));
    let mut text = Zeroizing::new(String::from(
        "# Patchbay's local secret keys. Keep this file private (mode 0600) and back it up\n\
         # with the database: without it the stored secrets cannot be read.\n\
         # The first key encrypts new values; the others still decrypt older ones.\n",
    ));
    for key in encoded {
        text.push_str(key);
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options.open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = result.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

impl LocalStore {
    /// Loads the key ring and checks it against what is stored. On first
    /// run (no key file, nothing stored) it creates the key file. A missing
    /// or wrong key is an error that says what to restore, never a new key
    /// that would orphan the stored values.
    pub async fn open(db: Db, settings: LocalSettings) -> Result<Self> {
        let used = used_key_ids(&db).await?;
        let ring = match &settings.key {
            KeySource::Env(value) => {
                let ring = Keyring::parse(value.expose_secret().split([',', '\n']), &|n| {
                    format!("PATCHBAY_SECRET_KEY: entry {n}")
                })?;
                if ring.keys.is_empty() {
                    return Err(Error::SecretKey("PATCHBAY_SECRET_KEY is set but holds no key".into()));
                }
                ring
            }
            KeySource::File(dir) => {
                let path = key_file(dir);
                if path.exists() {
                    read_key_file(&path)?
                } else if !used.is_empty() {
                    return Err(Error::SecretKey(format!(
                        "no key file at {}, but the database holds secrets encrypted with key {}; restore the \
                         key file from your backup, or set PATCHBAY_SECRET_KEY to that key",
                        path.display(),
                        used.join(", ")
                    )));
                } else {
                    let (_, encoded) = Key::generate();
                    write_key_file(&path, &[encoded])?;
                    tracing::info!(path = %path.display(), "created a new local secret key file");
                    read_key_file(&path)?
                }
            }
        };
        let missing: Vec<&String> = used.iter().filter(|id| ring.find(id).is_none()).collect();
        if !missing.is_empty() {
            let source = match &settings.key {
                KeySource::Env(_) => "PATCHBAY_SECRET_KEY".to_owned(),
                KeySource::File(dir) => format!("the key file {}", key_file(dir).display()),
            };
            let missing = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            return Err(Error::SecretKey(format!(
                "{source} lacks key {missing}, which stored secrets were encrypted with; it holds key {}. \
                 Restore the key that was in use, or the secrets cannot be read",
                ring.ids().join(", ")
            )));
        }
        Ok(Self { db, prefix: settings.prefix, source: settings.key, keys: RwLock::new(ring) })
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-reads the key file when another process (a rotation) changed it.
    fn reload_if_changed(&self) -> Result<()> {
        let KeySource::File(dir) = &self.source else { return Ok(()) };
        let path = key_file(dir);
        let stamp = fs::metadata(&path).ok().map(|meta| FileStamp::of(&meta));
        if stamp.is_some() && stamp == self.ring().file_stamp {
            return Ok(());
        }
        let ring = read_key_file(&path)?;
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        Ok(())
    }

    fn seal(&self, name: &str, value: &str) -> Result<(String, String, String)> {
        self.reload_if_changed()?;
        let ring = self.ring();
        let key = ring.primary();
        let nonce = rand::random::<[u8; NONCE_BYTES]>();
        let aad = [AAD_CONTEXT, name.as_bytes()].concat();
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: &aad })
            .map_err(|_| Error::SecretKey("encryption failed".into()))?;
        Ok((key.id.clone(), B64.encode(nonce), B64.encode(sealed)))
    }

    fn open_sealed(&self, name: &str, key_id: &str, nonce: &str, sealed: &str) -> Result<SecretString> {
        if self.ring().find(key_id).is_none() {
            // Perhaps rotated by another process since this one read the ring.
            self.reload_if_changed()?;
        }
        let undecryptable = || Error::SecretUndecryptable { name: name.to_owned() };
        let ring = self.ring();
        let key = ring.find(key_id).ok_or_else(undecryptable)?;
        let nonce = B64.decode(nonce).ok().filter(|n| n.len() == NONCE_BYTES).ok_or_else(undecryptable)?;
        let sealed = B64.decode(sealed).map_err(|_| undecryptable())?;
        let aad = [AAD_CONTEXT, name.as_bytes()].concat();
        let plain = Zeroizing::new(
            key.cipher
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &sealed, aad: &aad })
                .map_err(|_| undecryptable())?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| undecryptable())?;
        Ok(SecretString::from(text.to_owned()))
    }

    fn decode(&self, name: &str, (version, key_id, nonce, sealed): Row) -> Result<Secret> {
        Ok(Secret { value: self.open_sealed(name, &key_id, &nonce, &sealed)?, version: Version::new(version) })
    }

    fn checked_name(&self, path: &SecretPath, value: &SecretString) -> Result<String> {
        let name = self.prefix.name_of(path)?;
        // The same bound as SSM's Advanced tier, so nothing that works here
        // could not be stored in production.
        check_value(value, ADVANCED_VALUE_BYTES, "")?;
        Ok(name)
    }

    /// The rows below a path, by name.
    async fn rows_under(&self, under: &SecretPath) -> Result<Vec<NamedRow>> {
        let start = self.prefix.start_of(under)?;
        let sql = format!(
            "SELECT name, version, key_id, nonce, ciphertext FROM secrets WHERE {NAME_STARTS_WITH} ORDER BY name"
        );
        let rows = sqlx::query_as(&sql)
            .bind(&start)
            .bind(i64::try_from(start.chars().count()).unwrap_or(i64::MAX))
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows)
    }

    /// Puts a new key first in the ring and re-encrypts every value under
    /// it, while servers keep running: they hold the old keys too, and a
    /// server reading the key file notices the change and picks up the new
    /// key before its next write.
    ///
    /// With the key file, a new key is generated, and older keys no value
    /// needs are dropped from the file at the end. With
    /// `PATCHBAY_SECRET_KEY`, the operator puts a new key first (every
    /// replica needs the same list), and the keys reported unused can then
    /// be removed from the variable.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_key(&self) -> Result<Rotation> {
        if let KeySource::File(dir) = &self.source {
            let path = key_file(dir);
            self.reload_if_changed()?;
            let (_, fresh) = Key::generate();
            let mut encoded = vec![fresh];
            encoded.extend(self.ring().encoded.iter().cloned());
            write_key_file(&path, &encoded)?;
            self.reload_if_changed()?;
        }
        let primary = self.ring().primary().id.clone();
        let mut reencrypted = 0;
        // Values written by a server that had not yet seen the new key are
        // picked up by the next pass; a few passes settle it.
        for _ in 0..5 {
            let stale: Vec<NamedRow> = sqlx::query_as(
                "SELECT name, version, key_id, nonce, ciphertext FROM secrets WHERE key_id <> $1 ORDER BY name",
            )
            .bind(&primary)
            .fetch_all(self.db.pool())
            .await?;
            if stale.is_empty() {
                break;
            }
            for (name, version, key_id, nonce, sealed) in stale {
                let value = self.open_sealed(&name, &key_id, &nonce, &sealed)?;
                let (new_id, new_nonce, new_sealed) = self.seal(&name, value.expose_secret())?;
                // Only if the value is unchanged since it was read: a
                // concurrent write already used a current key.
                let done = sqlx::query(
                    "UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 \
                     WHERE name = $4 AND version = $5 AND key_id = $6",
                )
                .bind(&new_id)
                .bind(&new_nonce)
                .bind(&new_sealed)
                .bind(&name)
                .bind(version)
                .bind(&key_id)
                .execute(self.db.pool())
                .await?;
                reencrypted += usize::try_from(done.rows_affected()).unwrap_or(0);
            }
        }
        let used = used_key_ids(&self.db).await?;
        let (still_needed, unused): (Vec<String>, Vec<String>) =
            self.ring().ids().into_iter().skip(1).partition(|id| used.contains(id));
        if let KeySource::File(dir) = &self.source {
            let ring = self.ring();
            let keep: Vec<Zeroizing<String>> = ring
                .keys
                .iter()
                .zip(&ring.encoded)
                .filter(|(key, _)| key.id == primary || still_needed.contains(&key.id))
                .map(|(_, encoded)| encoded.clone())
                .collect();
            drop(ring);
            write_key_file(&key_file(dir), &keep)?;
            self.reload_if_changed()?;
        }
        tracing::info!(%primary, reencrypted, "local secret key rotated");
        Ok(Rotation { primary, reencrypted, unused, still_needed })
    }
}

/// A new key in base64, for `PATCHBAY_SECRET_KEY`.
pub fn generate_key() -> Zeroizing<String> {
    Key::generate().1
}

async fn used_key_ids(db: &Db) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT DISTINCT key_id FROM secrets ORDER BY key_id").fetch_all(db.pool()).await?)
}

#[async_trait]
impl SecretStore for LocalStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn name_of(&self, path: &SecretPath) -> Result<String> {
        self.prefix.name_of(path)
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn put(&self, path: &SecretPath, value: &SecretString) -> Result<Version> {
        let name = self.checked_name(path, value)?;
        let (key_id, nonce, sealed) = self.seal(&name, value.expose_secret())?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO secrets (name, version, key_id, nonce, ciphertext, updated_at) \
             VALUES ($1, 1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET version = secrets.version + 1, key_id = excluded.key_id, \
             nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at \
             RETURNING version",
        )
        .bind(&name)
        .bind(key_id)
        .bind(nonce)
        .bind(sealed)
        .bind(now())
        .fetch_one(self.db.pool())
        .await?;
        Ok(Version::new(version))
    }

    #[tracing::instrument(skip_all, fields(path = %path, expected = ?expected))]
    async fn put_if_version(
        &self,
        path: &SecretPath,
        expected: Option<Version>,
        value: &SecretString,
    ) -> Result<Version> {
        let name = self.checked_name(path, value)?;
        let (key_id, nonce, sealed) = self.seal(&name, value.expose_secret())?;
        let written: Option<i64> = match expected {
            None => {
                sqlx::query_scalar(
                    "INSERT INTO secrets (name, version, key_id, nonce, ciphertext, updated_at) \
                 VALUES ($1, 1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING version",
                )
                .bind(&name)
                .bind(key_id)
                .bind(nonce)
                .bind(sealed)
                .bind(now())
                .fetch_optional(self.db.pool())
                .await?
            }
            Some(version) => {
                sqlx::query_scalar(
                    "UPDATE secrets SET version = version + 1, key_id = $2, nonce = $3, ciphertext = $4, \
                 updated_at = $5 WHERE name = $1 AND version = $6 RETURNING version",
                )
                .bind(&name)
                .bind(key_id)
                .bind(nonce)
                .bind(sealed)
                .bind(now())
                .bind(version.get())
                .fetch_optional(self.db.pool())
                .await?
            }
        };
        written.map(Version::new).ok_or(Error::SecretConflict { name })
    }

    async fn get(&self, path: &SecretPath) -> Result<Option<Secret>> {
        self.get_fresh(path).await
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn get_fresh(&self, path: &SecretPath) -> Result<Option<Secret>> {
        let name = self.prefix.name_of(path)?;
        let row: Option<Row> = sqlx::query_as("SELECT version, key_id, nonce, ciphertext FROM secrets WHERE name = $1")
            .bind(&name)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| self.decode(&name, row)).transpose()
    }

    async fn get_many(&self, paths: &[SecretPath]) -> Result<Vec<Option<Secret>>> {
        let mut found = Vec::with_capacity(paths.len());
        for path in paths {
            found.push(self.get_fresh(path).await?);
        }
        Ok(found)
    }

    #[tracing::instrument(skip_all, fields(under = %under))]
    async fn get_all(&self, under: &SecretPath) -> Result<Vec<(SecretPath, Secret)>> {
        let mut all = Vec::new();
        for (name, version, key_id, nonce, sealed) in self.rows_under(under).await? {
            let Some(path) = self.prefix.path_of(&name) else { continue };
            all.push((path, self.decode(&name, (version, key_id, nonce, sealed))?));
        }
        Ok(all)
    }

    async fn list(&self, under: &SecretPath) -> Result<Vec<SecretEntry>> {
        Ok(self
            .rows_under(under)
            .await?
            .into_iter()
            .filter_map(|(name, version, ..)| {
                Some(SecretEntry { path: self.prefix.path_of(&name)?, version: Version::new(version) })
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn delete(&self, path: &SecretPath) -> Result<bool> {
        let name = self.prefix.name_of(path)?;
        let done = sqlx::query("DELETE FROM secrets WHERE name = $1").bind(&name).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    #[tracing::instrument(skip_all, fields(under = %under))]
    async fn delete_all(&self, under: &SecretPath) -> Result<usize> {
        let start = self.prefix.start_of(under)?;
        let done = sqlx::query(&format!("DELETE FROM secrets WHERE {NAME_STARTS_WITH}"))
            .bind(&start)
            .bind(i64::try_from(start.chars().count()).unwrap_or(i64::MAX))
            .execute(self.db.pool())
            .await?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn check(&self) -> Result<StoreStatus> {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secrets").fetch_one(self.db.pool()).await?;
        let key = match &self.source {
            KeySource::Env(_) => "PATCHBAY_SECRET_KEY".to_owned(),
            KeySource::File(dir) => format!("key file {}", key_file(dir).display()),
        };
        Ok(StoreStatus {
            location: format!(
                "encrypted table `secrets` in the {} database ({stored} values), {key} (key {})",
                self.db.backend(),
                self.ring().primary().id
            ),
        })
    }
}
