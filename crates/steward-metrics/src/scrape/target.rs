//! Scrape jobs and their targets: a job's settings resolved from
//! `steward.toml` (or built for steward's replicas), and each target's
//! labels computed as Prometheus does (discovered labels, target
//! relabelling, `instance` defaulting to the address, `__` labels removed,
//! `__param_*` labels becoming URL parameters).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use steward_config::{MetricsConfig, Scheme, ScrapeJob};

use crate::{
    Labels, Result,
    labels::LabelsBuilder,
    relabel::{self, Action, RelabelConfig, RelabelSpec},
};

/// How a job's targets are reached and authenticated.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No Authorization header.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // credentials never reach logs
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Something that produces an exposition in-process (steward's own
/// metrics and the resource collectors), scraped like an HTTP target but
/// without a request.
pub trait LocalSource: Send + Sync + 'static {
    /// The exposition in the text format 0.0.4.
    fn expose(&self) -> String;
}

/// A scrape job with every setting resolved.
#[derive(Clone)]
pub struct JobConfig {
    /// The job name (`job` label, scrape pool name).
    pub name: String,
    /// Scrape interval.
    pub interval: Duration,
    /// Scrape timeout (at most the interval).
    pub timeout: Duration,
    /// HTTP path.
    pub path: String,
    /// `http` or `https`.
    pub scheme: Scheme,
    /// URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// Authorization.
    pub auth: Auth,
    /// Scraped labels win over target labels.
    pub honor_labels: bool,
    /// Exposed timestamps are kept.
    pub honor_timestamps: bool,
    /// At most this many samples per scrape after metric relabelling (0: no limit).
    pub sample_limit: usize,
    /// At most this many labels per series (0: no limit).
    pub label_limit: usize,
    /// Target relabelling.
    pub relabel: Vec<RelabelConfig>,
    /// Metric relabelling.
    pub metric_relabel: Vec<RelabelConfig>,
    /// The targets: discovered labels (`__address__` and group labels).
    pub targets: Vec<Labels>,
    /// For in-process jobs: what to scrape instead of HTTP.
    pub local: Option<Arc<dyn LocalSource>>,
}

impl std::fmt::Debug for JobConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobConfig")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("targets", &self.targets.len())
            .field("local", &self.local.is_some())
            .finish_non_exhaustive()
    }
}

impl JobConfig {
    /// A job with steward's defaults and no targets.
    pub fn new(name: impl Into<String>, metrics: &MetricsConfig) -> Self {
        JobConfig {
            name: name.into(),
            interval: metrics.scrape_interval.0,
            timeout: metrics.scrape_timeout.0.min(metrics.scrape_interval.0),
            path: "/metrics".to_owned(),
            scheme: Scheme::Http,
            params: BTreeMap::new(),
            auth: Auth::None,
            honor_labels: false,
            honor_timestamps: true,
            sample_limit: 0,
            label_limit: 0,
            relabel: Vec::new(),
            metric_relabel: Vec::new(),
            targets: Vec::new(),
            local: None,
        }
    }

    /// A `[[metrics.scrape]]` job with the section's defaults applied; an
    /// error when a relabelling step does not compile (the configuration
    /// checks catch these first, with their file and line).
    pub fn from_config(job: &ScrapeJob, metrics: &MetricsConfig) -> Result<Self> {
        let interval = job.interval.unwrap_or(metrics.scrape_interval).0;
        let timeout = job
            .timeout
            .map(|t| t.0)
            .unwrap_or(metrics.scrape_timeout.0)
            .min(interval);
        let auth = match (&job.basic_auth, &job.bearer_token) {
            (Some(basic), _) => Auth::Basic {
                username: basic.username.clone(),
                password: basic
                    .password
                    .as_ref()
                    .map(|p| p.expose().clone())
                    .unwrap_or_default(),
            },
            (None, Some(token)) => Auth::Bearer(token.expose().clone()),
            (None, None) => Auth::None,
        };
        let targets = job
            .targets
            .iter()
            .map(|address| {
                let mut b = LabelsBuilder::default();
                for (name, value) in &job.labels {
                    b.set(name.as_str(), value.as_str());
                }
                b.set(ADDRESS, address.as_str());
                b.build()
            })
            .collect();
        Ok(JobConfig {
            name: job.job.clone(),
            interval,
            timeout,
            path: job.path.clone(),
            scheme: job.scheme,
            params: job.params.clone(),
            auth,
            honor_labels: job.honor_labels,
            honor_timestamps: job.honor_timestamps,
            sample_limit: job.sample_limit as usize,
            label_limit: job.label_limit as usize,
            relabel: compile(&job.relabel_configs)?,
            metric_relabel: compile(&job.metric_relabel_configs)?,
            targets,
            local: None,
        })
    }
}

