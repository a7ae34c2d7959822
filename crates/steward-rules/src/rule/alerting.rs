//! Alerting rules: the pending → firing → inactive state of each alert,
//! `for`, `keep_firing_for`, the `ALERTS`/`ALERTS_FOR_STATE` series, and
//! when an alert is (re)sent, all as Prometheus 2.42 does.

use std::collections::BTreeMap;

use steward_metrics::{Labels, Sample};

use super::{EvalEnv, EvalStatus, query};
use crate::sink::AlertTransition;

/// How long a resolved alert is kept (and re-sent as resolved).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60_000;

/// The state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// No longer active (kept a while to send its resolution).
    Inactive,
    /// Active for less than the rule's `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`: the `alertstate` label.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: one label set of its expression's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The series' labels with the rule's (expanded) and `alertname`.
    pub labels: Labels,
    /// The expanded annotations.
    pub annotations: Labels,
    /// Its state.
    pub state: AlertState,
    /// The expression's value at the last evaluation.
    pub value: f64,
    /// Since when it is active (ms).
    pub active_at: i64,
    /// When it started firing (ms).
    pub fired_at: Option<i64>,
    /// When it was resolved (ms).
    pub resolved_at: Option<i64>,
    /// When it was last sent (ms).
    pub last_sent_at: Option<i64>,
    /// Until when the last sending holds (ms).
    pub valid_until: i64,
    /// Since when it fires only because of `keep_firing_for` (ms).
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether it is due to be sent at `ts`: firing or resolved alerts are,
    /// when resolved since the last sending or not sent for `resend_delay`.
    pub fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at
            && self.last_sent_at.is_none_or(|s| r > s)
        {
            return true;
        }
        self.last_sent_at
            .is_none_or(|s| s.saturating_add(resend_delay_ms) < ts)
    }
}

/// An alerting rule and its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// The `alertname`.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// `for` (ms).
    pub hold_ms: i64,
    /// `keep_firing_for` (ms).
    pub keep_firing_for_ms: i64,
    /// The rule's labels (templates).
    pub labels: Labels,
    /// The rule's annotations (templates), in name order.
    pub annotations: Vec<(String, String)>,
    /// The active (and recently resolved) alerts by label set.
    pub active: BTreeMap<Labels, Alert>,
    /// Whether the `for` state was restored (or needs no restoring): the
    /// `ALERTS` series are written only then.
    pub restored: bool,
    /// The last evaluation.
    pub status: EvalStatus,
    /// State changes of the last evaluation, until the group takes them.
    transitions: Vec<AlertTransition>,
}

impl AlertingRule {
    /// A rule without alerts, not yet restored.
    pub fn new(
        name: String,
        expr: String,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: Labels,
        annotations: Vec<(String, String)>,
    ) -> Self {
        Self {
            name,
            expr,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            active: BTreeMap::new(),
            restored: false,
            status: EvalStatus::default(),
            transitions: Vec::new(),
        }
    }

    /// Evaluates at `ts_ms`: updates the alerts and returns the `ALERTS`
    /// and `ALERTS_FOR_STATE` samples to write.
    pub fn eval(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, Sample)>, String> {
        let before: BTreeMap<Labels, (AlertState, Alert)> = self
            .active
            .iter()
            .map(|(l, a)| (l.clone(), (a.state, a.clone())))
            .collect();
        let result = self.eval_inner(env, ts_ms, limit);
        self.record_transitions(before, ts_ms);
        result
    }

    /// The state changes since the evaluation before, which the caller
    /// hands on; taken once.
    pub fn take_transitions(&mut self) -> Vec<AlertTransition> {
        std::mem::take(&mut self.transitions)
    }

    /// Compares the alerts' states with `before`: an alert no longer
    /// tracked is inactive now.
    fn record_transitions(&mut self, before: BTreeMap<Labels, (AlertState, Alert)>, ts_ms: i64) {
        for (labels, alert) in &self.active {
            let from = before.get(labels).map_or(AlertState::Inactive, |(s, _)| *s);
            if from != alert.state {
                self.transitions
                    .push(transition(&self.name, alert, from, alert.state, ts_ms));
            }
        }
        for (labels, (from, alert)) in before {
            if from != AlertState::Inactive && !self.active.contains_key(&labels) {
                self.transitions.push(transition(
                    &self.name,
                    &alert,
                    from,
                    AlertState::Inactive,
                    ts_ms,
                ));
            }
        }
    }

