//! The `steward.toml` schema: plain data types with serde and JSON Schema
//! derives. The doc comments here are the reference documentation of the
//! file format; `steward config schema` publishes them for editors.
//!
//! It is one file (past 800 lines) on purpose: it is that reference, read
//! from the top, section after section, most of it doc comments. A section
//! that grows a vocabulary of its own moves to a submodule (`[metrics]`
//! with its scrape jobs and relabelling steps: `model/metrics.rs`;
//! `[services.rollout]` with its strategies, gates and canary steps:
//! `model/rollout.rs`).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{ByteSize, HumanDuration, Name, Secret, Version};

mod alerts;
mod incidents;
mod logs;
mod metrics;
mod oncall;
mod rollout;
mod rules;

pub use alerts::{AlertsConfig, SEVERITY_LEVELS, SeverityRuleConfig};
pub use incidents::{IncidentsConfig, SloConfig};
pub use logs::{LogForward, LogsConfig, MultilineConfig};
pub use metrics::{
    BasicAuth, MetricsConfig, QueueConfig, RelabelAction, RelabelConfig, RemoteWrite, Scheme,
    ScrapeJob,
};
pub use oncall::{OncallConfig, UserConfig};
pub use rollout::{
    CanaryMetric, CanaryStep, Direction, GateCompare, GateConfig, GateMode, QUERY_PLACEHOLDERS,
    Rollout, SmokeCheck, Strategy, render_query,
};
pub use rules::{AlertmanagersConfig, RulesConfig};

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
    /// How the services' proxies treat clients: timeouts, connection
    /// cap, trusted proxies.
    #[serde(default)]
    pub proxy: ProxyConfig,
    /// How long steward keeps what accumulates: journal events, replica
    /// logs and migration backups.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Metrics: scraping, the embedded time-series store, query limits.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Recording and alerting rules, and the Alertmanagers their alerts
    /// go to.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Steward's AlertManager: Alertmanager's configuration, and what
    /// Alertmanager sets by flags.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Logs: collection of the replicas' output, the embedded log store,
    /// Loki's and OpenTelemetry's protocols.
    #[serde(default)]
    pub logs: LogsConfig,
    /// On-call: who is paged, when.
    #[serde(default)]
    pub oncall: OncallConfig,
    /// Incidents: which alert groups open them, who is paged, the
    /// response plans.
    #[serde(default)]
    pub incidents: IncidentsConfig,
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
    /// Longest a client may take from the first byte of a request (or of
    /// the TLS handshake) until its headers are complete; a slower
    /// connection is closed. `0s` turns it off.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: HumanDuration,
    /// A connection with no request in flight that sends nothing for this
    /// long is closed (keep-alive connections between requests, and
    /// connections that never send one). `0s` turns it off.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// Most connections served at once; further ones wait in the kernel's
    /// accept queue until one closes. `0` turns the limit off.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Requests per second that one client address (IPv4 address or IPv6
    /// /64) may make on average; more are answered 429 with `Retry-After`.
    /// Applies before authentication. `0` turns the limit off.
    #[serde(default = "default_rate_limit_per_second")]
    pub rate_limit_per_second: u32,
    /// Requests a client may make at once above that rate (the bucket's
    /// size).
    #[serde(default = "default_rate_limit_burst")]
    pub rate_limit_burst: u32,
    /// Event streams (server-sent events) one token may hold open at once;
    /// the next is answered 429. `0` turns the limit off.
    #[serde(default = "default_max_streams_per_token")]
    pub max_streams_per_token: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            data_dir: default_data_dir(),
            state_url: None,
            tls: None,
            header_read_timeout: default_header_read_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: default_max_connections(),
            rate_limit_per_second: default_rate_limit_per_second(),
            rate_limit_burst: default_rate_limit_burst(),
            max_streams_per_token: default_max_streams_per_token(),
        }
    }
}

fn default_header_read_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_idle_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_max_connections() -> u32 {
    256
}

fn default_rate_limit_per_second() -> u32 {
    50
}

fn default_rate_limit_burst() -> u32 {
    200
}

fn default_max_streams_per_token() -> u32 {
    8
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

/// The proxy steward runs on each service's `port` and how it treats
/// clients. The proxy is the edge: it sets `X-Forwarded-For` (the
/// client's address), `X-Forwarded-Proto` (`http`), `X-Forwarded-Host`
/// (the `Host` header), `X-Real-IP` and `Forwarded` itself, and drops
/// what a client sent in those and in `X-Forwarded-Port`, unless the
/// client's address is in `trusted_proxies`. A timeout of `0` turns that
/// timeout off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// HTTP: how long a request's headers may take to arrive, from their
    /// first byte (from the accept for a connection's first request); a
    /// client still sending them then (slowloris) is disconnected.
    #[serde(default = "default_proxy_header_read_timeout")]
    pub header_read_timeout: HumanDuration,
    /// HTTP: how long a keep-alive connection may wait for its next
    /// request before it is closed.
    #[serde(default = "default_proxy_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// HTTP: the longest pause while a client sends a request body; past
    /// it the client gets 408, its connection is closed and the request to
    /// the replica is aborted.
    #[serde(default = "default_proxy_body_read_timeout")]
    pub body_read_timeout: HumanDuration,
    /// Client connections each proxy serves at once (HTTP and TCP);
    /// further ones wait unaccepted, in the listen backlog, until one
    /// closes. Keep it within the process's file descriptor limit.
    #[serde(default = "default_proxy_max_connections")]
    #[schemars(range(min = 1))]
    pub max_connections: u32,
    /// TCP services: a connection with no bytes either way for this long
    /// is closed on both sides.
    #[serde(default = "default_proxy_tcp_idle_timeout")]
    pub tcp_idle_timeout: HumanDuration,
    /// Addresses or CIDR networks of proxies in front of steward (a load
    /// balancer, a TLS terminator), e.g. `["10.0.0.0/8", "192.0.2.7"]`.
    /// Their `X-Forwarded-*`, `Forwarded` and `X-Real-IP` are kept, the
    /// connecting address appended to `X-Forwarded-For`, and `X-Real-IP`
    /// set to the last address in that chain that is not a trusted proxy.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNetwork>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            header_read_timeout: default_proxy_header_read_timeout(),
            idle_timeout: default_proxy_idle_timeout(),
            body_read_timeout: default_proxy_body_read_timeout(),
            max_connections: default_proxy_max_connections(),
            tcp_idle_timeout: default_proxy_tcp_idle_timeout(),
            trusted_proxies: Vec::new(),
        }
    }
}

