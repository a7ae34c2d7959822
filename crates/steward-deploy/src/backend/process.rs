//! The process backend: every replica is a supervised child process with
//! its own port, environment, working directory and log files.
//!
//! A record per replica (`<dir>/<id>.json`) is written before the process
//! starts, and every replica carries `STEWARD_REPLICA_ID` and
//! `STEWARD_BACKEND_DIR` in its environment. When steward starts again
//! after a crash it scans `/proc` for processes carrying its backend
//! directory: those with a record are adopted (watched by polling, since
//! they are no longer its children), records without a process are
//! restarted, and processes without a record (a crash between the two)
//! are killed. So a replica is never orphaned nor duplicated.
//!
//! A replica that exits on its own is restarted with exponential backoff
//! (1 s doubling to 30 s, back to 1 s after a minute of running).
//!
//! Records and logs hold the replicas' environments and output (secrets,
//! often): the backend's directories are 0700 and its files 0600. Logs are
//! rotated and pruned by [`clean_logs`] (`logs`).

mod logs;

use std::{
    collections::HashMap,
    ffi::OsStr,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use serde::{Deserialize, Serialize};
use steward_config::render_placeholders;
use steward_core::{Name, Version};
use tokio::{
    process::{Child, Command},
    sync::{broadcast, watch},
    time::Instant,
};

use super::{Backend, HostProcess, Replica, ReplicaEvent, ReplicaState, StartRequest};
use crate::{Error, Result, model::RunSpec, model::ServiceSpec};

pub use logs::{LogCleanup, LogRetention};

const KIND: &str = "process";
/// Environment variable naming the replica (for adoption and orphan sweeps).
pub const REPLICA_ID_VAR: &str = "STEWARD_REPLICA_ID";
/// Environment variable naming the backend directory that owns the replica.
pub const BACKEND_DIR_VAR: &str = "STEWARD_BACKEND_DIR";
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Running this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How often an adopted process (not our child) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(200);

/// What is persisted per replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    service: Name,
    version: Version,
    spec_hash: String,
    deployment_id: String,
    index: u32,
    port: u16,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    workdir: Option<PathBuf>,
    started_at: DateTime<Utc>,
    /// 0 until the process has started.
    pid: u32,
    pid_start: u64,
    restarts: u32,
}

impl Record {
    fn replica(&self, state: ReplicaState, restarts: u32, pid: u32) -> Replica {
        Replica {
            id: self.id.clone(),
            service: self.service.clone(),
            version: self.version.clone(),
            spec_hash: self.spec_hash.clone(),
            deployment_id: self.deployment_id.clone(),
            index: self.index,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            started_at: self.started_at,
            state,
            restarts,
            host_process: (pid != 0 && state == ReplicaState::Running)
                .then_some(HostProcess::Tree { pid }),
        }
    }
}

struct Entry {
    record: Record,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    /// `true` while the process is not running.
    exited: watch::Receiver<bool>,
    /// Set by `stop`, so that the supervisor does not restart.
    stopping: watch::Sender<bool>,
}

struct Inner {
    dir: PathBuf,
    logs: PathBuf,
    replicas: Mutex<HashMap<String, Entry>>,
    events: broadcast::Sender<ReplicaEvent>,
}

