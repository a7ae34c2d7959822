//! Alertmanager 0.25's configuration file: `global`, `route`,
//! `inhibit_rules`, `receivers`, `templates`, `time_intervals` and the
//! older `mute_time_intervals`, read from YAML with Alertmanager's
//! defaults and checked as its `config.Load` checks them, with its error
//! messages, each prefixed with where in the file (`route.routes[1].receiver`).
//!
//! [`Config::load`] reads and checks; [`crate::route::Route::new`] turns
//! the checked `route` into the routing tree.

pub mod global;
pub mod receivers;
pub(crate) mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::matchers::{MatchType, Matcher, Matchers};
use crate::timeinterval::{TimeInterval, TimeIntervals};

pub use global::{Authorization, BasicAuth, GlobalConfig, HttpConfig, TlsConfig};
pub use receivers::{
    EmailConfig, MsTeamsConfig, OpsGenieConfig, OpsGenieResponder, PagerdutyConfig, Receiver,
    SlackConfig, WebhookConfig,
};
pub use yaml::{HostPort, HttpUrl, SecretUrl, is_valid_label_name};

/// What is wrong with a configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where in the YAML: `route.routes[1].receiver`; empty for the whole file.
    pub path: String,
    /// The line (1-based) the YAML parser was at, when it knows it.
    pub line: Option<usize>,
    /// What is wrong, worded as Alertmanager words it.
    pub message: String,
}

impl ConfigError {
    /// An error at `path`, without a line.
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }

    /// A serde error: its path from serde_path_to_error, its line from the
    /// YAML parser, its message without the parser's own path and position.
    fn from_serde(err: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let line = inner.location().map(|l| l.line());
        let mut message = inner.to_string();
        if let Some(location) = inner.location() {
            let suffix = format!(" at line {} column {}", location.line(), location.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            }
        }
        // serde_yaml_ng starts the message with its own path (`route.routes[0]: `).
        if let Some((prefix, rest)) = message.split_once(": ")
            && !prefix.is_empty()
            && !prefix.contains(char::is_whitespace)
            && prefix
                .chars()
                .all(|c| c.is_alphanumeric() || "_.[]".contains(c))
        {
            message = rest.to_owned();
        }
        let path = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        ConfigError {
            path,
            line,
            message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A whole Alertmanager configuration, checked, with the receivers'
/// defaults filled in from `global` as Alertmanager fills them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Global defaults.
    #[serde(deserialize_with = "yaml::nullable")]
    pub global: GlobalConfig,
    /// The root of the routing tree.
    pub route: Option<RouteConfig>,
    /// Inhibition rules.
    #[serde(deserialize_with = "yaml::nullable")]
    pub inhibit_rules: Vec<InhibitRule>,
    /// Receivers.
    #[serde(deserialize_with = "yaml::nullable")]
    pub receivers: Vec<Receiver>,
    /// Notification template files (relative ones resolved against the
    /// configuration file's directory by [`Config::load_file`]).
    #[serde(deserialize_with = "yaml::strings")]
    pub templates: Vec<String>,
    /// Named time intervals under the older key.
    #[serde(deserialize_with = "yaml::nullable")]
    pub mute_time_intervals: Vec<NamedTimeInterval>,
    /// Named time intervals.
    #[serde(deserialize_with = "yaml::nullable")]
    pub time_intervals: Vec<NamedTimeInterval>,
}

/// A node of the routing tree as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// The receiver (inherited from the parent when empty).
    #[serde(deserialize_with = "yaml::string")]
    pub receiver: String,
    /// The grouping labels (inherited when unset).
    #[serde(deserialize_with = "group_by")]
    pub group_by: GroupBy,
    /// Equality matchers (deprecated form).
    #[serde(rename = "match", deserialize_with = "label_map")]
    pub match_eq: BTreeMap<String, String>,
    /// Regular-expression matchers (deprecated form), as written (Alertmanager
    /// anchors them).
    #[serde(deserialize_with = "match_re")]
    pub match_re: BTreeMap<String, String>,
    /// Matchers in Alertmanager's syntax, sorted as Alertmanager sorts them.
    #[serde(deserialize_with = "matchers")]
    pub matchers: Matchers,
    /// Names of the time intervals in which the route is muted.
    #[serde(deserialize_with = "yaml::strings")]
    pub mute_time_intervals: Vec<String>,
    /// Names of the time intervals outside which the route is muted.
    #[serde(deserialize_with = "yaml::strings")]
    pub active_time_intervals: Vec<String>,
    /// Whether matching goes on with the next sibling after this route matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Child routes.
    #[serde(deserialize_with = "yaml::nullable")]
    pub routes: Vec<RouteConfig>,
    /// How long to wait before the first notification of a new group.
    #[serde(deserialize_with = "yaml::opt_duration")]
    pub group_wait: Option<Duration>,
    /// How long to wait before notifying of changes in a group.
    #[serde(deserialize_with = "yaml::opt_duration")]
    pub group_interval: Option<Duration>,
    /// How long to wait before repeating a notification.
    #[serde(deserialize_with = "yaml::opt_duration")]
    pub repeat_interval: Option<Duration>,
}

