//! Compiles the built-in provider catalog (`providers/*.toml`) into the
//! binary, so a deployment needs no files beside it and adding a provider
//! is adding a file.

use std::{env, fs, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../providers");
    println!("cargo:rerun-if-changed={}", dir.display());
    // `sqlx::migrate!` embeds the migrations, and a proc macro cannot ask
    // to be run again when a file is added: this build script asks for it.
    println!("cargo:rerun-if-changed=../migrations");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("the providers/ directory")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("/// The built-in provider files: (file name, contents).\n");
    out.push_str("pub const BUILT_IN: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
        let absolute = fs::canonicalize(path).expect("a readable provider file");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", absolute.display().to_string()));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("providers.rs");
    fs::write(target, out).expect("write the generated catalog list");
}
