//! The agent's Prometheus metrics and their text exposition.
//!
//! Exposition uses the Prometheus text format 0.0.4, not OpenMetrics, because
//! that is what steward's scraper and `promtool check metrics` expect from a
//! plain service.

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::Result;

/// The content type of the exposition returned by [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Outcomes under which `demo_agent_tasks_total` counts tasks.
pub const TASK_OUTCOMES: [&str; 4] = ["success", "error", "rejected", "cancelled"];

/// All metrics of one agent process, registered in their own registry so
/// that several agents (in tests) never share counters.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    tasks: IntCounterVec,
    tasks_in_flight: IntGauge,
    task_errors: IntCounterVec,
    task_duration: HistogramVec,
    llm_tokens: IntCounterVec,
    llm_cost: CounterVec,
    llm_duration: HistogramVec,
    tool_duration: HistogramVec,
    memory: IntGauge,
    retained_memory: IntGauge,
    ready: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric; `version` labels `demo_agent_build_info`.
    pub fn new(version: &str) -> Result<Self> {
        let registry = Registry::new();
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "demo_agent_http_request_duration_seconds",
                "Duration of HTTP requests by route, method and status code.",
            ),
            &["route", "method", "status"],
        )?;
        let http_in_flight = IntGauge::new(
            "demo_agent_http_requests_in_flight",
            "HTTP requests currently being served.",
        )?;
        let tasks = IntCounterVec::new(
            Opts::new(
                "demo_agent_tasks_total",
                "Agent tasks finished, by outcome.",
            ),
            &["outcome"],
        )?;
        let tasks_in_flight = IntGauge::new(
            "demo_agent_tasks_in_flight",
            "Agent tasks currently running.",
        )?;
        let task_errors = IntCounterVec::new(
            Opts::new(
                "demo_agent_task_errors_total",
                "Agent tasks that failed, by reason.",
            ),
            &["reason"],
        )?;
        let task_duration = HistogramVec::new(
            HistogramOpts::new(
                "demo_agent_task_duration_seconds",
                "Duration of agent tasks, by outcome.",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["outcome"],
        )?;
        let llm_tokens = IntCounterVec::new(
            Opts::new(
                "demo_agent_llm_tokens_total",
                "LLM tokens used, by model and direction (prompt or completion).",
            ),
            &["model", "direction"],
        )?;
        let llm_cost = CounterVec::new(
            Opts::new(
                "demo_agent_llm_cost_usd_total",
                "Cost of LLM calls in US dollars, by model.",
            ),
            &["model"],
        )?;
        let llm_duration = HistogramVec::new(
            HistogramOpts::new(
                "demo_agent_llm_call_duration_seconds",
                "Duration of simulated LLM calls, by model.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["model"],
        )?;
        let tool_duration = HistogramVec::new(
            HistogramOpts::new(
                "demo_agent_tool_call_duration_seconds",
                "Duration of simulated tool calls, by tool.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["tool"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "demo_agent_build_info",
                "Always 1; the version label carries the reported agent version.",
            ),
            &["version"],
        )?;
        let memory = IntGauge::new(
            "demo_agent_memory_bytes",
            "Resident memory of the agent process in bytes (0 where /proc is unavailable).",
        )?;
        let retained_memory = IntGauge::new(
            "demo_agent_retained_memory_bytes",
            "Memory deliberately kept by the --memory-growth-mb knob, in bytes.",
        )?;
        let ready = IntGauge::new(
            "demo_agent_ready",
            "1 when /healthz reports ready, 0 while starting or configured to fail.",
        )?;

        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        registry.register(Box::new(tasks.clone()))?;
        registry.register(Box::new(tasks_in_flight.clone()))?;
        registry.register(Box::new(task_errors.clone()))?;
        registry.register(Box::new(task_duration.clone()))?;
        registry.register(Box::new(llm_tokens.clone()))?;
        registry.register(Box::new(llm_cost.clone()))?;
        registry.register(Box::new(llm_duration.clone()))?;
        registry.register(Box::new(tool_duration.clone()))?;
        registry.register(Box::new(build_info.clone()))?;
        registry.register(Box::new(memory.clone()))?;
        registry.register(Box::new(retained_memory.clone()))?;
        registry.register(Box::new(ready.clone()))?;

        build_info.with_label_values(&[version]).set(1);
        // Series that exist from the first scrape let `rate()` and
        // `increase()` see the first increment instead of a new series.
        for outcome in TASK_OUTCOMES {
            tasks.with_label_values(&[outcome]).reset();
        }

        Ok(Self {
            registry,
            http_duration,
            http_in_flight,
            tasks,
            tasks_in_flight,
            task_errors,
            task_duration,
            llm_tokens,
            llm_cost,
            llm_duration,
            tool_duration,
            memory,
            retained_memory,
            ready,
        })
    }

    /// Records one served HTTP request.
    pub fn observe_http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_duration
            .with_label_values(&[route, method, &status.to_string()])
            .observe(seconds);
    }

    /// Counts an HTTP request as in flight until the guard is dropped.
    ///
    /// A guard rather than an explicit decrement, because axum drops the
    /// request future when a client disconnects.
    pub fn http_in_flight(&self) -> InFlight {
        InFlight::new(self.http_in_flight.clone())
    }

    /// Counts a task as in flight until the guard is dropped.
    pub fn task_in_flight(&self) -> InFlight {
        InFlight::new(self.tasks_in_flight.clone())
    }

    /// Records a finished task; `error_reason` is set for failed tasks.
    pub fn task_finished(&self, outcome: &str, error_reason: Option<&str>, seconds: f64) {
        self.tasks.with_label_values(&[outcome]).inc();
        self.task_duration
            .with_label_values(&[outcome])
            .observe(seconds);
        if let Some(reason) = error_reason {
            self.task_errors.with_label_values(&[reason]).inc();
        }
    }

    /// Records a task refused before it ran (for example while starting).
    pub fn task_rejected(&self, reason: &str) {
        self.tasks.with_label_values(&["rejected"]).inc();
        self.task_errors.with_label_values(&[reason]).inc();
    }

    /// Records a task whose client went away before it finished.
    pub fn task_cancelled(&self) {
        self.tasks.with_label_values(&["cancelled"]).inc();
    }

    /// Records one completed LLM call.
    pub fn llm_call(
        &self,
        model: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        cost_usd: f64,
        seconds: f64,
    ) {
        self.llm_tokens
            .with_label_values(&[model, "prompt"])
            .inc_by(prompt_tokens);
        self.llm_tokens
            .with_label_values(&[model, "completion"])
            .inc_by(completion_tokens);
        self.llm_cost.with_label_values(&[model]).inc_by(cost_usd);
        self.llm_duration
            .with_label_values(&[model])
            .observe(seconds);
    }

    /// Records one tool call.
    pub fn tool_call(&self, tool: &str, seconds: f64) {
        self.tool_duration
            .with_label_values(&[tool])
            .observe(seconds);
    }

    /// Sets the amount of memory kept by the memory-growth knob.
    pub fn set_retained_memory(&self, bytes: u64) {
        self.retained_memory
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Sets whether the agent currently accepts tasks.
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// Refreshes the sampled gauges and encodes every metric in the
    /// Prometheus text format 0.0.4.
    pub fn render(&self) -> Result<String> {
        if let Some(rss) = resident_memory_bytes() {
            self.memory.set(i64::try_from(rss).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        // The text encoder only writes UTF-8; metric names and label values
        // come from Rust strings.
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// Keeps a gauge incremented while it is alive.
#[derive(Debug)]
pub struct InFlight(IntGauge);

impl InFlight {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads the resident set size from `/proc/self/status`.
///
/// `VmRSS` is reported in kB, which avoids needing the page size that
/// `/proc/self/statm` counts in (and that safe Rust cannot query).
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests;
