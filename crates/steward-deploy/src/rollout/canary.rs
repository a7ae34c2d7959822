//! The canary strategy: `canary_replicas` of the new version start beside
//! the stable ones, and the proxy's traffic split gives them each step's
//! share of new requests (whatever the replica counts). Through each
//! step's pause every analysis metric is sampled for both versions every
//! `interval` (one instant query per version: `$version` rendered as
//! each), and judged by a Mann-Whitney U test with an effect size, as
//! Kayenta's judge does. A critical metric is judged at every interval
//! once both sides have enough samples, and its failure ends the canary
//! at once; every metric is judged at the end of the step, and any
//! failing one fails it (repeated judging of the non-critical metrics
//! would inflate their false alarms). A failure sends all traffic back
//! to the stable set and stops the canary replicas; after the last step
//! the canary is promoted: the missing replicas of the new version start,
//! all traffic moves to the new version at once, and the stable set is
//! drained and stopped.

use std::{sync::Arc, time::Duration};

use serde::Serialize;
use steward_config::{CanaryMetric, Direction, render_query};
use steward_proxy::{Proxy, TrafficGroup, Upstream};
use tokio::time::Instant;

use super::{Converger, RolloutEvent};
use crate::{
    Error, Result,
    backend::Replica,
    metrics::{MetricSource, one_value, show},
    model::ServiceSpec,
    stats::{Alternative, mann_whitney_u, mean},
};

/// Fewer samples than this on either side: no verdict yet (inconclusive
/// at a step's end, which does not fail it).
const MIN_SAMPLES: usize = 3;

/// The judgement of one metric at one moment of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryVerdict {
    /// The metric.
    pub metric: String,
    /// The step (from 1) and the canary's share of traffic in it.
    pub step: usize,
    /// Percent of requests the canary took.
    pub weight: u32,
    /// Whether the metric passed (an inconclusive one passes).
    pub passed: bool,
    /// Whether the test could be made (enough samples on both sides).
    pub conclusive: bool,
    /// The test's p-value in the metric's bad direction.
    pub p_value: Option<f64>,
    /// Relative difference of the means, canary against stable (0.5: the
    /// canary's mean is 50% higher).
    pub effect: Option<f64>,
    /// Mean of the canary's samples.
    pub canary_mean: Option<f64>,
    /// Mean of the stable version's samples.
    pub stable_mean: Option<f64>,
    /// How many samples each side had.
    pub canary_samples: usize,
    /// How many samples the stable side had.
    pub stable_samples: usize,
    /// The judgement in words.
    pub detail: String,
}

/// Judges `metric` on `canary` against `stable` samples.
pub fn judge(
    metric: &CanaryMetric,
    confidence: f64,
    canary: &[f64],
    stable: &[f64],
    step: usize,
    weight: u32,
) -> CanaryVerdict {
    let mut verdict = CanaryVerdict {
        metric: metric.name.clone(),
        step,
        weight,
        passed: true,
        conclusive: false,
        p_value: None,
        effect: None,
        canary_mean: (!canary.is_empty()).then(|| mean(canary)),
        stable_mean: (!stable.is_empty()).then(|| mean(stable)),
        canary_samples: canary.len(),
        stable_samples: stable.len(),
        detail: String::new(),
    };
    if canary.len() < MIN_SAMPLES || stable.len() < MIN_SAMPLES {
        verdict.detail = format!(
            "inconclusive: {} canary and {} stable samples (at least {MIN_SAMPLES} each needed)",
            canary.len(),
            stable.len()
        );
        return verdict;
    }
    let alternative = match metric.direction {
        Direction::Increase => Alternative::Greater,
        Direction::Decrease => Alternative::Less,
        Direction::Either => Alternative::TwoSided,
    };
    let Some(test) = mann_whitney_u(canary, stable, alternative) else {
        return verdict;
    };
    let (canary_mean, stable_mean) = (mean(canary), mean(stable));
    let effect = if stable_mean != 0.0 {
        (canary_mean - stable_mean) / stable_mean.abs()
    } else if canary_mean == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(canary_mean)
    };
    let bad_effect = match metric.direction {
        Direction::Increase => effect > metric.allowed_effect,
        Direction::Decrease => -effect > metric.allowed_effect,
        Direction::Either => effect.abs() > metric.allowed_effect,
    };
    let alpha = 1.0 - confidence;
    let significant = test.p_value < alpha;
    verdict.conclusive = true;
    verdict.p_value = Some(test.p_value);
    verdict.effect = effect.is_finite().then_some(effect);
    verdict.passed = !(significant && bad_effect);
    let effect_text = if effect.is_finite() {
        format!("{:+}%", show(effect * 100.0))
    } else {
        "from 0".to_owned()
    };
    verdict.detail = format!(
        "p-value {} {} {} ({:?}), canary mean {} against stable {} (effect {effect_text}, {} {}%), {} and {} samples",
        show(test.p_value),
        if significant { "<" } else { ">=" },
        show(alpha),
        metric.direction,
        show(canary_mean),
        show(stable_mean),
        if bad_effect { "beyond the allowed" } else { "within the allowed" },
        show(metric.allowed_effect * 100.0),
        canary.len(),
        stable.len(),
    )
    .to_lowercase();
    verdict
}

