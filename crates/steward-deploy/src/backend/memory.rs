//! An in-memory [`Backend`] for tests (feature `testing`): replicas that
//! exist only as state, which start (after a delay), become ready, fail
//! their health check, hang, crash and are restarted, fail to start, and
//! stop within their grace period or are killed, as the test commands per
//! version or per replica. Every wait is on tokio's clock, so a whole
//! deployment runs in paused time; its [`MemoryProbe`] answers health
//! checks from the same state, so the engine cannot tell it from a real
//! backend.
//!
//! The replicas outlive a steward process, as processes and containers
//! do: [`MemoryBackend::kill`] makes a handle freeze forever (a steward
//! that died mid-step), and [`MemoryBackend::reopen`] is the backend a
//! restarted steward opens over the same replicas, adopting them.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;
use steward_config::HealthCheck;
use steward_core::{Name, Version};
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};

use super::{Backend, Replica, ReplicaEvent, ReplicaState, StartRequest};
use crate::{
    Error, Result,
    backend::{HealthProbe, within},
    model::ServiceSpec,
};

const KIND: &str = "memory";

/// Where replicas "listen": TEST-NET-1 (RFC 5737), which nothing answers,
/// so that a test that reaches a replica over the network fails loudly
/// instead of finding some real service.
const ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// What a replica's health check answers once it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Passes.
    Healthy,
    /// Fails with this reason (an HTTP 500, a failed command).
    Unhealthy(String),
    /// Never answers: every probe runs into its timeout.
    Hung,
}

/// How the replicas of a version behave. The default starts at once,
/// is ready at once, healthy, stops at once on SIGTERM and is restarted
/// 1 s after a crash.
#[derive(Debug, Clone)]
pub struct Behaviour {
    start_delay: Duration,
    start_error: Option<String>,
    ready_after: Option<Duration>,
    health: Health,
    stop_after: Duration,
    restart_after: Duration,
    artifact_error: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            start_delay: Duration::ZERO,
            start_error: None,
            ready_after: Some(Duration::ZERO),
            health: Health::Healthy,
            stop_after: Duration::ZERO,
            restart_after: Duration::from_secs(1),
            artifact_error: None,
        }
    }
}

impl Behaviour {
    /// Healthy replicas that start and answer at once.
    pub fn healthy() -> Self {
        Behaviour::default()
    }

    /// `start` returns only after `delay` (pulling, exec, boot).
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// `start` fails with `reason` (a missing program, a bad image); so
    /// does every restart after a crash.
    pub fn fails_to_start(mut self, reason: impl Into<String>) -> Self {
        self.start_error = Some(reason.into());
        self
    }

    /// Probes are refused until `delay` after the start (the program
    /// still boots, migrates, warms up).
    pub fn ready_after(mut self, delay: Duration) -> Self {
        self.ready_after = Some(delay);
        self
    }

    /// Probes are refused for ever (it never listens).
    pub fn never_ready(mut self) -> Self {
        self.ready_after = None;
        self
    }

    /// Once ready, probes fail with `reason`.
    pub fn unhealthy(mut self, reason: impl Into<String>) -> Self {
        self.health = Health::Unhealthy(reason.into());
        self
    }

    /// Once ready, probes get no answer.
    pub fn hangs(mut self) -> Self {
        self.health = Health::Hung;
        self
    }

    /// After SIGTERM the replica takes `delay` to exit (killed when that
    /// is beyond the stop's grace period).
    pub fn stop_takes(mut self, delay: Duration) -> Self {
        self.stop_after = delay;
        self
    }

    /// A crashed replica is started again after `delay`.
    pub fn restart_after(mut self, delay: Duration) -> Self {
        self.restart_after = delay;
        self
    }

    /// The artifact check fails with `reason`.
    pub fn missing_artifact(mut self, reason: impl Into<String>) -> Self {
        self.artifact_error = Some(reason.into());
        self
    }
}

/// Something that happened to a replica, in the backend's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// It was started (`start` returned it).
    Started,
    /// A stop was asked for (SIGTERM).
    Stopping,
    /// It is gone; `killed` when its grace period ran out.
    Stopped {
        /// Killed after its grace period instead of exiting.
        killed: bool,
    },
    /// It crashed (and will be restarted).
    Crashed,
    /// It was started again after a crash.
    Restarted,
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When (tokio's clock).
    pub at: Instant,
    /// The replica.
    pub replica: String,
    /// Its service.
    pub service: Name,
    /// Its version.
    pub version: Version,
    /// What happened.
    pub kind: Transition,
}

