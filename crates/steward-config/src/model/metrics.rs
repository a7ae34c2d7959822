//! The `[metrics]` section: scraping, storage and query limits of the
//! embedded metrics subsystem, `[[metrics.scrape]]` static jobs and
//! `[[metrics.remote_write]]` destinations in Prometheus' vocabulary (so a
//! `scrape_configs` or `remote_write` entry translates key for key).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_core::{ByteSize, HumanDuration, Secret};

/// How steward collects, stores and answers queries on metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether the metrics subsystem runs at all (scraping, the TSDB under
    /// `<data_dir>/metrics`, the `/prometheus` API).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often targets are scraped unless a job says otherwise.
    #[serde(default = "default_scrape_interval")]
    pub scrape_interval: HumanDuration,
    /// How long a scrape may take unless a job says otherwise; at most the
    /// interval.
    #[serde(default = "default_scrape_timeout")]
    pub scrape_timeout: HumanDuration,
    /// Scrape every replica steward runs at its service's `metrics_path`,
    /// labelled `job` (the service), `instance`, `service`, `version` and
    /// `replica`.
    #[serde(default = "default_true")]
    pub scrape_replicas: bool,
    /// Scrape steward's own `/metrics` (job `steward`) and collect host and
    /// per-replica resource metrics (job `steward-resources`, node_exporter
    /// and cAdvisor names).
    #[serde(default = "default_true")]
    pub scrape_self: bool,
    /// Samples older than this are deleted (whole blocks at a time).
    #[serde(default = "default_retention_time")]
    pub retention_time: HumanDuration,
    /// The store's size limit on disk; the oldest blocks go first. `0`
    /// turns the size limit off.
    #[serde(default)]
    pub retention_size: ByteSize,
    /// How far behind a series' newest sample a sample may arrive and still
    /// be stored; `0s` refuses out-of-order samples as Prometheus does by
    /// default.
    #[serde(default)]
    pub out_of_order_window: HumanDuration,
    /// How far back an instant query looks for a series' latest sample.
    #[serde(default = "default_lookback_delta")]
    pub lookback_delta: HumanDuration,
    /// A query taking longer than this is stopped.
    #[serde(default = "default_query_timeout")]
    pub query_timeout: HumanDuration,
    /// The most samples one query may hold in memory at once.
    #[serde(default = "default_query_max_samples")]
    pub query_max_samples: u64,
    /// Static scrape jobs.
    #[serde(default)]
    pub scrape: Vec<ScrapeJob>,
    /// Remote stores every appended sample is also sent to (Prometheus
    /// remote write 1.0), each through a queue on disk under
    /// `<data_dir>/remote-write/<name>`.
    #[serde(default)]
    pub remote_write: Vec<RemoteWrite>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            scrape_interval: default_scrape_interval(),
            scrape_timeout: default_scrape_timeout(),
            scrape_replicas: true,
            scrape_self: true,
            retention_time: default_retention_time(),
            retention_size: ByteSize(0),
            out_of_order_window: HumanDuration::from_secs(0),
            lookback_delta: default_lookback_delta(),
            query_timeout: default_query_timeout(),
            query_max_samples: default_query_max_samples(),
            scrape: Vec::new(),
            remote_write: Vec::new(),
        }
    }
}

/// A static scrape job, as a Prometheus `scrape_configs` entry with
/// `static_configs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrapeJob {
    /// The `job` label of the job's targets.
    pub job: String,
    /// `host:port` of each target.
    pub targets: Vec<String>,
    /// Labels added to every target of the job.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How often the targets are scraped (default `metrics.scrape_interval`).
    #[serde(default)]
    pub interval: Option<HumanDuration>,
    /// How long a scrape may take (default `metrics.scrape_timeout`, at most
    /// the interval).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// The HTTP path of the metrics.
    #[serde(default = "default_metrics_path")]
    pub path: String,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// Query parameters sent with each scrape (a name may repeat).
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer <token>`; write it as
    /// `${ENV_VAR}` to keep it out of the file.
    #[serde(default)]
    pub bearer_token: Option<Secret<String>>,
    /// Keep the target's own `job`/`instance` labels when they clash with
    /// the ones steward attaches (otherwise they are kept as
    /// `exported_<name>`).
    #[serde(default)]
    pub honor_labels: bool,
    /// Keep the timestamps a target exposes (otherwise every sample is
    /// stamped with the scrape's time).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// A scrape with more samples than this (after metric relabelling)
    /// fails as a whole; `0` means no limit.
    #[serde(default)]
    pub sample_limit: u64,
    /// A scrape with a series of more labels than this fails; `0` means no
    /// limit.
    #[serde(default)]
    pub label_limit: u64,
    /// Relabelling applied to each target's labels before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabelling applied to each scraped series before it is stored.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// A `[[metrics.remote_write]]` destination, as a Prometheus
/// `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteWrite {
    /// The endpoint samples are POSTed to (`http` or `https`), e.g.
    /// `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// The queue's name: the `remote_name` label of the remote write
    /// metrics and the directory of its queue. Default: `rw-` and a hash of
    /// the URL.
    #[serde(default)]
    pub name: Option<String>,
    /// How long one request may take.
    #[serde(default = "default_remote_timeout")]
    pub remote_timeout: HumanDuration,
    /// Headers sent with every request (not `Authorization` and the others
    /// the protocol sets); values may be `${ENV_VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret<String>>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer <token>`; write it as
    /// `${ENV_VAR}` to keep it out of the file.
    #[serde(default)]
    pub bearer_token: Option<Secret<String>>,
    /// Relabelling applied to each series before it is queued; a series
    /// dropped here is not sent.
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// How the queue batches, parallelises and retries.
    #[serde(default)]
    pub queue_config: QueueConfig,
}

