//! The checks of `[rules]`: positive intervals, glob patterns that parse
//! (and, as a warning, that match a file), external labels with valid
//! names, an external URL with a scheme, and `[[rules.alertmanagers]]`
//! with usable targets and one kind of authentication. The rule files'
//! own contents are checked where they are loaded (`steward rules check`,
//! the server at start and reload), with their own file:line;
//! `log_files` (LogQL rules) need `[logs]` and `[metrics]`. `[alerts]`
//! is checked here too (the same concerns: files, URLs, durations).

use std::path::Path;

use super::{
    Checker,
    metrics::{check_target, is_label_name},
};
use crate::RulesConfig;

impl Checker<'_, '_, '_> {
    /// Every check of `[rules]`.
    pub(super) fn rules(&mut self, rules: &RulesConfig, base_dir: &Path) {
        for (key, value) in [
            ("evaluation_interval", rules.evaluation_interval),
            ("resend_delay", rules.resend_delay),
        ] {
            if value.0.is_zero() {
                self.error(
                    &path!["rules", key],
                    format!("`rules.{key}` must be positive"),
                    None,
                );
            }
        }
        for (key, patterns) in [("files", &rules.files), ("log_files", &rules.log_files)] {
            for (index, pattern) in patterns.iter().enumerate() {
                let full = base_dir.join(pattern);
                let full = full.to_string_lossy();
                match glob::glob(&full) {
                    Err(err) => self.error(
                        &path!["rules", key, index],
                        format!("rule file pattern `{pattern}` is invalid: {}", err.msg),
                        Some("write a path or a glob such as rules/*.yml".into()),
                    ),
                    Ok(paths) => {
                        if paths.filter_map(std::result::Result::ok).next().is_none() {
                            self.warning(
                                &path!["rules", key, index],
                                format!("rule file pattern `{pattern}` matches no file"),
                                Some("paths are relative to the configuration file".into()),
                            );
                        }
                    }
                }
            }
        }
        for name in rules.external_labels.keys() {
            if !is_label_name(name) {
                self.error(
                    &path!["rules", "external_labels", name.as_str()],
                    format!("`{name}` is not a valid label name"),
                    Some("label names match [a-zA-Z_][a-zA-Z0-9_]*".into()),
                );
            }
        }
        if let Some(url) = &rules.external_url
            && !matches!(url::Url::parse(url), Ok(u) if matches!(u.scheme(), "http" | "https"))
        {
            self.error(
                &path!["rules", "external_url"],
                format!("external URL `{url}` is not an http or https URL"),
                Some("write the URL users reach steward at, e.g. https://steward.example".into()),
            );
        }
        for (index, alertmanagers) in rules.alertmanagers.iter().enumerate() {
            let at = |key: &str| path!["rules", "alertmanagers", index, key];
            if alertmanagers.targets.is_empty() {
                self.error(
                    &at("targets"),
                    "an alertmanagers entry has no targets",
                    Some("list them as \"host:port\"".into()),
                );
            }
            for (t, target) in alertmanagers.targets.iter().enumerate() {
                if let Err(problem) = check_target(target) {
                    self.error(
                        &path!["rules", "alertmanagers", index, "targets", t],
                        format!("Alertmanager target `{target}` {problem}"),
                        Some(
                            "write \"host:port\"; `scheme` and `path_prefix` are separate keys"
                                .into(),
                        ),
                    );
                }
            }
            if alertmanagers.timeout.0.is_zero() {
                self.error(&at("timeout"), "`timeout` must be positive", None);
            }
            if alertmanagers.basic_auth.is_some() && alertmanagers.bearer_token.is_some() {
                self.error(
                    &at("bearer_token"),
                    "an alertmanagers entry has both `basic_auth` and `bearer_token`",
                    Some("a request sends one Authorization header; keep one".into()),
                );
            }
        }
    }
}