/// Compiles relabelling steps as written in `steward.toml`.
pub fn compile(steps: &[steward_config::RelabelConfig]) -> Result<Vec<RelabelConfig>> {
    steps
        .iter()
        .map(|step| {
            use steward_config::RelabelAction as A;
            RelabelConfig::new(RelabelSpec {
                source_labels: step.source_labels.clone(),
                separator: step.separator.clone(),
                target_label: step.target_label.clone().unwrap_or_default(),
                regex: step.regex.clone(),
                modulus: step.modulus.unwrap_or(0),
                replacement: step.replacement.clone(),
                action: match step.action {
                    A::Replace => Action::Replace,
                    A::Keep => Action::Keep,
                    A::Drop => Action::Drop,
                    A::Keepequal => Action::KeepEqual,
                    A::Dropequal => Action::DropEqual,
                    A::Hashmod => Action::HashMod,
                    A::Labelmap => Action::LabelMap,
                    A::Labeldrop => Action::LabelDrop,
                    A::Labelkeep => Action::LabelKeep,
                    A::Lowercase => Action::Lowercase,
                    A::Uppercase => Action::Uppercase,
                },
            })
        })
        .collect()
}

/// The label holding a target's `host:port`.
pub const ADDRESS: &str = "__address__";
const METRICS_PATH: &str = "__metrics_path__";
const SCHEME: &str = "__scheme__";
const PARAM_PREFIX: &str = "__param_";
const INTERVAL: &str = "__scrape_interval__";
const TIMEOUT: &str = "__scrape_timeout__";

/// A target ready to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The labels attached to every series scraped from it.
    pub labels: Labels,
    /// The labels it was discovered with, before relabelling.
    pub discovered: Labels,
    /// The URL scraped (for local sources, a description).
    pub url: String,
}

/// What target relabelling made of a discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A target to scrape.
    Target(Target),
    /// Dropped by relabelling (shown in the API's dropped targets).
    Dropped(Labels),
    /// Relabelling left it without an address or with a bad one.
    Invalid {
        /// The discovered labels.
        discovered: Labels,
        /// Why it cannot be scraped.
        reason: String,
    },
}

/// Computes a target from its discovered labels as Prometheus'
/// `PopulateLabels` does.
pub fn resolve(job: &JobConfig, discovered: &Labels) -> Resolved {
    let mut b = discovered.builder();
    b.set("job", job.name.as_str());
    if b.get(METRICS_PATH).is_none() {
        b.set(METRICS_PATH, job.path.as_str());
    }
    if b.get(SCHEME).is_none() {
        b.set(SCHEME, job.scheme.as_str());
    }
    b.set(INTERVAL, format_duration(job.interval));
    b.set(TIMEOUT, format_duration(job.timeout));
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            b.set(format!("{PARAM_PREFIX}{name}"), first.as_str());
        }
    }
    let full = b.build();
    let Some(relabelled) = relabel::relabel(&full, &job.relabel) else {
        return Resolved::Dropped(full);
    };
    let Some(address) = relabelled.get(ADDRESS).map(str::to_owned) else {
        return Resolved::Invalid {
            discovered: full,
            reason: "no address".to_owned(),
        };
    };
    if address.contains('/') {
        return Resolved::Invalid {
            discovered: full,
            reason: format!("{address:?} is not a valid hostname"),
        };
    }
    let scheme = relabelled.get(SCHEME).unwrap_or("http").to_owned();
    let path = relabelled
        .get(METRICS_PATH)
        .unwrap_or("/metrics")
        .to_owned();
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, values) in &job.params {
        // a __param_ label set by relabelling replaces the first value
        let label = relabelled.get(&format!("{PARAM_PREFIX}{name}"));
        for (i, value) in values.iter().enumerate() {
            let value = if i == 0 {
                label.unwrap_or(value)
            } else {
                value
            };
            query.push((name.clone(), value.to_owned()));
        }
    }
    for l in relabelled.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_PREFIX)
            && !job.params.contains_key(name)
        {
            query.push((name.to_owned(), l.value.clone()));
        }
    }
    let mut out = relabelled.builder();
    if out.get("instance").is_none() {
        out.set("instance", address.as_str());
    }
    out.retain(|l| !l.name.starts_with("__"));
    let mut url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&encoded.join("&"));
    }
    if job.local.is_some() {
        url = format!("local://{}", job.name);
    }
    Resolved::Target(Target {
        labels: out.build(),
        discovered: full,
        url,
    })
}

/// Percent-encodes a query component (RFC 3986 unreserved kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A duration as Prometheus prints it (`15s`, `1m`, `1m30s`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests;
