//! `steward check-config`: validate a configuration and report everything.

use serde_json::json;

use crate::{
    cli::{CheckConfigArgs, Global, OutputFormat},
    local, output,
};

pub(crate) fn run(global: &Global, args: &CheckConfigArgs) -> anyhow::Result<()> {
    let source = local::resolve(args.path.as_deref().or(global.config.as_deref()));
    let result = local::load_config(&source);
    match (global.output, result) {
        (OutputFormat::Json, Ok(loaded)) => {
            output::json(&json!({
                "valid": true,
                "path": loaded.display_name(),
                "services": loaded.config.services.len(),
                "databases": loaded.config.databases.len(),
                "diagnostics": loaded.report.diagnostics,
            }));
            Ok(())
        }
        (OutputFormat::Json, Err(steward_config::Error::Invalid(report))) => {
            output::json(
                &json!({"valid": false, "path": report.path, "diagnostics": report.diagnostics}),
            );
            Err(steward_config::Error::Invalid(report).into())
        }
        (OutputFormat::Table, Ok(loaded)) => {
            if !loaded.report.diagnostics.is_empty() {
                output::error_raw(&loaded.report.render());
            }
            output::line(&format!(
                "ok: {} is valid ({} services, {} databases)",
                loaded.display_name(),
                loaded.config.services.len(),
                loaded.config.databases.len()
            ));
            Ok(())
        }
        (_, Err(err)) => Err(err.into()),
    }
}
