//! Where tokens, API keys and OAuth client secrets live: never in the
//! relational tables in plain text, always behind [`SecretStore`].
//!
//! Two backends implement it and pass one contract suite
//! (`platform/tests/secrets.rs`):
//! - [`local::LocalStore`], the embedded default: a table in Patchbay's own
//!   database, each value encrypted with an AEAD under a key kept outside it;
//! - [`ssm::SsmStore`]: AWS SSM Parameter Store, SecureString parameters.
//!
//! Every value sits at a typed [`SecretPath`] under one team,
//! `/{prefix}/{team}/{provider}/{KEY}`, built only from validated segments
//! (SECURITY G3). The full name is checked against SSM's naming rules by our
//! own code, for both backends, because local emulators do not enforce them
//! (SECURITY D2).

pub mod local;
pub mod ssm;

use std::{fmt, sync::Arc};

use async_trait::async_trait;
pub use secrecy::{ExposeSecret, SecretString};

use crate::{
    Db,
    error::{Error, Result},
    ids::TeamId,
};

/// SSM's limits on a parameter name (SECURITY D2).
pub const MAX_NAME_CHARS: usize = 1011;
pub const MAX_NAME_LEVELS: usize = 15;
/// A Standard-tier SSM value holds at most 4 KB; Advanced holds 8 KB.
pub const STANDARD_VALUE_BYTES: usize = 4096;
pub const ADVANCED_VALUE_BYTES: usize = 8192;
/// Our own bound on one path segment, well inside SSM's name limit.
const MAX_SEGMENT_CHARS: usize = 128;

/// How many times a value at one path has been written: 1 when created, and
/// one more on every write, as SSM counts parameter versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

impl Version {
    pub fn new(n: i64) -> Self {
        Self(n)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A stored value and the version it was read at. `Debug` shows the version
/// and a redacted value.
#[derive(Clone, Debug)]
pub struct Secret {
    pub value: SecretString,
    pub version: Version,
}

/// One name under a path, as listings return it: never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretEntry {
    pub path: SecretPath,
    pub version: Version,
}

/// Checks one segment of a path: a provider id, a key name. Only
/// `A-Za-z0-9_.-`, 1 to 128 characters, and not made of dots alone, so that
/// nothing can climb out of or move a path (SECURITY G3).
fn check_segment(segment: &str) -> Result<()> {
    let refuse = |why: &str| Err(Error::InvalidSecretPath(format!("`{}` {why}", segment.escape_default())));
    if segment.is_empty() {
        return refuse("is empty");
    }
    if segment.chars().count() > MAX_SEGMENT_CHARS {
        return refuse(&format!("is longer than {MAX_SEGMENT_CHARS} characters"));
    }
    if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return refuse("may contain only letters A-Z and a-z, digits, `_`, `.` and `-`");
    }
    if segment.bytes().all(|b| b == b'.') {
        return refuse("is made of dots only");
    }
    Ok(())
}

/// Where one secret lives, relative to the store's prefix: a team, then one
/// or more validated segments (usually the provider, then the key name). A
/// path with no segments stands for everything the team has, and is only
/// useful for listing and deleting.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath {
    team: TeamId,
    segments: Vec<String>,
}

impl SecretPath {
    /// Everything stored for one team.
    pub fn team(team: &TeamId) -> Self {
        Self { team: team.clone(), segments: Vec::new() }
    }

    /// This path with one more segment; refuses anything but a plain name.
    pub fn join(&self, segment: &str) -> Result<Self> {
        check_segment(segment)?;
        let mut path = self.clone();
        path.segments.push(segment.to_owned());
        Ok(path)
    }

    /// `team.join(a).join(b)…` in one call.
    pub fn of(team: &TeamId, segments: &[&str]) -> Result<Self> {
        segments.iter().try_fold(Self::team(team), |path, segment| path.join(segment))
    }

    pub fn team_id(&self) -> &TeamId {
        &self.team
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether `self` lies strictly below `prefix`.
    pub fn is_under(&self, prefix: &SecretPath) -> bool {
        self.team == prefix.team
            && self.segments.len() > prefix.segments.len()
            && self.segments.starts_with(&prefix.segments)
    }

    /// `{team}/{segment}/…`, without the store's prefix.
    fn relative(&self) -> String {
        let mut s = self.team.as_str().to_owned();
        for segment in &self.segments {
            s.push('/');
            s.push_str(segment);
        }
        s
    }
}

impl fmt::Debug for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretPath({})", self.relative())
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.relative())
    }
}

