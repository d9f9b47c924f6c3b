//! A provider catalog file, as an operator drops it in the providers
//! directory: validation reports problems and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = platform::catalog::Catalog::from_files(&[("fuzz.toml".to_owned(), text.to_owned())], &[]);
});