/// `group_by` as written: labels, or `'...'` for all labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupBy {
    /// The labels other than `...`; empty when unset (or only `...`).
    pub labels: Vec<String>,
    /// Whether `...` (group by all labels) was given.
    pub all: bool,
}

fn group_by<'de, D: Deserializer<'de>>(deserializer: D) -> Result<GroupBy, D::Error> {
    let names = yaml::strings(deserializer)?;
    let mut group_by = GroupBy::default();
    for name in names {
        if name == "..." {
            group_by.all = true;
        } else if !is_valid_label_name(&name) {
            return Err(de::Error::custom(format!(
                "invalid label name {name:?} in group_by list"
            )));
        } else {
            group_by.labels.push(name);
        }
    }
    if group_by.all && !group_by.labels.is_empty() {
        return Err(de::Error::custom(
            "cannot have wildcard group_by (`...`) and other labels at the same time",
        ));
    }
    let mut seen = BTreeSet::new();
    for name in &group_by.labels {
        if !seen.insert(name) {
            return Err(de::Error::custom(format!(
                "duplicated label {name:?} in group_by"
            )));
        }
    }
    Ok(group_by)
}

/// `match`-style maps: label names checked.
fn label_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = yaml::string_map(deserializer)?;
    match map.keys().find(|name| !is_valid_label_name(name)) {
        Some(name) => Err(de::Error::custom(format!("invalid label name {name:?}"))),
        None => Ok(map),
    }
}

/// `match_re`-style maps: label names and expressions checked.
fn match_re<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = label_map(deserializer)?;
    for (name, re) in &map {
        regex_matcher(name, re).map_err(|e| de::Error::custom(e.to_string()))?;
    }
    Ok(map)
}

/// The matcher Alertmanager makes of a `match_re` entry: its value is the
/// anchored expression (`^(?:re)$`), as its routes print it.
pub(crate) fn regex_matcher(name: &str, re: &str) -> crate::Result<Matcher> {
    Matcher::new(name, MatchType::Regexp, format!("^(?:{re})$"))
}

/// Alertmanager's order of matchers: by name, then value, then operator.
pub(crate) fn sort_matchers(matchers: &mut [Matcher]) {
    let rank = |kind: MatchType| match kind {
        MatchType::Equal => 0,
        MatchType::NotEqual => 1,
        MatchType::Regexp => 2,
        MatchType::NotRegexp => 3,
    };
    matchers.sort_by(|a, b| {
        (a.name.as_str(), a.value.as_str(), rank(a.kind)).cmp(&(
            b.name.as_str(),
            b.value.as_str(),
            rank(b.kind),
        ))
    });
}

