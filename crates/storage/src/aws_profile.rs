//! The AWS shared configuration files (`~/.aws/credentials`, `~/.aws/config`), which the
//! AWS CLI and SDKs read and `object_store` does not: static keys, region and endpoint of
//! a named profile. Precedence follows the AWS SDKs: the environment first, then the
//! profile; web identity, container and instance credentials come after both (object_store).
//!
//! Profiles that get their credentials another way (`role_arn`, `sso_*`,
//! `credential_process`) are not resolved here: their names are reported so the user knows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a profile gives, as object_store configuration keys and values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProfileSettings {
    pub settings: Vec<(&'static str, String)>,
}

/// The settings of the profile the environment selects (`AWS_PROFILE`, else `default`),
/// for each setting the environment does not give itself. An `AWS_PROFILE` that neither
/// file defines is an error naming the files; a missing `default` is not.
pub fn settings_from_env() -> Result<ProfileSettings, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws/credentials"));
    let config = std::env::var_os("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home.join(".aws/config"));
    let chosen = std::env::var("AWS_PROFILE").or_else(|_| std::env::var("AWS_DEFAULT_PROFILE")).ok();
    let env = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    settings(&read(&credentials), &read(&config), chosen.as_deref(), env)
        .map_err(|message| format!("{message} (read {} and {})", credentials.display(), config.display()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `[section]` → key → value of an INI file as the AWS files write it.
fn sections(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            out.entry(section.clone()).or_default().insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    out
}

fn settings(credentials: &str, config: &str, chosen: Option<&str>, env_has: impl Fn(&str) -> bool) -> Result<ProfileSettings, String> {
    let name = chosen.unwrap_or("default");
    let credentials = sections(credentials);
    let config = sections(config);
    // In the config file a profile other than the default is `[profile NAME]`.
    let config_section = if name == "default" { config.get("default") } else { config.get(&format!("profile {name}")) };
    let credentials_section = credentials.get(name);
    if chosen.is_some() && config_section.is_none() && credentials_section.is_none() {
        return Err(format!("the AWS profile {name:?} (AWS_PROFILE) is in neither AWS file"));
    }
    let value = |key: &str| credentials_section.and_then(|s| s.get(key)).or_else(|| config_section.and_then(|s| s.get(key))).cloned();
    let mut out = ProfileSettings::default();
    // Keys from the environment win, and a profile's keys are taken as a pair or not at all.
    if !env_has("AWS_ACCESS_KEY_ID")
        && let (Some(id), Some(secret)) = (value("aws_access_key_id"), value("aws_secret_access_key"))
    {
        out.settings.push(("aws_access_key_id", id));
        out.settings.push(("aws_secret_access_key", secret));
        if let Some(token) = value("aws_session_token") {
            out.settings.push(("aws_session_token", token));
        }
    } else if !env_has("AWS_ACCESS_KEY_ID") && chosen.is_some() {
        let other = ["role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file"]
            .into_iter()
            .find(|k| value(k).is_some());
        if let Some(kind) = other {
            return Err(format!(
                "the AWS profile {name:?} gets its credentials through {kind}, which sweep does not resolve; export the keys \
                 (`aws configure export-credentials --profile {name} --format env`) or use the environment, web identity or instance credentials"
            ));
        }
    }
    if !env_has("AWS_REGION")
        && !env_has("AWS_DEFAULT_REGION")
        && let Some(region) = value("region")
    {
        out.settings.push(("aws_region", region));
    }
    if !env_has("AWS_ENDPOINT_URL")
        && !env_has("AWS_ENDPOINT")
        && let Some(endpoint) = value("endpoint_url")
    {
        out.settings.push(("aws_endpoint", endpoint));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s1\n\n\
        [team]\naws_access_key_id=AKTEAM\naws_secret_access_key=s2\naws_session_token = tok\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n# a comment\n[profile team]\nregion=us-east-2\n\
        endpoint_url = http://127.0.0.1:9000\n[profile assumed]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n";

    fn keys(s: &ProfileSettings) -> Vec<(&str, &str)> {
        s.settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn the_default_profile_gives_keys_and_region() {
        let s = settings(CREDENTIALS, CONFIG, None, |_| false).unwrap();
        assert_eq!(keys(&s), [("aws_access_key_id", "AKDEFAULT"), ("aws_secret_access_key", "s1"), ("aws_region", "eu-west-1")]);
    }

    #[test]
    fn a_named_profile_is_read_from_both_files() {
        let s = settings(CREDENTIALS, CONFIG, Some("team"), |_| false).unwrap();
        assert_eq!(
            keys(&s),
            [
                ("aws_access_key_id", "AKTEAM"),
                ("aws_secret_access_key", "s2"),
                ("aws_session_token", "tok"),
                ("aws_region", "us-east-2"),
                ("aws_endpoint", "http://127.0.0.1:9000")
            ]
        );
    }

    #[test]
    fn the_environment_wins_over_the_profile() {
        let s = settings(CREDENTIALS, CONFIG, Some("team"), |k| k == "AWS_ACCESS_KEY_ID" || k == "AWS_REGION").unwrap();
        assert_eq!(keys(&s), [("aws_endpoint", "http://127.0.0.1:9000")]);
    }

    #[test]
    fn a_missing_or_unresolvable_profile_is_said_by_name() {
        assert!(settings(CREDENTIALS, CONFIG, Some("nope"), |_| false).unwrap_err().contains("\"nope\""));
        let err = settings(CREDENTIALS, CONFIG, Some("assumed"), |_| false).unwrap_err();
        assert!(err.contains("role_arn"), "{err}");
        // No files and no profile asked for: nothing, and no error.
        assert_eq!(settings("", "", None, |_| false).unwrap(), ProfileSettings::default());
    }
}
