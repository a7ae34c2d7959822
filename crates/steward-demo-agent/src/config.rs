//! Command-line flags and environment variables, and the validated
//! configuration built from them.
//!
//! Every flag can also be set through an environment variable prefixed with
//! `DEMO_AGENT_`; `--port` additionally falls back to `PORT`, the variable
//! most platforms use to hand a port to a service.
//!
//! Durations accept a bare number or a number with a unit suffix (`ms`, `s`,
//! `m`). A bare number is read in the unit that the flag is documented in:
//! milliseconds for the latency flags (`--llm-latency-ms 250`), seconds for
//! `--startup-delay` and `--exit-after` (`--exit-after 1`). `500ms` or `2s`
//! mean the same on every flag.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;

use crate::error::{Error, Result};

/// The port used when neither `--port`, `DEMO_AGENT_PORT` nor `PORT` is set.
pub const DEFAULT_PORT: u16 = 8080;

/// Raw command-line flags, as clap parses them.
///
/// Call [`Args::into_config`] to validate the cross-field rules and obtain a
/// [`Config`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "steward-demo-agent",
    version,
    about = "A small, realistic AI-agent HTTP service for steward's examples, tests and benchmarks",
    long_about = None,
    // A later flag wins over an earlier one, so that a supervisor can append
    // per-version overrides to a service's base command line.
    args_override_self = true,
    after_help = "Durations: a bare number is milliseconds for the *-ms flags and seconds for \
                  --startup-delay and --exit-after; a suffix (500ms, 2s, 1m) overrides that.\n\
                  --startup-delay: the port listens immediately, but /healthz answers 503 \
                  \"starting\" and tasks answer 503 until the delay has passed.\n\
                  --memory-growth-mb: that many MiB are allocated, written and kept for every \
                  task served."
)]
pub struct Args {
    /// Address (IP or host name) to listen on.
    #[arg(
        long,
        visible_alias = "host",
        env = "DEMO_AGENT_LISTEN",
        default_value = "127.0.0.1"
    )]
    pub listen: String,

    /// Port to listen on; 0 binds an ephemeral port [env: PORT also accepted;
    /// default: 8080].
    #[arg(long, env = "DEMO_AGENT_PORT")]
    pub port: Option<u16>,

    /// Version string the agent reports in responses, health and build_info.
    #[arg(long, env = "DEMO_AGENT_VERSION", default_value = env!("CARGO_PKG_VERSION"))]
    pub agent_version: String,

    /// Median latency of one simulated LLM call (bare number: milliseconds).
    #[arg(long, env = "DEMO_AGENT_LLM_LATENCY_MS", default_value = "300ms", value_parser = parse_millis)]
    pub llm_latency_ms: Duration,

    /// Log-normal sigma of the LLM call latency (0 makes it constant).
    #[arg(long, env = "DEMO_AGENT_LLM_LATENCY_SIGMA", default_value_t = 0.5, value_parser = parse_sigma)]
    pub llm_latency_sigma: f64,

    /// Median latency of one simulated tool call (bare number: milliseconds).
    #[arg(long, env = "DEMO_AGENT_TOOL_LATENCY_MS", default_value = "50ms", value_parser = parse_millis)]
    pub tool_latency_ms: Duration,

    /// Log-normal sigma of the tool call latency (0 makes it constant).
    #[arg(long, env = "DEMO_AGENT_TOOL_LATENCY_SIGMA", default_value_t = 0.8, value_parser = parse_sigma)]
    pub tool_latency_sigma: f64,

    /// LLM calls per task, `N` or `MIN-MAX` (drawn uniformly).
    #[arg(long, env = "DEMO_AGENT_LLM_CALLS", default_value = "2-4")]
    pub llm_calls: CountRange,

    /// Tool calls per task, `N` or `MIN-MAX` (drawn uniformly).
    #[arg(long, env = "DEMO_AGENT_TOOL_CALLS", default_value = "1-3")]
    pub tool_calls: CountRange,

    /// Prompt tokens per LLM call, `N` or `MIN-MAX` (drawn uniformly).
    #[arg(long, env = "DEMO_AGENT_PROMPT_TOKENS", default_value = "200-1200")]
    pub prompt_tokens: CountRange,

    /// Completion tokens per LLM call, `N` or `MIN-MAX` (drawn uniformly).
    #[arg(long, env = "DEMO_AGENT_COMPLETION_TOKENS", default_value = "50-400")]
    pub completion_tokens: CountRange,

    /// Probability (0.0 to 1.0) that a task fails part-way.
    #[arg(long, env = "DEMO_AGENT_ERROR_RATE", default_value_t = 0.0, value_parser = parse_error_rate)]
    pub error_rate: f64,

    /// Model and USD price per 1k tokens, `NAME:PRICE` or
    /// `NAME:PROMPT_PRICE:COMPLETION_PRICE`; repeat or separate with commas.
    /// The first one is used when a task names no model.
    #[arg(
        long = "model",
        value_name = "NAME:PRICE",
        visible_alias = "models",
        env = "DEMO_AGENT_MODELS",
        value_delimiter = ',',
        default_values = ["demo-mini:0.00015:0.0006", "demo-pro:0.003:0.015"]
    )]
    pub models: Vec<ModelPrice>,

    /// Seed for the random generator, for reproducible runs.
    #[arg(long, env = "DEMO_AGENT_SEED")]
    pub seed: Option<u64>,

    /// Bad version: /healthz always answers 503 "failing".
    #[arg(long, env = "DEMO_AGENT_FAIL_HEALTH")]
    pub fail_health: bool,

    /// Bad version: not ready (health and tasks answer 503) for this long
    /// after start; the port listens immediately (bare number: seconds).
    #[arg(long, env = "DEMO_AGENT_STARTUP_DELAY", default_value = "0s", value_parser = parse_secs)]
    pub startup_delay: Duration,

    /// Bad version: latency added to every task (bare number: milliseconds).
    #[arg(long, env = "DEMO_AGENT_EXTRA_LATENCY_MS", default_value = "0ms", value_parser = parse_millis)]
    pub extra_latency_ms: Duration,

    /// Bad version: MiB allocated, written and kept for every task served, so
    /// that resident memory grows.
    #[arg(long, env = "DEMO_AGENT_MEMORY_GROWTH_MB", default_value_t = 0)]
    pub memory_growth_mb: u64,

    /// Bad version: exit with code 1 after this long, simulating a crash
    /// (bare number: seconds).
    #[arg(long, env = "DEMO_AGENT_EXIT_AFTER", value_parser = parse_secs)]
    pub exit_after: Option<Duration>,

    /// Another agent this one calls first for every task (its base URL,
    /// `http://127.0.0.1:8081`): a task fails when the upstream's does,
    /// as a gateway fails when the workers behind it do.
    #[arg(long, env = "DEMO_AGENT_UPSTREAM")]
    pub upstream: Option<String>,

    /// A SQLite database with the demo agent's migrations applied (its
    /// `tasks` table): every task is recorded there, so that what a
    /// migration does to writes shows in the task latency.
    #[arg(long, env = "DEMO_AGENT_DATABASE")]
    pub database: Option<std::path::PathBuf>,

    /// Format of the logs written to stderr; the level comes from
    /// `DEMO_AGENT_LOG` or `RUST_LOG` (default `info`).
    #[arg(long, env = "DEMO_AGENT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Format of the logs written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Args {
    /// Validates the flags and builds the configuration.
    ///
    /// `port_env` is the value of the `PORT` environment variable, used when
    /// `--port` and `DEMO_AGENT_PORT` are absent; it is a parameter so that
    /// tests need not touch the process environment.
    pub fn into_config(self, port_env: Option<&str>) -> Result<Config> {
        let port = match (self.port, port_env) {
            (Some(port), _) => port,
            (None, Some(raw)) => raw.trim().parse().map_err(|_| Error::InvalidConfig {
                field: "PORT",
                reason: format!("{raw:?} is not a port number (0-65535)"),
            })?,
            (None, None) => DEFAULT_PORT,
        };
        if self.agent_version.trim().is_empty() {
            return Err(Error::InvalidConfig {
                field: "--agent-version",
                reason: "must not be empty".to_owned(),
            });
        }
        if self.models.is_empty() {
            return Err(Error::InvalidConfig {
                field: "--model",
                reason: "at least one model is required".to_owned(),
            });
        }
        let mut seen = HashSet::new();
        for model in &self.models {
            if !seen.insert(model.name.as_str()) {
                return Err(Error::InvalidConfig {
                    field: "--model",
                    reason: format!("model {:?} is given twice", model.name),
                });
            }
        }
        // A task with no LLM call would have no tokens and no cost, which
        // makes the demo useless for the dashboards it exists to feed.
        if self.llm_calls.max == 0 {
            return Err(Error::InvalidConfig {
                field: "--llm-calls",
                reason: "at least one llm call per task is required".to_owned(),
            });
        }
        Ok(Config {
            listen: self.listen,
            port,
            version: self.agent_version,
            sim: SimConfig {
                llm_latency: Latency {
                    median: self.llm_latency_ms,
                    sigma: self.llm_latency_sigma,
                },
                tool_latency: Latency {
                    median: self.tool_latency_ms,
                    sigma: self.tool_latency_sigma,
                },
                llm_calls: self.llm_calls,
                tool_calls: self.tool_calls,
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.completion_tokens,
                error_rate: self.error_rate,
                models: self.models,
                extra_latency: self.extra_latency_ms,
            },
            seed: self.seed,
            fail_health: self.fail_health,
            startup_delay: self.startup_delay,
            memory_growth_bytes: self.memory_growth_mb.saturating_mul(1024 * 1024),
            exit_after: self.exit_after,
            upstream: self
                .upstream
                .map(|url| {
                    let url = url.trim_end_matches('/').to_owned();
                    match url.starts_with("http://") || url.starts_with("https://") {
                        true => Ok(url),
                        false => Err(Error::InvalidConfig {
                            field: "--upstream",
                            reason: format!("{url:?} is not an http(s) URL"),
                        }),
                    }
                })
                .transpose()?,
            database: self.database,
        })
    }
}