/// Runs replicas as supervised local processes.
#[derive(Clone)]
pub struct ProcessBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProcessBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessBackend")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl ProcessBackend {
    /// Opens the backend whose records live in `dir` (created when
    /// missing) and logs in `logs`, adopting the replicas an earlier
    /// steward process left running, restarting those that died, and
    /// killing unrecorded ones.
    pub async fn open(dir: impl Into<PathBuf>, logs: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let logs = logs.into();
        for path in [&dir, &logs] {
            logs::private_dir(path).map_err(|err| Error::io(path, err))?;
        }
        let dir = std::fs::canonicalize(&dir).map_err(|err| Error::io(&dir, err))?;
        let (events, _) = broadcast::channel(256);
        let backend = ProcessBackend {
            inner: Arc::new(Inner {
                dir,
                logs,
                replicas: Mutex::new(HashMap::new()),
                events,
            }),
        };
        backend.adopt().await?;
        Ok(backend)
    }

    /// Where a replica's stdout and stderr go.
    pub fn log_files(&self, service: &str, id: &str) -> (PathBuf, PathBuf) {
        let dir = self.inner.logs.join(service);
        (
            dir.join(format!("{id}.stdout.log")),
            dir.join(format!("{id}.stderr.log")),
        )
    }

    async fn adopt(&self) -> Result<()> {
        let owned = scan_processes(&self.inner.dir);
        let mut recorded = Vec::new();
        let entries =
            std::fs::read_dir(&self.inner.dir).map_err(|err| Error::io(&self.inner.dir, err))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension() != Some(OsStr::new("json")) {
                continue;
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(err) => return Err(Error::io(&path, err)),
            };
            match serde_json::from_str::<Record>(&text) {
                Ok(record) => recorded.push(record),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "unreadable replica record; removing it");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        for (id, (pid, _)) in &owned {
            if !recorded.iter().any(|record| &record.id == id) {
                tracing::warn!(replica = %id, pid, "killing a replica process that has no record");
                let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            }
        }
        for mut record in recorded {
            match owned.get(&record.id) {
                Some((pid, start)) => {
                    record.pid = *pid;
                    record.pid_start = *start;
                    self.write_record(&record)?;
                    tracing::info!(replica = %record.id, pid, "adopted a running replica");
                    let _ = self.inner.events.send(ReplicaEvent::Adopted {
                        id: record.id.clone(),
                        service: record.service.clone(),
                    });
                    self.supervise(record, Running::Adopted);
                }
                None => {
                    tracing::info!(replica = %record.id, "replica found dead at start; restarting it");
                    self.supervise(record, Running::Dead);
                }
            }
        }
        Ok(())
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.inner.dir.join(format!("{id}.json"))
    }

    /// Writes a record durably: to a temporary file, synced, renamed.
    fn write_record(&self, record: &Record) -> Result<()> {
        let path = self.record_path(&record.id);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(record).expect("records serialize");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = logs::create_private(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.inner.dir)?.sync_all()
        };
        write().map_err(|err| Error::io(&path, err))
    }

    fn spawn(&self, record: &Record) -> Result<Child> {
        let (stdout, stderr) = self.log_files(&record.service, &record.id);
        if let Some(parent) = stdout.parent() {
            logs::private_dir(parent).map_err(|err| Error::io(parent, err))?;
        }
        let open = |path: &Path| logs::open_log(path).map_err(|err| Error::io(path, err));
        let program =
            resolve_program(&record.argv[0], record.workdir.as_deref()).ok_or_else(|| {
                Error::backend(KIND, format!("program `{}` not found", record.argv[0]))
            })?;
        let mut command = Command::new(&program);
        command
            .args(&record.argv[1..])
            .envs(record.env.iter().map(|(k, v)| (k, v)))
            .env(REPLICA_ID_VAR, &record.id)
            .env(BACKEND_DIR_VAR, &self.inner.dir)
            .stdin(Stdio::null())
            .stdout(open(&stdout)?)
            .stderr(open(&stderr)?)
            // Its own process group: a Ctrl-C on steward's terminal does
            // not reach it, and a stop signals its children too.
            .process_group(0)
            .kill_on_drop(false);
        if let Some(workdir) = &record.workdir {
            command.current_dir(workdir);
        }
        command.spawn().map_err(|err| {
            Error::backend(
                KIND,
                format!(
                    "cannot start {} for replica {}: {err}",
                    program.display(),
                    record.id
                ),
            )
        })
    }

    fn supervise(&self, record: Record, running: Running) {
        let (exited_tx, exited) = watch::channel(matches!(running, Running::Dead));
        let (stopping, stop_rx) = watch::channel(false);
        let pid = Arc::new(AtomicU32::new(record.pid));
        let restarts = Arc::new(AtomicU32::new(record.restarts));
        let entry = Entry {
            record: record.clone(),
            pid: Arc::clone(&pid),
            restarts: Arc::clone(&restarts),
            exited,
            stopping,
        };
        self.inner
            .replicas
            .lock()
            .expect("replica table lock")
            .insert(record.id.clone(), entry);
        let backend = self.clone();
        tokio::spawn(async move {
            backend
                .supervisor(record, running, pid, restarts, exited_tx, stop_rx)
                .await;
        });
    }

    async fn supervisor(
        &self,
        mut record: Record,
        mut running: Running,
        pid: Arc<AtomicU32>,
        restarts: Arc<AtomicU32>,
        exited: watch::Sender<bool>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let since = Instant::now();
            let code = match running {
                Running::Child(mut child) => {
                    child.wait().await.ok().and_then(|status| status.code())
                }
                Running::Adopted => {
                    while process_alive(record.pid, record.pid_start) {
                        tokio::time::sleep(ADOPTED_POLL).await;
                    }
                    None
                }
                Running::Dead => None,
            };
            let _ = exited.send(true);
            if *stopping.borrow() {
                return;
            }
            if since.elapsed() >= STABLE_AFTER {
                backoff = MIN_BACKOFF;
            }
            tracing::warn!(replica = %record.id, service = %record.service, ?code, restart_in = ?backoff, "replica exited; restarting");
            let _ = self.inner.events.send(ReplicaEvent::Exited {
                id: record.id.clone(),
                service: record.service.clone(),
                code,
                restart_in: backoff,
            });
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if *stopping.borrow() {
                return;
            }
            match self.spawn(&record) {
                Ok(child) => {
                    record.pid = child.id().unwrap_or_default();
                    record.pid_start = process_start(record.pid).unwrap_or_default();
                    record.restarts += 1;
                    pid.store(record.pid, Ordering::SeqCst);
                    restarts.store(record.restarts, Ordering::SeqCst);
                    if let Err(err) = self.write_record(&record) {
                        tracing::error!(replica = %record.id, error = %err, "cannot record the restarted replica");
                    }
                    let _ = exited.send(false);
                    let _ = self.inner.events.send(ReplicaEvent::Restarted {
                        id: record.id.clone(),
                        service: record.service.clone(),
                        restarts: record.restarts,
                    });
                    running = Running::Child(child);
                }
                Err(err) => {
                    tracing::error!(replica = %record.id, error = %err, "cannot restart replica");
                    running = Running::Dead;
                }
            }
        }
    }
}

