//! `POST /api/v1/reload` (operator role): the configuration file read
//! again, and the rules and the AlertManager's configuration reloaded
//! from it (`reload.rs`). The rules and alerts themselves are served in
//! Prometheus' and Alertmanager's shapes under `/prometheus` and
//! `/alertmanager`, outside this document.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    auth::Operator,
    error::ErrorBody,
    reload::{ReloadError, ReloadOutcome, ReloadReport, Reloader},
};

/// The reload route.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reload))
}

/// Reads the configuration file again, then reloads the rule files that
/// `[rules] files` matches and the AlertManager's configuration that
/// `[alerts]` names (the file read again, or the inline YAML; with
/// `external_url`, `[[alerts.severity]]` and `incident_severity`), each
/// of those this server runs. Both are attempted whatever the other's
/// outcome. When either is invalid the answer is 422 and its message
/// reports each part: the invalid one changed nothing (its previous
/// configuration runs on) and names every problem with its file; the
/// other part was reloaded. A configuration file that is itself invalid
/// reloads nothing (`invalid_config`). Each part journals its outcome
/// (`rules.reloaded` / `rules.reload_failed`, `alerts.reloaded` /
/// `alerts.reload_failed`).
#[utoipa::path(
    post,
    path = "/api/v1/reload",
    operation_id = "reload",
    tag = "rules",
    security(("token" = ["operator"])),
    responses(
        (status = 200, description = "Everything reloaded: the rules now running (none on a server that evaluates no rules) and, on a server that runs the AlertManager, its configuration", body = ReloadOutcome),
        (status = 422, description = "A part is invalid and kept its previous configuration: `rules_invalid` (a rule file), `alerts_invalid` (the Alertmanager configuration or `[alerts]`), `reload_invalid` (both), `invalid_config` (the configuration file; nothing reloaded). The message reports each part, the invalid one with every problem and its file", body = ErrorBody),
    )
)]
pub(crate) async fn reload(
    State(reloader): State<Reloader>,
    Operator(principal): Operator,
) -> Result<Json<ReloadOutcome>, ApiError> {
    match reloader.reload(principal.actor).await.outcome() {
        Ok(outcome) => Ok(Json(outcome)),
        Err(report) => Err(refusal(&report)),
    }
}

/// The answer to a reload that failed in part: 500 when a part could not
/// finish, 422 naming what was invalid and what was reloaded otherwise.
fn refusal(report: &ReloadReport) -> ApiError {
    let failures = [
        report.rules.as_ref().and_then(|part| part.as_ref().err()),
        report.alerts.as_ref().and_then(|part| part.as_ref().err()),
    ]
    .into_iter()
    .flatten();
    let mut config = None;
    for err in failures {
        match err {
            ReloadError::Stopped(_) => {
                tracing::error!(error = %err, "reload failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the reload failed; see steward's log",
                );
            }
            ReloadError::Config(problems) => config = Some(problems),
            ReloadError::Invalid(_) => {}
        }
    }
    if let Some(problems) = config {
        return ApiError::invalid(
            "invalid_config",
            format!("the configuration file is invalid; nothing was reloaded:\n{problems}"),
        );
    }
    // what failed first (what the caller must fix), then what was reloaded
    let (mut failed, mut reloaded) = (Vec::new(), Vec::new());
    match &report.rules {
        Some(Err(err)) => failed.push(format!(
            "the rules were not reloaded; the previous rules run on:\n{err}"
        )),
        Some(Ok(loaded)) => reloaded.push(format!(
            "the rules were reloaded: {} rule groups ({} rules) from {} files",
            loaded.groups,
            loaded.rules,
            loaded.rule_files.len()
        )),
        None => {}
    }
    match &report.alerts {
        Some(Err(err)) => failed.push(format!(
            "the Alertmanager configuration was not reloaded; the previous configuration runs on:\n{err}"
        )),
        Some(Ok(loaded)) => reloaded.push(format!(
            "the Alertmanager configuration was reloaded from {} ({} receivers)",
            loaded.config,
            loaded.receivers.len()
        )),
        None => {}
    }
    let code = match (&report.rules, &report.alerts) {
        (Some(Err(_)), Some(Err(_))) => "reload_invalid",
        (Some(Err(_)), _) => "rules_invalid",
        _ => "alerts_invalid",
    };
    failed.append(&mut reloaded);
    ApiError::invalid(code, failed.join("\n\n"))
}
