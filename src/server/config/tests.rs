use super::*;
use std::{collections::HashMap, time::Duration};

const CREDENTIALS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")];

/// Loads with `args` after the program's name and these variables; no settings file unless
/// `args` names one.
fn load(args: &[&str], vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = CREDENTIALS
        .iter()
        .chain(vars)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut argv = vec!["hoist"];
    if !args.contains(&"--config") {
        argv.extend(["--config", "/nonexistent/Leptos.toml"]);
    }
    argv.extend(args);
    Config::load_from(argv, |name| vars.get(name).cloned())
}

#[test]
fn the_defaults_make_a_working_configuration() {
    let config = load(&[], &[]).expect("defaults");
    assert_eq!(config.rules.upload_ttl, Duration::from_secs(3600));
    assert_eq!(
        config.rules.max_upload_duration,
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        config.background.orphan_sweep,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(config.public_url(), "http://127.0.0.1:3000");
    assert_eq!(config.s3.browser_endpoint(), "http://127.0.0.1:3900");
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("settings.toml");
    std::fs::write(
        &path,
        "[hoist]\nHOIST_URL_TTL = \"5m\"\nHOIST_UPLOAD_TTL = \"2h\"\nHOIST_PART_SIZE = \"8MiB\"\n",
    )
    .expect("write");
    let path = path.to_string_lossy().into_owned();
    let config = load(
        &["--config", &path, "--part-size", "32MiB"],
        &[("HOIST_UPLOAD_TTL", "3h"), ("HOIST_PART_SIZE", "24MiB")],
    )
    .expect("settings");
    assert_eq!(config.rules.part_size, 32 << 20, "the flag");
    assert_eq!(
        config.rules.upload_ttl,
        Duration::from_secs(3 * 3600),
        "the environment"
    );
    assert_eq!(config.rules.url_ttl, Duration::from_secs(300), "the file");
    // An empty variable is unset: the file's value holds.
    let config = load(&["--config", &path], &[("HOIST_UPLOAD_TTL", " ")]).expect("settings");
    assert_eq!(config.rules.upload_ttl, Duration::from_secs(2 * 3600));
}

#[test]
fn a_bad_value_is_named_with_where_it_came_from() {
    let err = load(&[], &[("HOIST_MAX_FILE_SIZE", "huge")]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { name, value, from: Source::Environment, .. }
            if name == "HOIST_MAX_FILE_SIZE" && value == "huge"),
        "{err:?}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, "[hoist]\nHOIST_ALLOWED_TYPES = \"png\"\n").expect("write");
    let path_text = path.to_string_lossy().into_owned();
    let err = load(&["--config", &path_text], &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { name, value, from: Source::File(from), .. }
            if name == "HOIST_ALLOWED_TYPES" && value == "png" && *from == path),
        "{err:?}"
    );
    let err = load(&["--max-connections", "3"], &[]).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::Invalid {
                from: Source::Flag,
                ..
            }
        ),
        "{err:?}"
    );
    // A secret is never echoed.
    let err = load(&[], &[("HOIST_SESSION_SECRET", "short")]).unwrap_err();
    assert!(!err.to_string().contains("short"), "{err}");
}

#[test]
fn an_unknown_name_in_the_file_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, "[hoist]\nHOIST_UPLOAD_TLL = \"1h\"\n").expect("write");
    let path = path.to_string_lossy().into_owned();
    let err = load(&["--config", &path], &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Unknown { name, .. } if name == "HOIST_UPLOAD_TLL"),
        "{err:?}"
    );
}

#[test]
fn urls_must_die_before_their_uploads() {
    let err = load(&[], &[("HOIST_URL_TTL", "2h")]).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Rules(RulesError::UrlOutlivesUpload { .. })
        ),
        "{err:?}"
    );
    let err = load(&[], &[("HOIST_MAX_UPLOAD_DURATION", "30m")]).unwrap_err();
    assert!(
        matches!(err, ConfigError::Rules(RulesError::DurationBelowTtl { .. })),
        "{err:?}"
    );
}

#[test]
fn live_streams_leave_most_connections_to_pages() {
    let config = load(&[], &[("HOIST_MAX_CONNECTIONS", "300")]).unwrap();
    let limits = config.live.limits(config.http.max_connections).unwrap();
    assert_eq!((limits.total, limits.per_network), (75, 64));
    let err = load(
        &[],
        &[("HOIST_MAX_CONNECTIONS", "300"), ("HOIST_LIVE_MAX", "151")],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::LiveOverConnections {
                live: 151,
                connections: 300
            }
        ),
        "{err:?}"
    );
    let config = load(&[], &[("HOIST_LIVE_MAX", "20")]).unwrap();
    assert_eq!(config.live.limits(4096).unwrap().total, 20);
}

#[test]
fn missing_credentials_are_named() {
    let argv = ["hoist", "--config", "/nonexistent/Leptos.toml"];
    let err = Config::load_from(argv, |_| None).unwrap_err().to_string();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
}

#[test]
fn leptos_toml_documents_the_built_in_defaults() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
    let table = parse_settings_table(&text).unwrap();
    let mut checked = 0;
    for (name, default) in documented_defaults() {
        if name == "HOIST_CONFIG" {
            continue;
        }
        match default {
            Some(default) => {
                assert_eq!(
                    table.get(&name),
                    Some(&default),
                    "Leptos.toml entry for {name}"
                );
                checked += 1;
            }
            // No default: documented as a comment, never set in the file.
            None => {
                assert!(!table.contains_key(&name), "{name} has no default");
                assert!(text.contains(&name.to_string()), "{name} is not documented");
            }
        }
    }
    assert!(checked >= 20, "only {checked} defaults checked");
}
