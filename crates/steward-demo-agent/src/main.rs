//! Entry point of the `steward-demo-agent` binary: flags, logging, serving.

use std::io::IsTerminal;
use std::net::SocketAddr;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use steward_demo_agent::config::{Args, LogFormat};
use steward_demo_agent::server::{self, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing(args.log_format);
    let port_env = std::env::var("PORT").ok();
    let config = match args.into_config(port_env.as_deref()) {
        Ok(config) => config,
        // Same message style and exit code (2) as clap's own validation.
        Err(e) => Args::command().error(ErrorKind::ValueValidation, e).exit(),
    };
    let exit_after = config.exit_after;
    let version = config.version.clone();

    let server = Server::bind(config)
        .await
        .context("cannot start the agent")?;
    let addr = server.local_addr();
    tracing::info!(%addr, %version, "listening");
    announce(addr);

    let serve = server.serve(server::shutdown_signal()?);
    match exit_after {
        None => serve.await?,
        Some(after) => tokio::select! {
            result = serve => result?,
            () = tokio::time::sleep(after) => {
                tracing::error!(after_ms = after.as_millis(), "simulated crash, exiting with code 1");
                // Exit at once, without draining requests: this is a crash.
                std::process::exit(1);
            }
        },
    }
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("DEMO_AGENT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes would end up in the files and collectors that read a
        // supervised agent's stderr.
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Prints the one line on stdout that tells whoever started the agent (for
/// example with `--port 0`) where it listens.
#[allow(clippy::print_stdout)]
fn announce(addr: SocketAddr) {
    println!("listening on http://{addr}");
}