impl Checker<'_, '_, '_> {
    /// `[rules] log_files` read the log store and write the metrics store:
    /// both subsystems must be enabled.
    pub(super) fn log_rules(&mut self, config: &crate::Config) {
        if config.rules.log_files.is_empty() {
            return;
        }
        for (enabled, section) in [
            (config.logs.enabled, "logs"),
            (config.metrics.enabled, "metrics"),
        ] {
            if !enabled {
                self.error(
                    &path!["rules", "log_files"],
                    format!("`rules.log_files` needs `[{section}] enabled = true`"),
                    Some(format!(
                        "LogQL rules read the log store and write their results and ALERTS to the metrics store; enable [{section}] or remove `log_files`"
                    )),
                );
            }
        }
    }
}

impl Checker<'_, '_, '_> {
    /// The checks of `[alerts]`: one source of Alertmanager configuration,
    /// a file that exists, an external URL with a scheme, a positive
    /// retention. The Alertmanager configuration itself is checked where
    /// it is loaded (its own YAML paths in the messages).
    pub(super) fn alerts(&mut self, alerts: &crate::AlertsConfig, base_dir: &Path) {
        if alerts.config.is_some() && alerts.config_yaml.is_some() {
            self.error(
                &path!["alerts", "config_yaml"],
                "`alerts.config` and `alerts.config_yaml` are both set",
                Some("keep the file or the inline configuration, not both".into()),
            );
        }
        if let Some(file) = &alerts.config
            && !base_dir.join(file).is_file()
        {
            self.error(
                &path!["alerts", "config"],
                format!(
                    "Alertmanager configuration {} does not exist",
                    base_dir.join(file).display()
                ),
                Some("paths are relative to the configuration file".into()),
            );
        }
        if let Some(url) = &alerts.external_url
            && !matches!(url::Url::parse(url), Ok(u) if matches!(u.scheme(), "http" | "https"))
        {
            self.error(
                &path!["alerts", "external_url"],
                format!("external URL `{url}` is not an http or https URL"),
                Some("write the URL users reach steward at, e.g. https://steward.example".into()),
            );
        }
        if alerts.retention.0.is_zero() {
            self.error(
                &path!["alerts", "retention"],
                "`alerts.retention` must be positive",
                None,
            );
        }
        let levels = || Some(format!("one of {}", crate::SEVERITY_LEVELS.join(", ")));
        if let Some(level) = &alerts.incident_severity
            && !crate::SEVERITY_LEVELS.contains(&level.as_str())
        {
            self.error(
                &path!["alerts", "incident_severity"],
                format!("unknown severity `{level}`"),
                levels(),
            );
        }
        for (index, rule) in alerts.severity.iter().enumerate() {
            let at = |key: &str| path!["alerts", "severity", index, key];
            if !crate::SEVERITY_LEVELS.contains(&rule.raise_to.as_str()) {
                self.error(
                    &at("raise_to"),
                    format!("unknown severity `{}`", rule.raise_to),
                    levels(),
                );
            }
            let conditions = [
                rule.firing_for.is_some(),
                rule.fired_times.is_some(),
                !rule.critical_services.is_empty(),
                rule.replicas_at_least.is_some(),
            ];
            if conditions.iter().filter(|c| **c).count() != 1 {
                self.error(
                    &at("raise_to"),
                    "a severity rule needs exactly one condition",
                    Some("set one of firing_for, fired_times (with within), critical_services, replicas_at_least".into()),
                );
            }
            if rule.fired_times.is_some() != rule.within.is_some() {
                self.error(
                    &at(if rule.within.is_some() {
                        "within"
                    } else {
                        "fired_times"
                    }),
                    "`fired_times` and `within` go together",
                    None,
                );
            }
            if rule.fired_times == Some(0) || rule.replicas_at_least == Some(0) {
                self.error(
                    &at("raise_to"),
                    "counts in a severity rule must be at least 1",
                    None,
                );
            }
        }
    }
}