/// `matchers`-style lists: each item parsed (it may hold several
/// matchers), all sorted.
fn matchers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Matchers, D::Error> {
    let lines = yaml::strings(deserializer)?;
    let mut all = Vec::new();
    for line in lines {
        let parsed = Matchers::parse(&line).map_err(|e| de::Error::custom(e.to_string()))?;
        all.extend(parsed.0);
    }
    sort_matchers(&mut all);
    Ok(Matchers(all))
}

fn label_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let names = yaml::strings(deserializer)?;
    match names.iter().find(|name| !is_valid_label_name(name)) {
        Some(name) => Err(de::Error::custom(format!(
            "{name:?} is not a valid label name"
        ))),
        None => Ok(names),
    }
}

/// An inhibition rule: while an alert matching the source matchers fires,
/// alerts matching the target matchers with the same values of the
/// `equal` labels are not notified.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InhibitRule {
    /// Source equality matchers (deprecated form).
    #[serde(deserialize_with = "label_map")]
    pub source_match: BTreeMap<String, String>,
    /// Source regular-expression matchers (deprecated form).
    #[serde(deserialize_with = "match_re")]
    pub source_match_re: BTreeMap<String, String>,
    /// Source matchers.
    #[serde(deserialize_with = "matchers")]
    pub source_matchers: Matchers,
    /// Target equality matchers (deprecated form).
    #[serde(deserialize_with = "label_map")]
    pub target_match: BTreeMap<String, String>,
    /// Target regular-expression matchers (deprecated form).
    #[serde(deserialize_with = "match_re")]
    pub target_match_re: BTreeMap<String, String>,
    /// Target matchers.
    #[serde(deserialize_with = "matchers")]
    pub target_matchers: Matchers,
    /// Labels whose values must be equal in source and target.
    #[serde(deserialize_with = "label_names")]
    pub equal: Vec<String>,
}

/// `match`, then `match_re`, then `matchers`, as Alertmanager's
/// inhibitor combines them.
fn combine(
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
    matchers: &Matchers,
) -> Matchers {
    let mut all: Vec<Matcher> = eq
        .iter()
        .filter_map(|(name, value)| Matcher::new(name, MatchType::Equal, value).ok())
        .collect();
    all.extend(
        re.iter()
            .filter_map(|(name, re)| regex_matcher(name, re).ok()),
    );
    all.extend(matchers.0.iter().cloned());
    Matchers(all)
}

impl InhibitRule {
    /// All the source matchers (`source_match`, `source_match_re`,
    /// `source_matchers`).
    pub fn source(&self) -> Matchers {
        combine(
            &self.source_match,
            &self.source_match_re,
            &self.source_matchers,
        )
    }

    /// All the target matchers.
    pub fn target(&self) -> Matchers {
        combine(
            &self.target_match,
            &self.target_match_re,
            &self.target_matchers,
        )
    }
}

/// A named list of time intervals (`time_intervals` or
/// `mute_time_intervals` entries).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamedTimeInterval {
    /// The name routes refer to.
    #[serde(deserialize_with = "yaml::string")]
    pub name: String,
    /// The intervals; an instant in any of them is in the named interval.
    #[serde(deserialize_with = "yaml::nullable")]
    pub time_intervals: Vec<TimeInterval>,
}

impl Config {
    /// Reads and checks a configuration. An empty document has no route,
    /// which is an error, as in Alertmanager. Anchors, aliases and merge
    /// keys (`<<: *defaults`) work as in Alertmanager.
    pub fn load(text: &str) -> Result<Config, ConfigError> {
        let merged = yaml::expand_merge_keys(text).map_err(|err| ConfigError {
            path: String::new(),
            line: err.location().map(|l| l.line()),
            message: err.to_string(),
        })?;
        let deserializer = serde_yaml_ng::Deserializer::from_str(merged.as_deref().unwrap_or(text));
        let config: Option<Config> = serde_path_to_error::deserialize(deserializer)
            .map_err(ConfigError::from_serde)
            // Lines of the re-serialized document are not the file's.
            .map_err(|err| match merged {
                Some(_) => ConfigError { line: None, ..err },
                None => err,
            })?;
        let Some(mut config) = config else {
            return Err(ConfigError::at("", "no route provided in config"));
        };
        config.check()?;
        Ok(config)
    }

