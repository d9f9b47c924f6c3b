//! The platform's layers, checked on its own source: each top-level module
//! uses only the modules above it in [`LAYERS`], so there is no import
//! cycle, and SQL is written only in `store/` (the local secret store keeps
//! its table's SQL behind the `SecretStore` trait; the test-support module
//! creates and drops databases).

use std::path::{Path, PathBuf};

/// Top to bottom: a module may use the ones before it.
const LAYERS: &[&str] = &[
    "util",
    "error",
    "ids",
    "limits",
    "accounts",
    "passwords",
    "catalog",
    "secrets",
    "store",
    "outbound",
    "connectors",
    "credentials",
    "webhooks",
    "delivery",
    "jobs",
    "connect",
    "login",
    "status",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file's code without comments and without its unit tests.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The top-level module a source file belongs to (`jobs/sync.rs` → `jobs`).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file names: `crate::X…` paths, and the first
/// segment of each item of `use crate::{…}`.
fn uses(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item, mut start) = (0, String::new(), true);
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => item.push(c),
                    _ if start && !item.is_empty() => {
                        found.push(std::mem::take(&mut item));
                        start = false;
                    }
                    _ => {}
                }
            }
            if !item.is_empty() {
                found.push(item);
            }
        } else {
            found.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found
}

#[test]
fn each_platform_module_uses_only_the_layers_above_it() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" || module == "testing" {
            continue;
        }
        let rank = LAYERS.iter().position(|m| *m == module);
        let Some(rank) = rank else {
            wrong.push(format!("{module}: not in LAYERS; place it there"));
            continue;
        };
        for used in uses(&code(file)) {
            let Some(used_rank) = LAYERS.iter().position(|m| *m == used) else { continue };
            if used != module && used_rank >= rank {
                wrong.push(format!("{} uses `{used}`, a layer below `{module}`", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn sql_is_written_only_in_store() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let allowed = |path: &Path| {
        let relative = path.strip_prefix(src()).unwrap();
        relative.starts_with("store")
            || relative == Path::new("secrets/local.rs")
            || relative == Path::new("testing.rs")
    };
    let outside: Vec<String> = files
        .iter()
        .filter(|file| !allowed(file) && code(file).contains("sqlx::query"))
        .map(|file| file.display().to_string())
        .collect();
    assert!(outside.is_empty(), "SQL outside store/: {outside:?}");
}
