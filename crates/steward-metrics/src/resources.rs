//! Resource metrics steward exposes about the host and its replicas, as
//! Prometheus text format 0.0.4, for the scrape loop to ingest like any
//! target's exposition.
//!
//! - [`host`]: the machine, under node_exporter's names and labels.
//! - [`process`]: a process replica's process tree, under cAdvisor's
//!   `container_*` names where cAdvisor has one.
//! - [`cgroup`]: a Docker replica's cgroup (v1 or v2), under cAdvisor's
//!   names.
//!
//! Collection never fails as a whole because one file is unreadable (a
//! process exits mid-scan, a cgroup file is missing on this kernel): the
//! metrics from that file are left out and the reason logged at debug level.

pub mod cgroup;
pub mod host;
pub mod process;
mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use self::host::{HostOptions, host_exposition};
use self::process::PidStat;
use self::text::{Exposition, Kind};
use crate::Labels;

/// Where a replica's usage is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaSource {
    /// A local process: the tree under this pid.
    Process {
        /// The replica's root process.
        pid: u32,
    },
    /// A container whose cgroup is found from its main process's
    /// /proc/<pid>/cgroup (Docker's `State.Pid`).
    Container {
        /// The container's main process, as the host sees it.
        pid: u32,
    },
    /// A container whose cgroup is already known.
    Cgroup(cgroup::Cgroup),
    /// Not running: only the restart count is reported.
    Stopped,
}

/// One replica to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRef {
    /// The labels every series of the replica gets (service, version,
    /// replica, and `name` as the container or replica name, which
    /// cAdvisor-based dashboards group by).
    pub labels: Labels,
    /// Where to read usage from.
    pub source: ReplicaSource,
    /// How many times steward restarted the replica.
    pub restarts: u64,
}

/// The replicas' metrics in the text format, reading the real /proc.
pub fn replica_exposition(replicas: &[ReplicaRef]) -> String {
    replica_exposition_at(Path::new("/proc"), replicas)
}

/// The replicas' metrics, reading procfs at `proc_root`.
pub fn replica_exposition_at(proc_root: &Path, replicas: &[ReplicaRef]) -> String {
    let mut e = Exposition::default();
    let env = Env::new(proc_root, replicas);
    for r in replicas {
        collect_replica(&mut e, &env, r);
    }
    e.render()
}

/// What every replica's collection shares: one process scan and the
/// machine's constants.
struct Env {
    proc_root: PathBuf,
    processes: HashMap<u32, PidStat>,
    hz: f64,
    page_size: f64,
    boot_time: Option<f64>,
}

impl Env {
    fn new(proc_root: &Path, replicas: &[ReplicaRef]) -> Self {
        let needs_scan = replicas
            .iter()
            .any(|r| !matches!(r.source, ReplicaSource::Stopped));
        let boot_time = std::fs::read_to_string(proc_root.join("stat"))
            .ok()
            .and_then(|s| host::parse::parse_stat(&s).btime)
            .map(|b| b as f64);
        Self {
            proc_root: proc_root.to_owned(),
            processes: if needs_scan {
                process::scan_processes(proc_root)
            } else {
                HashMap::new()
            },
            hz: host::user_hz(),
            page_size: process::page_size(),
            boot_time,
        }
    }
}

fn collect_replica(e: &mut Exposition, env: &Env, r: &ReplicaRef) {
    e.add(
        "steward_replica_restarts_total",
        "Times steward restarted the replica.",
        Kind::Counter,
        r.labels.clone(),
        r.restarts as f64,
    );
    match &r.source {
        ReplicaSource::Stopped => {}
        ReplicaSource::Process { pid } => process_metrics(e, env, &r.labels, *pid),
        ReplicaSource::Container { pid } => match cgroup::resolve_pid(&env.proc_root, *pid) {
            Some(cg) => cgroup_metrics(e, env, &r.labels, &cg),
            None => tracing::debug!(pid, "resource metrics: container cgroup not found"),
        },
        ReplicaSource::Cgroup(cg) => cgroup_metrics(e, env, &r.labels, cg),
    }
}

fn process_metrics(e: &mut Exposition, env: &Env, labels: &Labels, pid: u32) {
    let tree = process::process_tree(pid, &env.processes);
    let fds = |p: u32| process::count_fds(&env.proc_root, p);
    let Some(u) = process::tree_usage(
        &tree,
        &env.processes,
        env.hz,
        env.page_size,
        env.boot_time,
        &fds,
    ) else {
        tracing::debug!(pid, "resource metrics: replica process not found");
        return;
    };
    let mut m = Metrics { e, labels };
    m.cpu(
        Some(u.cpu_seconds),
        Some(u.cpu_user_seconds),
        Some(u.cpu_system_seconds),
    );
    // A process tree has no page cache of its own to subtract, so its
    // working set is its resident memory.
    m.gauge(RSS, Some(u.rss_bytes));
    m.gauge(WORKING_SET, Some(u.rss_bytes));
    m.gauge(THREADS, Some(u.threads as f64));
    m.gauge(PROCESSES, Some(u.processes as f64));
    m.gauge(FDS, u.fds.map(|v| v as f64));
    m.gauge(START_TIME, u.start_time_seconds);
}