impl Converger {
    /// Runs the canary of `target` beside `stable`, promoting it or
    /// undoing it.
    pub(super) async fn canary(
        &self,
        target: &ServiceSpec,
        deployment_id: &str,
        mut canary: Vec<Replica>,
        stable: Vec<Replica>,
        proxy: Proxy,
    ) -> Result<()> {
        let rollout = &target.rollout;
        let want = (rollout.canary_replicas.max(1) as usize).min(target.replicas.max(1) as usize);
        if canary.len() < want {
            let started = self
                .start_healthy(target, deployment_id, &canary, want - canary.len())
                .await?;
            canary.extend(started);
        }
        // The split first, at 0% for the canary, so that the canary
        // replicas take nothing when they join the proxy.
        proxy.set_split(split(&stable, &canary, 0));
        let members: Vec<String> = proxy
            .upstreams()
            .into_iter()
            .map(|s| s.upstream.id)
            .collect();
        for replica in &canary {
            if !members.contains(&replica.id) {
                proxy.add(Upstream::new(&replica.id, replica.addr))?;
                self.emit(RolloutEvent::Added {
                    service: target.name.clone(),
                    replica: replica.id.clone(),
                });
            }
        }
        let stable_version = stable
            .first()
            .map(|r| r.version.to_string())
            .unwrap_or_default();
        if let Err(err) = self
            .canary_steps(target, &canary, &stable, &proxy, &stable_version)
            .await
        {
            // All traffic back to the stable set at once; the canary
            // replicas drain and stop.
            proxy.set_split(split(&stable, &canary, 0));
            self.emit(weight_event(target, &stable_version, 0, 0));
            for replica in &canary {
                self.retire(rollout, replica, true).await?;
            }
            proxy.clear_split();
            return Err(err);
        }
        // Promotion: the rest of the new version, then all traffic to it.
        let desired = target.replicas as usize;
        if canary.len() < desired {
            let started = self
                .start_healthy(target, deployment_id, &canary, desired - canary.len())
                .await?;
            for replica in &started {
                proxy.add(Upstream::new(&replica.id, replica.addr))?;
            }
            canary.extend(started);
            // Joined with the canary's last share; then everything.
            let last = rollout.steps.last().map_or(0, |step| step.weight);
            proxy.set_split(split(&stable, &canary, last));
            for replica in canary.iter().skip(want) {
                self.emit(RolloutEvent::Added {
                    service: target.name.clone(),
                    replica: replica.id.clone(),
                });
            }
        }
        proxy.set_split(split(&stable, &canary, 100));
        self.emit(weight_event(
            target,
            &stable_version,
            rollout.steps.len() + 1,
            100,
        ));
        for replica in &stable {
            self.retire(rollout, replica, true).await?;
        }
        proxy.clear_split();
        Ok(())
    }

