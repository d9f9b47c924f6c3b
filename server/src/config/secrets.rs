//! The secret store's settings.

use super::*;

/// The secret store: `local` (the embedded default) or `ssm`. Settings that
/// belong to the other backend are refused rather than silently ignored.
pub(super) fn secrets_config(src: &Sources, data_dir: &Path) -> Result<SecretsConfig, ConfigError> {
    let ssm = src
        .parse(SECRETS, |s| match s.trim() {
            "local" => Ok(false),
            "ssm" => Ok(true),
            _ => Err("expected `local` or `ssm`".into()),
        })?
        .unwrap_or(false);
    let prefix = src.parse(SECRETS_PREFIX, |s| Prefix::parse(s).map_err(|e| e.to_string()))?.unwrap_or_default();
    let key = src.parse(SECRET_KEY, |s| Ok(SecretString::from(s.trim().to_owned())))?;
    let kms_key_id = src.parse(SSM_KMS_KEY_ID, non_empty)?;
    let advanced_tier = src.parse(SSM_ADVANCED_TIER, parse_switch)?;
    let cache_ttl = src.parse(SECRETS_CACHE_TTL, parse_bounded_u32(0, 3600))?;
    let only_for = |setting: Setting, backend: &str| ConfigError::Invalid {
        setting: setting.env,
        origin: "as configured".into(),
        message: format!("applies only to PATCHBAY_SECRETS={backend}"),
    };
    if !ssm {
        for (set, setting) in [
            (kms_key_id.is_some(), SSM_KMS_KEY_ID),
            (advanced_tier.is_some(), SSM_ADVANCED_TIER),
            (cache_ttl.is_some(), SECRETS_CACHE_TTL),
        ] {
            if set {
                return Err(only_for(setting, "ssm"));
            }
        }
        let key = key.map_or_else(|| KeySource::File(data_dir.to_owned()), KeySource::Env);
        return Ok(SecretsConfig::Local(LocalSettings { prefix, key }));
    }
    if key.is_some() {
        return Err(only_for(SECRET_KEY, "local"));
    }
    let mut settings = SsmSettings::new(prefix);
    settings.kms_key_id = kms_key_id;
    settings.advanced_tier = advanced_tier.unwrap_or(false);
    if let Some(ttl) = cache_ttl {
        settings.cache_ttl = Duration::from_secs(u64::from(ttl));
    }
    Ok(SecretsConfig::Ssm(settings))
}