/// Called after every change with the replicas then (holding the
/// backend's lock: it must not call the backend).
pub type Observer = Box<dyn Fn(&Change, &[Replica]) + Send + Sync>;

struct Slot {
    replica: Replica,
    health: Health,
    /// `None`: never ready.
    ready_at: Option<Instant>,
    stopping: bool,
}

#[derive(Default)]
struct State {
    replicas: Vec<Slot>,
    versions: HashMap<Version, Behaviour>,
    default: Behaviour,
    history: Vec<Change>,
    probes: HashMap<String, u32>,
    next_port: u16,
    ping_delay: Duration,
    ping_error: Option<String>,
    observer: Option<Arc<Observer>>,
}

impl State {
    fn behaviour(&self, version: &Version) -> Behaviour {
        self.versions
            .get(version)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    fn slot(&mut self, id: &str) -> Option<&mut Slot> {
        self.replicas.iter_mut().find(|slot| slot.replica.id == id)
    }

    fn list(&self) -> Vec<Replica> {
        self.replicas
            .iter()
            .map(|slot| slot.replica.clone())
            .collect()
    }

    fn record(&mut self, replica: &Replica, kind: Transition) {
        let change = Change {
            at: Instant::now(),
            replica: replica.id.clone(),
            service: replica.service.clone(),
            version: replica.version.clone(),
            kind,
        };
        if let Some(observer) = self.observer.clone() {
            observer(&change, &self.list());
        }
        self.history.push(change);
    }
}

/// One steward process's view of the backend: its replica events, and
/// whether it still lives.
struct Process {
    events: broadcast::Sender<ReplicaEvent>,
    dead: watch::Sender<bool>,
}

impl Process {
    fn new() -> Arc<Self> {
        Arc::new(Process {
            events: broadcast::channel(256).0,
            dead: watch::channel(false).0,
        })
    }

    /// Never returns once the process is dead: it stopped mid-step.
    async fn alive(&self) {
        let mut dead = self.dead.subscribe();
        if *dead.borrow_and_update() {
            std::future::pending::<()>().await;
        }
    }
}

/// The machine the replicas run on, shared by every steward process.
struct World {
    state: Mutex<State>,
    /// The steward process that supervises the replicas now.
    supervisor: Mutex<Arc<Process>>,
}

impl World {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: ReplicaEvent) {
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let _ = supervisor.events.send(event);
    }
}

