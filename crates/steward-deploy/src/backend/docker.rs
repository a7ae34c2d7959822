//! The Docker backend: every replica is a container of the local Docker
//! engine, talked to over its unix socket (`DOCKER_HOST=unix://...` or
//! `/var/run/docker.sock`).
//!
//! Containers carry their identity in labels (`io.steward.service`,
//! `io.steward.version`, `io.steward.replica`...), so that the engine is
//! the only record: a steward that starts again lists them and goes on.
//! `io.steward.scope` names the steward instance (its data directory,
//! hashed) so that several stewards, or parallel tests, on one engine do
//! not see each other's containers.
//!
//! Every container joins the system's network with its service name as
//! alias, publishes its port on 127.0.0.1, and has the restart policy
//! `unless-stopped`: Docker restarts a replica that exits (whatever its
//! exit code, as the process backend does), with its own backoff, whether
//! steward runs or not; only steward's own stop ends it. Its logs stay with Docker (json-file,
//! rotated), read by [`DockerBackend::logs`].
//!
//! The host port is chosen by steward (a free loopback port) rather than
//! left to Docker: Docker allocates an ephemeral port again at every
//! restart, which would leave the proxy pointing at the old one after a
//! crash.

use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use bollard::{
    Docker,
    errors::Error as DockerError,
    models::{
        ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings,
        EventMessage, HostConfig, HostConfigLogConfig, NetworkCreateRequest, NetworkingConfig,
        PortBinding, RestartPolicy, RestartPolicyNameEnum,
    },
    query_parameters::{
        CreateContainerOptions, EventsOptions, ListContainersOptions, LogsOptions,
        RemoveContainerOptions, StopContainerOptions,
    },
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use steward_core::{Name, Version};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    Backend, HostProcess, Replica, ReplicaEvent, ReplicaState, StartRequest, process::render,
};

mod follower;
mod inspect;

use crate::{Error, Result, model::RunSpec, model::ServiceSpec};
use follower::Follower;
use inspect::{
    container_state, created_at, main_process, published_port, replica_of, restart_count,
    restart_delay,
};

const KIND: &str = "docker";

/// Label naming the steward instance that owns a container.
pub const SCOPE_LABEL: &str = "io.steward.scope";
/// Label naming the replica's service.
pub const SERVICE_LABEL: &str = "io.steward.service";
/// Label naming the release version the replica runs.
pub const VERSION_LABEL: &str = "io.steward.version";
/// Label naming the replica (its id).
pub const REPLICA_LABEL: &str = "io.steward.replica";
/// Label holding the replica's index among its service's replicas.
pub const INDEX_LABEL: &str = "io.steward.replica-index";
/// Label holding [`ServiceSpec::hash`] of the spec the replica runs.
pub const SPEC_HASH_LABEL: &str = "io.steward.spec-hash";
/// Label naming the deployment that started the replica.
pub const DEPLOYMENT_LABEL: &str = "io.steward.deployment";
/// Label holding the port the service listens on inside the container.
pub const PORT_LABEL: &str = "io.steward.port";
/// Label holding the loopback port the container's port is published on.
pub const HOST_PORT_LABEL: &str = "io.steward.host-port";

/// Docker's first restart delay; it doubles at every restart (reset after
/// ten seconds of running) up to a minute.
const DOCKER_MIN_BACKOFF: Duration = Duration::from_millis(100);
const DOCKER_MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Docker's request timeout when none is longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Starts retried when the chosen host port was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

struct Inner {
    docker: Docker,
    scope: String,
    network: String,
    socket: String,
    events: broadcast::Sender<ReplicaEvent>,
    /// Replicas being stopped: neither listed nor reported as crashed.
    stopping: Arc<Mutex<HashSet<String>>>,
    /// Stops the event follower with the backend.
    _follower: DropGuard,
}

/// Runs replicas as containers of the local Docker engine.
#[derive(Clone)]
pub struct DockerBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("socket", &self.inner.socket)
            .field("scope", &self.inner.scope)
            .field("network", &self.inner.network)
            .finish_non_exhaustive()
    }
}