    /// Every step: its weight, its pause with the samples, its verdicts.
    async fn canary_steps(
        &self,
        target: &ServiceSpec,
        canary: &[Replica],
        stable: &[Replica],
        proxy: &Proxy,
        stable_version: &str,
    ) -> Result<()> {
        let rollout = &target.rollout;
        let fail = |reason: String| Error::Canary {
            service: target.name.to_string(),
            reason,
        };
        let source = match (&self.metrics, rollout.analysis.is_empty()) {
            (_, true) => None,
            (Some(source), false) => Some(Arc::clone(source)),
            (None, false) => {
                return Err(fail(
                    "no metrics to analyse (is [metrics] enabled?)".to_owned(),
                ));
            }
        };
        let analysed = if stable_version == target.version.as_str() {
            tracing::warn!(service = %target.name, version = stable_version, "canary and stable run the same version: no analysis");
            &[][..]
        } else {
            &rollout.analysis[..]
        };
        let interval = rollout.interval.get().max(Duration::from_millis(10));
        for (index, step) in rollout.steps.iter().enumerate() {
            let number = index + 1;
            proxy.set_split(split(stable, canary, step.weight));
            self.emit(weight_event(target, stable_version, number, step.weight));
            let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); analysed.len()];
            let end = Instant::now() + step.pause.get();
            loop {
                let next = (Instant::now() + interval).min(end);
                tokio::time::sleep_until(next).await;
                if let Some(source) = &source {
                    for (metric, (on_canary, on_stable)) in analysed.iter().zip(samples.iter_mut())
                    {
                        let version = target.version.as_str();
                        if let Some(value) =
                            sample(source.as_ref(), metric, target, version, stable_version).await
                        {
                            on_canary.push(value);
                        }
                        if let Some(value) = sample(
                            source.as_ref(),
                            metric,
                            target,
                            stable_version,
                            stable_version,
                        )
                        .await
                        {
                            on_stable.push(value);
                        }
                        if metric.critical && next < end {
                            let verdict = judge(
                                metric,
                                rollout.confidence,
                                on_canary,
                                on_stable,
                                number,
                                step.weight,
                            );
                            if verdict.conclusive && !verdict.passed {
                                return Err(self.failed(target, verdict));
                            }
                        }
                    }
                }
                if next >= end {
                    break;
                }
            }
            let mut failed = None;
            for (metric, (on_canary, on_stable)) in analysed.iter().zip(&samples) {
                let verdict = judge(
                    metric,
                    rollout.confidence,
                    on_canary,
                    on_stable,
                    number,
                    step.weight,
                );
                if verdict.passed {
                    self.emit(RolloutEvent::CanaryVerdict {
                        service: target.name.clone(),
                        verdict,
                    });
                } else if failed.is_none() {
                    failed = Some(verdict);
                } else {
                    self.emit(RolloutEvent::CanaryVerdict {
                        service: target.name.clone(),
                        verdict,
                    });
                }
            }
            if let Some(verdict) = failed {
                return Err(self.failed(target, verdict));
            }
        }
        Ok(())
    }

    /// Journals a failing verdict and makes it the error.
    fn failed(&self, target: &ServiceSpec, verdict: CanaryVerdict) -> Error {
        let reason = format!(
            "metric `{}` failed at step {} ({}% of traffic): {}",
            verdict.metric, verdict.step, verdict.weight, verdict.detail
        );
        self.emit(RolloutEvent::CanaryVerdict {
            service: target.name.clone(),
            verdict,
        });
        Error::Canary {
            service: target.name.to_string(),
            reason,
        }
    }
}

/// One value of `metric` for `version`, if it has one now.
async fn sample(
    source: &dyn MetricSource,
    metric: &CanaryMetric,
    target: &ServiceSpec,
    version: &str,
    stable_version: &str,
) -> Option<f64> {
    let expr = render_query(
        &metric.expr,
        target.name.as_str(),
        version,
        Some(stable_version),
    );
    match source.query(&expr).await {
        Ok(samples) => one_value(&samples),
        Err(err) => {
            tracing::warn!(service = %target.name, metric = %metric.name, error = %err, "cannot sample a canary metric");
            None
        }
    }
}

/// The split giving `weight` percent to `canary`.
fn split(stable: &[Replica], canary: &[Replica], weight: u32) -> Vec<TrafficGroup> {
    let ids = |replicas: &[Replica]| replicas.iter().map(|r| r.id.clone()).collect();
    vec![
        TrafficGroup {
            name: "stable".to_owned(),
            weight: 100 - weight.min(100),
            members: ids(stable),
        },
        TrafficGroup {
            name: "canary".to_owned(),
            weight: weight.min(100),
            members: ids(canary),
        },
    ]
}

fn weight_event(target: &ServiceSpec, stable: &str, step: usize, weight: u32) -> RolloutEvent {
    RolloutEvent::CanaryWeight {
        service: target.name.clone(),
        version: target.version.to_string(),
        stable: stable.to_owned(),
        step,
        weight,
    }
}

#[cfg(test)]
mod tests;
