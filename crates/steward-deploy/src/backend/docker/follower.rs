//! Following the Docker engine's container events of one steward scope:
//! a container that dies by itself is a crash (reported as
//! `ReplicaEvent::Exited`), Docker's restart of it a `Restarted`; one that
//! steward or someone else stopped through the API is neither.

use super::*;

/// Follows the engine's container events of one scope and reports
/// crashes and Docker's restarts.
pub(super) struct Follower {
    pub(super) docker: Docker,
    pub(super) scope: String,
    pub(super) events: broadcast::Sender<ReplicaEvent>,
    pub(super) stopping: Arc<Mutex<HashSet<String>>>,
    /// Containers killed through the API (`docker stop`, `docker kill`):
    /// Docker does not restart them, and their exit is no crash.
    pub(super) killed: HashSet<String>,
}

impl Follower {
    pub(super) async fn run(mut self, mut since: Duration, cancel: CancellationToken) {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            (
                "label".to_owned(),
                vec![format!("{SCOPE_LABEL}={}", self.scope)],
            ),
        ]);
        // The last event handled, so that a reconnection (which asks for
        // events since its time) does not report it twice.
        let mut last: Option<(i64, String, String)> = None;
        loop {
            let options = EventsOptions {
                since: Some(format!("{}.{:09}", since.as_secs(), since.subsec_nanos())),
                until: None,
                filters: Some(filters.clone()),
            };
            let mut stream = self.docker.events(Some(options));
            loop {
                let next = tokio::select! {
                    _ = cancel.cancelled() => return,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        let time = event.time_nano.unwrap_or_default();
                        let key = (
                            time,
                            event
                                .actor
                                .as_ref()
                                .and_then(|a| a.id.clone())
                                .unwrap_or_default(),
                            event.action.clone().unwrap_or_default(),
                        );
                        if last
                            .as_ref()
                            .is_some_and(|last| time < last.0 || *last == key)
                        {
                            continue;
                        }
                        since = Duration::from_nanos(u64::try_from(time).unwrap_or_default());
                        last = Some(key);
                        self.handle(event).await;
                    }
                    Some(Err(err)) => {
                        tracing::warn!(error = %message(&err), "docker event stream failed; reconnecting");
                        break;
                    }
                    None => {
                        tracing::debug!("docker event stream ended; reconnecting");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn handle(&mut self, event: EventMessage) {
        let Some(actor) = event.actor else {
            return;
        };
        let Some(container) = actor.id else {
            return;
        };
        let attributes = actor.attributes.unwrap_or_default();
        let (Some(id), Some(service)) = (
            attributes.get(REPLICA_LABEL).cloned(),
            attributes
                .get(SERVICE_LABEL)
                .and_then(|s| Name::new(s).ok()),
        ) else {
            return;
        };
        match event.action.as_deref().unwrap_or_default() {
            "kill" => {
                self.killed.insert(container);
            }
            "destroy" => {
                self.killed.remove(&container);
            }
            "die" => {
                let killed = self.killed.remove(&container);
                if killed
                    || self
                        .stopping
                        .lock()
                        .expect("stopping set lock")
                        .contains(&id)
                {
                    tracing::debug!(replica = %id, "replica stopped through docker");
                    return;
                }
                let code = attributes
                    .get("exitCode")
                    .and_then(|code| code.parse::<i32>().ok());
                let Some(inspected) = self.inspect(&container).await else {
                    return;
                };
                // Docker's first restart comes 100 ms after the death, which
                // can be before this inspection: a container already running
                // again was restarted, with the same count and delay.
                let state = inspected.state.as_ref();
                let restarting = state.and_then(|state| state.restarting).unwrap_or(false)
                    || state.and_then(|state| state.running).unwrap_or(false);
                let restart_in = if restarting {
                    let delay = restart_delay(&inspected);
                    tracing::warn!(replica = %id, service = %service, ?code, restart_in = ?delay, "replica exited; docker restarts it");
                    delay
                } else {
                    // Only a stop through the engine (not steward's)
                    // leaves an `unless-stopped` container down.
                    tracing::warn!(replica = %id, service = %service, ?code, "replica exited; docker does not restart it");
                    Duration::ZERO
                };
                let _ = self.events.send(ReplicaEvent::Exited {
                    id,
                    service,
                    // Docker reports death by signal N as 128 + N.
                    code: code.filter(|code| !(129..=192).contains(code)),
                    restart_in,
                });
            }
            "start" => {
                let Some(inspected) = self.inspect(&container).await else {
                    return;
                };
                let restarts = restart_count(&inspected);
                if restarts > 0 {
                    tracing::info!(replica = %id, service = %service, restarts, "docker restarted the replica");
                    let _ = self.events.send(ReplicaEvent::Restarted {
                        id,
                        service,
                        restarts,
                    });
                }
            }
            "oom" => {
                tracing::warn!(replica = %id, service = %service, "replica ran out of memory");
            }
            _ => {}
        }
    }

    async fn inspect(&self, container: &str) -> Option<ContainerInspectResponse> {
        match self.docker.inspect_container(container, None).await {
            Ok(found) => Some(found),
            Err(err) => {
                if status(&err) != Some(404) {
                    tracing::warn!(container, error = %message(&err), "cannot inspect container");
                }
                None
            }
        }
    }
}
