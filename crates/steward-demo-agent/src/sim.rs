//! Simulation of an agent task: a sequence of LLM calls and tool calls.
//!
//! A task is first planned (every latency, token count and a possible
//! failure are drawn up front from the random generator) and then executed
//! by sleeping through the plan. Splitting the two keeps the random
//! generator's lock short and makes planning testable without a clock, and
//! execution testable with tokio's paused clock.

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{CountRange, Latency, ModelPrice, SimConfig};
use crate::metrics::Metrics;

/// Tools the simulated agent picks from.
pub const TOOLS: [&str; 4] = [
    "web_search",
    "retrieve_documents",
    "code_interpreter",
    "calculator",
];

/// No simulated call takes longer than this, however long the log-normal
/// tail is, so that a large sigma cannot hang a task for hours.
pub const MAX_CALL_LATENCY: Duration = Duration::from_secs(120);

/// The kind of a task step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A call to a language model.
    Llm,
    /// A call to a tool.
    Tool,
}

/// Why a simulated task failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The language model did not answer; a 503-like failure.
    LlmUnavailable,
    /// A tool returned an error; a 500-like failure.
    ToolFailed,
}

impl FailureReason {
    /// The error code and metric label of this reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::LlmUnavailable => "llm_unavailable",
            Self::ToolFailed => "tool_failed",
        }
    }

    /// The HTTP status a task failing for this reason answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::LlmUnavailable => 503,
            Self::ToolFailed => 500,
        }
    }
}

/// One step of a plan, with everything already drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// LLM or tool.
    pub kind: StepKind,
    /// The model name for LLM steps, the tool name for tool steps.
    pub name: String,
    /// How long the step takes.
    pub latency: Duration,
    /// Prompt tokens (0 for tool steps).
    pub prompt_tokens: u64,
    /// Completion tokens (0 for tool steps).
    pub completion_tokens: u64,
}

/// A planned failure: the step at index `at` fails after its latency, or
/// the task fails after its last step when `at` is the number of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFailure {
    /// Index of the failing step.
    pub at: usize,
    /// Why it fails.
    pub reason: FailureReason,
}

/// A fully drawn task, ready to execute.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPlan {
    /// The task id.
    pub id: String,
    /// The model serving the task's LLM calls.
    pub model: ModelPrice,
    /// Steps in execution order.
    pub steps: Vec<PlannedStep>,
    /// Whether `max_steps` cut the plan short.
    pub truncated: bool,
    /// The failure, if this task fails.
    pub failure: Option<PlannedFailure>,
    /// Latency added before the first step.
    pub extra_latency: Duration,
}

/// Draws a task plan.
///
/// LLM and tool calls alternate, starting with an LLM call, as in a
/// reason-act loop; `max_steps` truncates the plan.
pub fn plan_task<R: Rng + ?Sized>(
    sim: &SimConfig,
    rng: &mut R,
    model: ModelPrice,
    max_steps: Option<u32>,
) -> TaskPlan {
    let llm_calls = draw(sim.llm_calls, rng);
    let tool_calls = draw(sim.tool_calls, rng);
    let mut steps = Vec::new();
    for i in 0..llm_calls.max(tool_calls) {
        if i < llm_calls {
            steps.push(PlannedStep {
                kind: StepKind::Llm,
                name: model.name.clone(),
                latency: sample_latency(sim.llm_latency, rng),
                prompt_tokens: u64::from(draw(sim.prompt_tokens, rng)),
                completion_tokens: u64::from(draw(sim.completion_tokens, rng)),
            });
        }
        if i < tool_calls {
            steps.push(PlannedStep {
                kind: StepKind::Tool,
                name: TOOLS[rng.random_range(0..TOOLS.len())].to_owned(),
                latency: sample_latency(sim.tool_latency, rng),
                prompt_tokens: 0,
                completion_tokens: 0,
            });
        }
    }
    let limit = max_steps.map_or(usize::MAX, |m| m as usize);
    let truncated = steps.len() > limit;
    steps.truncate(limit);

    let failure = rng.random_bool(sim.error_rate).then(|| {
        let at = if steps.is_empty() {
            0
        } else {
            rng.random_range(0..steps.len())
        };
        let reason = match steps.get(at).map(|s| s.kind) {
            Some(StepKind::Tool) => FailureReason::ToolFailed,
            Some(StepKind::Llm) | None => FailureReason::LlmUnavailable,
        };
        PlannedFailure { at, reason }
    });

    TaskPlan {
        id: format!("task-{:016x}", rng.random::<u64>()),
        model,
        steps,
        truncated,
        failure,
        extra_latency: sim.extra_latency,
    }
}

fn draw<R: Rng + ?Sized>(range: CountRange, rng: &mut R) -> u32 {
    rng.random_range(range.min..=range.max)
}