/// How a supervised replica is running when supervision starts.
enum Running {
    /// Our child: waited on.
    Child(Child),
    /// Started by an earlier steward process: polled.
    Adopted,
    /// Not running: restart after the backoff.
    Dead,
}

#[async_trait]
impl Backend for ProcessBackend {
    fn log_source(&self, replica: &Replica) -> Option<super::ReplicaLogs> {
        let (stdout, stderr) = self.log_files(replica.service.as_str(), &replica.id);
        Some(super::ReplicaLogs::Files { stdout, stderr })
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn ping(&self) -> Result<String> {
        let probe = self.inner.dir.join(".write-test");
        std::fs::write(&probe, b"ok").map_err(|err| Error::io(&probe, err))?;
        let _ = std::fs::remove_file(&probe);
        Ok(format!("replica records in {}", self.inner.dir.display()))
    }

    async fn artifact(&self, spec: &ServiceSpec) -> Result<String> {
        let RunSpec::Process { command, workdir } = &spec.run else {
            return Err(Error::backend(
                KIND,
                format!("service {} has no process command", spec.name),
            ));
        };
        let program = render(&command[0], spec, 0, 0);
        match resolve_program(&program, workdir.as_deref()) {
            Some(path) => Ok(format!("{} is {}", spec.name, path.display())),
            None => Err(Error::backend(
                KIND,
                format!(
                    "program `{program}` of {} not found (looked in PATH{}, and beside steward)",
                    spec.name,
                    workdir
                        .as_ref()
                        .map(|w| format!(", {}", w.display()))
                        .unwrap_or_default()
                ),
            )),
        }
    }

    async fn start(&self, request: StartRequest<'_>) -> Result<Replica> {
        let spec = request.spec;
        let RunSpec::Process { command, workdir } = &spec.run else {
            return Err(Error::backend(
                KIND,
                format!("service {} has no process command", spec.name),
            ));
        };
        let port = super::free_port(KIND)?;
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend([
            ("PORT".to_owned(), port.to_string()),
            ("STEWARD_SERVICE".to_owned(), spec.name.to_string()),
            ("STEWARD_VERSION".to_owned(), spec.version.to_string()),
            ("STEWARD_REPLICA".to_owned(), request.index.to_string()),
        ]);
        let mut record = Record {
            id: request.id.clone(),
            service: spec.name.clone(),
            version: spec.version.clone(),
            spec_hash: spec.hash(),
            deployment_id: request.deployment_id.to_owned(),
            index: request.index,
            port,
            argv: command
                .iter()
                .map(|arg| render(arg, spec, port, request.index))
                .collect(),
            env,
            workdir: workdir.clone(),
            started_at: Utc::now(),
            pid: 0,
            pid_start: 0,
            restarts: 0,
        };
        // Recorded before it exists: a crash right after the spawn leaves
        // a record that adoption matches by the replica id in /proc.
        self.write_record(&record)?;
        let child = match self.spawn(&record) {
            Ok(child) => child,
            Err(err) => {
                let _ = std::fs::remove_file(self.record_path(&record.id));
                return Err(err);
            }
        };
        record.pid = child.id().unwrap_or_default();
        record.pid_start = process_start(record.pid).unwrap_or_default();
        self.write_record(&record)?;
        tracing::info!(replica = %record.id, service = %record.service, pid = record.pid, port, "replica started");
        let replica = record.replica(ReplicaState::Running, 0, record.pid);
        self.supervise(record, Running::Child(child));
        Ok(replica)
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let (pid, mut exited, record) = {
            let table = self.inner.replicas.lock().expect("replica table lock");
            let Some(entry) = table.get(id) else {
                return Ok(());
            };
            let _ = entry.stopping.send(true);
            (
                Arc::clone(&entry.pid),
                entry.exited.clone(),
                self.record_path(id),
            )
        };
        let signal = |signal| {
            let pid = pid.load(Ordering::SeqCst);
            if pid != 0 {
                let _ = killpg(Pid::from_raw(pid as i32), signal);
            }
        };
        let running = !*exited.borrow();
        if running {
            signal(Signal::SIGTERM);
            let timed_out = tokio::time::timeout(grace, exited.wait_for(|gone| *gone))
                .await
                .is_err();
            if timed_out {
                tracing::warn!(replica = %id, ?grace, "replica did not stop in its grace period; killing it");
                signal(Signal::SIGKILL);
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|gone| *gone))
                        .await;
            }
        }
        match std::fs::remove_file(&record) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io(&record, err)),
        }
        self.inner
            .replicas
            .lock()
            .expect("replica table lock")
            .remove(id);
        tracing::info!(replica = %id, "replica stopped");
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Replica>> {
        let table = self.inner.replicas.lock().expect("replica table lock");
        let mut replicas: Vec<Replica> = table
            .values()
            .filter(|entry| !*entry.stopping.borrow())
            .map(|entry| {
                let state = if *entry.exited.borrow() {
                    ReplicaState::Restarting
                } else {
                    ReplicaState::Running
                };
                entry.record.replica(
                    state,
                    entry.restarts.load(Ordering::SeqCst),
                    entry.pid.load(Ordering::SeqCst),
                )
            })
            .collect();
        replicas.sort_by(|a, b| (&a.service, a.index, &a.id).cmp(&(&b.service, b.index, &b.id)));
        Ok(replicas)
    }

    fn subscribe(&self) -> broadcast::Receiver<ReplicaEvent> {
        self.inner.events.subscribe()
    }
}

