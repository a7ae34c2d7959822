//! The replicas' collector: one task per output of each replica steward
//! runs, entries stored through the API's push (so live tails see them),
//! and the position after them saved once they are stored.
//!
//! The server tells it which replicas run ([`ReplicaCollector::set_replicas`],
//! every few seconds, from the backend's list). A replica that is no
//! longer listed is followed for [`LINGER`] more, so that the last lines
//! of one that crashed (its panic) are read before its task ends.
//! Positions are kept per replica and stream in `positions.json` in the
//! store's directory, written (0600, to a temporary file then renamed)
//! at most once a second after lines were stored: after a crash, a
//! replica's lines after the saved position are read again. A line is
//! never lost; the lines stored after the last save may be stored twice.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Collected, Origin, Pipeline, StreamName,
    docker::{ContainerStream, DockerCursor, collect_container},
    follow::{FollowConfig, Follower, Position, Start},
    multiline::MultilineConfig,
    pipeline::collect_file,
};
use crate::{Error, Result, api::LokiApi};

/// How long a replica no longer listed is still followed.
pub const LINGER: Duration = Duration::from_secs(5);
/// How often a followed file is looked at when nothing was read.
const POLL: Duration = Duration::from_millis(250);
/// Entries waiting to be stored, per output kind, before reading waits.
const QUEUE: usize = 64;
/// Least time between two writes of the positions file.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where a replica's output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaOutput {
    /// Files the process backend writes.
    Files {
        /// The stdout file.
        stdout: PathBuf,
        /// The stderr file.
        stderr: PathBuf,
    },
    /// A Docker container's log.
    Container {
        /// The container's name.
        name: String,
    },
}

/// A replica to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaTarget {
    /// Its service.
    pub service: String,
    /// The version it runs.
    pub version: String,
    /// Its id.
    pub replica: String,
    /// Where its output is.
    pub output: ReplicaOutput,
}

/// A saved position of one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Saved {
    File(Position),
    Docker(DockerCursor),
}

/// What a task sends: the entries, and the position after them under its key.
type Sent<C> = (String, Collected<C>);

struct Running {
    target: ReplicaTarget,
    cancel: CancellationToken,
}

struct Inner {
    api: LokiApi,
    positions_path: PathBuf,
    positions: Mutex<BTreeMap<String, Saved>>,
    running: Mutex<HashMap<String, Running>>,
    multiline: MultilineConfig,
    files: mpsc::Sender<Sent<Position>>,
    containers: mpsc::Sender<Sent<DockerCursor>>,
    stop: CancellationToken,
}

/// Collects the output of the replicas it is told about; cheap to clone.
#[derive(Clone)]
pub struct ReplicaCollector {
    inner: Arc<Inner>,
}

/// The receiving ends [`ReplicaCollector::run`] stores from.
pub struct Receivers {
    files: mpsc::Receiver<Sent<Position>>,
    containers: mpsc::Receiver<Sent<DockerCursor>>,
}

impl ReplicaCollector {
    /// A collector storing through `api`, with its positions in `dir`,
    /// whose tasks end when `stop` is cancelled. Run [`Self::run`] with
    /// the receivers to store what the tasks read.
    pub fn new(
        api: LokiApi,
        dir: &Path,
        multiline: MultilineConfig,
        stop: CancellationToken,
    ) -> Result<(ReplicaCollector, Receivers)> {
        // A bad start pattern is found here, not per replica.
        let probe = Origin {
            service: String::new(),
            version: String::new(),
            replica: String::new(),
            stream: StreamName::Stdout,
        };
        Pipeline::<Position>::new(&probe, &multiline)
            .map_err(|err| Error::InvalidQuery(format!("logs.multiline.start_pattern: {err}")))?;
        let positions_path = dir.join("positions.json");
        let positions = match std::fs::read(&positions_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(path = %positions_path.display(), error = %err, "unreadable log positions; reading the replicas' logs from their start");
                BTreeMap::new()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => return Err(Error::io(&positions_path, err)),
        };
        let (files, files_rx) = mpsc::channel(QUEUE);
        let (containers, containers_rx) = mpsc::channel(QUEUE);
        let collector = ReplicaCollector {
            inner: Arc::new(Inner {
                api,
                positions_path,
                positions: Mutex::new(positions),
                running: Mutex::new(HashMap::new()),
                multiline,
                files,
                containers,
                stop,
            }),
        };
        Ok((
            collector,
            Receivers {
                files: files_rx,
                containers: containers_rx,
            },
        ))
    }