/// The sending side of a remote write queue, with Prometheus' keys and
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples each shard holds in memory: a round of sending reads at most
    /// `max_shards * capacity` samples from the queue on disk.
    #[serde(default = "default_capacity")]
    pub capacity: u64,
    /// The most requests in flight at once.
    #[serde(default = "default_max_shards")]
    pub max_shards: u64,
    /// The fewest shards a round is split into.
    #[serde(default = "default_min_shards")]
    pub min_shards: u64,
    /// The most samples in one request.
    #[serde(default = "default_max_samples_per_send")]
    pub max_samples_per_send: u64,
    /// How long samples wait for a request to fill before they are sent
    /// anyway.
    #[serde(default = "default_batch_send_deadline")]
    pub batch_send_deadline: HumanDuration,
    /// The first delay before a failed request is retried; it doubles on
    /// each retry.
    #[serde(default = "default_min_backoff")]
    pub min_backoff: HumanDuration,
    /// The longest delay between retries.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// Retry requests answered `429 Too Many Requests` (honouring
    /// `Retry-After`) instead of dropping them.
    #[serde(default = "default_true")]
    pub retry_on_http_429: bool,
    /// The most the queue may take on disk while the remote end is
    /// unreachable; past it the oldest queued samples are dropped (and
    /// counted). Steward's addition: Prometheus bounds it by its WAL.
    #[serde(default = "default_max_disk_size")]
    pub max_disk_size: ByteSize,
}

impl RemoteWrite {
    /// The queue's name: `name`, or `rw-` and eight hex digits of an
    /// FNV-1a hash of the URL (stable across restarts, so the queue on
    /// disk is found again).
    pub fn queue_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in self.url.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        format!("rw-{h:08x}")
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: default_capacity(),
            max_shards: default_max_shards(),
            min_shards: default_min_shards(),
            max_samples_per_send: default_max_samples_per_send(),
            batch_send_deadline: default_batch_send_deadline(),
            min_backoff: default_min_backoff(),
            max_backoff: default_max_backoff(),
            retry_on_http_429: true,
            max_disk_size: default_max_disk_size(),
        }
    }
}

/// The scheme a target is scraped with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTP over TLS (certificates checked against the system's roots).
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// HTTP basic authentication for scrapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password; write it as `${ENV_VAR}`.
    #[serde(default)]
    pub password: Option<Secret<String>>,
}

/// One relabelling step, with Prometheus' keys and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` as the input.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// What joins the source values.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`
    /// and compared by `keepequal`/`dropequal`.
    #[serde(default)]
    pub target_label: Option<String>,
    /// A regular expression, anchored at both ends.
    #[serde(default = "default_regex")]
    pub regex: String,
    /// The modulus of `hashmod`.
    #[serde(default)]
    pub modulus: Option<u64>,
    /// The replacement of `replace` and `labelmap`; `$1`, `${name}` refer to
    /// the regex's groups.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// What the step does.
    #[serde(default)]
    pub action: RelabelAction,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            target_label: None,
            regex: default_regex(),
            modulus: None,
            replacement: default_replacement(),
            action: RelabelAction::default(),
        }
    }
}

/// The relabelling actions of Prometheus 2.42.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    /// Sets `target_label` to the expanded replacement when the regex
    /// matches.
    #[default]
    Replace,
    /// Keeps the series or target only when the regex matches.
    Keep,
    /// Drops the series or target when the regex matches.
    Drop,
    /// Keeps it only when the joined source equals `target_label`'s value.
    Keepequal,
    /// Drops it when the joined source equals `target_label`'s value.
    Dropequal,
    /// Sets `target_label` to a hash of the source modulo `modulus`.
    Hashmod,
    /// Copies labels whose names match to the expanded replacement name.
    Labelmap,
    /// Removes labels whose names match.
    Labeldrop,
    /// Removes labels whose names do not match.
    Labelkeep,
    /// Sets `target_label` to the lowercased source.
    Lowercase,
    /// Sets `target_label` to the uppercased source.
    Uppercase,
}

fn default_true() -> bool {
    true
}

fn default_scrape_interval() -> HumanDuration {
    HumanDuration::from_secs(15)
}

fn default_scrape_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_retention_time() -> HumanDuration {
    HumanDuration::from_secs(15 * 24 * 3600)
}

fn default_lookback_delta() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn default_query_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

fn default_query_max_samples() -> u64 {
    50_000_000
}

fn default_remote_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_capacity() -> u64 {
    2500
}

fn default_max_shards() -> u64 {
    200
}

fn default_min_shards() -> u64 {
    1
}

fn default_max_samples_per_send() -> u64 {
    500
}

fn default_batch_send_deadline() -> HumanDuration {
    HumanDuration::from_secs(5)
}

fn default_min_backoff() -> HumanDuration {
    HumanDuration::from_millis(30)
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration::from_secs(5)
}

fn default_max_disk_size() -> ByteSize {
    ByteSize(1 << 30)
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

fn default_separator() -> String {
    ";".to_owned()
}

fn default_regex() -> String {
    "(.*)".to_owned()
}

fn default_replacement() -> String {
    "$1".to_owned()
}
