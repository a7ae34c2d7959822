//! Bringing one service to a spec: the rolling and blue-green updates.
//!
//! [`Converger::converge`] compares the replicas the backend runs with the
//! target spec (by [`ServiceSpec::hash`]) and replaces the others, moving
//! traffic through the service's proxy only to replicas that passed their
//! health check. It starts from whatever runs, so the same call performs
//! an update, a rollback (converge to the previous spec), a resume after a
//! crash, and a scale change; calling it twice changes nothing the second
//! time. The canary strategy is in `canary.rs`.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::join_all;
use serde::Serialize;
use steward_config::{ProxyConfig, Rollout, ServiceProtocol, Strategy};
use steward_core::Name;
use steward_proxy::{EdgeOptions, Protocol, Proxy, ProxyMetrics, ProxyOptions, Upstream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

mod canary;

pub use canary::{CanaryVerdict, judge};

use crate::{
    Error, Result,
    backend::HealthProbe,
    backend::{Backend, Replica, StartRequest},
    gates::GateVerdict,
    health::{HealthParams, stays_healthy, wait_healthy},
    metrics::MetricSource,
    model::ServiceSpec,
};

/// Something that happened to a replica during a rollout, for progress
/// displays and the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum RolloutEvent {
    /// A replica was started.
    Started {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
        /// Its version.
        version: String,
    },
    /// A replica passed its health check.
    Healthy {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
        /// From start to healthy, in milliseconds.
        after_ms: u64,
    },
    /// A replica failed its health check and was stopped.
    Unhealthy {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
        /// The last probe's failure.
        reason: String,
    },
    /// A replica takes traffic.
    Added {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
    },
    /// Traffic moved to a whole new set at once.
    Switched {
        /// Its service.
        service: Name,
        /// The replicas now taking traffic.
        replicas: Vec<String>,
    },
    /// A replica stopped taking traffic and its requests finished.
    Drained {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
        /// Requests still in flight when the drain timeout passed.
        abandoned: usize,
    },
    /// A replica was stopped.
    Stopped {
        /// Its service.
        service: Name,
        /// The replica.
        replica: String,
    },
    /// A PromQL gate was evaluated during the verify window.
    GateEvaluated {
        /// Its service.
        service: Name,
        /// What it found.
        #[serde(flatten)]
        verdict: GateVerdict,
    },
    /// The canary's share of new requests changed (step 0: back to the
    /// stable version; the step after the last: promoted).
    CanaryWeight {
        /// Its service.
        service: Name,
        /// The canary's version.
        version: String,
        /// The stable version.
        stable: String,
        /// The step, from 1.
        step: usize,
        /// Percent of new requests the canary takes.
        weight: u32,
    },
    /// A canary metric was judged.
    CanaryVerdict {
        /// Its service.
        service: Name,
        /// The judgement.
        #[serde(flatten)]
        verdict: CanaryVerdict,
    },
}

/// Receives rollout events.
pub type EventSink = Arc<dyn Fn(RolloutEvent) + Send + Sync>;

/// The proxies of the services, one per public port, created on first use.
#[derive(Clone)]
pub struct ProxySet {
    bind: IpAddr,
    metrics: ProxyMetrics,
    edge: EdgeOptions,
    shutdown: CancellationToken,
    /// The proxies' accept loops, awaited by [`ProxySet::stopped`].
    tasks: TaskTracker,
    proxies: Arc<Mutex<HashMap<Name, (Proxy, SocketAddr)>>>,
}

impl std::fmt::Debug for ProxySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySet")
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

impl ProxySet {
    /// Proxies listening on `bind`, stopping with `shutdown`.
    pub fn new(bind: IpAddr, metrics: ProxyMetrics, shutdown: CancellationToken) -> Self {
        ProxySet {
            bind,
            metrics,
            edge: EdgeOptions::default(),
            shutdown,
            tasks: TaskTracker::new(),
            proxies: Arc::default(),
        }
    }

