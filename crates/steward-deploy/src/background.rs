//! What a [`DeploymentManager`](crate::DeploymentManager) does besides
//! running deployments: journaling the replica events its backend reports
//! (crashes, restarts, adoptions), and stopping the old set of a
//! blue-green deployment once its `keep_old_for` has passed.
//!
//! None of it is spawned behind the caller's back: the manager's
//! constructor returns it as a [`Background`] whose [`Background::run`]
//! the caller runs (steward-server under its task tracker), so that it
//! ends, and is awaited, at shutdown. Deployments themselves are not part
//! of it: the engine owns them, and a shutdown does not cut one short.

use std::sync::Arc;

use futures::{StreamExt, stream::FuturesUnordered};
use tokio::{
    sync::{broadcast, mpsc},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{
    backend::ReplicaEvent, journal::journal_replica_events, model::ServiceSpec, rollout::Converger,
    store::DeployStore,
};

/// The background work of a manager; nothing happens until it runs.
#[must_use = "the manager's background work happens only while `run` is polled"]
pub struct Background {
    replica_events: broadcast::Receiver<ReplicaEvent>,
    idle_stops: mpsc::UnboundedReceiver<IdleStop>,
    store: Arc<dyn DeployStore>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").finish_non_exhaustive()
    }
}

/// The old set of a blue-green deployment of `spec`, to stop at `at`.
pub(crate) struct IdleStop {
    pub(crate) at: Instant,
    pub(crate) spec: ServiceSpec,
    pub(crate) converger: Converger,
}

impl Background {
    pub(crate) fn new(
        replica_events: broadcast::Receiver<ReplicaEvent>,
        idle_stops: mpsc::UnboundedReceiver<IdleStop>,
        store: Arc<dyn DeployStore>,
    ) -> Self {
        Background {
            replica_events,
            idle_stops,
            store,
        }
    }

    /// Journals replica events and stops old blue-green sets when due,
    /// until `shutdown` is cancelled. Then it journals the replica events
    /// already reported, drops the idle stops not yet due (the next
    /// start's reconciliation stops those sets) and waits for the ones
    /// under way, so that none is left half done.
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::join!(
            journal_replica_events(self.replica_events, Arc::clone(&self.store), &shutdown),
            stop_idle_sets(self.idle_stops, self.store, &shutdown),
        );
    }
}

/// Stops each old blue-green set at its time, unless a later deployment
/// of its service took over meanwhile.
async fn stop_idle_sets(
    mut queue: mpsc::UnboundedReceiver<IdleStop>,
    store: Arc<dyn DeployStore>,
    shutdown: &CancellationToken,
) {
    let mut pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(stop) = queue.recv() => pending.push(stop_when_due(stop, Arc::clone(&store), shutdown)),
            Some(()) = pending.next() => {}
        }
    }
    while pending.next().await.is_some() {}
}

/// Waits for `stop.at` (giving up at shutdown), then stops the old set if
/// the service still runs the spec that kept it.
async fn stop_when_due(stop: IdleStop, store: Arc<dyn DeployStore>, shutdown: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep_until(stop.at) => {}
        () = shutdown.cancelled() => return,
    }
    let IdleStop {
        spec, converger, ..
    } = stop;
    // A later deployment of the service owns it from then on.
    let current = store
        .current()
        .await
        .ok()
        .and_then(|specs| specs.into_iter().find(|current| current.name == spec.name));
    if current.is_some_and(|current| current.hash() == spec.hash())
        && let Err(err) = converger.stop_idle(&spec).await
    {
        tracing::warn!(service = %spec.name, error = %err, "cannot stop the old blue-green set");
    }
}

#[cfg(test)]
mod tests;