impl ProcessBackend {
    /// Rotates and prunes this backend's replica logs ([`clean_logs`]).
    pub async fn clean_logs(&self, retention: LogRetention) -> Result<LogCleanup> {
        clean_logs(&self.inner.dir, &self.inner.logs, retention).await
    }
}

/// Rotates the replica logs under `logs` that outgrew
/// `retention.max_size` and deletes rotated copies and logs of replicas
/// gone for longer than `retention.max_age`. The replicas recorded in
/// `dir` (the backend's record directory) count as running, so this works
/// beside a running backend without a handle on it.
pub async fn clean_logs(dir: &Path, logs: &Path, retention: LogRetention) -> Result<LogCleanup> {
    let (dir, logs) = (dir.to_owned(), logs.to_owned());
    tokio::task::spawn_blocking(move || {
        let live = recorded_ids(&dir).map_err(|err| Error::io(&dir, err))?;
        logs::clean(&logs, &live, &retention, std::time::SystemTime::now())
            .map_err(|err| Error::io(&logs, err))
    })
    .await
    .map_err(|err| Error::backend(KIND, format!("log cleanup failed: {err}")))?
}

/// Ids of the replicas with a record in `dir`.
fn recorded_ids(dir: &Path) -> std::io::Result<std::collections::HashSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(err) => return Err(err),
    };
    let mut ids = std::collections::HashSet::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension() == Some(OsStr::new("json"))
            && let Some(id) = path.file_stem().and_then(OsStr::to_str)
        {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids)
}