/// Draws one latency from a log-normal distribution with the given median.
pub fn sample_latency<R: Rng + ?Sized>(latency: Latency, rng: &mut R) -> Duration {
    if latency.median.is_zero() {
        return Duration::ZERO;
    }
    // The median of a log-normal distribution is exp(mu).
    let mu = latency.median.as_secs_f64().ln();
    let secs = match LogNormal::new(mu, latency.sigma) {
        Ok(dist) => dist.sample(rng),
        // Sigma is validated by the flag parser; fall back to the median
        // rather than fail a request over it.
        Err(_) => latency.median.as_secs_f64(),
    };
    Duration::try_from_secs_f64(secs)
        .unwrap_or(MAX_CALL_LATENCY)
        .min(MAX_CALL_LATENCY)
}

/// Token counts of one LLM step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
    /// Their sum.
    pub total: u64,
}

/// One executed step, as reported to the client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Position in the task.
    pub index: usize,
    /// `llm` or `tool`.
    pub kind: StepKind,
    /// Model or tool name.
    pub name: String,
    /// Measured duration in milliseconds.
    pub duration_ms: f64,
    /// `ok` or `error`.
    pub status: &'static str,
    /// Token counts, for LLM steps that completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// Cost in USD, for LLM steps that completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Totals over a task's executed steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// LLM calls made.
    pub llm_calls: u32,
    /// Tool calls made.
    pub tool_calls: u32,
    /// Prompt tokens used.
    pub prompt_tokens: u64,
    /// Completion tokens used.
    pub completion_tokens: u64,
    /// All tokens used.
    pub tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Wall-clock duration of the task in milliseconds.
    pub duration_ms: f64,
}

/// The result of executing a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// The task id.
    pub id: String,
    /// The model used.
    pub model: String,
    /// Executed steps.
    pub steps: Vec<StepReport>,
    /// Totals over the steps.
    pub totals: Totals,
    /// Whether `max_steps` cut the task short.
    pub truncated: bool,
    /// Why the task failed, if it did.
    pub failure: Option<FailureReason>,
}

/// Executes a plan by sleeping through its steps and recording metrics as
/// each step completes, so that a scrape during a long task already sees its
/// tokens.
pub async fn execute(plan: TaskPlan, metrics: &Metrics) -> TaskReport {
    let started = Instant::now();
    if !plan.extra_latency.is_zero() {
        tokio::time::sleep(plan.extra_latency).await;
    }
    let mut steps = Vec::with_capacity(plan.steps.len());
    let mut totals = Totals::default();
    let mut failure = None;
    for (index, step) in plan.steps.iter().enumerate() {
        let step_started = Instant::now();
        tokio::time::sleep(step.latency).await;
        let elapsed = step_started.elapsed();
        let failed = plan.failure.is_some_and(|f| f.at == index);
        let mut report = StepReport {
            index,
            kind: step.kind,
            name: step.name.clone(),
            duration_ms: millis(elapsed),
            status: if failed { "error" } else { "ok" },
            tokens: None,
            cost_usd: None,
        };
        match step.kind {
            StepKind::Llm => {
                totals.llm_calls += 1;
                // A call that failed returned no completion and is not billed.
                if !failed {
                    let cost = plan.model.cost(step.prompt_tokens, step.completion_tokens);
                    metrics.llm_call(
                        &step.name,
                        step.prompt_tokens,
                        step.completion_tokens,
                        cost,
                        elapsed.as_secs_f64(),
                    );
                    totals.prompt_tokens += step.prompt_tokens;
                    totals.completion_tokens += step.completion_tokens;
                    totals.cost_usd += cost;
                    report.tokens = Some(Tokens {
                        prompt: step.prompt_tokens,
                        completion: step.completion_tokens,
                        total: step.prompt_tokens + step.completion_tokens,
                    });
                    report.cost_usd = Some(round_usd(cost));
                }
            }
            StepKind::Tool => {
                totals.tool_calls += 1;
                metrics.tool_call(&step.name, elapsed.as_secs_f64());
            }
        }
        steps.push(report);
        if failed {
            failure = plan.failure.map(|f| f.reason);
            break;
        }
    }
    if failure.is_none() {
        // A failure planned past the last step (only possible for an empty
        // plan) still fails the task.
        failure = plan
            .failure
            .filter(|f| f.at >= plan.steps.len())
            .map(|f| f.reason);
    }
    totals.tokens = totals.prompt_tokens + totals.completion_tokens;
    totals.cost_usd = round_usd(totals.cost_usd);
    totals.duration_ms = millis(started.elapsed());
    TaskReport {
        id: plan.id,
        model: plan.model.name,
        steps,
        totals,
        truncated: plan.truncated,
        failure,
    }
}

// Reports round to the microsecond and to 1e-10 USD: finer digits are
// floating-point noise that only makes responses harder to read.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn round_usd(usd: f64) -> f64 {
    (usd * 1e10).round() / 1e10
}

#[cfg(test)]
mod tests;
