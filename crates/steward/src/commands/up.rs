//! `steward up`: run the control plane in the foreground.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::{
    cli::{Global, LogFormat, UpArgs},
    local, output,
};

pub(crate) async fn run(global: &Global, args: UpArgs) -> anyhow::Result<()> {
    let json_logs = global.log_format == LogFormat::Json;
    let source = local::resolve(args.file.as_deref().or(global.config.as_deref()));
    let loaded = local::load_config(&source)?;
    if json_logs {
        for diagnostic in &loaded.report.diagnostics {
            tracing::warn!(location = %diagnostic.location, hint = diagnostic.hint.as_deref(), "{}", diagnostic.message);
        }
    } else if !loaded.report.diagnostics.is_empty() {
        output::error_raw(&loaded.report.render());
    }
    // Handlers first: a signal that arrives as soon as the listening line
    // is printed must stop steward gracefully, not kill it.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    // A closed terminal sends SIGHUP, whose default action would kill
    // steward and leave its replicas unsupervised.
    let mut hangup = signal(SignalKind::hangup())?;
    let config_name = loaded.display_name();
    let services = loaded.config.services.len();
    let shutdown = CancellationToken::new();
    let options = steward_server::StartOptions {
        deployments: !args.no_services,
        deploy_on_start: !args.no_services,
        keep_services: args.keep_services,
    };
    let running = steward_server::start_with(loaded, shutdown.clone(), options).await?;
    output::line(&format!(
        "steward {} listening on {} (config {config_name}, {services} services, state on {})",
        env!("CARGO_PKG_VERSION"),
        running.url(),
        running.store.backend().as_str(),
    ));
    if let Some(file) = &running.admin_token_file {
        output::line(&format!(
            "created the first admin token in {} (readable only by you); the CLI on this machine uses it, or: export STEWARD_TOKEN=$(cat {})",
            file.display(),
            file.display()
        ));
    }
    tokio::spawn(async move {
        let signal = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
            _ = hangup.recv() => "SIGHUP",
        };
        // Cancelled before saying so: after a hangup, writing to the
        // terminal that is gone may fail.
        shutdown.cancel();
        note(
            json_logs,
            &format!("{signal}: shutting down (send SIGINT or SIGTERM again to stop at once)"),
        );
        // Only SIGINT or SIGTERM: the shell of a closing terminal sends
        // SIGHUP again to its jobs, which must not cut the shutdown short.
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        note(json_logs, "stopping at once");
        std::process::exit(130);
    });
    running.wait().await?;
    note(json_logs, "steward stopped");
    Ok(())
}

/// A message about steward's own run on stderr: a log line when logs are
/// JSON (so that a log shipper reads only JSON), else a plain note.
fn note(json_logs: bool, message: &str) {
    if json_logs {
        tracing::info!("{message}");
    } else {
        output::note(message);
    }
}
