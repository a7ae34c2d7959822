//! The `steward.toml` schema: plain data types with serde and JSON Schema
//! derives. The doc comments here are the reference documentation of the
//! file format; `steward config schema` publishes them for editors.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{ByteSize, HumanDuration, Name, Secret};

/// The whole configuration: steward itself and the system it operates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How steward itself runs.
    #[serde(default)]
    pub server: ServerConfig,
    /// The services of the operated system.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// The databases of the operated system, migrated by steward.
    #[serde(default)]
    pub databases: Vec<DatabaseConfig>,
}

impl Config {
    /// The service with this name, if configured.
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services
            .iter()
            .find(|service| service.name.as_str() == name)
    }
}

/// Steward's own listener, data and state.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the API listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory for steward's data (state database, admin token, logs),
    /// relative to the configuration file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// State database URL: `sqlite://<path>` (default: `steward.db` in the
    /// data directory) or `postgres://user:password@host/db` so that several
    /// steward replicas share state.
    #[serde(default)]
    pub state_url: Option<Secret<String>>,
    /// Serve the API over TLS with this certificate and key.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            data_dir: default_data_dir(),
            state_url: None,
            tls: None,
        }
    }
}

/// The default API address: loopback only, so a laptop install is not
/// reachable from the network until someone decides it should be.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7373";

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .expect("default listen address is valid")
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(".steward")
}

/// TLS for steward's listener.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, relative to the configuration file.
    pub cert: PathBuf,
    /// PEM private key, relative to the configuration file.
    pub key: PathBuf,
}

/// One service of the operated system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Unique service name (a lowercase DNS label).
    pub name: Name,
    /// How to run the service as local processes.
    #[serde(default)]
    pub process: Option<ProcessRun>,
    /// How to run the service as Docker containers.
    #[serde(default)]
    pub docker: Option<DockerRun>,
    /// Number of replicas to run.
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// Public port on which steward's proxy serves this service.
    #[serde(default)]
    pub port: Option<u16>,
    /// How steward decides that a replica is healthy.
    #[serde(default)]
    pub health: Option<HealthCheck>,
    /// HTTP path of the service's Prometheus metrics; not scraped when unset.
    #[serde(default)]
    pub metrics_path: Option<String>,
    /// Environment variables for every replica; values may reference
    /// secrets as `${ENV_VAR}`.
    #[serde(default)]
    pub env: BTreeMap<String, Secret<String>>,
    /// Services that must be running and healthy before this one starts.
    #[serde(default)]
    pub depends_on: Vec<Name>,
    /// Resource limits per replica.
    #[serde(default)]
    pub resources: Option<Resources>,
}

fn default_replicas() -> u32 {
    1
}

/// Placeholders a process command may use.
pub const PROCESS_PLACEHOLDERS: [&str; 4] = ["version", "port", "replica", "service"];

/// Placeholders a Docker image reference may use.
pub const IMAGE_PLACEHOLDERS: [&str; 1] = ["version"];

/// Running a service as supervised local processes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessRun {
    /// The argv vector (never a shell string). `{version}`, `{port}`,
    /// `{replica}` and `{service}` are replaced per replica; `{{` and `}}`
    /// stand for literal braces.
    pub command: Vec<String>,
    /// Working directory, relative to the configuration file.
    #[serde(default)]
    pub workdir: Option<PathBuf>,
}

/// Running a service as Docker containers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DockerRun {
    /// Image reference; `{version}` is replaced by the release version.
    pub image: String,
    /// Port the service listens on inside the container.
    pub port: u16,
    /// Arguments overriding the image's command.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// A health check: exactly one of `http`, `tcp` or `command`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// HTTP path that answers 2xx when the replica is healthy.
    #[serde(default)]
    pub http: Option<String>,
    /// Healthy when the replica's port accepts a TCP connection.
    #[serde(default)]
    pub tcp: Option<bool>,
    /// Command (argv) that exits 0 when the replica is healthy.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Time between checks.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// How long one check may take.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Consecutive successes before a replica counts as healthy.
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
    /// Consecutive failures before a replica counts as unhealthy.
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
    /// Grace time after start during which failures do not count.
    #[serde(default)]
    pub start_period: HumanDuration,
}

fn default_interval() -> HumanDuration {
    HumanDuration::from_secs(2)
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_healthy_threshold() -> u32 {
    1
}

fn default_unhealthy_threshold() -> u32 {
    3
}

/// How a health check probes a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe<'a> {
    /// GET this path and expect 2xx.
    Http(&'a str),
    /// Connect to the replica's port.
    Tcp,
    /// Run this argv and expect exit status 0.
    Command(&'a [String]),
}

impl HealthCheck {
    /// The probe this check uses. Validation guarantees exactly one is set.
    pub fn probe(&self) -> Probe<'_> {
        match (&self.http, self.tcp, &self.command) {
            (Some(path), _, _) => Probe::Http(path),
            (None, _, Some(argv)) => Probe::Command(argv),
            (None, _, None) => Probe::Tcp,
        }
    }
}

/// Resource limits of one replica.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU limit in cores, e.g. `0.5`.
    #[serde(default)]
    pub cpus: Option<f64>,
    /// Memory limit, e.g. `256MiB`.
    #[serde(default)]
    pub memory: Option<ByteSize>,
}

/// A database of the operated system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Unique database name.
    pub name: Name,
    /// Connection URL (`sqlite://`, `postgres://`, `mysql://`); may
    /// reference secrets as `${ENV_VAR}`.
    pub url: Secret<String>,
    /// Directory of migrations, relative to the configuration file.
    #[serde(default)]
    pub migrations: Option<PathBuf>,
}

impl DatabaseConfig {
    /// The engine, as the URL's scheme says (`sqlite`, `postgres`...);
    /// shown in status and API listings (the URL itself may hold secrets).
    pub fn engine(&self) -> &str {
        self.url.expose().split(':').next().unwrap_or_default()
    }
}

/// URL schemes accepted for databases.
pub const DATABASE_SCHEMES: [&str; 5] = ["sqlite", "postgres", "postgresql", "mysql", "mariadb"];
