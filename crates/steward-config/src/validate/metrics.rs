//! The checks of the `[metrics]` section: timeouts within intervals, query
//! limits, and each `[[metrics.scrape]]` job (unique name, `host:port`
//! targets, path, one kind of authentication, relabelling steps that
//! Prometheus would accept).

use std::collections::HashMap;

use super::Checker;
use crate::{MetricsConfig, RelabelAction, RelabelConfig, node::Segment};

impl Checker<'_, '_, '_> {
    /// Every check of `[metrics]`.
    pub(super) fn metrics(&mut self, metrics: &MetricsConfig) {
        if metrics.scrape_interval.0.is_zero() {
            self.error(
                &path!["metrics", "scrape_interval"],
                "`metrics.scrape_interval` must be positive",
                None,
            );
        }
        if metrics.scrape_timeout.0 > metrics.scrape_interval.0 {
            self.error(
                &path!["metrics", "scrape_timeout"],
                format!(
                    "scrape timeout {} is longer than the scrape interval {}",
                    metrics.scrape_timeout, metrics.scrape_interval
                ),
                Some("a scrape must end before the next one starts".into()),
            );
        }
        if metrics.lookback_delta.0.is_zero() {
            self.error(
                &path!["metrics", "lookback_delta"],
                "`metrics.lookback_delta` must be positive",
                None,
            );
        }
        if metrics.query_max_samples == 0 {
            self.error(
                &path!["metrics", "query_max_samples"],
                "`metrics.query_max_samples` must be at least 1",
                None,
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, job) in metrics.scrape.iter().enumerate() {
            let at = |key: &str| path!["metrics", "scrape", index, key];
            if job.job.trim().is_empty() {
                self.error(&at("job"), "a scrape job needs a `job` name", None);
            } else if let Some(first) = seen.get(job.job.as_str()) {
                let line = self.line_of(&path!["metrics", "scrape", *first, "job"]);
                self.error(
                    &at("job"),
                    format!("scrape job `{}` is defined twice", job.job),
                    Some(format!("the first definition is at {line}")),
                );
            } else {
                seen.insert(&job.job, index);
            }
            if job.targets.is_empty() {
                self.error(
                    &at("targets"),
                    format!("scrape job `{}` has no targets", job.job),
                    Some("list them as \"host:port\"".into()),
                );
            }
            for (t, target) in job.targets.iter().enumerate() {
                if let Err(problem) = check_target(target) {
                    self.error(
                        &path!["metrics", "scrape", index, "targets", t],
                        format!("target `{target}` {problem}"),
                        Some("write \"host:port\"; the scheme and path are separate keys".into()),
                    );
                }
            }
            if !job.path.starts_with('/') {
                self.error(
                    &at("path"),
                    format!("metrics path `{}` must start with `/`", job.path),
                    None,
                );
            }
            let interval = job.interval.unwrap_or(metrics.scrape_interval);
            if let Some(t) = job.timeout
                && t.0 > interval.0
            {
                self.error(
                    &at("timeout"),
                    format!("scrape timeout {t} is longer than the job's interval {interval}"),
                    None,
                );
            }
            if job.interval.is_some_and(|i| i.0.is_zero()) {
                self.error(&at("interval"), "a scrape interval must be positive", None);
            }
            if job.basic_auth.is_some() && job.bearer_token.is_some() {
                self.error(
                    &at("bearer_token"),
                    format!(
                        "scrape job `{}` has both `basic_auth` and `bearer_token`",
                        job.job
                    ),
                    Some("a scrape sends one Authorization header; keep one".into()),
                );
            }
            for name in job.labels.keys() {
                if !is_label_name(name) {
                    self.error(
                        &path!["metrics", "scrape", index, "labels", name.as_str()],
                        format!("`{name}` is not a valid label name"),
                        Some("label names match [a-zA-Z_][a-zA-Z0-9_]*".into()),
                    );
                }
            }
            for (key, steps) in [
                ("relabel_configs", &job.relabel_configs),
                ("metric_relabel_configs", &job.metric_relabel_configs),
            ] {
                for (s, step) in steps.iter().enumerate() {
                    let path = path!["metrics", "scrape", index, key, s];
                    if let Err((field, message)) = check_relabel(step) {
                        let mut at = path.to_vec();
                        at.push(Segment::Key(field.to_owned()));
                        let origin = self.at(&at);
                        self.sink.error(&origin, message, None);
                    }
                }
            }
        }
        self.remote_write(&metrics.remote_write);
    }
}