    fn eval_inner(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, Sample)>, String> {
        let res = query(env, &self.expr, ts_ms)?;
        let mut current: BTreeMap<Labels, Alert> = BTreeMap::new();
        for (series, value) in res {
            let expand = |text: &str| {
                env.expander
                    .expand(&self.name, text, &series, value, env.external_labels, ts_ms)
                    .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
            };
            let mut b = series.builder();
            b.del("__name__");
            for l in &self.labels {
                b.set(l.name.as_str(), expand(&l.value));
            }
            b.set("alertname", self.name.as_str());
            let annotations =
                Labels::from_pairs(self.annotations.iter().map(|(n, t)| (n.clone(), expand(t))));
            let labels = b.build();
            if current.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            current.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value,
                    active_at: ts_ms,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: 0,
                    keep_firing_since: None,
                },
            );
        }
        for (labels, a) in &current {
            match self.active.get_mut(labels) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations.clone();
                }
                _ => {
                    self.active.insert(labels.clone(), a.clone());
                }
            }
        }
        let mut out = Vec::new();
        let mut active_pending = 0;
        let mut remove = Vec::new();
        for (labels, a) in self.active.iter_mut() {
            if !current.contains_key(labels) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < self.keep_firing_for_ms;
                }
                // a resolved alert is kept a while so that its resolution
                // is sent again; a pending one is simply forgotten
                if a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts_ms - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(labels.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts_ms - a.active_at >= self.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts_ms);
            }
            if self.restored {
                out.push((
                    series_labels(&self.labels, &self.name, a, "ALERTS", true),
                    Sample::new(ts_ms, 1.0),
                ));
                out.push((
                    series_labels(&self.labels, &self.name, a, "ALERTS_FOR_STATE", false),
                    Sample::new(ts_ms, a.active_at.div_euclid(1000) as f64),
                ));
            }
        }
        for l in remove {
            self.active.remove(&l);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(out)
    }

    /// The labels of the alert's `ALERTS` series.
    pub fn alerts_labels(&self, a: &Alert) -> Labels {
        series_labels(&self.labels, &self.name, a, "ALERTS", true)
    }

    /// The labels of the alert's `ALERTS_FOR_STATE` series.
    pub fn for_state_labels(&self, a: &Alert) -> Labels {
        series_labels(&self.labels, &self.name, a, "ALERTS_FOR_STATE", false)
    }

    /// The alerts due to be sent at `ts`, marked as sent; each is valid
    /// for four times the larger of `resend_delay` and the group interval.
    pub fn alerts_to_send(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay_ms) {
                a.last_sent_at = Some(ts);
                a.valid_until = ts + 4 * resend_delay_ms.max(interval_ms);
                out.push(a.clone());
            }
        }
        out
    }
}

fn transition(
    rule: &str,
    alert: &Alert,
    from: AlertState,
    to: AlertState,
    ts_ms: i64,
) -> AlertTransition {
    AlertTransition {
        group: String::new(),
        rule: rule.to_owned(),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        from,
        to,
        value: alert.value,
        at_ms: ts_ms,
        active_at_ms: alert.active_at,
    }
}

/// The rule's labels overlaid by the alert's, as Prometheus builds the
/// `ALERTS` series (a label whose template expanded to nothing keeps its
/// unexpanded text there).
fn series_labels(
    rule_labels: &Labels,
    rule_name: &str,
    a: &Alert,
    name: &str,
    with_state: bool,
) -> Labels {
    let mut b = rule_labels.builder();
    for l in &a.labels {
        b.set(l.name.as_str(), l.value.as_str());
    }
    b.set("__name__", name);
    b.set("alertname", rule_name);
    if with_state {
        b.set("alertstate", a.state.as_str());
    }
    b.build()
}
