//! `steward up`: run the control plane in the foreground.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::{
    cli::{Global, UpArgs},
    local, output,
};

pub(crate) async fn run(global: &Global, args: UpArgs) -> anyhow::Result<()> {
    let source = local::resolve(args.file.as_deref().or(global.config.as_deref()));
    let loaded = local::load_config(&source)?;
    if !loaded.report.diagnostics.is_empty() {
        output::error_raw(&loaded.report.render());
    }
    // Handlers first: a signal that arrives as soon as the listening line
    // is printed must stop steward gracefully, not kill it.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
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
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        output::note("shutting down (send the signal again to stop at once)");
        shutdown.cancel();
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        output::note("stopping at once");
        std::process::exit(130);
    });
    running.wait().await?;
    output::note("steward stopped");
    Ok(())
}