/// Why `target` is not `host:port`.
pub(super) fn check_target(target: &str) -> Result<(), String> {
    if target.contains("://") {
        return Err("has a scheme".to_owned());
    }
    if target.contains('/') {
        return Err("has a path".to_owned());
    }
    let Some((host, port)) = target.rsplit_once(':') else {
        return Err("has no port".to_owned());
    };
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("has an invalid port `{port}`")),
    }
}

/// Whether `name` is a valid Prometheus label name.
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What Prometheus 2.42 would refuse in a relabelling step: the key at
/// fault and the message.
pub(super) fn check_relabel(step: &RelabelConfig) -> Result<(), (&'static str, String)> {
    if let Err(e) = regex::Regex::new(&format!("^(?s:{})$", step.regex)) {
        // the regex crate's message spans lines (pattern, caret, reason): keep the reason
        let full = e.to_string();
        let reason = full.lines().last().unwrap_or_default().trim();
        let reason = reason.strip_prefix("error: ").unwrap_or(reason);
        return Err(("regex", format!("invalid regex `{}`: {reason}", step.regex)));
    }
    let action = step.action;
    let name = format!("{action:?}").to_lowercase();
    let needs_target = matches!(
        action,
        RelabelAction::Replace
            | RelabelAction::Hashmod
            | RelabelAction::Lowercase
            | RelabelAction::Uppercase
            | RelabelAction::Keepequal
            | RelabelAction::Dropequal
    );
    if needs_target && step.target_label.as_deref().is_none_or(str::is_empty) {
        return Err((
            "action",
            format!("relabel configuration for {name} action requires 'target_label' value"),
        ));
    }
    if let Some(target) = &step.target_label {
        // `replace` may build the name from the regex's groups
        let valid = if action == RelabelAction::Replace {
            is_label_name(&target.replace('$', "_").replace(['{', '}'], ""))
        } else {
            is_label_name(target)
        };
        if !valid {
            return Err((
                "target_label",
                format!("`{target}` is invalid 'target_label' for {name} action"),
            ));
        }
    }
    match action {
        RelabelAction::Hashmod if step.modulus.unwrap_or(0) == 0 => Err((
            "modulus",
            "relabel configuration for hashmod requires non-zero modulus".to_owned(),
        )),
        RelabelAction::Labeldrop | RelabelAction::Labelkeep
            if !step.source_labels.is_empty()
                || step.target_label.is_some()
                || step.modulus.is_some()
                || step.separator != ";"
                || step.replacement != "$1" =>
        {
            Err((
                "action",
                format!("{name} action requires only 'regex', and no other fields"),
            ))
        }
        RelabelAction::Keepequal | RelabelAction::Dropequal
            if step.regex != "(.*)" || step.modulus.is_some() || step.replacement != "$1" =>
        {
            Err((
                "action",
                format!(
                    "{name} action requires only 'source_labels' and `target_label`, and no other fields"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_host_and_port() {
        assert!(check_target("127.0.0.1:9100").is_ok());
        assert!(check_target("[::1]:9100").is_ok());
        assert!(check_target("http://a:1").is_err());
        assert!(check_target("a").is_err());
        assert!(check_target("a:0").is_err());
        assert!(check_target("a:1/metrics").is_err());
    }

    #[test]
    fn relabel_steps_follow_prometheus_rules() {
        let ok = RelabelConfig {
            target_label: Some("x".into()),
            ..RelabelConfig::default()
        };
        assert!(check_relabel(&ok).is_ok());
        let dyn_target = RelabelConfig {
            target_label: Some("${1}_x".into()),
            ..RelabelConfig::default()
        };
        assert!(check_relabel(&dyn_target).is_ok());
        let no_target = RelabelConfig::default();
        assert_eq!(check_relabel(&no_target).unwrap_err().0, "action");
        let hashmod = RelabelConfig {
            action: RelabelAction::Hashmod,
            target_label: Some("shard".into()),
            ..RelabelConfig::default()
        };
        assert_eq!(check_relabel(&hashmod).unwrap_err().0, "modulus");
        let drop = RelabelConfig {
            action: RelabelAction::Labeldrop,
            source_labels: vec!["a".into()],
            ..RelabelConfig::default()
        };
        assert!(check_relabel(&drop).is_err());
        let bad = RelabelConfig {
            action: RelabelAction::Keep,
            regex: "(".into(),
            ..RelabelConfig::default()
        };
        assert_eq!(check_relabel(&bad).unwrap_err().0, "regex");
    }
}
