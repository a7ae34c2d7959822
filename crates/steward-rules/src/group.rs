//! A rule group: its rules evaluated in order at one timestamp, each
//! rule's output appended before the next runs (so later rules see it),
//! staleness markers for series a rule stopped producing, and the `for`
//! state of its alerts restored from `ALERTS_FOR_STATE` after a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use steward_metrics::{Labels, MatchOp, Matcher, STALE_NAN, Sample, is_stale_nan};

use crate::metrics::RuleMetrics;
use crate::querier::{PROMQL, RuleQuerier};
use crate::rule::{Alert, EvalEnv, Health, Rule};
use crate::rulefmt::RuleGroup;
use crate::sink::AlertTransition;

/// A group of rules and the state of their evaluation.
#[derive(Debug)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The file it was read from.
    pub file: String,
    /// Its evaluation interval (ms).
    pub interval_ms: i64,
    /// Its limit (0: none).
    pub limit: usize,
    /// Its rules, in evaluation order.
    pub rules: Vec<Rule>,
    /// The group as written: a reload keeps a group whose description
    /// did not change.
    pub(crate) spec: RuleGroup,
    /// Whether the `for` state must be restored after the second
    /// evaluation (groups loaded at startup).
    pub(crate) should_restore: bool,
    series_in_previous_eval: Vec<HashSet<Labels>>,
    /// Series of removed rules to mark stale at the next evaluation.
    stale_series: Vec<Labels>,
    /// When the last evaluation started (evaluation timestamp, ms).
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took.
    pub last_duration: std::time::Duration,
    pub(crate) metrics: Option<Arc<RuleMetrics>>,
    /// Alert state changes not yet taken.
    transitions: Vec<AlertTransition>,
    /// Runs the expressions instead of the PromQL engine (LogQL rules).
    querier: Option<Arc<dyn RuleQuerier>>,
}

/// An alert due to be sent, with the expression of its rule.
#[derive(Debug, Clone)]
pub struct DueAlert {
    /// The rule's expression (for the generator URL).
    pub expr: String,
    /// The alert.
    pub alert: Alert,
}

impl Group {
    /// A group from its description; `default_interval_ms` applies when it
    /// sets none. `restored` is whether its alerting rules may write
    /// `ALERTS` at once (groups loaded after the first load).
    pub fn new(file: &str, spec: &RuleGroup, default_interval_ms: i64, restored: bool) -> Self {
        let mut rules: Vec<Rule> = spec.rules.iter().map(Rule::from_node).collect();
        for r in &mut rules {
            if let Rule::Alerting(a) = r {
                a.restored = restored;
            }
        }
        Self {
            name: spec.name.clone(),
            file: file.to_owned(),
            interval_ms: spec
                .interval
                .map(|d| d.0)
                .filter(|d| *d > 0)
                .unwrap_or(default_interval_ms),
            limit: spec.limit,
            series_in_previous_eval: vec![HashSet::new(); rules.len()],
            rules,
            spec: spec.clone(),
            should_restore: !restored,
            stale_series: Vec::new(),
            last_evaluation_ms: None,
            last_duration: std::time::Duration::ZERO,
            metrics: None,
            transitions: Vec::new(),
            querier: None,
        }
    }

    /// This group with its expressions run by `querier` (e.g. LogQL)
    /// instead of the PromQL engine.
    #[must_use]
    pub fn with_querier(mut self, querier: Option<Arc<dyn RuleQuerier>>) -> Self {
        self.querier = querier;
        self
    }