    /// The replicas to collect now: new ones are started, those no longer
    /// listed stop after [`LINGER`], a replica whose version changed is
    /// restarted with its new labels.
    pub fn set_replicas(&self, targets: Vec<ReplicaTarget>) {
        let mut running = self.inner.running.lock();
        let wanted: HashMap<String, ReplicaTarget> = targets
            .into_iter()
            .map(|t| (t.replica.clone(), t))
            .collect();
        running.retain(|id, run| {
            let keep = wanted.get(id).is_some_and(|t| *t == run.target);
            if !keep {
                let cancel = run.cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(LINGER).await;
                    cancel.cancel();
                });
            }
            keep
        });
        for (id, target) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let cancel = self.inner.stop.child_token();
            self.start(&target, &cancel);
            running.insert(id, Running { target, cancel });
        }
    }

    fn origin(target: &ReplicaTarget, stream: StreamName) -> Origin {
        Origin {
            service: target.service.clone(),
            version: target.version.clone(),
            replica: target.replica.clone(),
            stream,
        }
    }

    fn start(&self, target: &ReplicaTarget, cancel: &CancellationToken) {
        let inner = &self.inner;
        match &target.output {
            ReplicaOutput::Files { stdout, stderr } => {
                for (stream, path) in [(StreamName::Stdout, stdout), (StreamName::Stderr, stderr)] {
                    let key = format!("{}/{}", target.replica, stream.as_str());
                    let start = match inner.positions.lock().get(&key) {
                        Some(Saved::File(position)) => Start::At(*position),
                        _ => Start::Beginning,
                    };
                    let origin = Self::origin(target, stream);
                    let (Ok(pipeline), Ok(follower)) = (
                        Pipeline::new(&origin, &inner.multiline),
                        Follower::new(path.clone(), start, FollowConfig::default()),
                    ) else {
                        tracing::warn!(path = %path.display(), "cannot follow a replica's log");
                        continue;
                    };
                    let (tx, keyed) = mpsc::channel(QUEUE);
                    tokio::spawn(forward(keyed, key, inner.files.clone()));
                    let cancel = cancel.clone();
                    let path = path.clone();
                    tokio::spawn(async move {
                        if let Err(err) = collect_file(follower, pipeline, POLL, tx, cancel).await {
                            tracing::warn!(path = %path.display(), error = %err, "stopped following a replica's log");
                        }
                    });
                }
            }
            ReplicaOutput::Container { name } => {
                let stream = |s: StreamName| -> Option<ContainerStream> {
                    let key = format!("{}/{}", target.replica, s.as_str());
                    let resume = match inner.positions.lock().get(&key) {
                        Some(Saved::Docker(cursor)) => Some(*cursor),
                        _ => None,
                    };
                    Some(ContainerStream {
                        pipeline: Pipeline::new(&Self::origin(target, s), &inner.multiline).ok()?,
                        resume,
                    })
                };
                let (Some(stdout), Some(stderr)) =
                    (stream(StreamName::Stdout), stream(StreamName::Stderr))
                else {
                    return;
                };
                let docker = match bollard::Docker::connect_with_local_defaults() {
                    Ok(docker) => docker,
                    Err(err) => {
                        tracing::warn!(container = %name, error = %err, "cannot reach docker to collect a container's log");
                        return;
                    }
                };
                let (name, cancel, sender) =
                    (name.clone(), cancel.clone(), inner.containers.clone());
                let replica = target.replica.clone();
                tokio::spawn(async move {
                    let (tx2, mut rx2) = mpsc::channel::<Collected<DockerCursor>>(QUEUE);
                    let relay = tokio::spawn(async move {
                        while let Some(collected) = rx2.recv().await {
                            let key = format!(
                                "{replica}/{}",
                                collected.stream.labels.get("stream").unwrap_or("stdout")
                            );
                            if sender.send((key, collected)).await.is_err() {
                                return;
                            }
                        }
                    });
                    if let Err(err) =
                        collect_container(&docker, &name, stdout, stderr, tx2, cancel).await
                    {
                        tracing::warn!(container = %name, error = %err, "stopped collecting a container's log");
                    }
                    let _ = relay.await;
                });
            }
        }
    }

    /// Stores what the tasks read and saves the positions after it, until
    /// every task ended after `stop`.
    pub async fn run(self, receivers: Receivers) {
        let Receivers {
            mut files,
            mut containers,
        } = receivers;
        // The collector's own senders would keep the channels open.
        let inner = self.inner;
        let mut dirty = false;
        let mut last_save = tokio::time::Instant::now();
        loop {
            let (key, stream, saved) = tokio::select! {
                Some((key, c)) = files.recv() => (key, c.stream, Saved::File(c.cursor)),
                Some((key, c)) = containers.recv() => (key, c.stream, Saved::Docker(c.cursor)),
                () = inner.stop.cancelled() => break,
                () = tokio::time::sleep(SAVE_EVERY), if dirty => {
                    save(&inner);
                    dirty = false;
                    last_save = tokio::time::Instant::now();
                    continue;
                }
            };
            // Retried while the store refuses (backpressure): reading
            // waits meanwhile, nothing is dropped.
            let streams = vec![stream];
            loop {
                match inner.api.push(streams.clone()).await {
                    Ok(()) => break,
                    Err(Error::Backpressure { retry_after_secs }) => {
                        tokio::time::sleep(Duration::from_secs(retry_after_secs)).await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot store a replica's log lines; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                if inner.stop.is_cancelled() {
                    return;
                }
            }
            inner.positions.lock().insert(key, saved);
            dirty = true;
            if last_save.elapsed() >= SAVE_EVERY {
                save(&inner);
                dirty = false;
                last_save = tokio::time::Instant::now();
            }
        }
        if dirty {
            save(&inner);
        }
    }
}

/// Tags what one file's task sends with its key.
async fn forward(
    mut from: mpsc::Receiver<Collected<Position>>,
    key: String,
    to: mpsc::Sender<Sent<Position>>,
) {
    while let Some(collected) = from.recv().await {
        if to.send((key.clone(), collected)).await.is_err() {
            return;
        }
    }
}

/// Writes the positions file (a temporary file renamed over it).
fn save(inner: &Inner) {
    let bytes = match serde_json::to_vec(&*inner.positions.lock()) {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(error = %err, "cannot encode the log positions");
            return;
        }
    };
    let tmp = inner.positions_path.with_extension("json.tmp");
    let written = std::fs::write(&tmp, &bytes)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        })
        .and_then(|()| std::fs::rename(&tmp, &inner.positions_path));
    if let Err(err) = written {
        tracing::warn!(path = %inner.positions_path.display(), error = %err, "cannot save the log positions");
    }
}