/// Replaces the per-replica placeholders of one argument.
pub(crate) fn render(arg: &str, spec: &ServiceSpec, port: u16, index: u32) -> String {
    render_placeholders(arg, |name| match name {
        "version" => Some(spec.version.to_string()),
        "port" => Some(port.to_string()),
        "replica" => Some(index.to_string()),
        "service" => Some(spec.name.to_string()),
        _ => None,
    })
}

/// Finds a program: a path (relative to `workdir`), else in `PATH`, else
/// beside steward's own executable (so `cargo run` finds the demo agent).
pub fn resolve_program(program: &str, workdir: Option<&Path>) -> Option<PathBuf> {
    let is_file = |path: &Path| path.is_file();
    if program.contains('/') {
        let path = Path::new(program);
        let path = match (path.is_relative(), workdir) {
            (true, Some(workdir)) => workdir.join(path),
            _ => path.to_owned(),
        };
        return is_file(&path).then_some(path);
    }
    let path_dirs = std::env::var_os("PATH").unwrap_or_default();
    let beside_steward = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned));
    std::env::split_paths(&path_dirs)
        .chain(beside_steward)
        .map(|dir| dir.join(program))
        .find(|candidate| is_file(candidate))
}

/// Processes carrying `dir` as their backend directory: replica id ->
/// (pid, start time).
fn scan_processes(dir: &Path) -> HashMap<String, (u32, u64)> {
    let mut found = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    let dir_var = format!("{BACKEND_DIR_VAR}={}", dir.display());
    let id_prefix = format!("{REPLICA_ID_VAR}=");
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if !vars.contains(&dir_var.as_bytes()) {
            continue;
        }
        let Some(id) = vars
            .iter()
            .find_map(|var| var.strip_prefix(id_prefix.as_bytes()))
            .and_then(|id| std::str::from_utf8(id).ok())
        else {
            continue;
        };
        // Only the group leader: children of a replica carry the same
        // environment but are stopped with their leader's group.
        let Some((start, pgrp)) = process_stat(pid) else {
            continue;
        };
        if pgrp != pid {
            continue;
        }
        found.insert(id.to_owned(), (pid, start));
    }
    found
}

/// Start time (clock ticks after boot) and process group of a live,
/// non-zombie process.
fn process_stat(pid: u32) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start
    // after the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); pgrp is field 5, starttime field 22.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, pgrp))
}

fn process_start(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(start, _)| start)
}

/// Whether `pid` is still the process that started at `start`.
pub fn process_alive(pid: u32, start: u64) -> bool {
    pid != 0 && process_start(pid) == Some(start)
}

/// The current process's start time, for the deploy lock.
pub fn own_start_time() -> u64 {
    process_start(std::process::id()).unwrap_or_default()
}

#[cfg(test)]
mod tests;