impl DockerBackend {
    /// Connects to the local Docker engine (negotiating the API version),
    /// creates `network` (bridge) when it is missing, and starts following
    /// the engine's events for the containers labelled with `scope`.
    pub async fn connect(scope: &str, network: &str) -> Result<Self> {
        let socket = socket_path();
        let docker = Docker::connect_with_unix_defaults()
            .map_err(|err| {
                Error::backend(
                    KIND,
                    format!("cannot use the Docker engine at {socket}: {err}"),
                )
            })?
            .negotiate_version()
            .await
            .map_err(|err| {
                engine_error(&err, format!("cannot reach the Docker engine at {socket}"))
            })?;
        ensure_network(&docker, network).await?;
        let (events, _) = broadcast::channel(256);
        let stopping = Arc::new(Mutex::new(HashSet::new()));
        let cancel = CancellationToken::new();
        let follower = Follower {
            docker: docker.clone(),
            scope: scope.to_owned(),
            events: events.clone(),
            stopping: Arc::clone(&stopping),
            killed: HashSet::new(),
        };
        tokio::spawn(follower.run(unix_now(), cancel.clone()));
        tracing::info!(%socket, scope, network, "docker backend connected");
        Ok(DockerBackend {
            inner: Arc::new(Inner {
                docker,
                scope: scope.to_owned(),
                network: network.to_owned(),
                socket,
                events,
                stopping,
                _follower: cancel.drop_guard(),
            }),
        })
    }

    /// The scope of a steward whose data directory is `dir`: a short hash
    /// of its absolute path.
    pub fn scope_for_dir(dir: &Path) -> String {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let digest = Sha256::digest(dir.display().to_string().as_bytes());
        hex::encode(&digest[..8])
    }

    /// The scope label value of this backend's containers.
    pub fn scope(&self) -> &str {
        &self.inner.scope
    }

    /// The network its containers join.
    pub fn network(&self) -> &str {
        &self.inner.network
    }

    /// The container name of a replica.
    pub fn container_name(id: &str) -> String {
        format!("steward-{id}")
    }