/// The validated configuration of one demo agent process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host to listen on.
    pub listen: String,
    /// Port to listen on; 0 means an ephemeral port.
    pub port: u16,
    /// Version string reported by the agent.
    pub version: String,
    /// How tasks are simulated.
    pub sim: SimConfig,
    /// Seed for the random generator; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Whether health always fails.
    pub fail_health: bool,
    /// How long after start the agent stays not ready.
    pub startup_delay: Duration,
    /// Bytes allocated and kept per task.
    pub memory_growth_bytes: u64,
    /// When set, the process exits with code 1 after this long.
    pub exit_after: Option<Duration>,
    /// The agent called first for every task.
    pub upstream: Option<String>,
    /// Where tasks are recorded.
    pub database: Option<std::path::PathBuf>,
}

/// Parameters of the task simulation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Latency of one LLM call.
    pub llm_latency: Latency,
    /// Latency of one tool call.
    pub tool_latency: Latency,
    /// LLM calls per task.
    pub llm_calls: CountRange,
    /// Tool calls per task.
    pub tool_calls: CountRange,
    /// Prompt tokens per LLM call.
    pub prompt_tokens: CountRange,
    /// Completion tokens per LLM call.
    pub completion_tokens: CountRange,
    /// Probability that a task fails.
    pub error_rate: f64,
    /// Known models with their prices; the first is the default.
    pub models: Vec<ModelPrice>,
    /// Latency added to every task.
    pub extra_latency: Duration,
}