    /// Waits until every proxy, `shutdown` having been cancelled, has
    /// stopped accepting and finished the requests in flight (within its
    /// grace period).
    pub async fn stopped(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Proxies created from now on treat clients as `[proxy]` says
    /// (timeouts of `0` are off).
    pub fn with_config(mut self, config: &ProxyConfig) -> Self {
        let timeout = |duration: steward_core::HumanDuration| {
            Some(duration.get()).filter(|duration| !duration.is_zero())
        };
        self.edge = EdgeOptions {
            header_read_timeout: timeout(config.header_read_timeout),
            idle_timeout: timeout(config.idle_timeout),
            body_read_timeout: timeout(config.body_read_timeout),
            max_connections: config.max_connections as usize,
            tcp_idle_timeout: timeout(config.tcp_idle_timeout),
            trusted_proxies: config.trusted_proxies.iter().map(|net| net.net()).collect(),
        };
        self
    }

    /// The proxy of `spec`'s service, listening on its port from now on;
    /// `None` for a service without a port.
    pub fn ensure(&self, spec: &ServiceSpec) -> Result<Option<Proxy>> {
        let Some(port) = spec.port else {
            return Ok(None);
        };
        let mut proxies = self.proxies.lock().expect("proxy table lock");
        if let Some((proxy, _)) = proxies.get(&spec.name) {
            return Ok(Some(proxy.clone()));
        }
        let addr = SocketAddr::new(self.bind, port);
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|listener| {
                listener.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(listener)
            })
            .map_err(|err| {
                Error::Invalid(format!("cannot listen on {addr} for {}: {err}", spec.name))
            })?;
        let local = listener.local_addr().unwrap_or(addr);
        let mut options = ProxyOptions::new(spec.name.as_str());
        options.protocol = match spec.protocol {
            ServiceProtocol::Http => Protocol::Http,
            ServiceProtocol::Tcp => Protocol::Tcp,
        };
        options.edge = self.edge.clone();
        let proxy = Proxy::new(options, &self.metrics);
        self.tasks
            .spawn(proxy.serve(listener, self.shutdown.child_token()));
        tracing::info!(service = %spec.name, addr = %local, "proxy listening");
        proxies.insert(spec.name.clone(), (proxy.clone(), local));
        Ok(Some(proxy))
    }

    /// The proxy of a service, if it has one.
    pub fn get(&self, service: &str) -> Option<(Proxy, SocketAddr)> {
        self.proxies
            .lock()
            .expect("proxy table lock")
            .get(service)
            .cloned()
    }

