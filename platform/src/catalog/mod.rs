//! The provider catalog: one TOML file per provider under `providers/`,
//! describing how to authenticate, where the API lives and which hosts a
//! token may be sent to, its documented rate limits and pagination, and
//! what it syncs. The console's cards, credential forms and OAuth flow are
//! generated from it, so a provider is added by adding a file.
//!
//! The built-in files are compiled into the binary; `PATCHBAY_PROVIDERS_DIR`
//! adds files or overrides built-in ones (a self-hosted GitLab, a custom
//! OAuth provider). Every file is validated when it is loaded, and every
//! problem is reported with the file and the key it is in.

mod schema;
mod validate;

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

use crate::ids::ProviderId;

pub use schema::*;
pub use validate::host_allowed;

/// One problem in one catalog file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given (`providers/linear.toml`, or a built-in's name).
    pub file: String,
    /// The dotted key the problem is at (`auth.token_url`), or empty for
    /// the file as a whole.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

/// Every problem found, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

// `BUILT_IN`: every file of `providers/`, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/providers.rs"));

/// The directory the logos are served from, relative to the site root
/// (copied there from `public/logos`).
pub const LOGO_DIR: &str = "logos";

/// The loaded catalog, ordered by provider id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    providers: BTreeMap<String, Provider>,
}

impl Catalog {
    /// The built-in catalog, with the files in `extra_dir` (if any) merged
    /// over it: a file there with a built-in's id replaces that provider.
    ///
    /// The built-ins' logos ship in the site and are checked by the tests.
    /// An extra file's logo must be in `site_logos`, where the site serves
    /// logos from: a built-in's logo (`gitlab.svg` for a self-hosted
    /// GitLab), or a file the operator adds there.
    pub fn load(extra_dir: Option<&Path>, site_logos: &Path) -> Result<Self, Problems> {
        let built_in: Vec<(String, String)> =
            BUILT_IN.iter().map(|(name, text)| (format!("providers/{name}"), (*text).to_owned())).collect();
        let mut providers = collect(&built_in, &[])?;
        if let Some(dir) = extra_dir {
            providers.extend(collect(&read_dir(dir)?, &[site_logos])?);
        }
        Ok(Self::of(providers))
    }

    /// Validates `(file name, text)` pairs on their own, as
    /// `patchbay catalog check` does; a logo must be in one of `logos`
    /// (none: not checked). Two files with one id are a problem.
    pub fn from_files(files: &[(String, String)], logos: &[&Path]) -> Result<Self, Problems> {
        Ok(Self::of(collect(files, logos)?))
    }

    /// The catalog of providers collected with the files they came from.
    fn of(providers: BTreeMap<String, (String, Provider)>) -> Self {
        Self { providers: providers.into_iter().map(|(id, (_, provider))| (id, provider)).collect() }
    }

    /// Adds a provider the console itself defines (the sandbox), checked
    /// like a built-in file: every rule but the logo, which ships in the site.
    pub fn add_built_in(&mut self, file: &str, text: &str) -> Result<(), Problems> {
        let provider = validate::file(file, text, &[]).map_err(Problems)?;
        self.providers.insert(provider.id.as_str().to_owned(), provider);
        Ok(())
    }

    /// The `.toml` files of a directory, as `(path, text)`.
    pub fn files_in(dir: &Path) -> Result<Vec<(String, String)>, Problems> {
        read_dir(dir)
    }

    pub fn get(&self, id: &ProviderId) -> Option<&Provider> {
        self.providers.get(id.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }

    pub fn len(&self) -> usize {
        self.providers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }
}

/// Every provider of a set of files by id, with the file it came from, or
/// every problem in them.
fn collect(files: &[(String, String)], logos: &[&Path]) -> Result<BTreeMap<String, (String, Provider)>, Problems> {
    let mut problems = Vec::new();
    let mut providers: BTreeMap<String, (String, Provider)> = BTreeMap::new();
    for (file, text) in files {
        match validate::file(file, text, logos) {
            Err(found) => problems.extend(found),
            Ok(provider) => match providers.get(provider.id.as_str()) {
                Some((first, _)) => problems.push(Problem {
                    file: file.clone(),
                    key: "id".into(),
                    message: format!("`{}` is already the id of {first}", provider.id),
                }),
                None => {
                    providers.insert(provider.id.as_str().to_owned(), (file.clone(), provider));
                }
            },
        }
    }
    if problems.is_empty() { Ok(providers) } else { Err(Problems(problems)) }
}

/// The `.toml` files of a directory, sorted by name.
fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, Problems> {
    let whole =
        |message: String| Problems(vec![Problem { file: dir.display().to_string(), key: String::new(), message }]);
    let entries = std::fs::read_dir(dir).map_err(|e| whole(format!("cannot read the directory ({e})")))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Problems(vec![Problem { file: path.display().to_string(), key: String::new(), message: e.to_string() }])
            })?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}