    /// Reads and checks a configuration file, and resolves the relative
    /// paths in it (templates, `http_config` files) against its directory.
    /// The error says which file.
    pub fn load_file(path: &Path) -> crate::Result<Config> {
        Self::read_file(path).map(|(config, _)| config)
    }

    /// As [`Config::load_file`], with the text read (what the
    /// configuration was loaded from, for `GET /api/v2/status`).
    pub fn read_file(path: &Path) -> crate::Result<(Config, String)> {
        let text = std::fs::read_to_string(path).map_err(|err| crate::Error::ConfigFile {
            file: path.display().to_string(),
            message: format!("cannot be read: {err}"),
        })?;
        let mut config = Config::load(&text).map_err(|err| crate::Error::ConfigFile {
            file: path.display().to_string(),
            message: err.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for template in &mut config.templates {
            global::join(dir, template);
        }
        config.global.http_config.set_directory(dir);
        for receiver in &mut config.receivers {
            for http in receiver.http_configs_mut() {
                http.set_directory(dir);
            }
        }
        Ok((config, text))
    }

    /// The root route (a checked configuration always has one).
    pub fn root_route(&self) -> &RouteConfig {
        static EMPTY: std::sync::OnceLock<RouteConfig> = std::sync::OnceLock::new();
        self.route
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(RouteConfig::default))
    }

    /// The named time intervals of both keys.
    pub fn time_intervals(&self) -> TimeIntervals {
        let mut map = BTreeMap::new();
        for named in self.mute_time_intervals.iter().chain(&self.time_intervals) {
            map.insert(named.name.clone(), named.time_intervals.clone());
        }
        TimeIntervals(map)
    }

    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// What steward will not do with this configuration although it loads
    /// (receiver kinds it does not send to), one line each.
    pub fn warnings(&self) -> Vec<String> {
        self.receivers
            .iter()
            .flat_map(|r| {
                r.unsupported_kinds().into_iter().map(move |kind| {
                    format!(
                        "receiver {:?}: {kind} are accepted but steward does not send them",
                        r.name
                    )
                })
            })
            .collect()
    }

    /// Alertmanager's checks, in its order: each node's own checks, then
    /// the receivers (unique names, global defaults), the root route, the
    /// receivers and time intervals the routes refer to.
    fn check(&mut self) -> Result<(), ConfigError> {
        if let Some(route) = &self.route {
            check_route_nodes(route, "route")?;
        }
        for (i, named) in self.mute_time_intervals.iter().enumerate() {
            if named.name.is_empty() {
                let path = format!("mute_time_intervals[{i}]");
                return Err(ConfigError::at(path, "missing name in mute time interval"));
            }
        }
        for (i, named) in self.time_intervals.iter().enumerate() {
            if named.name.is_empty() {
                let path = format!("time_intervals[{i}]");
                return Err(ConfigError::at(path, "missing name in time interval"));
            }
        }
        for (i, receiver) in self.receivers.iter().enumerate() {
            if receiver.name.is_empty() {
                let path = format!("receivers[{i}]");
                return Err(ConfigError::at(path, "missing name in receiver"));
            }
        }
        self.global
            .validate()
            .map_err(|e| ConfigError::at("global", e))?;
        let mut names = BTreeSet::new();
        for (i, receiver) in self.receivers.iter_mut().enumerate() {
            if !names.insert(receiver.name.clone()) {
                return Err(ConfigError::at(
                    format!("receivers[{i}].name"),
                    format!("notification config name {:?} is not unique", receiver.name),
                ));
            }
            receiver
                .validate(&self.global)
                .map_err(|(path, e)| ConfigError::at(format!("receivers[{i}].{path}"), e))?;
        }
        let Some(root) = &self.route else {
            return Err(ConfigError::at("", "no routes provided"));
        };
        if root.receiver.is_empty() {
            return Err(ConfigError::at(
                "route.receiver",
                "root route must specify a default receiver",
            ));
        }
        if !root.match_eq.is_empty() || !root.match_re.is_empty() || !root.matchers.0.is_empty() {
            return Err(ConfigError::at(
                "route",
                "root route must not have any matchers",
            ));
        }
        if !root.mute_time_intervals.is_empty() {
            return Err(ConfigError::at(
                "route.mute_time_intervals",
                "root route must not have any mute time intervals",
            ));
        }
        if !root.active_time_intervals.is_empty() {
            return Err(ConfigError::at(
                "route.active_time_intervals",
                "root route must not have any active time intervals",
            ));
        }
        check_receivers(root, "route", &names)?;
        let mut intervals = BTreeSet::new();
        for (i, named) in self.mute_time_intervals.iter().enumerate() {
            if !intervals.insert(named.name.as_str()) {
                return Err(ConfigError::at(
                    format!("mute_time_intervals[{i}].name"),
                    format!("mute time interval {:?} is not unique", named.name),
                ));
            }
        }
        for (i, named) in self.time_intervals.iter().enumerate() {
            if !intervals.insert(named.name.as_str()) {
                return Err(ConfigError::at(
                    format!("time_intervals[{i}].name"),
                    format!("time interval {:?} is not unique", named.name),
                ));
            }
        }
        check_time_intervals(root, "route", &intervals)?;
        if root.continue_matching {
            return Err(ConfigError::at(
                "route.continue",
                "cannot have continue in root route",
            ));
        }
        Ok(())
    }
}

/// A route's own checks (Alertmanager's `Route.UnmarshalYAML` after the
/// fields' own), children before parents as the YAML decoder meets them.
fn check_route_nodes(route: &RouteConfig, path: &str) -> Result<(), ConfigError> {
    for (i, child) in route.routes.iter().enumerate() {
        check_route_nodes(child, &format!("{path}.routes[{i}]"))?;
    }
    if route.group_interval == Some(Duration::ZERO) {
        return Err(ConfigError::at(
            format!("{path}.group_interval"),
            "group_interval cannot be zero",
        ));
    }
    if route.repeat_interval == Some(Duration::ZERO) {
        return Err(ConfigError::at(
            format!("{path}.repeat_interval"),
            "repeat_interval cannot be zero",
        ));
    }
    Ok(())
}

/// Every receiver a route names exists (children first, as Alertmanager's
/// `checkReceiver`).
fn check_receivers(
    route: &RouteConfig,
    path: &str,
    receivers: &BTreeSet<String>,
) -> Result<(), ConfigError> {
    for (i, child) in route.routes.iter().enumerate() {
        check_receivers(child, &format!("{path}.routes[{i}]"), receivers)?;
    }
    if !route.receiver.is_empty() && !receivers.contains(&route.receiver) {
        return Err(ConfigError::at(
            format!("{path}.receiver"),
            format!("undefined receiver {:?} used in route", route.receiver),
        ));
    }
    Ok(())
}

/// Every time interval a route names exists (children first, active
/// intervals before mute ones, as Alertmanager's `checkTimeInterval`).
fn check_time_intervals(
    route: &RouteConfig,
    path: &str,
    intervals: &BTreeSet<&str>,
) -> Result<(), ConfigError> {
    for (i, child) in route.routes.iter().enumerate() {
        check_time_intervals(child, &format!("{path}.routes[{i}]"), intervals)?;
    }
    let lists = [
        ("active_time_intervals", &route.active_time_intervals),
        ("mute_time_intervals", &route.mute_time_intervals),
    ];
    for (key, names) in lists {
        for (i, name) in names.iter().enumerate() {
            if !intervals.contains(name.as_str()) {
                return Err(ConfigError::at(
                    format!("{path}.{key}[{i}]"),
                    format!("undefined time interval {name:?} used in route"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
