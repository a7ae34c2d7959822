//! Where replicas run: one trait, implemented by the process backend
//! (supervised local children, the embedded default) and the Docker
//! backend. The rollout logic talks only to this trait.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_core::{Name, Version};
use tokio::sync::broadcast;

use steward_config::HealthCheck;

use crate::{Result, model::ServiceSpec};

pub mod docker;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod process;

/// Whether a replica's program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// Its process (or container) runs.
    Running,
    /// It exited unexpectedly and is restarted after a backoff.
    Restarting,
}

/// A replica as its backend knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replica {
    /// Unique id, e.g. `gateway-3fa9c1-a41c`.
    pub id: String,
    /// Its service.
    pub service: Name,
    /// The version it runs.
    pub version: Version,
    /// [`ServiceSpec::hash`] of the spec it was started from.
    pub spec_hash: String,
    /// The deployment that started it.
    pub deployment_id: String,
    /// Its index among the service's replicas (`{replica}`).
    pub index: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// When it was started (first start, not the last restart).
    pub started_at: DateTime<Utc>,
    /// Running or restarting.
    pub state: ReplicaState,
    /// Restarts after crashes.
    pub restarts: u32,
    /// The process whose resources the replica uses, as the host sees it,
    /// when it runs (the metrics collector reads its CPU, memory and file
    /// descriptors from /proc and its cgroup). A detail of this host at
    /// this moment, so never serialized.
    #[serde(skip)]
    pub host_process: Option<HostProcess>,
}

/// A running replica's main process on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostProcess {
    /// A process steward started: the replica is the tree under it.
    Tree {
        /// The root process.
        pid: u32,
    },
    /// A container's main process (Docker's `State.Pid`): the replica is
    /// the container's cgroup.
    Container {
        /// The main process.
        pid: u32,
    },
}

/// What a backend tells the manager about replicas it supervises.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaEvent {
    /// A replica's program exited unexpectedly.
    Exited {
        /// The replica.
        id: String,
        /// Its service.
        service: Name,
        /// Exit code, when it exited rather than being killed.
        code: Option<i32>,
        /// When it is started again.
        restart_in: Duration,
    },
    /// A replica's program was started again.
    Restarted {
        /// The replica.
        id: String,
        /// Its service.
        service: Name,
        /// Restarts so far.
        restarts: u32,
    },
    /// A replica found running from an earlier steward process was adopted.
    Adopted {
        /// The replica.
        id: String,
        /// Its service.
        service: Name,
    },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    /// The spec.
    pub spec: &'a ServiceSpec,
    /// The new replica's id.
    pub id: String,
    /// Its index (`{replica}`).
    pub index: u32,
    /// The deployment starting it.
    pub deployment_id: &'a str,
}

/// Runs replicas.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `process` or `docker`.
    fn kind(&self) -> &'static str;

    /// Checks that the backend can run replicas; says what it found.
    async fn ping(&self) -> Result<String>;

    /// Checks that what `spec` runs is present (program, image); says
    /// what it found.
    async fn artifact(&self, spec: &ServiceSpec) -> Result<String>;

    /// Starts a replica and returns once its program runs (not once it is
    /// healthy).
    async fn start(&self, request: StartRequest<'_>) -> Result<Replica>;

    /// Stops a replica: SIGTERM, then SIGKILL after `grace`. Stopping one
    /// that is gone is not an error.
    async fn stop(&self, id: &str, grace: Duration) -> Result<()>;

    /// Every replica the backend runs for steward, including those adopted
    /// from an earlier steward process.
    async fn list(&self) -> Result<Vec<Replica>>;

    /// Replica events (exits, restarts, adoptions).
    fn subscribe(&self) -> broadcast::Receiver<ReplicaEvent>;

    /// How the health checks of this backend's replicas are answered, when
    /// not over the network at [`Replica::addr`] (HTTP, TCP, commands: the
    /// default, `None`); the in-memory test backend answers from the state
    /// its test commanded.
    fn health_probe(&self) -> Option<Arc<dyn HealthProbe>> {
        None
    }

    /// Where a replica's stdout and stderr can be read, for log
    /// collection (`None`: this backend keeps no output, as the
    /// in-memory test backend).
    fn log_source(&self, replica: &Replica) -> Option<ReplicaLogs> {
        let _ = replica;
        None
    }
}

/// Where a replica's output is, for the log collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaLogs {
    /// Files the process backend appends to (rotated copytruncate-style:
    /// copied to `.1`, then emptied in place).
    Files {
        /// The stdout file.
        stdout: std::path::PathBuf,
        /// The stderr file.
        stderr: std::path::PathBuf,
    },
    /// A Docker container's log streams.
    Container {
        /// The container's name.
        name: String,
    },
}

/// Answers one health probe of a replica. The engine (rollouts, the
/// verify window, the health watcher) probes only through this trait:
/// [`crate::health::Prober`] probes over the network and is what the real
/// backends use (when [`Backend::health_probe`] gives none); the in-memory
/// test backend answers from the state its test commanded, so that
/// rollouts run in paused time without sockets.
#[async_trait]
pub trait HealthProbe: Send + Sync + 'static {
    /// Probes `replica` once as `check` says (a TCP connect without a
    /// check), within `timeout`. `Err` says why it is not healthy.
    async fn probe(
        &self,
        check: Option<&HealthCheck>,
        replica: &Replica,
        timeout: Duration,
    ) -> Result<(), String>;
}

/// `attempt`'s answer, or a failure once `timeout` passed without one.
pub(crate) async fn within(
    timeout: Duration,
    attempt: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {}",
            steward_core::format_duration(timeout)
        )),
    }
}

/// A loopback port free now, for a replica of backend `kind`. Another
/// process could take it before the replica binds it; the replica then
/// fails its health check and is replaced, which is why this is good
/// enough.
pub(crate) fn free_port(kind: &'static str) -> Result<u16> {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| crate::Error::backend(kind, format!("cannot find a free port: {err}")))
}
