//! Unit tests for task planning (seeded randomness) and execution (paused
//! tokio time).

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn sim(llm: (u32, u32), tool: (u32, u32), error_rate: f64) -> SimConfig {
    SimConfig {
        llm_latency: Latency {
            median: Duration::from_millis(100),
            sigma: 0.0,
        },
        tool_latency: Latency {
            median: Duration::from_millis(10),
            sigma: 0.0,
        },
        llm_calls: CountRange {
            min: llm.0,
            max: llm.1,
        },
        tool_calls: CountRange {
            min: tool.0,
            max: tool.1,
        },
        prompt_tokens: CountRange { min: 100, max: 200 },
        completion_tokens: CountRange { min: 10, max: 20 },
        error_rate,
        models: vec![model()],
        extra_latency: Duration::ZERO,
    }
}

fn model() -> ModelPrice {
    ModelPrice {
        name: "m".to_owned(),
        prompt_per_1k: 1.0,
        completion_per_1k: 2.0,
    }
}

fn step(kind: StepKind, millis: u64, prompt: u64, completion: u64) -> PlannedStep {
    PlannedStep {
        kind,
        name: if kind == StepKind::Llm {
            "m"
        } else {
            "calculator"
        }
        .to_owned(),
        latency: Duration::from_millis(millis),
        prompt_tokens: prompt,
        completion_tokens: completion,
    }
}

fn plan(steps: Vec<PlannedStep>, failure: Option<PlannedFailure>) -> TaskPlan {
    TaskPlan {
        id: "task-1".to_owned(),
        model: model(),
        steps,
        truncated: false,
        failure,
        extra_latency: Duration::ZERO,
    }
}

#[test]
fn plans_stay_within_ranges_and_alternate() {
    let sim = sim((1, 4), (0, 3), 0.0);
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let plan = plan_task(&sim, &mut rng, model(), None);
        let llm = plan
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Llm)
            .count();
        let tool = plan.steps.len() - llm;
        assert!(
            (1..=4).contains(&llm) && tool <= 3,
            "{llm} llm, {tool} tool"
        );
        assert_eq!(plan.steps[0].kind, StepKind::Llm);
        // Two tool calls in a row only happen once the LLM calls ran out.
        for (i, pair) in plan.steps.windows(2).enumerate() {
            if pair[0].kind == StepKind::Tool && pair[1].kind == StepKind::Tool {
                assert!(plan.steps[i..].iter().all(|s| s.kind == StepKind::Tool));
            }
        }
        for s in &plan.steps {
            match s.kind {
                StepKind::Llm => {
                    assert!((100..=200).contains(&s.prompt_tokens));
                    assert!((10..=20).contains(&s.completion_tokens));
                    assert_eq!(s.latency, Duration::from_millis(100));
                }
                StepKind::Tool => {
                    assert!(TOOLS.contains(&s.name.as_str()));
                    assert_eq!(s.prompt_tokens + s.completion_tokens, 0);
                }
            }
        }
        assert!(plan.failure.is_none());
        assert!(plan.id.starts_with("task-"));
    }
}

#[test]
fn same_seed_gives_same_plan() {
    let sim = sim((1, 4), (0, 3), 0.5);
    let a = plan_task(&sim, &mut StdRng::seed_from_u64(42), model(), None);
    let b = plan_task(&sim, &mut StdRng::seed_from_u64(42), model(), None);
    assert_eq!(a, b);
}

#[test]
fn max_steps_truncates_the_plan() {
    let sim = sim((3, 3), (3, 3), 0.0);
    let mut rng = StdRng::seed_from_u64(1);
    let full = plan_task(&sim, &mut rng, model(), None);
    assert_eq!(full.steps.len(), 6);
    assert!(!full.truncated);
    let cut = plan_task(&sim, &mut rng, model(), Some(4));
    assert_eq!(cut.steps.len(), 4);
    assert!(cut.truncated);
    let exact = plan_task(&sim, &mut rng, model(), Some(6));
    assert!(!exact.truncated);
}

