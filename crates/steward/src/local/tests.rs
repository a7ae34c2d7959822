//! Unit tests for the `local` module.

use std::path::Path;

use steward_config::{Environment, load_str};

use super::*;

#[test]
fn the_embedded_example_is_valid() {
    let loaded = load_config(&ConfigSource::Embedded).unwrap();
    assert_eq!(loaded.display_name(), EMBEDDED_NAME);
    assert!(!loaded.config.services.is_empty());
    assert_eq!(server_url(&loaded), "http://127.0.0.1:7373");
}

#[test]
fn an_unspecified_listen_address_is_reached_on_loopback() {
    let loaded = load_str(
        "t",
        "[server]\nlisten = \"0.0.0.0:9000\"\n",
        Path::new("."),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(server_url(&loaded), "http://127.0.0.1:9000");
    let loaded = load_str(
        "t",
        "[server]\nlisten = \"[::]:9000\"\n",
        Path::new("."),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(server_url(&loaded), "http://[::1]:9000");
}

#[test]
fn an_explicit_path_wins() {
    assert_eq!(
        resolve(Some(Path::new("x.toml"))),
        ConfigSource::File("x.toml".into())
    );
}

/// A configuration listening on `listen` whose data directory holds an
/// admin token.
fn with_admin_token(dir: &Path, listen: &str) -> LoadedConfig {
    std::fs::write(dir.join("admin.token"), "stw_local_admin\n").unwrap();
    load_str(
        "./steward.toml",
        &format!(
            "[server]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\n",
            dir.display()
        ),
        Path::new("."),
        &Environment::default(),
    )
    .unwrap()
}

#[test]
fn the_admin_token_is_read_for_loopback_servers() {
    let dir = tempfile::tempdir().unwrap();
    for listen in [
        "127.0.0.1:7373",
        "127.8.9.10:7373",
        "[::1]:7373",
        "[::ffff:127.0.0.1]:7373",
        "0.0.0.0:7373",
        "[::]:7373",
    ] {
        let loaded = with_admin_token(dir.path(), listen);
        assert_eq!(
            admin_token(&loaded).unwrap().as_deref(),
            Some("stw_local_admin"),
            "{listen}"
        );
    }
}

#[test]
fn the_admin_token_is_never_sent_off_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    for listen in ["10.1.2.3:7373", "192.0.2.7:443", "[2001:db8::1]:7373"] {
        let loaded = with_admin_token(dir.path(), listen);
        let err = admin_token(&loaded).unwrap_err().to_string();
        assert!(
            err.contains("is not on this machine") && err.contains("--token or set STEWARD_TOKEN"),
            "{listen}: {err}"
        );
        assert!(!err.contains("stw_local_admin"), "{err}");
    }
}

#[test]
fn a_missing_admin_token_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = with_admin_token(dir.path(), "127.0.0.1:7373");
    std::fs::remove_file(dir.path().join("admin.token")).unwrap();
    assert_eq!(admin_token(&loaded).unwrap(), None);
}
