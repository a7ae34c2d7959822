//! The checks of a rollout's metric settings: `[[services.rollout.gate]]`
//! (names, PromQL that parses once its placeholders are rendered, a mode
//! or a comparison with its threshold, an interval) and the canary
//! strategy (steps, replicas, analysis metrics, confidence, interval),
//! which needs a proxy to split traffic and `[metrics]` to judge it.

use std::collections::HashMap;

use super::Checker;
use crate::{Config, GateCompare, GateMode, ServiceConfig, Strategy, render_query};

/// Why `expr` is not PromQL once its placeholders are rendered with
/// sample values.
fn promql_error(expr: &str, service: &str) -> Option<String> {
    let rendered = render_query(expr, service, "1.0.0", Some("0.9.0"));
    promql_parser::parser::parse(&rendered)
        .err()
        .map(|err| err.trim().replace('\n', " "))
}

impl Checker<'_, '_, '_> {
    /// Gates and canary settings of the service at `index`.
    pub(super) fn rollout_metrics(
        &mut self,
        index: usize,
        service: &ServiceConfig,
        config: &Config,
    ) {
        self.gates(index, service);
        self.canary(index, service);
        let uses_metrics =
            !service.rollout.gate.is_empty() || service.rollout.strategy == Strategy::Canary;
        if uses_metrics && !config.metrics.enabled {
            self.error(
                &path!["services", index, "rollout"],
                format!(
                    "service `{}` has metric gates or a canary analysis but `[metrics] enabled = false`",
                    service.name
                ),
                Some("steward evaluates them on the metrics it scrapes; enable [metrics]".into()),
            );
        }
    }

    fn gates(&mut self, index: usize, service: &ServiceConfig) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (g, gate) in service.rollout.gate.iter().enumerate() {
            let at = |key: &str| path!["services", index, "rollout", "gate", g, key];
            if gate.name.trim().is_empty() {
                self.error(&at("name"), "a gate needs a `name`", None);
            } else if let Some(first) = seen.insert(&gate.name, g) {
                let line =
                    self.line_of(&path!["services", index, "rollout", "gate", first, "name"]);
                self.error(
                    &at("name"),
                    format!("gate `{}` is defined twice", gate.name),
                    Some(format!("the first definition is at {line}")),
                );
            }
            if let Some(problem) = promql_error(&gate.expr, service.name.as_str()) {
                self.error(
                    &at("expr"),
                    format!("gate `{}` is not valid PromQL: {problem}", gate.name),
                    None,
                );
            }
            match (gate.compare, gate.max_increase) {
                (Some(GateCompare::Previous), None) => self.error(
                    &at("compare"),
                    format!(
                        "gate `{}` compares with the previous version but has no `max_increase`",
                        gate.name
                    ),
                    Some("e.g. `max_increase = 0.2` allows the new version 20% more".into()),
                ),
                (None, Some(_)) => self.error(
                    &at("max_increase"),
                    format!(
                        "`max_increase` of gate `{}` needs `compare = \"previous\"`",
                        gate.name
                    ),
                    None,
                ),
                (Some(_), Some(increase)) if !(increase >= 0.0 && increase.is_finite()) => self
                    .error(
                        &at("max_increase"),
                        format!("`max_increase` of gate `{}` must be 0 or more", gate.name),
                        None,
                    ),
                _ => {}
            }
            if gate.compare.is_some() && gate.mode == GateMode::Empty {
                self.error(
                    &at("mode"),
                    format!(
                        "gate `{}` cannot both compare values and require an empty result",
                        gate.name
                    ),
                    Some("remove `mode`, or remove `compare` and `max_increase`".into()),
                );
            }
            if gate
                .interval
                .is_some_and(|interval| interval.get().is_zero())
            {
                self.error(
                    &at("interval"),
                    "gate interval must be greater than 0",
                    None,
                );
            }
        }
    }

    fn canary(&mut self, index: usize, service: &ServiceConfig) {
        let rollout = &service.rollout;
        let at = |key: &str| path!["services", index, "rollout", key];
        if rollout.strategy != Strategy::Canary {
            for (key, set) in [
                ("steps", !rollout.steps.is_empty()),
                ("analysis", !rollout.analysis.is_empty()),
            ] {
                if set {
                    self.error(
                        &at(key),
                        format!("`{key}` only applies to `strategy = \"canary\"`"),
                        None,
                    );
                }
            }
            return;
        }
        if service.port.is_none() {
            self.error(
                &at("strategy"),
                format!(
                    "service `{}` has no `port`: a canary needs its proxy to split traffic",
                    service.name
                ),
                None,
            );
        }
        if rollout.steps.is_empty() {
            self.error(
                &at("strategy"),
                "a canary rollout needs `steps`",
                Some("e.g. `steps = [{weight = 10, pause = \"30s\"}, {weight = 50, pause = \"1m\"}]`".into()),
            );
        }
        for (s, step) in rollout.steps.iter().enumerate() {
            let step_at = path!["services", index, "rollout", "steps", s];
            if !(1..=100).contains(&step.weight) {
                self.error(
                    &step_at,
                    format!(
                        "canary step weight {} is not a percentage from 1 to 100",
                        step.weight
                    ),
                    None,
                );
            }
            if step.pause.get().is_zero() {
                self.error(&step_at, "canary step pause must be greater than 0", None);
            } else if !rollout.analysis.is_empty() && rollout.interval > step.pause {
                self.warning(
                    &step_at,
                    format!(
                        "canary step pause {} is shorter than the sampling interval {}: the step gets one sample at most",
                        step.pause, rollout.interval
                    ),
                    None,
                );
            }
        }
        if rollout.canary_replicas == 0 {
            self.error(
                &at("canary_replicas"),
                "`canary_replicas` must be at least 1",
                None,
            );
        } else if rollout.canary_replicas > service.replicas {
            self.error(
                &at("canary_replicas"),
                format!(
                    "`canary_replicas` {} is more than the service's {} replicas",
                    rollout.canary_replicas, service.replicas
                ),
                None,
            );
        }
        if !(rollout.confidence > 0.0 && rollout.confidence < 1.0) {
            self.error(
                &at("confidence"),
                format!("confidence {} must be between 0 and 1", rollout.confidence),
                Some("e.g. 0.95: a difference counts when its p-value is below 0.05".into()),
            );
        }
        if rollout.interval.get().is_zero() {
            self.error(
                &at("interval"),
                "canary sampling interval must be greater than 0",
                None,
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (m, metric) in rollout.analysis.iter().enumerate() {
            let metric_at = |key: &str| path!["services", index, "rollout", "analysis", m, key];
            if metric.name.trim().is_empty() {
                self.error(
                    &metric_at("name"),
                    "an analysis metric needs a `name`",
                    None,
                );
            } else if seen.insert(&metric.name, m).is_some() {
                self.error(
                    &metric_at("name"),
                    format!("analysis metric `{}` is defined twice", metric.name),
                    None,
                );
            }
            if !metric.expr.contains("$version") {
                self.error(
                    &metric_at("expr"),
                    format!("analysis metric `{}` does not select a version", metric.name),
                    Some("use `$version` in a matcher, e.g. `{version=\"$version\"}`: it is rendered once for the canary and once for the stable version".into()),
                );
            }
            if let Some(problem) = promql_error(&metric.expr, service.name.as_str()) {
                self.error(
                    &metric_at("expr"),
                    format!(
                        "analysis metric `{}` is not valid PromQL: {problem}",
                        metric.name
                    ),
                    None,
                );
            }
            if !(metric.allowed_effect >= 0.0 && metric.allowed_effect.is_finite()) {
                self.error(
                    &metric_at("allowed_effect"),
                    format!("`allowed_effect` of `{}` must be 0 or more", metric.name),
                    None,
                );
            }
        }
    }
}