#[test]
fn error_rate_one_always_fails_with_a_reason_matching_the_step() {
    let sim = sim((1, 3), (1, 3), 1.0);
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..100 {
        let plan = plan_task(&sim, &mut rng, model(), None);
        let failure = plan.failure.expect("error rate 1 always fails");
        let expected = match plan.steps[failure.at].kind {
            StepKind::Llm => FailureReason::LlmUnavailable,
            StepKind::Tool => FailureReason::ToolFailed,
        };
        assert_eq!(failure.reason, expected);
    }
    assert_eq!(FailureReason::LlmUnavailable.status(), 503);
    assert_eq!(FailureReason::ToolFailed.status(), 500);
}

#[test]
fn latency_median_matches_the_configured_median() {
    let latency = Latency {
        median: Duration::from_millis(200),
        sigma: 0.8,
    };
    let mut rng = StdRng::seed_from_u64(11);
    let mut samples: Vec<Duration> = (0..4001)
        .map(|_| sample_latency(latency, &mut rng))
        .collect();
    samples.sort();
    let median = samples[2000].as_secs_f64();
    assert!((0.18..0.22).contains(&median), "sample median {median}");
    assert!(samples.iter().all(|d| *d <= MAX_CALL_LATENCY));
    let zero = Latency {
        median: Duration::ZERO,
        sigma: 1.0,
    };
    assert_eq!(sample_latency(zero, &mut rng), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn execution_sleeps_through_every_step_and_counts_tokens() {
    let metrics = Metrics::new("0").unwrap();
    let mut p = plan(
        vec![
            step(StepKind::Llm, 100, 1000, 500),
            step(StepKind::Tool, 30, 0, 0),
            step(StepKind::Llm, 70, 2000, 0),
        ],
        None,
    );
    p.extra_latency = Duration::from_millis(250);
    let started = Instant::now();
    let report = execute(p, &metrics).await;
    assert_eq!(started.elapsed(), Duration::from_millis(450));
    assert_eq!(report.failure, None);
    assert_eq!(report.steps.len(), 3);
    assert_eq!(report.steps[1].duration_ms, 30.0);
    assert_eq!(report.totals.llm_calls, 2);
    assert_eq!(report.totals.tool_calls, 1);
    assert_eq!(report.totals.tokens, 3500);
    // 3000 prompt tokens at 1 USD/1k plus 500 completion tokens at 2 USD/1k.
    assert!((report.totals.cost_usd - 4.0).abs() < 1e-9);
    assert_eq!(report.totals.duration_ms, 450.0);
    let text = metrics.render().unwrap();
    assert!(text.contains("demo_agent_llm_tokens_total{direction=\"prompt\",model=\"m\"} 3000\n"));
    assert!(text.contains("demo_agent_llm_cost_usd_total{model=\"m\"} 4\n"));
    assert!(text.contains("demo_agent_tool_call_duration_seconds_count{tool=\"calculator\"} 1\n"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_step_ends_the_task_and_is_not_billed() {
    let metrics = Metrics::new("0").unwrap();
    let p = plan(
        vec![
            step(StepKind::Llm, 100, 1000, 0),
            step(StepKind::Llm, 100, 1000, 0),
            step(StepKind::Tool, 100, 0, 0),
        ],
        Some(PlannedFailure {
            at: 1,
            reason: FailureReason::LlmUnavailable,
        }),
    );
    let started = Instant::now();
    let report = execute(p, &metrics).await;
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(report.failure, Some(FailureReason::LlmUnavailable));
    assert_eq!(report.steps.len(), 2);
    assert_eq!(report.steps[1].status, "error");
    assert_eq!(report.steps[1].tokens, None);
    assert_eq!(report.totals.tokens, 1000);
}

#[tokio::test(start_paused = true)]
async fn an_empty_plan_can_still_fail() {
    let metrics = Metrics::new("0").unwrap();
    let p = plan(
        Vec::new(),
        Some(PlannedFailure {
            at: 0,
            reason: FailureReason::LlmUnavailable,
        }),
    );
    let report = execute(p, &metrics).await;
    assert_eq!(report.failure, Some(FailureReason::LlmUnavailable));
    assert!(report.steps.is_empty());
}
