//! What steward reads from `docker inspect`: a container's replica
//! (from its labels), state, restarts, Docker's restart backoff, creation
//! time and published port.

use super::*;

/// Docker's delay before the restart that follows `restarts` restarts
/// in a row.
pub(super) fn docker_backoff(restarts: u32) -> Duration {
    DOCKER_MIN_BACKOFF
        .saturating_mul(1u32 << restarts.min(20))
        .min(DOCKER_MAX_BACKOFF)
}

/// Docker's delay before restarting a container that just died, as its
/// restart manager computes it: 100 ms, doubled at every restart up to a
/// minute, back to 100 ms after a run of ten seconds. At the `die` event
/// the restart count already counts the coming restart. (Docker keeps
/// the current delay in memory only, so this is its best estimate.)
pub(super) fn restart_delay(inspected: &ContainerInspectResponse) -> Duration {
    let time =
        |value: Option<&String>| value.and_then(|value| DateTime::parse_from_rfc3339(value).ok());
    let state = inspected.state.as_ref();
    let ran = time(state.and_then(|state| state.started_at.as_ref()))
        .zip(time(state.and_then(|state| state.finished_at.as_ref())))
        .map(|(started, finished)| finished - started);
    if ran.is_some_and(|ran| ran >= chrono::TimeDelta::seconds(10)) {
        return DOCKER_MIN_BACKOFF;
    }
    docker_backoff(restart_count(inspected).saturating_sub(1))
}

pub(super) fn restart_count(inspected: &ContainerInspectResponse) -> u32 {
    inspected
        .restart_count
        .and_then(|count| u32::try_from(count).ok())
        .unwrap_or_default()
}

/// Running, restarting (not running now, Docker restarts it or it died),
/// or `None` for a container on its way out.
pub(super) fn container_state(inspected: &ContainerInspectResponse) -> Option<ReplicaState> {
    let status = inspected.state.as_ref().and_then(|state| state.status);
    match status {
        Some(ContainerStateStatusEnum::RUNNING) => Some(ReplicaState::Running),
        Some(ContainerStateStatusEnum::REMOVING | ContainerStateStatusEnum::DEAD) => None,
        _ => Some(ReplicaState::Restarting),
    }
}

pub(super) fn created_at(inspected: &ContainerInspectResponse) -> DateTime<Utc> {
    inspected
        .created
        .as_deref()
        .and_then(|created| DateTime::parse_from_rfc3339(created).ok())
        .map_or_else(Utc::now, |created| created.with_timezone(&Utc))
}

/// The loopback port `port` is published on, while the container runs.
pub(super) fn published_port(inspected: &ContainerInspectResponse, port: u16) -> Option<u16> {
    inspected
        .network_settings
        .as_ref()?
        .ports
        .as_ref()?
        .get(&format!("{port}/tcp"))?
        .as_ref()?
        .iter()
        .find_map(|binding| binding.host_port.as_deref()?.parse().ok())
}

/// The replica a container of steward's is, from its labels.
pub(super) fn replica_of(
    inspected: &ContainerInspectResponse,
    state: ReplicaState,
) -> Option<Replica> {
    let labels = inspected.config.as_ref()?.labels.as_ref()?;
    let label = |key: &str| labels.get(key).map(String::as_str);
    let port: u16 = label(PORT_LABEL)?.parse().ok()?;
    let host_port = label(HOST_PORT_LABEL)
        .and_then(|host_port| host_port.parse().ok())
        .or_else(|| published_port(inspected, port))?;
    Some(Replica {
        id: label(REPLICA_LABEL)?.to_owned(),
        service: Name::new(label(SERVICE_LABEL)?).ok()?,
        version: Version::new(label(VERSION_LABEL)?).ok()?,
        spec_hash: label(SPEC_HASH_LABEL)?.to_owned(),
        deployment_id: label(DEPLOYMENT_LABEL)?.to_owned(),
        index: label(INDEX_LABEL)?.parse().ok()?,
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, host_port)),
        started_at: created_at(inspected),
        state,
        restarts: restart_count(inspected),
        host_process: main_process(inspected),
    })
}

/// The container's main process while it runs (`State.Pid`, 0 otherwise).
pub(super) fn main_process(inspected: &ContainerInspectResponse) -> Option<HostProcess> {
    let pid = inspected.state.as_ref()?.pid?;
    let pid = u32::try_from(pid).ok().filter(|&pid| pid != 0)?;
    Some(HostProcess::Container { pid })
}
