//! Health between deployments: every replica in a proxy is probed at its
//! service's interval; one that fails `unhealthy_threshold` probes in a
//! row is taken out of its proxy, and put back after `healthy_threshold`
//! successes. A crashed replica is restarted by its backend; this covers
//! the ones that run but do not answer (hung, overloaded, lost their
//! database), so that traffic keeps reaching only healthy replicas.
//!
//! While a deployment runs it owns the proxies, so the watcher stands
//! back; it decides under the same lock with which a deployment
//! registers, so the two never act on a proxy at once.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use serde_json::json;
use steward_core::{Actor, Name, NewEvent, Severity};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    DeploymentManager, Replica, events::DeployEvent, health::HealthParams, model::ServiceSpec,
};

/// How often the watcher looks for probes that are due.
const TICK: Duration = Duration::from_millis(250);

/// What the watcher knows of one replica.
#[derive(Debug, Default)]
struct Tracked {
    successes: u32,
    failures: u32,
    /// Taken out of its proxy by the watcher.
    out: bool,
    next_probe: Option<Instant>,
    last_error: Option<String>,
}

/// The watcher's memory between rounds.
#[derive(Default)]
struct WatchState {
    replicas: HashMap<String, Tracked>,
    /// The settled specs, read again only when a deployment has ended
    /// (tagged with the manager's count of ended deployments).
    specs: Option<(u64, BTreeMap<Name, ServiceSpec>)>,
    /// No probe is due before this: the backend is not listed in between.
    next_round: Option<Instant>,
}

impl DeploymentManager {
    /// Watches replica health until `shutdown` (see the module docs); the
    /// caller runs the future (steward-server under its task tracker). A
    /// round under way when `shutdown` comes is finished, so that a
    /// replica taken out or put back is also journaled.
    pub fn health_watch(
        &self,
        shutdown: CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        let manager = self.clone();
        async move {
            let mut watch = WatchState::default();
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(TICK) => {}
                }
                if let Err(err) = manager.watch_once(&mut watch).await {
                    tracing::warn!(error = %err, "health watch round failed");
                }
            }
        }
    }

    async fn watch_once(&self, watch: &mut WatchState) -> crate::Result<()> {
        if self.deployments_running() {
            // A deployment decides who is in the proxies; start afresh after it.
            watch.replicas.clear();
            watch.next_round = None;
            return Ok(());
        }
        let finished = self.finished_count();
        if watch
            .specs
            .as_ref()
            .is_none_or(|(seen, _)| *seen != finished)
        {
            watch.specs = Some((finished, self.current_specs().await?));
            watch.next_round = None;
        }
        let now = Instant::now();
        if watch.next_round.is_some_and(|next| next > now) {
            return Ok(());
        }
        let specs = &watch.specs.as_ref().expect("read above").1;
        watch.next_round = Some(
            now + specs
                .values()
                .map(|spec| HealthParams::of(spec.health.as_ref()).interval)
                .min()
                .unwrap_or(Duration::from_secs(2))
                .max(TICK),
        );
        let replicas = self.backend().list().await?;
        let tracked = &mut watch.replicas;
        tracked.retain(|id, _| replicas.iter().any(|replica| &replica.id == id));
        for spec in specs.values() {
            let Some((proxy, _)) = self.proxies().get(&spec.name) else {
                continue;
            };
            let params = HealthParams::of(spec.health.as_ref());
            let hash = spec.hash();
            let members = self.proxies().members(&spec.name);
            for replica in replicas
                .iter()
                .filter(|r| r.service == spec.name && r.spec_hash == hash)
            {
                let state = tracked.entry(replica.id.clone()).or_default();
                // Only replicas it serves, or that the watcher took out.
                if !members.contains(&replica.id) && !state.out {
                    continue;
                }
                if state.next_probe.is_some_and(|next| next > now) {
                    continue;
                }
                state.next_probe = Some(now + params.interval);
                let result = self
                    .prober()
                    .probe(spec.health.as_ref(), replica, params.timeout)
                    .await;
                match result {
                    Ok(()) => {
                        state.failures = 0;
                        state.successes += 1;
                        if state.out && state.successes >= params.healthy_threshold {
                            self.act(spec, replica, state, &proxy, true).await;
                        }
                    }
                    Err(reason) => {
                        state.successes = 0;
                        state.failures += 1;
                        state.last_error = Some(reason);
                        if !state.out && state.failures >= params.unhealthy_threshold {
                            self.act(spec, replica, state, &proxy, false).await;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts a replica back in its proxy (`healthy`) or takes it out, unless
    /// a deployment started meanwhile; journals what it did.
    async fn act(
        &self,
        spec: &ServiceSpec,
        replica: &Replica,
        state: &mut Tracked,
        proxy: &steward_proxy::Proxy,
        healthy: bool,
    ) {
        let done = self.while_no_deployment(|| {
            if healthy {
                // A reconcile may have put it back already.
                proxy
                    .add(steward_proxy::Upstream::new(&replica.id, replica.addr))
                    .is_ok()
                    || proxy
                        .upstreams()
                        .iter()
                        .any(|status| status.upstream.id == replica.id)
            } else {
                // Never empty a proxy: a failing last replica is still the
                // best answer the service has.
                proxy.upstreams().len() > 1 && proxy.remove(&replica.id).is_ok()
            }
        });
        if !done {
            return;
        }
        state.out = !healthy;
        let (kind, severity, summary) = if healthy {
            (
                DeployEvent::ReplicaRecovered,
                Severity::Info,
                format!(
                    "replica {} of {} is healthy again and back in its proxy",
                    replica.id, spec.name
                ),
            )
        } else {
            (
                DeployEvent::ReplicaUnhealthy,
                Severity::Warning,
                format!(
                    "replica {} of {} failed {} health checks ({}); taken out of its proxy",
                    replica.id,
                    spec.name,
                    state.failures,
                    state.last_error.as_deref().unwrap_or("no answer")
                ),
            )
        };
        tracing::warn!(replica = %replica.id, service = %spec.name, healthy, "{summary}");
        let event = NewEvent::new(kind.kind(), Actor::system(), summary)
            .service(spec.name.clone())
            .version(replica.version.clone())
            .severity(severity)
            .payload(
                json!({"replica": replica.id, "reason": state.last_error, "in_proxy": healthy}),
            );
        if let Err(err) = self.store().journal(vec![event]).await {
            tracing::warn!(error = %err, "cannot journal a health change");
        }
    }
}
