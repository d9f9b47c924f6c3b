//! `patchbay catalog check`: validates provider files.

use server::{Config, startup};

use super::say;

pub(super) fn check_catalog(config: &Config, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let catalog = match dir {
        Some(dir) => {
            let site_logos = std::path::Path::new(&config.site.root).join(platform::catalog::LOGO_DIR);
            let files = platform::catalog::Catalog::files_in(dir).map_err(|p| anyhow::anyhow!("{p}"))?;
            platform::catalog::Catalog::from_files(&files, &[&site_logos])
                .map_err(|problems| anyhow::anyhow!("the provider files have problems:\n{problems}"))?
        }
        None => startup::load_catalog(config)?,
    };
    say(&format!("{} provider(s), all valid", catalog.len()))
}