/// Runs replicas as state in memory (see the module docs). Cloning
/// shares the handle.
#[derive(Clone)]
pub struct MemoryBackend {
    world: Arc<World>,
    process: Arc<Process>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl MemoryBackend {
    /// An empty backend whose replicas are healthy unless told otherwise.
    pub fn new() -> Self {
        let process = Process::new();
        MemoryBackend {
            world: Arc::new(World {
                state: Mutex::new(State {
                    next_port: 10_000,
                    ..State::default()
                }),
                supervisor: Mutex::new(Arc::clone(&process)),
            }),
            process,
        }
    }

    /// Replicas of `version` (started from now on) behave as `behaviour`.
    pub fn set_version(&self, version: &str, behaviour: Behaviour) {
        let version = Version::new(version).expect("a valid version");
        self.world.state().versions.insert(version, behaviour);
    }

    /// Replicas of versions without their own behaviour behave as
    /// `behaviour`.
    pub fn set_default(&self, behaviour: Behaviour) {
        self.world.state().default = behaviour;
    }

    /// The health check of replica `id` answers as `health` from now on
    /// (and at once: it counts as ready).
    pub fn set_health(&self, id: &str, health: Health) {
        let mut state = self.world.state();
        let slot = state.slot(id).expect("a replica of this backend");
        slot.health = health;
        slot.ready_at = Some(Instant::now());
    }

    /// Replica `id`'s program crashes: [`ReplicaEvent::Exited`] now,
    /// [`ReplicaEvent::Restarted`] once its version's restart delay passed
    /// (health as its version behaves, ready again after its delay), or
    /// another `Exited` when its version fails to start.
    pub fn crash(&self, id: &str) {
        let replica = {
            let mut state = self.world.state();
            let slot = state.slot(id).expect("a replica of this backend");
            slot.replica.state = ReplicaState::Restarting;
            let replica = slot.replica.clone();
            state.record(&replica, Transition::Crashed);
            replica
        };
        let world = Arc::clone(&self.world);
        tokio::spawn(async move {
            loop {
                let delay = world.state().behaviour(&replica.version).restart_after;
                world.emit(ReplicaEvent::Exited {
                    id: replica.id.clone(),
                    service: replica.service.clone(),
                    code: Some(1),
                    restart_in: delay,
                });
                tokio::time::sleep(delay).await;
                let mut state = world.state();
                let behaviour = state.behaviour(&replica.version);
                let Some(slot) = state.slot(&replica.id).filter(|slot| !slot.stopping) else {
                    return;
                };
                if behaviour.start_error.is_some() {
                    continue;
                }
                slot.replica.state = ReplicaState::Running;
                slot.replica.restarts += 1;
                slot.health = behaviour.health.clone();
                slot.ready_at = behaviour.ready_after.map(|after| Instant::now() + after);
                let restarted = slot.replica.clone();
                state.record(&restarted, Transition::Restarted);
                drop(state);
                world.emit(ReplicaEvent::Restarted {
                    id: restarted.id.clone(),
                    service: restarted.service.clone(),
                    restarts: restarted.restarts,
                });
                return;
            }
        });
    }

    /// `ping` takes `delay` from now on.
    pub fn set_ping_delay(&self, delay: Duration) {
        self.world.state().ping_delay = delay;
    }

    /// `ping` fails with `reason` from now on (`None`: answers again).
    pub fn set_ping_error(&self, reason: Option<&str>) {
        self.world.state().ping_error = reason.map(str::to_owned);
    }

    /// Calls `observer` after every change from now on.
    pub fn observe(&self, observer: impl Fn(&Change, &[Replica]) + Send + Sync + 'static) {
        self.world.state().observer = Some(Arc::new(Box::new(observer)));
    }

    /// The replicas now, in start order (without waiting, even when
    /// killed).
    pub fn replicas(&self) -> Vec<Replica> {
        self.world.state().list()
    }

    /// Everything that happened, oldest first.
    pub fn history(&self) -> Vec<Change> {
        self.world.state().history.clone()
    }

    /// The most replicas `service` ever had at once (stopping ones
    /// count: they still run).
    pub fn peak(&self, service: &str) -> usize {
        let mut running = 0usize;
        let mut peak = 0;
        for change in self
            .history()
            .iter()
            .filter(|change| change.service.as_str() == service)
        {
            match change.kind {
                Transition::Started => running += 1,
                Transition::Stopped { .. } => running -= 1,
                Transition::Stopping | Transition::Crashed | Transition::Restarted => {}
            }
            peak = peak.max(running);
        }
        peak
    }

    /// How many times replica `id` was probed.
    pub fn probes(&self, id: &str) -> u32 {
        self.world.state().probes.get(id).copied().unwrap_or(0)
    }

    /// This steward process dies: every call on this handle (and on its
    /// health probe) from now on, and every one in progress that reaches
    /// the backend again, never returns. The replicas run on.
    pub fn kill(&self) {
        self.process.dead.send_replace(true);
    }

    /// The backend a new steward process opens over the same replicas:
    /// it adopts those that run ([`ReplicaEvent::Adopted`], sent before
    /// anyone can subscribe, as the process backend does) and supervises
    /// them from now on.
    pub fn reopen(&self) -> MemoryBackend {
        let process = Process::new();
        *self
            .world
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Arc::clone(&process);
        for replica in self.replicas() {
            let _ = process.events.send(ReplicaEvent::Adopted {
                id: replica.id,
                service: replica.service,
            });
        }
        MemoryBackend {
            world: Arc::clone(&self.world),
            process,
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn ping(&self) -> Result<String> {
        self.process.alive().await;
        let (delay, error) = {
            let state = self.world.state();
            (state.ping_delay, state.ping_error.clone())
        };
        tokio::time::sleep(delay).await;
        self.process.alive().await;
        match error {
            Some(reason) => Err(Error::unavailable(KIND, reason)),
            None => Ok(format!("{} replicas in memory", self.replicas().len())),
        }
    }

    async fn artifact(&self, spec: &ServiceSpec) -> Result<String> {
        self.process.alive().await;
        match self.world.state().behaviour(&spec.version).artifact_error {
            Some(reason) => Err(Error::backend(KIND, reason)),
            None => Ok(format!("{} {} is in memory", spec.name, spec.version)),
        }
    }

    async fn start(&self, request: StartRequest<'_>) -> Result<Replica> {
        self.process.alive().await;
        let spec = request.spec;
        let behaviour = self.world.state().behaviour(&spec.version);
        if let Some(reason) = &behaviour.start_error {
            return Err(Error::backend(
                KIND,
                format!(
                    "cannot start replica {} of {}: {reason}",
                    request.id, spec.name
                ),
            ));
        }
        tokio::time::sleep(behaviour.start_delay).await;
        self.process.alive().await;
        let mut state = self.world.state();
        if state.slot(&request.id).is_some() {
            return Err(Error::backend(
                KIND,
                format!("replica {} runs already", request.id),
            ));
        }
        let port = state.next_port;
        state.next_port = state.next_port.wrapping_add(1).max(10_000);
        let replica = Replica {
            id: request.id,
            service: spec.name.clone(),
            version: spec.version.clone(),
            spec_hash: spec.hash(),
            deployment_id: request.deployment_id.to_owned(),
            index: request.index,
            addr: SocketAddr::from((ADDR, port)),
            started_at: Utc::now(),
            state: ReplicaState::Running,
            restarts: 0,
            // an in-memory replica has no process to measure
            host_process: None,
        };
        state.replicas.push(Slot {
            replica: replica.clone(),
            health: behaviour.health.clone(),
            ready_at: behaviour.ready_after.map(|after| Instant::now() + after),
            stopping: false,
        });
        state.record(&replica, Transition::Started);
        Ok(replica)
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        self.process.alive().await;
        let (exits_after, replica) = {
            let mut state = self.world.state();
            let Some(slot) = state.slot(id) else {
                return Ok(());
            };
            slot.stopping = true;
            let replica = slot.replica.clone();
            let exits_after = match replica.state {
                ReplicaState::Restarting => Duration::ZERO,
                ReplicaState::Running => state.behaviour(&replica.version).stop_after,
            };
            state.record(&replica, Transition::Stopping);
            (exits_after, replica)
        };
        let killed = exits_after > grace;
        tokio::time::sleep(exits_after.min(grace)).await;
        {
            let mut state = self.world.state();
            if state.slot(id).is_some() {
                state.replicas.retain(|slot| slot.replica.id != id);
                state.record(&replica, Transition::Stopped { killed });
            }
        }
        // The steward process may have died while it waited.
        self.process.alive().await;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Replica>> {
        self.process.alive().await;
        Ok(self.replicas())
    }

    fn subscribe(&self) -> broadcast::Receiver<ReplicaEvent> {
        self.process.events.subscribe()
    }

    fn health_probe(&self) -> Option<Arc<dyn HealthProbe>> {
        Some(Arc::new(MemoryProbe {
            world: Arc::clone(&self.world),
            process: Arc::clone(&self.process),
        }))
    }
}

/// Answers health checks of a [`MemoryBackend`]'s replicas from their
/// commanded state: refused while a replica is not running or not ready
/// yet, then as its [`Health`] says (a hung one runs into the timeout).
pub struct MemoryProbe {
    world: Arc<World>,
    process: Arc<Process>,
}

#[async_trait]
impl HealthProbe for MemoryProbe {
    async fn probe(
        &self,
        _check: Option<&HealthCheck>,
        replica: &Replica,
        timeout: Duration,
    ) -> std::result::Result<(), String> {
        self.process.alive().await;
        let answer = {
            let mut state = self.world.state();
            *state.probes.entry(replica.id.clone()).or_default() += 1;
            let refused = Err(format!("connect to {}: connection refused", replica.addr));
            match state.slot(&replica.id) {
                None => refused,
                Some(slot) if slot.replica.state == ReplicaState::Restarting => refused,
                Some(slot)
                    if slot
                        .ready_at
                        .is_none_or(|ready_at| Instant::now() < ready_at) =>
                {
                    refused
                }
                Some(slot) => Ok(slot.health.clone()),
            }
        };
        within(timeout, async {
            match answer? {
                Health::Healthy => Ok(()),
                Health::Unhealthy(reason) => Err(reason),
                Health::Hung => std::future::pending().await,
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