/// The root every name of this deployment hangs under, such as `/patchbay`.
/// It must itself be a name SSM accepts, so that every full name is checked
/// against the same rules on both backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let Some(rest) = s.strip_prefix('/') else {
            return Err(Error::InvalidSecretPath(format!("the prefix `{}` must start with `/`", s.escape_default())));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        for segment in rest.split('/') {
            check_segment(segment)?;
        }
        let first = rest.split('/').next().unwrap_or_default().to_ascii_lowercase();
        if first.starts_with("aws") || first.starts_with("ssm") {
            return Err(Error::InvalidSecretPath(
                "SSM reserves names that begin with `aws` or `ssm`; choose another prefix".into(),
            ));
        }
        Ok(Self(format!("/{rest}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full name of a path, checked against SSM's limits (SECURITY D2):
    /// characters, depth and length. Both backends call this before any
    /// write, so a name that would fail in production fails locally too.
    pub fn name_of(&self, path: &SecretPath) -> Result<String> {
        let name = format!("{}/{}", self.0, path.relative());
        let levels = name.split('/').filter(|s| !s.is_empty()).count();
        if levels > MAX_NAME_LEVELS {
            return Err(Error::InvalidSecretPath(format!(
                "`{name}` has {levels} levels; SSM allows at most {MAX_NAME_LEVELS}"
            )));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Error::InvalidSecretPath(format!(
                "a name of {chars} characters is over SSM's limit of {MAX_NAME_CHARS}"
            )));
        }
        Ok(name)
    }

    /// What the full name of every path strictly below `under` begins
    /// with: its name and a `/`, so that `linear` never takes in `linear-eu`.
    pub fn start_of(&self, under: &SecretPath) -> Result<String> {
        Ok(format!("{}/", self.name_of(under)?))
    }

    /// The path a full name stands for, or `None` for a name under the
    /// prefix that Patchbay did not write (it is ignored, never guessed at).
    pub fn path_of(&self, name: &str) -> Option<SecretPath> {
        let rest = name.strip_prefix(&self.0)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let team = TeamId::parse(parts.next()?).ok()?;
        let segments: Vec<&str> = parts.collect();
        if segments.is_empty() {
            return None;
        }
        SecretPath::of(&team, &segments).ok()
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self("/patchbay".into())
    }
}

/// Refuses values SSM would refuse: empty, or over the size the configured
/// tier holds. `advice` says what would let a larger value in.
pub(crate) fn check_value(value: &SecretString, limit: usize, advice: &str) -> Result<()> {
    let bytes = value.expose_secret().len();
    if bytes == 0 {
        return Err(Error::InvalidSecretValue("a secret value cannot be empty".into()));
    }
    if bytes > limit {
        return Err(Error::InvalidSecretValue(format!(
            "the value is {bytes} bytes, over the {limit}-byte limit{advice}"
        )));
    }
    Ok(())
}

/// What `/readyz` and `patchbay secrets check` report about a store that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStatus {
    /// Where the store is, in words: "SQLite table `secrets`, key file …",
    /// "SSM in eu-west-1 under /patchbay".
    pub location: String,
}

/// The secret store. Implementations are cheap to share behind an `Arc`.
///
/// Writes are checked against SSM's limits before anything is sent. Reads
/// through [`get`](Self::get) may come from a short-lived cache;
/// [`get_fresh`](Self::get_fresh) always asks the backend, which a caller
/// needs before it concludes that a stored credential is dead (SECURITY E4).
#[async_trait]
pub trait SecretStore: fmt::Debug + Send + Sync {
    /// `local` or `ssm`.
    fn backend(&self) -> &'static str;

    /// The full name of a path in this store, for operators. Never a value.
    fn name_of(&self, path: &SecretPath) -> Result<String>;

    /// Writes a value, creating or overwriting it, and returns its new version.
    async fn put(&self, path: &SecretPath, value: &SecretString) -> Result<Version>;

    /// Writes only if the stored version is still `expected` (`None`: only if
    /// nothing is stored), so that a rotated refresh token is never lost to a
    /// concurrent writer. A mismatch is [`Error::SecretConflict`] and nothing
    /// is written.
    async fn put_if_version(
        &self,
        path: &SecretPath,
        expected: Option<Version>,
        value: &SecretString,
    ) -> Result<Version>;

    /// The value at a path, possibly from the read cache.
    async fn get(&self, path: &SecretPath) -> Result<Option<Secret>>;

    /// The value at a path as the backend has it now, bypassing any cache.
    async fn get_fresh(&self, path: &SecretPath) -> Result<Option<Secret>>;

    /// Several values at once, in the order asked; `None` where nothing is stored.
    async fn get_many(&self, paths: &[SecretPath]) -> Result<Vec<Option<Secret>>>;

    /// Every value below `under`, paging through as many requests as it
    /// takes (SECURITY D4).
    async fn get_all(&self, under: &SecretPath) -> Result<Vec<(SecretPath, Secret)>>;

