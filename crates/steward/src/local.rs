//! The local configuration: which file (or the embedded example) a command
//! uses, and what it tells a client about the local server.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use steward_config::{Environment, LoadedConfig, load, load_str};
use steward_server::ADMIN_TOKEN_FILE;

use crate::UsageError;

/// The example agent system, used when no configuration is given.
const EMBEDDED_EXAMPLE: &str = include_str!("../../../examples/agent-system/steward.toml");

/// Where the example lives in a source checkout; its relative paths
/// (migrations) resolve there when it exists.
const EXAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/agent-system");

/// Display name of the embedded example in messages.
pub(crate) const EMBEDDED_NAME: &str = "<embedded example agent-system>";

/// Which configuration a command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigSource {
    /// A file.
    File(PathBuf),
    /// The embedded example system.
    Embedded,
}

/// The configuration to use: the one given, else `./steward.toml` when it
/// exists, else the embedded example.
pub(crate) fn resolve(explicit: Option<&Path>) -> ConfigSource {
    match explicit {
        Some(path) => ConfigSource::File(path.to_owned()),
        None if Path::new("steward.toml").is_file() => {
            ConfigSource::File(PathBuf::from("steward.toml"))
        }
        None => ConfigSource::Embedded,
    }
}

/// Loads and validates a configuration with the process environment.
pub(crate) fn load_config(source: &ConfigSource) -> Result<LoadedConfig, steward_config::Error> {
    let env = Environment::from_process();
    match source {
        ConfigSource::File(path) => load(path, &env),
        ConfigSource::Embedded => {
            let base = Path::new(EXAMPLE_DIR);
            let base = if base.is_dir() {
                base.to_owned()
            } else {
                PathBuf::from(".")
            };
            load_str(EMBEDDED_NAME, EMBEDDED_EXAMPLE, &base, &env)
        }
    }
}

/// The address a client reaches a server with this configuration at.
fn client_addr(config: &LoadedConfig) -> SocketAddr {
    let mut addr = config.config.server.listen;
    if addr.ip().is_unspecified() {
        // Listening on every interface: loopback reaches it.
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}

/// The admin token that `steward up` wrote into this configuration's data
/// directory, if there is one. A `steward.toml` that happens to be in the
/// working directory may name any address, so the token goes only to a
/// server on this machine (a loopback address); for any other the caller
/// must say which token to use.
pub(crate) fn admin_token(config: &LoadedConfig) -> Result<Option<String>, UsageError> {
    let addr = client_addr(config);
    if !addr.ip().to_canonical().is_loopback() {
        return Err(UsageError(format!(
            "{} points the CLI at {addr}, which is not on this machine; the local admin token is only ever sent to a loopback address: pass --token or set STEWARD_TOKEN",
            config.display_name()
        )));
    }
    let file = config.data_dir().join(ADMIN_TOKEN_FILE);
    Ok(std::fs::read_to_string(file)
        .ok()
        .map(|token| token.trim().to_owned()))
}

/// The URL a client reaches a server with this configuration at.
pub(crate) fn server_url(config: &LoadedConfig) -> String {
    let server = &config.config.server;
    let addr = client_addr(config);
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{addr}")
}

#[cfg(test)]
mod tests;
