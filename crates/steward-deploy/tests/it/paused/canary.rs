//! PromQL gates through the verify window and canary rollouts, in paused
//! time, on metrics a [`FakeMetrics`] makes up per version: the gates'
//! evaluations and the canary's weights and verdicts as journaled, the
//! promotion, and the rollbacks a failing gate or metric causes.

use std::{sync::Arc, time::Duration};

use steward_deploy::{DeploymentStatus, testing::FakeMetrics};
use tokio::time::Instant;

use super::{Agent, Paused};

/// The value of `expr`'s version (in `version="..."`) in `table`.
fn per_version(expr: &str, table: &[(&str, Vec<f64>)]) -> Vec<f64> {
    table
        .iter()
        .find(|(version, _)| expr.contains(&format!("version=\"{version}\"")))
        .map(|(_, values)| values.clone())
        .unwrap_or_default()
}

fn payloads(paused: &Paused, id: &str, kind: &str) -> Vec<serde_json::Value> {
    paused
        .store
        .events_of(id)
        .into_iter()
        .filter(|event| event.kind.as_str() == kind)
        .map(|event| event.payload)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn promql_gates_are_evaluated_through_the_window_and_a_failing_one_rolls_back() {
    let paused = Paused::new();
    let metrics = FakeMetrics::new(|expr| {
        Ok(if expr.starts_with("min(up") {
            per_version(expr, &[("1.0.0", vec![1.0]), ("2.0.0", vec![0.0])])
        } else {
            // `errors > 0.1` fires for nobody.
            Vec::new()
        })
    });
    paused.manager.set_metric_source(Arc::new(metrics.clone()));
    let mut agent = Agent::new(2);
    agent.verify_window = "10s";
    agent.rollout = r#"
[[services.rollout.gate]]
name = "up"
expr = 'min(up{version="$version"})'
interval = "2s"

[[services.rollout.gate]]
name = "errors"
expr = 'rate(errors{version="$version"}[1m]) > 0.1'
mode = "empty"
"#
    .to_owned();
    let config = paused.config(&agent);
    let first = paused.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );
    let evaluated = payloads(&paused, &first.id, "deploy.gate.evaluated");
    // `up` at 2, 4, 6, 8 and 10 s; `errors` every second (the health
    // interval) through the 10 s window.
    let count = |gate: &str| evaluated.iter().filter(|p| p["gate"] == gate).count();
    assert_eq!((count("up"), count("errors")), (5, 10), "{evaluated:?}");
    assert!(evaluated.iter().all(|p| p["passed"] == true));
    let up = evaluated.iter().find(|p| p["gate"] == "up").unwrap();
    assert_eq!(up["values"], serde_json::json!([1.0]));

    let started = Instant::now();
    let bad = paused.deploy(&config, "2.0.0").await;
    assert_eq!(bad.status, DeploymentStatus::RolledBack);
    let error = bad.error.clone().unwrap_or_default();
    assert!(
        error
            .contains(r#"metric gate up of agent failed: `min(up{version="2.0.0"})` returned [0]"#),
        "{error}"
    );
    let failed: Vec<_> = payloads(&paused, &bad.id, "deploy.gate.evaluated")
        .into_iter()
        .filter(|p| p["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["values"], serde_json::json!([0.0]));
    // The first evaluation failed: no need to wait for the window's end.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(paused.versions(), ["1.0.0"; 2]);
}

#[tokio::test(start_paused = true)]
async fn a_gate_compares_the_new_version_with_the_previous_one() {
    let paused = Paused::new();
    let metrics = FakeMetrics::new(|expr| {
        Ok(per_version(
            expr,
            &[
                ("1.0.0", vec![1.0]),
                ("2.0.0", vec![1.2]),
                ("3.0.0", vec![2.0]),
            ],
        ))
    });
    paused.manager.set_metric_source(Arc::new(metrics));
    let mut agent = Agent::new(1);
    agent.rollout = r#"
[[services.rollout.gate]]
name = "latency"
expr = 'latency{version="$version"}'
compare = "previous"
max_increase = 0.5
"#
    .to_owned();
    let config = paused.config(&agent);
    // Nothing to compare with at first; then 1.2 is within 50% of 1.0.
    for version in ["1.0.0", "2.0.0"] {
        let done = paused.deploy(&config, version).await;
        assert_eq!(
            done.status,
            DeploymentStatus::Succeeded,
            "{version}: {:?}",
            done.error
        );
    }
    let bad = paused.deploy(&config, "3.0.0").await;
    assert_eq!(bad.status, DeploymentStatus::RolledBack);
    let error = bad.error.unwrap_or_default();
    assert!(
        error.contains(
            r#"`latency{version="3.0.0"}` = 2 against 1.2 for 2.0.0 (at most 1.8 allowed"#
        ),
        "{error}"
    );
    assert_eq!(paused.versions(), ["2.0.0"]);
}

fn canary_agent(critical: bool) -> Agent {
    let mut agent = Agent::new(3);
    agent.strategy = "canary";
    agent.verify_window = "1s";
    agent.rollout = format!(
        r#"steps = [{{ weight = 10, pause = "20s" }}, {{ weight = 50, pause = "20s" }}]
canary_replicas = 1
interval = "2s"
confidence = 0.95

[[services.rollout.analysis]]
name = "error_ratio"
expr = 'errors{{version="$version"}}'
critical = {critical}
allowed_effect = 0.1
"#
    );
    agent
}

#[tokio::test(start_paused = true)]
async fn a_canary_goes_through_its_steps_and_is_promoted() {
    let paused = Paused::new();
    let metrics = FakeMetrics::new(|expr| {
        Ok(per_version(
            expr,
            &[("1.0.0", vec![0.01]), ("2.0.0", vec![0.01])],
        ))
    });
    paused.manager.set_metric_source(Arc::new(metrics.clone()));
    let config = paused.config(&canary_agent(false));
    let first = paused.deploy(&config, "1.0.0").await;
    assert_eq!(
        first.status,
        DeploymentStatus::Succeeded,
        "{:?}",
        first.error
    );

    // During the first step: one canary beside three stable replicas,
    // taking 10% by the proxy's split.
    let deploying = {
        let request = paused.request(&config, "2.0.0");
        paused.start(&config, request).await
    };
    let proxies = paused.manager.proxies().clone();
    steward_test_support::wait_until("the canary's first step", super::PATIENCE, async || {
        proxies
            .get("agent")
            .and_then(|(proxy, _)| proxy.split())
            .is_some_and(|split| split[1].weight == 10)
    })
    .await;
    assert_eq!(
        paused.versions().iter().filter(|v| *v == "2.0.0").count(),
        1
    );
    assert_eq!(paused.in_proxy().len(), 4);

    let done = paused.manager.wait(&deploying).await.expect("it ends");
    assert_eq!(done.status, DeploymentStatus::Succeeded, "{:?}", done.error);
    let weights: Vec<u64> = payloads(&paused, &done.id, "deploy.canary.weight")
        .iter()
        .map(|p| p["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, [10, 50, 100]);
    let verdicts = payloads(&paused, &done.id, "deploy.canary.verdict");
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    for verdict in &verdicts {
        assert_eq!(verdict["passed"], true);
        assert_eq!(verdict["metric"], "error_ratio");
        // One sample per 2 s through a 20 s pause, for each version.
        assert_eq!(verdict["canary_samples"], 10, "{verdict}");
        assert_eq!(verdict["stable_samples"], 10, "{verdict}");
        assert_eq!(verdict["p_value"], 1.0);
    }
    assert_eq!(paused.versions(), ["2.0.0"; 3]);
    assert_eq!(paused.in_proxy().len(), 3);
    let (proxy, _) = proxies.get("agent").unwrap();
    assert!(proxy.split().is_none());
    assert!(
        metrics
            .asked()
            .iter()
            .any(|expr| expr == r#"errors{version="1.0.0"}"#)
    );
}

#[tokio::test(start_paused = true)]
async fn a_canary_with_a_worse_metric_is_rolled_back() {
    // (critical, when the verdict comes after the step starts)
    for (critical, at) in [
        (false, Duration::from_secs(20)),
        (true, Duration::from_secs(6)),
    ] {
        let paused = Paused::new();
        let metrics = FakeMetrics::new(|expr| {
            Ok(per_version(
                expr,
                &[("1.0.0", vec![0.0]), ("2.0.0", vec![0.3])],
            ))
        });
        paused.manager.set_metric_source(Arc::new(metrics));
        let config = paused.config(&canary_agent(critical));
        let first = paused.deploy(&config, "1.0.0").await;
        assert_eq!(
            first.status,
            DeploymentStatus::Succeeded,
            "{:?}",
            first.error
        );
        let stable = paused.in_proxy();

        let bad = paused.deploy(&config, "2.0.0").await;
        assert_eq!(
            bad.status,
            DeploymentStatus::RolledBack,
            "critical {critical}"
        );
        let error = bad.error.clone().unwrap_or_default();
        assert!(
            error.contains("canary of agent failed: metric `error_ratio` failed at step 1 (10% of traffic): p-value "),
            "{error}"
        );
        let verdicts = payloads(&paused, &bad.id, "deploy.canary.verdict");
        assert_eq!(verdicts.len(), 1, "{verdicts:?}");
        let verdict = &verdicts[0];
        assert_eq!(verdict["passed"], false);
        assert!(verdict["p_value"].as_f64().unwrap() < 0.05, "{verdict}");
        let samples = at.as_secs() / 2;
        assert_eq!(
            verdict["canary_samples"], samples,
            "critical {critical}: {verdict}"
        );
        // Back to stable: weight 10, then 0.
        let weights: Vec<u64> = payloads(&paused, &bad.id, "deploy.canary.weight")
            .iter()
            .map(|p| p["weight"].as_u64().unwrap())
            .collect();
        assert_eq!(weights, [10, 0]);
        assert_eq!(paused.versions(), ["1.0.0"; 3]);
        assert_eq!(paused.in_proxy(), stable);
        let (proxy, _) = paused.manager.proxies().get("agent").unwrap();
        assert!(proxy.split().is_none());
    }
}
