//! The `steward.toml` schema: plain data types with serde and JSON Schema
//! derives. The doc comments here are the reference documentation of the
//! file format; `steward config schema` publishes them for editors.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{ByteSize, HumanDuration, Name, Secret, Version};

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
    /// How deployments run: backend, crash recovery, hooks, freezes.
    #[serde(default)]
    pub deploy: DeployConfig,
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
    /// What the proxy on `port` forwards: HTTP requests or TCP connections.
    #[serde(default)]
    pub protocol: ServiceProtocol,
    /// How a new version replaces the running one.
    #[serde(default)]
    pub rollout: Rollout,
}

/// What a service's proxy forwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceProtocol {
    /// HTTP/1.1 requests, balanced per request (the default).
    #[default]
    Http,
    /// Plain TCP connections, balanced per connection.
    Tcp,
}

/// How a deployment replaces a service's replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// `rolling` (replace a few replicas at a time) or `blue_green` (start
    /// a whole new set, then switch traffic at once).
    #[serde(default)]
    pub strategy: Strategy,
    /// Rolling: replicas started above the desired count at a time.
    #[serde(default = "default_max_surge")]
    pub max_surge: u32,
    /// Rolling: replicas that may be out of service at a time.
    #[serde(default)]
    pub max_unavailable: u32,
    /// How long in-flight requests of a replica being removed may take.
    #[serde(default = "default_drain_timeout")]
    pub drain_timeout: HumanDuration,
    /// Time between SIGTERM and SIGKILL when a replica stops.
    #[serde(default = "default_stop_grace")]
    pub stop_grace: HumanDuration,
    /// The longest a service's update may take before it fails.
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline: HumanDuration,
    /// Blue-green: how long the old set keeps running after the switch,
    /// for an instant rollback.
    #[serde(default = "default_keep_old_for")]
    pub keep_old_for: HumanDuration,
    /// After the update, how long every replica must stay healthy.
    #[serde(default = "default_verify_window")]
    pub verify_window: HumanDuration,
    /// Checks run through the proxy after the verify window; any failure
    /// rolls the deployment back.
    #[serde(default)]
    pub smoke: Vec<SmokeCheck>,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            strategy: Strategy::default(),
            max_surge: default_max_surge(),
            max_unavailable: 0,
            drain_timeout: default_drain_timeout(),
            stop_grace: default_stop_grace(),
            progress_deadline: default_progress_deadline(),
            keep_old_for: default_keep_old_for(),
            verify_window: default_verify_window(),
            smoke: Vec::new(),
        }
    }
}

fn default_max_surge() -> u32 {
    1
}

fn default_drain_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_stop_grace() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_progress_deadline() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_keep_old_for() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_verify_window() -> HumanDuration {
    HumanDuration::from_secs(10)
}

/// How replicas are replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A few at a time, within `max_surge` and `max_unavailable`.
    #[default]
    Rolling,
    /// The whole new set, then one atomic switch.
    BlueGreen,
}

/// A check of the new version after its verify window: an HTTP request
/// through the service's proxy, or a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    /// Path requested through the service's proxy.
    #[serde(default)]
    pub http: Option<String>,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Request body (sent as JSON when it parses as JSON).
    #[serde(default)]
    pub body: Option<String>,
    /// Expected response status.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
    /// Command (argv) that must exit 0; `STEWARD_SERVICE_URL` names the
    /// service's proxy.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_expect_status() -> u16 {
    200
}

/// How deployments run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// Where replicas run: `process` (supervised local processes, the
    /// default) or `docker`.
    #[serde(default)]
    pub backend: BackendKind,
    /// What steward does with a deployment its crash interrupted:
    /// `rollback` (the default) or `resume`.
    #[serde(default)]
    pub on_crash: RecoveryPolicy,
    /// Commands run around deployments.
    #[serde(default)]
    pub hooks: Hooks,
    /// Periods in which deployments are refused (unless forced).
    #[serde(default)]
    pub freeze: Vec<FreezeWindow>,
    /// Free space the data directory needs before a deployment starts.
    #[serde(default = "default_min_free_disk")]
    pub min_free_disk: ByteSize,
    /// Docker network the system's containers join (docker backend).
    #[serde(default = "default_network")]
    pub docker_network: String,
    /// Release version `steward up` deploys for services that have never
    /// been deployed.
    #[serde(default = "default_initial_version")]
    pub initial_version: Version,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            backend: BackendKind::default(),
            on_crash: RecoveryPolicy::default(),
            hooks: Hooks::default(),
            freeze: Vec::new(),
            min_free_disk: default_min_free_disk(),
            docker_network: default_network(),
            initial_version: default_initial_version(),
        }
    }
}

fn default_min_free_disk() -> ByteSize {
    ByteSize(256 << 20)
}

fn default_initial_version() -> Version {
    Version::new("1.0.0").expect("valid version")
}

fn default_network() -> String {
    "steward".to_owned()
}

/// Where replicas run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Supervised child processes of steward.
    #[default]
    Process,
    /// Containers in the local Docker engine.
    Docker,
}

/// What to do with a deployment interrupted by a crash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryPolicy {
    /// Undo its completed steps (the default: the last known good state).
    #[default]
    Rollback,
    /// Carry on from the step it was in.
    Resume,
}

/// Commands (argv vectors, never shell strings) run around deployments,
/// with `STEWARD_VERSION`, `STEWARD_SERVICES`, `STEWARD_DEPLOYMENT_ID` and
/// `STEWARD_ACTOR` in their environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Before anything changes; a failure aborts the deployment.
    #[serde(default)]
    pub pre_deploy: Option<Vec<String>>,
    /// After a deployment succeeded.
    #[serde(default)]
    pub post_deploy: Option<Vec<String>>,
    /// After a deployment was rolled back.
    #[serde(default)]
    pub on_rollback: Option<Vec<String>>,
    /// How long a hook may run.
    #[serde(default = "default_hook_timeout")]
    pub timeout: HumanDuration,
}

fn default_hook_timeout() -> HumanDuration {
    HumanDuration::from_secs(300)
}

/// A change freeze: deployments are refused between `start` and `end`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    /// Start, RFC 3339 (e.g. `2026-12-24T00:00:00Z`).
    pub start: chrono::DateTime<chrono::Utc>,
    /// End, RFC 3339.
    pub end: chrono::DateTime<chrono::Utc>,
    /// Why (shown when a deployment is refused).
    #[serde(default)]
    pub reason: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