fn default_proxy_header_read_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_proxy_idle_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_proxy_body_read_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_proxy_max_connections() -> u32 {
    4096
}

fn default_proxy_tcp_idle_timeout() -> HumanDuration {
    HumanDuration::from_secs(600)
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), or one
/// address (`192.0.2.7`, a network of that address alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork(ipnet::IpNet);

impl IpNetwork {
    /// The network.
    pub fn net(self) -> ipnet::IpNet {
        self.0
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let net = match text.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(ipnet::IpNet::from(ip)),
            Err(_) => text.parse::<ipnet::IpNet>(),
        };
        // A prefix longer than the address is ipnet's most common
        // rejection; the message says what a valid one looks like.
        net.map(IpNetwork).map_err(|_| {
            format!("`{text}` is not an IP address or a CIDR network like `10.0.0.0/8`")
        })
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for IpNetwork {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for IpNetwork {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IpNetwork".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The pattern catches the shape (the schema check reports every
        // such mistake in one run); parsing checks the numbers.
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$",
            "description": "An IP address or a CIDR network, e.g. `10.0.0.0/8`, `192.0.2.7` or `2001:db8::/32`",
        })
    }
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
    pub fn engine(&self) -> &'static str {
        steward_core::DatabaseUrl::parse(self.url.expose())
            .map_or("unknown", |url| url.engine().as_str())
    }
}

/// URL schemes accepted for databases.
pub use steward_core::DATABASE_SCHEMES;

/// What steward keeps of what accumulates in its state database and data
/// directory, and for how long. A background task applies these limits
/// every `interval` (the first time shortly after start) and journals a
/// `retention.pruned` event when it removed something. A limit of `0`
/// (duration, count or size) turns that limit off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Journal events older than this are deleted (the audit log's
    /// horizon).
    #[serde(default = "default_journal_max_age")]
    pub journal_max_age: HumanDuration,
    /// At most this many journal events are kept: the newest.
    #[serde(default = "default_journal_max_events")]
    pub journal_max_events: u64,
    /// A replica's log file (`<data_dir>/logs/<service>/<replica>.stdout.log`
    /// or `.stderr.log`) is rotated when it grows past this size: copied to
    /// `.1` (older copies shift to `.2`, ...) and emptied in place, so the
    /// running replica keeps writing to it.
    #[serde(default = "default_logs_max_size")]
    pub logs_max_size: ByteSize,
    /// Rotated copies kept per log file (`.1` newest to `.N` oldest); `0`
    /// empties a log that reached `logs_max_size` without keeping a copy.
    #[serde(default = "default_logs_keep")]
    pub logs_keep: u32,
    /// Rotated log copies, and logs of replicas that no longer run, older
    /// than this (by last write) are deleted.
    #[serde(default = "default_logs_max_age")]
    pub logs_max_age: HumanDuration,
    /// Migration backups (`<data_dir>/backups/<database>/`) older than this
    /// are deleted; the newest backup of each database is always kept.
    #[serde(default = "default_backups_max_age")]
    pub backups_max_age: HumanDuration,
    /// At most this many backups are kept per database: the newest.
    #[serde(default = "default_backups_keep")]
    pub backups_keep: u32,
    /// How often the limits are applied; `0` turns retention off.
    #[serde(default = "default_retention_interval")]
    pub interval: HumanDuration,
}

impl RetentionConfig {
    /// How many backups a database keeps (`backups_keep`, where 0 means
    /// no count limit), for the pruning after each migration run.
    pub fn backups_to_keep(&self) -> usize {
        match self.backups_keep {
            0 => usize::MAX,
            keep => keep as usize,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            journal_max_age: default_journal_max_age(),
            journal_max_events: default_journal_max_events(),
            logs_max_size: default_logs_max_size(),
            logs_keep: default_logs_keep(),
            logs_max_age: default_logs_max_age(),
            backups_max_age: default_backups_max_age(),
            backups_keep: default_backups_keep(),
            interval: default_retention_interval(),
        }
    }
}

const DAY_SECS: u64 = 24 * 3600;

fn default_journal_max_age() -> HumanDuration {
    HumanDuration::from_secs(90 * DAY_SECS)
}

fn default_journal_max_events() -> u64 {
    1_000_000
}

fn default_logs_max_size() -> ByteSize {
    ByteSize(50 << 20)
}

fn default_logs_keep() -> u32 {
    3
}

fn default_logs_max_age() -> HumanDuration {
    HumanDuration::from_secs(14 * DAY_SECS)
}

fn default_backups_max_age() -> HumanDuration {
    HumanDuration::from_secs(30 * DAY_SECS)
}

fn default_backups_keep() -> u32 {
    10
}

fn default_retention_interval() -> HumanDuration {
    HumanDuration::from_secs(600)
}
