//! Where values come from (the environment over the file) and the small
//! parsers settings share.

use super::*;

/// Where a value came from, for error messages.
#[derive(Clone, Debug)]
pub(super) enum Origin {
    Env,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env => f.write_str("from the environment"),
            Origin::File(path) => write!(f, "from {}", path.display()),
        }
    }
}

/// The raw values, before parsing: environment over file.
pub(super) struct Sources {
    pub(super) env: HashMap<String, String>,
    pub(super) file: BTreeMap<String, String>,
    pub(super) file_path: Option<PathBuf>,
}

impl Sources {
    pub(super) fn get(&self, s: Setting) -> Option<(String, Origin)> {
        if let Some(v) = self.env.get(s.env).filter(|v| !v.is_empty()) {
            return Some((v.clone(), Origin::Env));
        }
        let path = self.file_path.clone()?;
        self.file.get(s.key).map(|v| (v.clone(), Origin::File(path)))
    }

    /// Parses a setting, or returns `None` when it is not set.
    pub(super) fn parse<T>(
        &self,
        s: Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((raw, origin)) = self.get(s) else { return Ok(None) };
        parse(&raw).map(Some).map_err(|message| {
            let origin = match &origin {
                Origin::Env => origin.to_string(),
                Origin::File(_) => format!("key `{}` {origin}", s.key),
            };
            let message = if s.echo { format!("`{raw}` is invalid: {message}") } else { message };
            ConfigError::Invalid { setting: s.env, origin, message }
        })
    }
}

pub(super) fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| "expected an address and port such as 127.0.0.1:3000 or [::1]:3000".into())
}

pub(super) fn parse_bounded_u32(min: u32, max: u32) -> impl FnOnce(&str) -> Result<u32, String> {
    move |s| match s.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

pub(super) fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("expected `on` or `off`".into()),
    }
}

pub(super) fn non_empty(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() { Err("must not be empty".into()) } else { Ok(s.to_owned()) }
}

pub(super) fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_error = |reason: String| ConfigError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|s| s.key == key) {
            let known = SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ");
            return Err(ConfigError::UnknownKey { key, path: path.display().to_string(), known });
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(file_error(format!("`{key}` must be a string or a number, not {}", other.type_str()))),
        };
        values.insert(key, value);
    }
    Ok(values)
}
