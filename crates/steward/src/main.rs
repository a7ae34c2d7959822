//! The `steward` binary: parses arguments, runs one command, prints its
//! result, and maps any failure to an exit code in one place
//! ([`exit_code`]). All behaviour lives in the library crates; this is
//! glue.

mod cli;
mod client;
mod commands;
mod local;
mod output;
mod sse;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::{
    cli::{Cli, Command, LogFormat},
    client::ClientError,
};

/// A mistake in how steward was invoked, found before doing anything.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// A failure the command has already reported in its own output (the
/// `FAILED:` blocks of `steward rules check` and `steward rules test`,
/// worded as promtool's): the process exits 1 and, as promtool, prints
/// nothing more. The message is for tests and debugging only.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Reported(pub(crate) String);

/// jemalloc rather than glibc's malloc: the scrape loop allocates and frees
/// a whole exposition's labels every few seconds on many threads, which
/// glibc's per-thread arenas keep as resident memory
/// (`scripts/bench/metrics.sh` measures the difference).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            output::error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Logs go to stderr; `up` logs at info, client commands only warnings.
/// Colour only on a terminal: logs redirected to a file stay plain text.
/// Writing them never fails the process.
fn init_logging(cli: &Cli) {
    use std::io::IsTerminal;
    let default = match cli.command {
        Command::Up(_) => "info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = cli::log_colours(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    if let Command::Up(_) = cli.command {
        init_server_logging(filter, ansi, cli.global.log_format, default);
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        // A failed write would otherwise be reported with `eprintln!`,
        // which panics when stderr is gone (a closed terminal): steward
        // must go on, and shut down gracefully, without its logs.
        .log_internal_errors(false);
    match cli.global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The server's logs: to stderr as for every command, and also, as JSON
/// lines, into steward's own log store (`steward_logs::own`), at the same
/// level, so `steward logs steward` shows them.
fn init_server_logging(filter: EnvFilter, ansi: bool, format: LogFormat, default: &str) {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .log_internal_errors(false);
    let stderr = match format {
        LogFormat::Text => stderr.boxed(),
        LogFormat::Json => stderr.json().boxed(),
    };
    let own_filter =
        EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let own = tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .with_writer(steward_logs::own::OwnWriter::new)
        .log_internal_errors(false)
        .with_filter(own_filter);
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter))
        .with(own)
        .init();
}

/// Prints an error: a configuration report as rendered, a failure the
/// command already reported not at all, anything else as its chain of
/// causes.
fn report(err: &anyhow::Error) {
    if err.downcast_ref::<Reported>().is_some() {
        return;
    }
    if let Some(steward_config::Error::Invalid(report)) = err.downcast_ref() {
        output::error_raw(&report.render());
        return;
    }
    output::error(&format!("{err:#}"));
}

/// The exit code for an error: 2 for usage and configuration errors
/// (including requests the server rejected as invalid input), 1 for every
/// operational failure (an unreachable or unavailable steward or
/// dependency, a failed deployment or migration, a refusal).
fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<steward_config::Error>().is_some()
            || cause.downcast_ref::<UsageError>().is_some()
        {
            return 2;
        }
        if let Some(
            steward_migrate::Error::Source { .. }
            | steward_migrate::Error::UnsupportedUrl { .. }
            | steward_migrate::Error::Read { .. },
        ) = cause.downcast_ref::<steward_migrate::Error>()
        {
            return 2;
        }
        if let Some(ClientError::Api { status, kind, .. }) = cause.downcast_ref::<ClientError>() {
            // A server that names the kind is believed; an older one's
            // 422 also meant "the operation failed", so only its 400 is
            // taken for a usage error.
            let invalid = if kind.is_empty() {
                *status == 400
            } else {
                kind == "invalid_input"
            };
            return if invalid { 2 } else { 1 };
        }
    }
    1
}

#[cfg(test)]
mod tests;