    /// The names and versions below `under`, never the values.
    async fn list(&self, under: &SecretPath) -> Result<Vec<SecretEntry>>;

    /// Deletes one value; `false` when there was none.
    async fn delete(&self, path: &SecretPath) -> Result<bool>;

    /// Deletes everything below `under` and returns how many values went.
    async fn delete_all(&self, under: &SecretPath) -> Result<usize>;

    /// Whether the store answers and lets us read, for readiness checks.
    async fn check(&self) -> Result<StoreStatus>;
}

/// Which backend to open, from configuration.
#[derive(Clone, Debug)]
pub enum SecretsConfig {
    Local(local::LocalSettings),
    Ssm(ssm::SsmSettings),
}

/// Opens the configured store. A local store checks its key against what is
/// stored, and an SSM store loads the AWS configuration; either can fail
/// here, with a message naming what to fix, so a bad setting stops start-up.
pub async fn open(config: &SecretsConfig, db: &Db) -> Result<Arc<dyn SecretStore>> {
    Ok(match config {
        SecretsConfig::Local(settings) => Arc::new(local::LocalStore::open(db.clone(), settings.clone()).await?),
        SecretsConfig::Ssm(settings) => Arc::new(ssm::SsmStore::connect(settings.clone()).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_that_could_move_a_path_are_refused() {
        let team = TeamId::new();
        for bad in ["", ".", "..", "...", "a/b", "/a", "a\\b", "ключ", "a b", "a\0b", "a%2Fb", "é", "tab\t"] {
            assert!(SecretPath::of(&team, &["linear", bad]).is_err(), "`{bad}` was accepted");
        }
        assert!(SecretPath::of(&team, &["linear", &"k".repeat(129)]).is_err());
        let ok = SecretPath::of(&team, &["linear", "ACCESS_TOKEN.v2-x"]).unwrap();
        assert_eq!(ok.segments(), ["linear", "ACCESS_TOKEN.v2-x"]);
    }

    #[test]
    fn prefixes_ssm_reserves_or_cannot_hold_are_refused() {
        for bad in ["patchbay", "/aws", "/AWSfoo", "/ssm", "/Ssm-secrets/x", "/a//b", "/a/../b", "/a b", "//"] {
            assert!(Prefix::parse(bad).is_err(), "`{bad}` was accepted");
        }
        assert_eq!(Prefix::parse("/corp/patchbay/").unwrap().as_str(), "/corp/patchbay");
        assert_eq!(Prefix::parse("/my-aws").unwrap().as_str(), "/my-aws");
    }

    #[test]
    fn names_deeper_than_fifteen_levels_are_refused() {
        let team = TeamId::new();
        let prefix = Prefix::default(); // 1 level, the team is another
        let thirteen: Vec<&str> = vec!["s"; 13];
        assert!(prefix.name_of(&SecretPath::of(&team, &thirteen).unwrap()).is_ok(), "15 levels fit");
        let fourteen: Vec<&str> = vec!["s"; 14];
        let error = prefix.name_of(&SecretPath::of(&team, &fourteen).unwrap()).unwrap_err().to_string();
        assert!(error.contains("16 levels") && error.contains("at most 15"), "{error}");
    }

    #[test]
    fn names_longer_than_1011_characters_are_refused() {
        let team = TeamId::new();
        let prefix = Prefix::default();
        // "/patchbay/" (10) + team (36) = 46; then "/" + segment per level.
        let segment = "k".repeat(128);
        let mut fits = vec![segment.as_str(); 7]; // 46 + 7 * 129 = 949
        let tail = "t".repeat(1011 - 949 - 1);
        fits.push(&tail);
        let name = prefix.name_of(&SecretPath::of(&team, &fits).unwrap()).unwrap();
        assert_eq!(name.len(), 1011);
        let longer = format!("{tail}t");
        fits.pop();
        fits.push(&longer);
        let error = prefix.name_of(&SecretPath::of(&team, &fits).unwrap()).unwrap_err().to_string();
        assert!(error.contains("1012 characters"), "{error}");
    }

    #[test]
    fn full_names_read_back_into_the_same_path() {
        let team = TeamId::new();
        let prefix = Prefix::parse("/corp/patchbay").unwrap();
        let path = SecretPath::of(&team, &["github", "REFRESH_TOKEN"]).unwrap();
        let name = prefix.name_of(&path).unwrap();
        assert_eq!(name, format!("/corp/patchbay/{team}/github/REFRESH_TOKEN"));
        assert_eq!(prefix.path_of(&name), Some(path));
        assert_eq!(prefix.path_of("/corp/patchbay/not-a-team/x"), None);
        assert_eq!(prefix.path_of(&format!("/corp/other/{team}/x")), None);
    }
}