    /// The last `tail` lines of a replica's output (stdout and stderr,
    /// interleaved as Docker kept them).
    pub async fn logs(&self, id: &str, tail: usize) -> Result<String> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.to_string(),
            ..Default::default()
        };
        let mut stream = self
            .inner
            .docker
            .logs(&Self::container_name(id), Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(output) => text.push_str(&String::from_utf8_lossy(output.as_ref())),
                Err(err) if status(&err) == Some(404) => {
                    return Err(Error::backend(KIND, format!("replica {id} does not exist")));
                }
                Err(err) => {
                    return Err(engine_error(
                        &err,
                        format!("cannot read the logs of replica {id}"),
                    ));
                }
            }
        }
        Ok(text)
    }

    fn stopping(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.stopping.lock().expect("stopping set lock")
    }

    /// Creates and starts the container of `request` publishing
    /// `host_port`; the container is removed again when it cannot start.
    async fn create_and_start(
        &self,
        request: &StartRequest<'_>,
        image: &str,
        port: u16,
        command: Option<&Vec<String>>,
        host_port: u16,
    ) -> Result<(), DockerError> {
        let spec = request.spec;
        let name = Self::container_name(&request.id);
        let port_key = format!("{port}/tcp");
        let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend([
            format!("PORT={port}"),
            format!("STEWARD_SERVICE={}", spec.name),
            format!("STEWARD_VERSION={}", spec.version),
            format!("STEWARD_REPLICA={}", request.index),
            format!("STEWARD_REPLICA_ID={}", request.id),
        ]);
        let labels = HashMap::from([
            (SCOPE_LABEL.to_owned(), self.inner.scope.clone()),
            (SERVICE_LABEL.to_owned(), spec.name.to_string()),
            (VERSION_LABEL.to_owned(), spec.version.to_string()),
            (REPLICA_LABEL.to_owned(), request.id.clone()),
            (INDEX_LABEL.to_owned(), request.index.to_string()),
            (SPEC_HASH_LABEL.to_owned(), spec.hash()),
            (
                DEPLOYMENT_LABEL.to_owned(),
                request.deployment_id.to_owned(),
            ),
            (PORT_LABEL.to_owned(), port.to_string()),
            (HOST_PORT_LABEL.to_owned(), host_port.to_string()),
        ]);
        let resources = spec.resources.as_ref();
        let host_config = HostConfig {
            port_bindings: Some(HashMap::from([(
                port_key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(Ipv4Addr::LOCALHOST.to_string()),
                    host_port: Some(host_port.to_string()),
                }]),
            )])),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            network_mode: Some(self.inner.network.clone()),
            nano_cpus: resources
                .and_then(|r| r.cpus)
                .map(|cpus| (cpus * 1e9).round() as i64),
            memory: resources
                .and_then(|r| r.memory)
                .map(|memory| i64::try_from(memory.bytes()).unwrap_or(i64::MAX)),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_owned()),
                config: Some(HashMap::from([
                    ("max-size".to_owned(), "10m".to_owned()),
                    ("max-file".to_owned(), "3".to_owned()),
                ])),
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: command.map(|args| {
                args.iter()
                    .map(|arg| render(arg, spec, port, request.index))
                    .collect()
            }),
            env: Some(env),
            labels: Some(labels),
            exposed_ports: Some(vec![port_key]),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    self.inner.network.clone(),
                    EndpointSettings {
                        aliases: Some(vec![spec.name.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.inner
            .docker
            .create_container(Some(options), body)
            .await?;
        if let Err(err) = self.inner.docker.start_container(&name, None).await {
            let _ = self
                .inner
                .docker
                .remove_container(&name, Some(force_remove()))
                .await;
            return Err(err);
        }
        Ok(())
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerInspectResponse>> {
        match self
            .inner
            .docker
            .inspect_container(&Self::container_name(id), None)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(err) if status(&err) == Some(404) => Ok(None),
            Err(err) => Err(engine_error(&err, format!("cannot inspect replica {id}"))),
        }
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn log_source(&self, replica: &Replica) -> Option<super::ReplicaLogs> {
        Some(super::ReplicaLogs::Container {
            name: Self::container_name(&replica.id),
        })
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn ping(&self) -> Result<String> {
        let version = self.inner.docker.version().await.map_err(|err| {
            engine_error(
                &err,
                format!("cannot reach the Docker engine at {}", self.inner.socket),
            )
        })?;
        Ok(format!(
            "docker engine {} (api {}) at {}, network {}",
            version.version.as_deref().unwrap_or("?"),
            version.api_version.as_deref().unwrap_or("?"),
            self.inner.socket,
            self.inner.network
        ))
    }

    async fn artifact(&self, spec: &ServiceSpec) -> Result<String> {
        let RunSpec::Docker { image, .. } = &spec.run else {
            return Err(Error::backend(
                KIND,
                format!("service {} has no docker image", spec.name),
            ));
        };
        match self.inner.docker.inspect_image(image).await {
            Ok(found) => {
                let id = found.id.unwrap_or_default();
                let short = id.strip_prefix("sha256:").unwrap_or(&id);
                Ok(format!(
                    "{} is image {image} ({}, {})",
                    spec.name,
                    &short[..short.len().min(12)],
                    steward_core::ByteSize(found.size.unwrap_or_default().max(0) as u64)
                ))
            }
            Err(err) if status(&err) == Some(404) => Err(image_missing(image)),
            Err(err) => Err(engine_error(&err, format!("cannot inspect image {image}"))),
        }
    }

    async fn start(&self, request: StartRequest<'_>) -> Result<Replica> {
        let spec = request.spec;
        let RunSpec::Docker {
            image,
            port,
            command,
        } = &spec.run
        else {
            return Err(Error::backend(
                KIND,
                format!("service {} has no docker image", spec.name),
            ));
        };
        let name = Self::container_name(&request.id);
        let mut attempt = 0;
        let host_port = loop {
            attempt += 1;
            let host_port = super::free_port(KIND)?;
            match self
                .create_and_start(&request, image, *port, command.as_ref(), host_port)
                .await
            {
                Ok(()) => break host_port,
                Err(err) => {
                    let text = message(&err);
                    let port_taken = text.contains("port is already allocated")
                        || text.contains("address already in use");
                    if port_taken && attempt < PORT_ATTEMPTS {
                        tracing::debug!(replica = %request.id, host_port, "host port taken; trying another");
                        continue;
                    }
                    return Err(match status(&err) {
                        Some(404) if text.contains("image") => image_missing(image),
                        Some(409) => Error::backend(
                            KIND,
                            format!(
                                "cannot create replica {} of {}: container {name} already exists",
                                request.id, spec.name
                            ),
                        ),
                        _ => engine_error(
                            &err,
                            format!(
                                "cannot start replica {} of {} from image {image}",
                                request.id, spec.name
                            ),
                        ),
                    });
                }
            }
        };
        let inspected = self.inspect(&request.id).await?.ok_or_else(|| {
            Error::backend(
                KIND,
                format!("replica {} vanished right after its start", request.id),
            )
        })?;
        let published = published_port(&inspected, *port);
        if let Some(published) = published
            && published != host_port
        {
            tracing::warn!(replica = %request.id, host_port, published, "docker published another port than asked");
        }
        let state = container_state(&inspected);
        let replica = Replica {
            id: request.id.clone(),
            service: spec.name.clone(),
            version: spec.version.clone(),
            spec_hash: spec.hash(),
            deployment_id: request.deployment_id.to_owned(),
            index: request.index,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, published.unwrap_or(host_port))),
            started_at: created_at(&inspected),
            state: state.unwrap_or(ReplicaState::Restarting),
            restarts: restart_count(&inspected),
            host_process: main_process(&inspected),
        };
        tracing::info!(replica = %replica.id, service = %replica.service, container = %name, addr = %replica.addr, "replica started");
        Ok(replica)
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let name = Self::container_name(id);
        self.stopping().insert(id.to_owned());
        let result = async {
            let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
            let docker = self
                .inner
                .docker
                .clone()
                .with_timeout(REQUEST_TIMEOUT.max(grace + Duration::from_secs(30)));
            let options = StopContainerOptions {
                t: Some(i32::try_from(seconds).unwrap_or(i32::MAX)),
                ..Default::default()
            };
            match docker.stop_container(&name, Some(options)).await {
                Ok(()) => {}
                // 304: already stopped; 404: gone.
                Err(err) if matches!(status(&err), Some(304 | 404)) => {}
                Err(err) => {
                    return Err(engine_error(&err, format!("cannot stop replica {id}")));
                }
            }
            match docker.remove_container(&name, Some(force_remove())).await {
                Ok(()) => Ok(()),
                Err(err) if status(&err) == Some(404) => Ok(()),
                // Another removal of it is in progress.
                Err(err) if status(&err) == Some(409) && message(&err).contains("in progress") => {
                    Ok(())
                }
                Err(err) => Err(engine_error(&err, format!("cannot remove replica {id}"))),
            }
        }
        .await;
        self.stopping().remove(id);
        if result.is_ok() {
            tracing::info!(replica = %id, container = %name, "replica stopped");
        }
        result
    }

    async fn list(&self) -> Result<Vec<Replica>> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![format!("{SCOPE_LABEL}={}", self.inner.scope)],
            )])),
            ..Default::default()
        };
        let containers = self
            .inner
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|err| engine_error(&err, "cannot list containers"))?;
        let ids: Vec<String> = {
            let stopping = self.stopping();
            containers
                .iter()
                .filter_map(|container| container.labels.as_ref()?.get(REPLICA_LABEL).cloned())
                .filter(|id| !stopping.contains(id))
                .collect()
        };
        let inspected = futures::future::join_all(ids.iter().map(|id| self.inspect(id))).await;
        let mut replicas = Vec::new();
        for (id, inspected) in ids.iter().zip(inspected) {
            let Some(inspected) = inspected? else {
                continue;
            };
            let Some(state) = container_state(&inspected) else {
                continue;
            };
            match replica_of(&inspected, state) {
                Some(replica) => replicas.push(replica),
                None => {
                    tracing::warn!(replica = %id, "container with unreadable steward labels; ignoring it");
                }
            }
        }
        replicas.sort_by(|a, b| (&a.service, a.index, &a.id).cmp(&(&b.service, b.index, &b.id)));
        Ok(replicas)
    }

    fn subscribe(&self) -> broadcast::Receiver<ReplicaEvent> {
        self.inner.events.subscribe()
    }
}