    /// Ids of the replicas in a service's proxy (none without a proxy).
    pub fn members(&self, service: &str) -> Vec<String> {
        self.get(service)
            .map(|(proxy, _)| {
                proxy
                    .upstreams()
                    .into_iter()
                    .map(|status| status.upstream.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every proxy with its address.
    pub fn all(&self) -> Vec<(Name, Proxy, SocketAddr)> {
        self.proxies
            .lock()
            .expect("proxy table lock")
            .iter()
            .map(|(name, (proxy, addr))| (name.clone(), proxy.clone(), *addr))
            .collect()
    }
}

/// Brings services to a spec ([`Converger::converge`]) with what rollouts
/// act on: the backend, the proxies, the health probe and where rollout
/// events go.
#[derive(Clone)]
pub struct Converger {
    /// Where replicas run.
    pub backend: Arc<dyn Backend>,
    /// The services' proxies.
    pub proxies: ProxySet,
    /// Health probes (the backend's [`Backend::health_probe`], or over the
    /// network).
    pub prober: Arc<dyn HealthProbe>,
    /// Where rollout events go.
    pub events: EventSink,
    /// Where canary analyses read metrics (none: `[metrics]` is off).
    pub metrics: Option<Arc<dyn MetricSource>>,
}

impl Converger {
    /// The replicas of `service` now.
    pub async fn replicas(&self, service: &str) -> Result<Vec<Replica>> {
        Ok(self
            .backend
            .list()
            .await?
            .into_iter()
            .filter(|replica| replica.service.as_str() == service)
            .collect())
    }

    /// Brings `target.name` to `target` (or, with `None` for a service
    /// named `service`, stops all of its replicas), within the spec's
    /// progress deadline.
    pub async fn converge(
        &self,
        service: &Name,
        target: Option<&ServiceSpec>,
        deployment_id: &str,
    ) -> Result<()> {
        let Some(target) = target else {
            return self.remove_all(service).await;
        };
        let deadline = target.rollout.progress_deadline.get();
        match tokio::time::timeout(deadline, self.converge_inner(target, deployment_id)).await {
            Ok(result) => result,
            Err(_) => Err(Error::ProgressDeadline {
                service: target.name.to_string(),
                deadline: target.rollout.progress_deadline.to_string(),
            }),
        }
    }

    async fn converge_inner(&self, target: &ServiceSpec, deployment_id: &str) -> Result<()> {
        let proxy = self.proxies.ensure(target)?;
        let hash = target.hash();
        let in_proxy = self.proxies.members(&target.name);
        let (mut current, mut old): (Vec<Replica>, Vec<Replica>) = self
            .replicas(&target.name)
            .await?
            .into_iter()
            .partition(|replica| replica.spec_hash == hash);

        // Old replicas that take no traffic (a blue-green set kept for a
        // rollback, or replicas adopted after a restart) serve nobody:
        // they go first and do not count as available.
        let (serving, idle): (Vec<Replica>, Vec<Replica>) = old
            .drain(..)
            .partition(|replica| proxy.is_none() || in_proxy.contains(&replica.id));
        old = serving;
        for replica in idle {
            self.retire(&target.rollout, &replica, false).await?;
        }

        // Replicas of the target spec that take no traffic yet (kept from a
        // blue-green switch, or adopted) join once healthy.
        let mut joining = Vec::new();
        current.retain(|replica| {
            let listed = proxy.is_none() || in_proxy.contains(&replica.id);
            if !listed {
                joining.push(replica.clone());
            }
            listed
        });
        let results = join_all(
            joining
                .iter()
                .map(|replica| self.await_healthy(target, replica)),
        )
        .await;
        for (replica, result) in joining.into_iter().zip(results) {
            match result {
                Ok(()) => current.push(replica),
                Err(_) => self.retire(&target.rollout, &replica, false).await?,
            }
        }
        let blue_green = target.rollout.strategy == Strategy::BlueGreen && !old.is_empty();
        if let Some(proxy) = &proxy
            && !blue_green
        {
            for replica in &current {
                if !in_proxy.contains(&replica.id) {
                    proxy.add(Upstream::new(&replica.id, replica.addr))?;
                    self.emit(RolloutEvent::Added {
                        service: target.name.clone(),
                        replica: replica.id.clone(),
                    });
                }
            }
        }

        if target.rollout.strategy == Strategy::Canary
            && !old.is_empty()
            && let Some(proxy) = &proxy
        {
            return self
                .canary(target, deployment_id, current, old, proxy.clone())
                .await;
        }
        let desired = target.replicas as usize;
        if blue_green {
            return self
                .blue_green(target, deployment_id, current, old, proxy)
                .await;
        }
        let max_surge = target.rollout.max_surge as usize;
        let max_unavailable = target.rollout.max_unavailable as usize;
        let min_available = desired.saturating_sub(max_unavailable);
        loop {
            while current.len() > desired {
                let extra = current.pop().expect("more than desired");
                self.retire(&target.rollout, &extra, true).await?;
            }
            if old.is_empty() && current.len() == desired {
                // A split left by an interrupted canary ends with the
                // service converged.
                if let Some(proxy) = &proxy {
                    proxy.clear_split();
                }
                return Ok(());
            }
            let room = (desired + max_surge).saturating_sub(current.len() + old.len());
            let start = room.min(desired - current.len());
            let mut progressed = false;
            if start > 0 {
                let started = self
                    .start_healthy(target, deployment_id, &current, start)
                    .await?;
                for replica in started {
                    if let Some(proxy) = &proxy {
                        proxy.add(Upstream::new(&replica.id, replica.addr))?;
                        self.emit(RolloutEvent::Added {
                            service: target.name.clone(),
                            replica: replica.id.clone(),
                        });
                    }
                    current.push(replica);
                }
                progressed = true;
            }
            while !old.is_empty() && current.len() + old.len() > min_available {
                let replica = old.pop().expect("not empty");
                self.retire(&target.rollout, &replica, true).await?;
                progressed = true;
            }
            if !progressed {
                // Only reachable with max_surge = max_unavailable = 0,
                // which validation rejects; take one out rather than spin.
                if let Some(replica) = old.pop() {
                    self.retire(&target.rollout, &replica, true).await?;
                }
            }
        }
    }

    async fn blue_green(
        &self,
        target: &ServiceSpec,
        deployment_id: &str,
        mut current: Vec<Replica>,
        old: Vec<Replica>,
        proxy: Option<Proxy>,
    ) -> Result<()> {
        let desired = target.replicas as usize;
        current.truncate(desired);
        let missing = desired - current.len();
        if missing > 0 {
            let started = self
                .start_healthy(target, deployment_id, &current, missing)
                .await?;
            current.extend(started);
        }
        if let Some(proxy) = proxy {
            let upstreams = current
                .iter()
                .map(|replica| Upstream::new(&replica.id, replica.addr))
                .collect();
            let drained = proxy
                .switch(upstreams, target.rollout.drain_timeout.get())
                .await?;
            self.emit(RolloutEvent::Switched {
                service: target.name.clone(),
                replicas: current.iter().map(|replica| replica.id.clone()).collect(),
            });
            for drained in drained {
                self.emit(RolloutEvent::Drained {
                    service: target.name.clone(),
                    replica: drained.id,
                    abandoned: drained.abandoned,
                });
            }
            // The old set keeps running, out of the proxy, for an instant
            // rollback; `stop_idle` ends it after `keep_old_for`.
        } else {
            for replica in &old {
                self.retire(&target.rollout, replica, false).await?;
            }
        }
        Ok(())
    }

    /// Stops the replicas of `service` that take no traffic and do not run
    /// `current` (a blue-green set whose rollback window passed).
    pub async fn stop_idle(&self, current: &ServiceSpec) -> Result<()> {
        let hash = current.hash();
        let in_proxy = self.proxies.members(&current.name);
        for replica in self.replicas(&current.name).await? {
            if replica.spec_hash != hash && !in_proxy.contains(&replica.id) {
                self.retire(&current.rollout, &replica, false).await?;
            }
        }
        Ok(())
    }

    /// Starts `count` replicas of `target` at once and waits until all are
    /// healthy. If one fails, every one started here is stopped.
    async fn start_healthy(
        &self,
        target: &ServiceSpec,
        deployment_id: &str,
        existing: &[Replica],
        count: usize,
    ) -> Result<Vec<Replica>> {
        let mut used: Vec<u32> = existing.iter().map(|replica| replica.index).collect();
        let mut requests = Vec::new();
        for _ in 0..count {
            let index = (0..)
                .find(|index| !used.contains(index))
                .expect("a free index");
            used.push(index);
            requests.push(StartRequest {
                spec: target,
                id: format!(
                    "{}-{}-{:04x}",
                    target.name,
                    &target.hash()[..6],
                    rand::random::<u16>()
                ),
                index,
                deployment_id,
            });
        }
        let starts = requests.into_iter().map(|request| async move {
            let started_at = tokio::time::Instant::now();
            let replica = self.backend.start(request).await?;
            self.emit(RolloutEvent::Started {
                service: target.name.clone(),
                replica: replica.id.clone(),
                version: target.version.to_string(),
            });
            let result = self.await_healthy(target, &replica).await;
            Ok::<_, Error>((replica, result, started_at.elapsed()))
        });
        let mut healthy = Vec::new();
        let mut failure = None;
        for outcome in join_all(starts).await {
            match outcome {
                Ok((replica, Ok(()), took)) => {
                    self.emit(RolloutEvent::Healthy {
                        service: target.name.clone(),
                        replica: replica.id.clone(),
                        after_ms: took.as_millis() as u64,
                    });
                    healthy.push(replica);
                }
                Ok((replica, Err(reason), _)) => {
                    self.emit(RolloutEvent::Unhealthy {
                        service: target.name.clone(),
                        replica: replica.id.clone(),
                        reason: reason.clone(),
                    });
                    self.retire(&target.rollout, &replica, false).await?;
                    failure.get_or_insert(Error::Unhealthy {
                        service: target.name.to_string(),
                        replica: replica.id.clone(),
                        reason,
                    });
                }
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        if let Some(err) = failure {
            for replica in &healthy {
                self.retire(&target.rollout, replica, false).await?;
            }
            return Err(err);
        }
        Ok(healthy)
    }

    async fn await_healthy(&self, spec: &ServiceSpec, replica: &Replica) -> Result<(), String> {
        let params = HealthParams::of(spec.health.as_ref());
        let check = spec.health.as_ref();
        wait_healthy(&params, || {
            self.prober.probe(check, replica, params.timeout)
        })
        .await
    }

    /// Checks that every replica of `spec` stays healthy for `window`.
    pub async fn verify(&self, spec: &ServiceSpec, window: Duration) -> Result<()> {
        let params = HealthParams::of(spec.health.as_ref());
        let hash = spec.hash();
        let replicas: Vec<Replica> = self
            .replicas(&spec.name)
            .await?
            .into_iter()
            .filter(|replica| replica.spec_hash == hash)
            .collect();
        if replicas.len() < spec.replicas as usize {
            return Err(Error::Unhealthy {
                service: spec.name.to_string(),
                replica: "-".to_owned(),
                reason: format!("{} of {} replicas run", replicas.len(), spec.replicas),
            });
        }
        let checks = replicas.iter().map(|replica| async {
            stays_healthy(&params, window, || {
                self.prober
                    .probe(spec.health.as_ref(), replica, params.timeout)
            })
            .await
            .map_err(|reason| Error::Unhealthy {
                service: spec.name.to_string(),
                replica: replica.id.clone(),
                reason,
            })
        });
        join_all(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// Takes a replica out of the proxy (draining it when `drain`) and stops it.
    async fn retire(&self, rollout: &Rollout, replica: &Replica, drain: bool) -> Result<()> {
        if let Some((proxy, _)) = self.proxies.get(&replica.service)
            && proxy
                .upstreams()
                .iter()
                .any(|status| status.upstream.id == replica.id)
        {
            if drain {
                let drained = proxy
                    .drain(&replica.id, rollout.drain_timeout.get())
                    .await?;
                self.emit(RolloutEvent::Drained {
                    service: replica.service.clone(),
                    replica: replica.id.clone(),
                    abandoned: drained.abandoned,
                });
            } else {
                proxy.remove(&replica.id)?;
            }
        }
        self.backend
            .stop(&replica.id, rollout.stop_grace.get())
            .await?;
        self.emit(RolloutEvent::Stopped {
            service: replica.service.clone(),
            replica: replica.id.clone(),
        });
        Ok(())
    }

    /// Stops every replica of a service no release runs any more, with
    /// the default drain and grace times (its spec is gone).
    async fn remove_all(&self, service: &Name) -> Result<()> {
        let rollout = Rollout::default();
        for replica in self.replicas(service).await? {
            self.retire(&rollout, &replica, true).await?;
        }
        Ok(())
    }

    fn emit(&self, event: RolloutEvent) {
        (self.events)(event);
    }
}