fn cgroup_metrics(e: &mut Exposition, env: &Env, labels: &Labels, cg: &cgroup::Cgroup) {
    let u = cgroup::read_usage(&cg.dirs, env.hz);
    let labels = if labels.get("id").is_some() {
        labels.clone()
    } else {
        let mut b = labels.builder();
        b.set("id", cg.id.as_str());
        b.build()
    };
    let mut m = Metrics { e, labels: &labels };
    m.cpu(
        u.cpu_usage_seconds,
        u.cpu_user_seconds,
        u.cpu_system_seconds,
    );
    m.counter(CFS_PERIODS, u.cfs_periods.map(|v| v as f64));
    m.counter(
        CFS_THROTTLED_PERIODS,
        u.cfs_throttled_periods.map(|v| v as f64),
    );
    m.counter(CFS_THROTTLED_SECONDS, u.cfs_throttled_seconds);
    m.gauge(USAGE, u.memory_usage_bytes);
    m.gauge(WORKING_SET, u.memory_working_set_bytes);
    m.gauge(RSS, u.memory_rss_bytes);
    m.gauge(CACHE, u.memory_cache_bytes);
    m.gauge(MAPPED_FILE, u.memory_mapped_file_bytes);
    m.gauge(MEMORY_LIMIT, u.memory_limit_bytes);
    // cAdvisor leaves the quota out when there is none.
    m.gauge(CPU_QUOTA, u.cpu_quota_us.map(|v| v as f64));
    m.gauge(CPU_PERIOD, u.cpu_period_us.map(|v| v as f64));
    m.counter(OOM_EVENTS, u.oom_kills.map(|v| v as f64));
    // cAdvisor's container_threads is the pids controller's count, which
    // counts tasks; its container_processes counts cgroup.procs.
    m.gauge(THREADS, u.threads.map(|v| v as f64));
    if u.threads.is_some() {
        m.gauge(THREADS_MAX, Some(u.threads_max.unwrap_or(0) as f64));
    }
    if let Some(pids) = &u.pids {
        m.gauge(PROCESSES, Some(pids.len() as f64));
        let mut fds = Some(0u64);
        for pid in pids {
            fds = fds
                .zip(process::count_fds(&env.proc_root, *pid))
                .map(|(a, b)| a + b);
        }
        m.gauge(FDS, fds.map(|v| v as f64));
        let start = pids
            .iter()
            .filter_map(|p| env.processes.get(p))
            .map(|s| s.starttime)
            .min();
        m.gauge(
            START_TIME,
            start.zip(env.boot_time).map(|(t, b)| b + t as f64 / env.hz),
        );
    }
}

type Family = (&'static str, &'static str);

const CPU_USAGE: Family = (
    "container_cpu_usage_seconds_total",
    "Cumulative cpu time consumed in seconds.",
);
const CPU_USER: Family = (
    "container_cpu_user_seconds_total",
    "Cumulative user cpu time consumed in seconds.",
);
const CPU_SYSTEM: Family = (
    "container_cpu_system_seconds_total",
    "Cumulative system cpu time consumed in seconds.",
);
const CFS_PERIODS: Family = (
    "container_cpu_cfs_periods_total",
    "Number of elapsed enforcement period intervals.",
);
const CFS_THROTTLED_PERIODS: Family = (
    "container_cpu_cfs_throttled_periods_total",
    "Number of throttled period intervals.",
);
const CFS_THROTTLED_SECONDS: Family = (
    "container_cpu_cfs_throttled_seconds_total",
    "Total time duration the container has been throttled.",
);
const USAGE: Family = (
    "container_memory_usage_bytes",
    "Current memory usage in bytes, including all memory regardless of when it was accessed",
);
const WORKING_SET: Family = (
    "container_memory_working_set_bytes",
    "Current working set in bytes.",
);
const RSS: Family = ("container_memory_rss", "Size of RSS in bytes.");
const CACHE: Family = (
    "container_memory_cache",
    "Number of bytes of page cache memory.",
);
const MAPPED_FILE: Family = (
    "container_memory_mapped_file",
    "Size of memory mapped files in bytes.",
);
const MEMORY_LIMIT: Family = (
    "container_spec_memory_limit_bytes",
    "Memory limit for the container.",
);
const CPU_QUOTA: Family = ("container_spec_cpu_quota", "CPU quota of the container.");
const CPU_PERIOD: Family = ("container_spec_cpu_period", "CPU period of the container.");
const OOM_EVENTS: Family = (
    "container_oom_events_total",
    "Count of out of memory events observed for the container",
);
const THREADS: Family = (
    "container_threads",
    "Number of threads running inside the container",
);
const THREADS_MAX: Family = (
    "container_threads_max",
    "Maximum number of threads allowed inside the container, infinity if value is zero",
);
const PROCESSES: Family = (
    "container_processes",
    "Number of processes running inside the container.",
);
const FDS: Family = (
    "container_file_descriptors",
    "Number of open file descriptors for the container.",
);
const START_TIME: Family = (
    "container_start_time_seconds",
    "Start time of the container since unix epoch in seconds.",
);

/// Adds one replica's samples, skipping values that could not be read.
struct Metrics<'a> {
    e: &'a mut Exposition,
    labels: &'a Labels,
}

impl Metrics<'_> {
    fn add(&mut self, (name, help): Family, kind: Kind, v: Option<f64>) {
        if let Some(v) = v {
            self.e.add(name, help, kind, self.labels.clone(), v);
        }
    }
    fn gauge(&mut self, f: Family, v: Option<f64>) {
        self.add(f, Kind::Gauge, v);
    }
    fn counter(&mut self, f: Family, v: Option<f64>) {
        self.add(f, Kind::Counter, v);
    }
    fn cpu(&mut self, total: Option<f64>, user: Option<f64>, system: Option<f64>) {
        self.counter(CPU_USAGE, total);
        self.counter(CPU_USER, user);
        self.counter(CPU_SYSTEM, system);
    }
}

#[cfg(test)]
mod tests;