/// Creates `network` (bridge driver) unless it exists.
async fn ensure_network(docker: &Docker, network: &str) -> Result<()> {
    match docker.inspect_network(network, None).await {
        Ok(_) => return Ok(()),
        Err(err) if status(&err) == Some(404) => {}
        Err(err) => {
            return Err(engine_error(
                &err,
                format!("cannot inspect network {network}"),
            ));
        }
    }
    let request = NetworkCreateRequest {
        name: network.to_owned(),
        driver: Some("bridge".to_owned()),
        labels: Some(HashMap::from([(
            "io.steward.managed".to_owned(),
            "true".to_owned(),
        )])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => {
            tracing::info!(network, "created docker network");
            Ok(())
        }
        // Created meanwhile by another steward.
        Err(err) if status(&err) == Some(409) => Ok(()),
        Err(err) => Err(engine_error(
            &err,
            format!("cannot create network {network}"),
        )),
    }
}

fn image_missing(image: &str) -> Error {
    Error::backend(
        KIND,
        format!(
            "image {image} is not in the local Docker engine (no registry is reachable; build it first)"
        ),
    )
}

fn force_remove() -> RemoveContainerOptions {
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

/// The HTTP status of an error answered by the engine.
fn status(err: &DockerError) -> Option<u16> {
    match err {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The error of a request to the engine: `Unavailable` when the engine
/// could not be reached or did not answer (retrying later may work), a
/// backend failure when it answered with an error.
fn engine_error(err: &DockerError, what: impl std::fmt::Display) -> Error {
    let text = format!("{what}: {}", message(err));
    match err {
        DockerError::IOError { .. }
        | DockerError::HyperLegacyError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::RequestTimeoutError
        | DockerError::SocketNotFoundError(_) => Error::unavailable(KIND, text),
        _ => Error::backend(KIND, text),
    }
}

/// What went wrong, without bollard's wording around the engine's message.
fn message(err: &DockerError) -> String {
    match err {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_owned(),
        other => other.to_string(),
    }
}

/// Where the engine is: `DOCKER_HOST` when it is a unix socket, else the
/// default socket.
fn socket_path() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| host.starts_with("unix://"))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