impl SimConfig {
    /// Looks a model up by name.
    pub fn model(&self, name: &str) -> Option<&ModelPrice> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The model used when a task names none.
    pub fn default_model(&self) -> &ModelPrice {
        // `Args::into_config` rejects an empty model list.
        &self.models[0]
    }
}

/// A log-normal latency distribution, given by its median and sigma.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median latency, `exp(mu)` of the distribution.
    pub median: Duration,
    /// The standard deviation of the underlying normal distribution.
    pub sigma: f64,
}

/// An inclusive range of counts, written `N` or `MIN-MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    /// The smallest value.
    pub min: u32,
    /// The largest value.
    pub max: u32,
}

impl FromStr for CountRange {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidRange {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let parse = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| invalid("expected N or MIN-MAX with non-negative integers"))
        };
        let (min, max) = match input.split_once('-') {
            Some((min, max)) => (parse(min)?, parse(max)?),
            None => {
                let n = parse(input)?;
                (n, n)
            }
        };
        if min > max {
            return Err(invalid("minimum is larger than maximum"));
        }
        Ok(Self { min, max })
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// A model and its USD prices per 1000 tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    /// The model name, used as a metric label.
    pub name: String,
    /// USD per 1000 prompt tokens.
    pub prompt_per_1k: f64,
    /// USD per 1000 completion tokens.
    pub completion_per_1k: f64,
}

