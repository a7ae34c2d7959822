//! `GET /api/v2/status`, `GET /api/v2/receivers`, and the health checks
//! `/-/healthy` and `/-/ready`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::alerts::Receiver;
use super::{format_time, ok_json};
use crate::AlertManager;

/// `clusterStatus`: steward runs no cluster.
#[derive(Debug, Serialize)]
struct ClusterStatus {
    peers: [(); 0],
    status: &'static str,
}

/// `alertmanagerConfig`.
#[derive(Debug, Serialize)]
struct Config<'a> {
    original: &'a str,
}

/// `versionInfo`.
#[derive(Debug, Serialize)]
struct VersionInfo<'a> {
    branch: &'a str,
    #[serde(rename = "buildDate")]
    build_date: &'a str,
    #[serde(rename = "buildUser")]
    build_user: &'a str,
    #[serde(rename = "goVersion")]
    go_version: &'a str,
    revision: &'a str,
    version: &'a str,
}

/// `alertmanagerStatus`.
#[derive(Debug, Serialize)]
struct Status<'a> {
    cluster: ClusterStatus,
    config: Config<'a>,
    uptime: String,
    #[serde(rename = "versionInfo")]
    version_info: VersionInfo<'a>,
}

/// `GET /api/v2/status`.
pub(super) async fn status(State(manager): State<AlertManager>) -> Response {
    let status = manager.status();
    let version = &status.version;
    ok_json(&Status {
        cluster: ClusterStatus {
            peers: [],
            status: status.cluster_status,
        },
        config: Config {
            original: &status.original,
        },
        uptime: format_time(status.uptime),
        version_info: VersionInfo {
            branch: &version.branch,
            build_date: &version.build_date,
            build_user: &version.build_user,
            go_version: &version.go_version,
            revision: &version.revision,
            version: &version.version,
        },
    })
}

/// `GET /api/v2/receivers`: the configuration's receivers, in its order.
pub(super) async fn receivers(State(manager): State<AlertManager>) -> Response {
    let names = manager.receivers();
    ok_json(
        &names
            .iter()
            .map(|name| Receiver { name })
            .collect::<Vec<_>>(),
    )
}

/// `/-/healthy` and `/-/ready`: `OK`, as Alertmanager answers once it
/// serves.
pub(super) async fn ok() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "OK",
    )
        .into_response()
}
