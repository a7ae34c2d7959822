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