impl ModelPrice {
    /// The USD cost of one call with these token counts.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.prompt_per_1k
            + completion_tokens as f64 * self.completion_per_1k)
            / 1000.0
    }
}

impl FromStr for ModelPrice {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidModel {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = input.trim().split(':');
        let name = parts.next().unwrap_or_default();
        // The name becomes a metric label value and a JSON field, so keep it
        // to characters that need no escaping anywhere.
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        {
            return Err(invalid(
                "name must be non-empty and use only letters, digits, '-', '_', '.', '/'",
            ));
        }
        let price = |part: &str| -> Result<f64> {
            match part.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
                _ => Err(invalid(
                    "price must be a non-negative number of USD per 1k tokens",
                )),
            }
        };
        let rest: Vec<&str> = parts.collect();
        let (prompt_per_1k, completion_per_1k) = match rest.as_slice() {
            [both] => {
                let p = price(both)?;
                (p, p)
            }
            [prompt, completion] => (price(prompt)?, price(completion)?),
            _ => {
                return Err(invalid(
                    "expected NAME:PRICE or NAME:PROMPT_PRICE:COMPLETION_PRICE",
                ));
            }
        };
        Ok(Self {
            name: name.to_owned(),
            prompt_per_1k,
            completion_per_1k,
        })
    }
}

/// Parses a duration whose bare numbers are milliseconds.
pub fn parse_millis(input: &str) -> Result<Duration> {
    parse_duration(input, Duration::from_millis(1))
}

/// Parses a duration whose bare numbers are seconds.
pub fn parse_secs(input: &str) -> Result<Duration> {
    parse_duration(input, Duration::from_secs(1))
}

/// Parses `N`, `Nms`, `Ns` or `Nm` (N may have a fraction); a bare N is a
/// count of `bare_unit`.
pub fn parse_duration(input: &str, bare_unit: Duration) -> Result<Duration> {
    let invalid = |reason: &str| Error::InvalidDuration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = input.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = match unit.trim() {
        "" => bare_unit,
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        _ => return Err(invalid("unit must be ms, s or m")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| invalid("expected a number optionally followed by ms, s or m"))?;
    Duration::try_from_secs_f64(value * unit.as_secs_f64()).map_err(|_| invalid("out of range"))
}

/// Parses a log-normal sigma: a finite, non-negative number.
pub fn parse_sigma(input: &str) -> Result<f64> {
    match input.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=10.0).contains(&s) => Ok(s),
        _ => Err(Error::InvalidNumber {
            input: input.to_owned(),
            expected: "a number between 0 and 10",
        }),
    }
}

/// Parses an error rate: a probability between 0 and 1.
pub fn parse_error_rate(input: &str) -> Result<f64> {
    match input.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(Error::InvalidNumber {
            input: input.to_owned(),
            expected: "a number between 0.0 and 1.0",
        }),
    }
}

#[cfg(test)]
mod tests;