    /// The language of its expressions (`promql` unless its querier
    /// says otherwise).
    pub fn language(&self) -> &'static str {
        self.querier.as_ref().map_or(PROMQL, |q| q.language())
    }

    /// `file;name`: the group's key and its `rule_group` label.
    pub fn key(&self) -> String {
        group_key(&self.file, &self.name)
    }

    /// Whether `other` describes the same group (a reload keeps this one
    /// running, state and all).
    pub(crate) fn same_as(&self, other: &Group) -> bool {
        self.file == other.file
            && self.interval_ms == other.interval_ms
            && self.spec == other.spec
            && self.language() == other.language()
    }

    /// The first evaluation timestamp at or after `now_ms` in this group's
    /// schedule: multiples of the interval, shifted by a hash of the group
    /// so that groups do not all run at the same instant.
    pub fn eval_timestamp(&self, now_ms: i64) -> i64 {
        let interval = self.interval_ms.max(1);
        let offset =
            (Labels::from_pairs([("file", self.file.as_str()), ("name", self.name.as_str())])
                .stable_hash()
                % interval as u64) as i64;
        let adj = now_ms - offset;
        adj - adj.rem_euclid(interval) + offset
    }

    /// Evaluates every rule at `ts_ms`, in order, appending each rule's
    /// output before the next; returns the alerts due to be sent.
    pub fn eval(&mut self, env: &EvalEnv<'_>, ts_ms: i64, resend_delay_ms: i64) -> Vec<DueAlert> {
        let querier = self.querier.clone();
        let env = &EvalEnv {
            querier: querier.as_deref().or(env.querier),
            ..*env
        };
        let started = Instant::now();
        let key = self.key();
        let mut due = Vec::new();
        let mut samples_total = 0usize;
        for i in 0..self.rules.len() {
            let rule_started = Instant::now();
            let limit = self.limit;
            let rule = &mut self.rules[i];
            let res = match rule {
                Rule::Recording(r) => r.eval(env, ts_ms, limit),
                Rule::Alerting(a) => a.eval(env, ts_ms, limit),
            };
            if let Some(m) = &self.metrics {
                m.rule_evaluated(&key, res.is_err());
            }
            if let Rule::Alerting(a) = rule {
                self.transitions
                    .extend(a.take_transitions().into_iter().map(|mut t| {
                        t.group.clone_from(&key);
                        t
                    }));
            }
            match res {
                Err(e) => {
                    tracing::warn!(group = %self.name, rule = %rule.name(), index = i, error = %e, "evaluating rule failed");
                    let st = rule.status_mut();
                    st.health = Health::Bad;
                    st.last_error = Some(e);
                }
                Ok(vector) => {
                    {
                        let st = rule.status_mut();
                        st.health = Health::Good;
                        st.last_error = None;
                    }
                    samples_total += vector.len();
                    if let Rule::Alerting(a) = rule {
                        let interval = self.interval_ms;
                        for alert in a.alerts_to_send(ts_ms, resend_delay_ms, interval) {
                            due.push(DueAlert {
                                expr: a.expr.clone(),
                                alert,
                            });
                        }
                    }
                    let returned: HashSet<Labels> = vector.iter().map(|(l, _)| l.clone()).collect();
                    match env.storage.append(&vector) {
                        Ok(r) if r.out_of_order + r.duplicate + r.out_of_bounds > 0 => {
                            let st = rule.status_mut();
                            st.health = Health::Bad;
                            st.last_error = Some(if r.duplicate > 0 {
                                "duplicate sample for timestamp".into()
                            } else {
                                "out of order sample".into()
                            });
                            tracing::warn!(group = %self.name, rule = %rule.name(), out_of_order = r.out_of_order, duplicate = r.duplicate, "rule evaluation results discarded");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let st = rule.status_mut();
                            st.health = Health::Bad;
                            st.last_error = Some(e.to_string());
                            if let Some(m) = &self.metrics {
                                m.rule_failed(&key);
                            }
                            tracing::warn!(group = %self.name, rule = %rule.name(), error = %e, "rule sample appending failed");
                            continue;
                        }
                    }
                    // series the rule no longer produces are marked stale
                    // (a refusal means another rule wrote it: ignored)
                    let stale: Vec<(Labels, Sample)> = self.series_in_previous_eval[i]
                        .iter()
                        .filter(|l| !returned.contains(*l))
                        .map(|l| (l.clone(), Sample::new(ts_ms, STALE_NAN)))
                        .collect();
                    if !stale.is_empty()
                        && let Err(e) = env.storage.append(&stale)
                    {
                        tracing::warn!(group = %self.name, error = %e, "adding stale samples failed");
                    }
                    self.series_in_previous_eval[i] = returned;
                }
            }
            let st = self.rules[i].status_mut();
            st.last_evaluation_ms = Some(ts_ms);
            st.evaluation_duration = rule_started.elapsed();
            if let Some(m) = &self.metrics {
                m.observe_rule_duration(rule_started.elapsed());
            }
        }
        self.cleanup_stale_series(env, ts_ms);
        self.last_evaluation_ms = Some(ts_ms);
        self.last_duration = started.elapsed();
        if let Some(m) = &self.metrics {
            m.group_evaluated(&key, ts_ms, self.last_duration, samples_total);
        }
        due
    }

    fn cleanup_stale_series(&mut self, env: &EvalEnv<'_>, ts_ms: i64) {
        if self.stale_series.is_empty() {
            return;
        }
        let batch: Vec<(Labels, Sample)> = self
            .stale_series
            .drain(..)
            .map(|l| (l, Sample::new(ts_ms, STALE_NAN)))
            .collect();
        if let Err(e) = env.storage.append(&batch) {
            tracing::warn!(group = %self.name, error = %e, "adding stale samples failed");
        }
    }

    /// Every series the group wrote at its last evaluation: marked stale
    /// when the group is removed.
    pub(crate) fn take_all_series(&mut self) -> Vec<Labels> {
        let mut out: Vec<Labels> = self.stale_series.drain(..).collect();
        for s in &mut self.series_in_previous_eval {
            out.extend(s.drain());
        }
        out
    }

    /// The alert state changes of the evaluations since the last call.
    pub fn take_transitions(&mut self) -> Vec<AlertTransition> {
        std::mem::take(&mut self.transitions)
    }

    /// Marks every alerting rule as restored (promtool's tests do).
    pub fn set_restored(&mut self) {
        for r in &mut self.rules {
            if let Rule::Alerting(a) = r {
                a.restored = true;
            }
        }
    }

    /// Restores the `for` state of active alerts from the
    /// `ALERTS_FOR_STATE` series written before a restart, looking back
    /// `outage_tolerance_ms`; an alert gets at least `for_grace_period_ms`
    /// before it fires, unless its `for` is shorter than that.
    pub fn restore_for_state(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        outage_tolerance_ms: i64,
        for_grace_period_ms: i64,
    ) {
        let mint = ts_ms - outage_tolerance_ms;
        for rule in &mut self.rules {
            let Rule::Alerting(rule) = rule else { continue };
            if rule.hold_ms < for_grace_period_ms {
                rule.restored = true;
                continue;
            }
            let hold = rule.hold_ms;
            let keys: Vec<Labels> = rule.active.keys().cloned().collect();
            for key in keys {
                let labels = rule.for_state_labels(&rule.active[&key]);
                let matchers: Result<Vec<Matcher>, _> = labels
                    .iter()
                    .map(|l| Matcher::new(MatchOp::Equal, l.name.as_str(), l.value.as_str()))
                    .collect();
                let found = matchers
                    .and_then(|m| env.storage.select(&m, mint, ts_ms))
                    .map(|series| series.into_iter().find(|s| s.labels == labels));
                let series = match found {
                    Ok(Some(s)) => s,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!(alertname = %rule.name, error = %e, "failed to restore 'for' state");
                        continue;
                    }
                };
                let Some(last) = series.samples.last() else {
                    continue;
                };
                if is_stale_nan(last.v) {
                    continue;
                }
                // Prometheus works in whole seconds here
                let down_at = last.t.div_euclid(1000) * 1000;
                let mut active_at = (last.v as i64) * 1000;
                let remaining = hold - (down_at - active_at);
                if remaining <= 0 {
                    // it was firing: it fires again at the next evaluation
                } else if remaining < for_grace_period_ms {
                    active_at = ts_ms + for_grace_period_ms - hold;
                } else {
                    active_at += ts_ms - down_at;
                }
                if let Some(a) = rule.active.get_mut(&key) {
                    a.active_at = active_at;
                }
            }
            rule.restored = true;
        }
    }

    /// Takes over the state of `from`, the group this one replaces: for
    /// each rule with the same name and labels, its alerts and the series
    /// it wrote; series of rules that went away are marked stale at the
    /// next evaluation.
    pub(crate) fn copy_state(&mut self, from: &mut Group) {
        self.last_evaluation_ms = from.last_evaluation_ms;
        self.last_duration = from.last_duration;
        let mut unmatched: Vec<bool> = vec![true; from.rules.len()];
        for i in 0..self.rules.len() {
            let id = self.rules[i].identity();
            let Some(fi) =
                (0..from.rules.len()).find(|&fi| unmatched[fi] && from.rules[fi].identity() == id)
            else {
                continue;
            };
            unmatched[fi] = false;
            self.series_in_previous_eval[i] = std::mem::take(&mut from.series_in_previous_eval[fi]);
            if let (Rule::Alerting(to), Rule::Alerting(old)) = (&mut self.rules[i], &from.rules[fi])
            {
                to.active = old.active.clone();
            }
        }
        self.stale_series = std::mem::take(&mut from.stale_series);
        for (fi, gone) in unmatched.into_iter().enumerate() {
            if gone {
                self.stale_series
                    .extend(from.series_in_previous_eval[fi].drain());
            }
        }
    }
}

/// `file;name`, Prometheus' key of a group.
pub fn group_key(file: &str, name: &str) -> String {
    format!("{file};{name}")
}

#[cfg(test)]
mod tests;
