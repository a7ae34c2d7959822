//! Resource usage of a container replica from its cgroup, as cAdvisor
//! reports it for Docker containers.
//!
//! Both hierarchies are read: cgroup v2 (one directory, `cpu.stat`,
//! `memory.current`...) and cgroup v1 (one directory per controller,
//! `cpuacct.usage`, `memory.usage_in_bytes`...), since Docker still runs on
//! v1 and hybrid hosts where the unified hierarchy holds no controllers.
//! The file parsers are pure over the contents; [`read_usage`] takes a
//! reader so fixtures can stand in for /sys/fs/cgroup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One line of /proc/<pid>/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    /// The hierarchy id; 0 is the unified (v2) hierarchy.
    pub hierarchy: u32,
    /// The v1 controllers bound to the hierarchy (empty for v2).
    pub controllers: Vec<String>,
    /// The cgroup's path inside the hierarchy.
    pub path: String,
}

/// Parses /proc/<pid>/cgroup (`id:controllers:path`).
pub fn parse_proc_cgroup(s: &str) -> Vec<CgroupLine> {
    s.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let hierarchy = it.next()?.parse().ok()?;
            let controllers = it
                .next()?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let path = it.next()?.to_owned();
            Some(CgroupLine {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// A mounted cgroup hierarchy, from /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Whether this is the unified (v2) hierarchy.
    pub unified: bool,
    /// The v1 controllers mounted there.
    pub controllers: Vec<String>,
    /// The cgroup mounted at the mount point (`/` unless a sub-tree is).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
}

/// The cgroup mounts of a mountinfo file (man 5 proc: fields up to the `-`
/// separator, then fstype, source and super options, where a v1 hierarchy
/// lists its controllers).
pub fn parse_cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split_ascii_whitespace().collect();
            let mut r = right.split_ascii_whitespace();
            let fstype = r.next()?;
            let _source = r.next()?;
            let options = r.next().unwrap_or("");
            let unified = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let known = ["cpu", "cpuacct", "memory", "pids"];
            Some(CgroupMount {
                unified,
                controllers: options
                    .split(',')
                    .filter(|o| known.contains(o))
                    .map(str::to_owned)
                    .collect(),
                root: super::host::parse::unescape_octal(l.get(3)?),
                mount_point: PathBuf::from(super::host::parse::unescape_octal(l.get(4)?)),
            })
        })
        .collect()
}

/// Where a container's cgroup files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupDirs {
    /// The unified hierarchy: one directory.
    V2(PathBuf),
    /// Legacy hierarchies: a directory per controller, each possibly absent.
    V1 {
        /// The `cpu` controller's directory (throttling, quota).
        cpu: Option<PathBuf>,
        /// The `cpuacct` controller's directory (usage).
        cpuacct: Option<PathBuf>,
        /// The `memory` controller's directory.
        memory: Option<PathBuf>,
        /// The `pids` controller's directory.
        pids: Option<PathBuf>,
    },
}

/// A container's cgroup: its path (cAdvisor's `id` label) and directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// The cgroup path, e.g. `/docker/<id>` or
    /// `/system.slice/docker-<id>.scope`.
    pub id: String,
    /// Where its files are.
    pub dirs: CgroupDirs,
}

fn join_in_mount(m: &CgroupMount, path: &str) -> PathBuf {
    let rel = if m.root != "/" {
        path.strip_prefix(m.root.as_str()).unwrap_or(path)
    } else {
        path
    };
    m.mount_point.join(rel.trim_start_matches('/'))
}

/// Finds a process's cgroup directories from its /proc/<pid>/cgroup lines
/// and the mounted hierarchies. The v1 hierarchies are used when the
/// process is in any v1 hierarchy holding the cpu, cpuacct or memory
/// controller: on a hybrid host the unified hierarchy then has no
/// controllers, so no usage to read.
pub fn resolve(lines: &[CgroupLine], mounts: &[CgroupMount]) -> Option<Cgroup> {
    let v1_dir = |controller: &str| -> Option<(PathBuf, &str)> {
        let line = lines
            .iter()
            .find(|l| l.hierarchy != 0 && l.controllers.iter().any(|c| c == controller))?;
        let m = mounts
            .iter()
            .find(|m| !m.unified && m.controllers.iter().any(|c| c == controller))?;
        Some((join_in_mount(m, &line.path), line.path.as_str()))
    };
    let (cpu, cpuacct, memory, pids) = (
        v1_dir("cpu"),
        v1_dir("cpuacct"),
        v1_dir("memory"),
        v1_dir("pids"),
    );
    let id = [&cpuacct, &memory, &cpu]
        .into_iter()
        .flatten()
        .map(|(_, p)| (*p).to_owned())
        .next();
    if let Some(id) = id {
        return Some(Cgroup {
            id,
            dirs: CgroupDirs::V1 {
                cpu: cpu.map(|d| d.0),
                cpuacct: cpuacct.map(|d| d.0),
                memory: memory.map(|d| d.0),
                pids: pids.map(|d| d.0),
            },
        });
    }
    let line = lines.iter().find(|l| l.hierarchy == 0)?;
    let m = mounts.iter().find(|m| m.unified)?;
    Some(Cgroup {
        id: line.path.clone(),
        dirs: CgroupDirs::V2(join_in_mount(m, &line.path)),
    })
}

/// Finds the cgroup of `pid` under `proc_root`, with the hierarchies as
/// this process sees them mounted.
pub fn resolve_pid(proc_root: &Path, pid: u32) -> Option<Cgroup> {
    let read = |rel: String| {
        let path = proc_root.join(rel);
        std::fs::read_to_string(&path)
            .map_err(|err| {
                tracing::debug!(path = %path.display(), error = %err, "resource metrics: cgroup lookup failed");
            })
            .ok()
    };
    let lines = parse_proc_cgroup(&read(format!("{pid}/cgroup"))?);
    let mounts = parse_cgroup_mounts(&read("self/mountinfo".to_owned())?);
    resolve(&lines, &mounts)
}

/// Parses a flat-keyed cgroup file (`key value` per line: cpu.stat,
/// memory.stat, memory.events, memory.oom_control, cpuacct.stat).
pub fn parse_flat_keyed(s: &str) -> HashMap<String, u64> {
    s.lines()
        .filter_map(|line| {
            let (k, v) = line.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Parses a single-value file holding a number or `max` (v2 limits):
/// `Some(None)` for `max`.
pub fn parse_limit(s: &str) -> Option<Option<u64>> {
    match s.trim() {
        "max" => Some(None),
        v => v.parse().ok().map(Some),
    }
}

/// Parses v2 `cpu.max` (`$QUOTA $PERIOD`, quota `max` when unlimited)
/// into (quota, period) in microseconds.
pub fn parse_cpu_max(s: &str) -> Option<(Option<u64>, u64)> {
    let mut it = s.split_ascii_whitespace();
    let quota = parse_limit(it.next()?)?;
    let period = it.next()?.parse().ok()?;
    Some((quota, period))
}

/// Parses `cgroup.procs`: one pid per line.
pub fn parse_procs(s: &str) -> Vec<u32> {
    s.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// What a container's cgroup says about its usage, in cAdvisor's units
/// (seconds and bytes). A field is `None` when its file was unreadable or
/// the controller is not there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupUsage {
    /// Total CPU time, seconds.
    pub cpu_usage_seconds: Option<f64>,
    /// User CPU time, seconds.
    pub cpu_user_seconds: Option<f64>,
    /// System CPU time, seconds.
    pub cpu_system_seconds: Option<f64>,
    /// Elapsed CFS enforcement periods.
    pub cfs_periods: Option<u64>,
    /// Periods in which the container was throttled.
    pub cfs_throttled_periods: Option<u64>,
    /// Time throttled, seconds.
    pub cfs_throttled_seconds: Option<f64>,
    /// Memory usage including page cache, bytes.
    pub memory_usage_bytes: Option<f64>,
    /// Usage minus inactive file cache, bytes (what the OOM killer weighs).
    pub memory_working_set_bytes: Option<f64>,
    /// Anonymous memory, bytes.
    pub memory_rss_bytes: Option<f64>,
    /// Page cache, bytes.
    pub memory_cache_bytes: Option<f64>,
    /// Memory-mapped files, bytes.
    pub memory_mapped_file_bytes: Option<f64>,
    /// The memory limit, bytes; 0 when unlimited, as cAdvisor reports it.
    pub memory_limit_bytes: Option<f64>,
    /// The CFS quota, microseconds per period; `None` when unlimited.
    pub cpu_quota_us: Option<u64>,
    /// The CFS period, microseconds.
    pub cpu_period_us: Option<u64>,
    /// Processes killed by the OOM killer in the cgroup.
    pub oom_kills: Option<u64>,
    /// Tasks (threads) in the cgroup, from the pids controller.
    pub threads: Option<u64>,
    /// The pids controller's limit; `None` when unlimited.
    pub threads_max: Option<u64>,
    /// The processes (thread group leaders) in the cgroup.
    pub pids: Option<Vec<u32>>,
}

/// cAdvisor reports limits above 2^62 (v1's "unlimited" is the largest
/// page-aligned i64) as 0.
fn memory_limit_value(limit: Option<u64>) -> f64 {
    match limit {
        Some(v) if v <= 1 << 62 => v as f64,
        _ => 0.0,
    }
}

fn working_set(usage: Option<u64>, inactive_file: Option<u64>) -> Option<f64> {
    let usage = usage?;
    Some(usage.saturating_sub(inactive_file.unwrap_or(0)) as f64)
}

/// Reads the usage of a v2 cgroup through `read(file name)`.
pub fn usage_v2(read: &dyn Fn(&str) -> Option<String>) -> CgroupUsage {
    let mut u = CgroupUsage::default();
    if let Some(cpu) = read("cpu.stat").map(|s| parse_flat_keyed(&s)) {
        let secs = |k: &str| cpu.get(k).map(|v| *v as f64 / 1e6);
        u.cpu_usage_seconds = secs("usage_usec");
        u.cpu_user_seconds = secs("user_usec");
        u.cpu_system_seconds = secs("system_usec");
        u.cfs_periods = cpu.get("nr_periods").copied();
        u.cfs_throttled_periods = cpu.get("nr_throttled").copied();
        u.cfs_throttled_seconds = secs("throttled_usec");
    }
    let current = read("memory.current").and_then(|s| s.trim().parse::<u64>().ok());
    u.memory_usage_bytes = current.map(|v| v as f64);
    if let Some(stat) = read("memory.stat").map(|s| parse_flat_keyed(&s)) {
        let get = |k: &str| stat.get(k).map(|v| *v as f64);
        u.memory_rss_bytes = get("anon");
        u.memory_cache_bytes = get("file");
        u.memory_mapped_file_bytes = get("file_mapped");
        u.memory_working_set_bytes = working_set(current, stat.get("inactive_file").copied());
    }
    u.memory_limit_bytes = read("memory.max")
        .and_then(|s| parse_limit(&s))
        .map(memory_limit_value);
    if let Some((quota, period)) = read("cpu.max").and_then(|s| parse_cpu_max(&s)) {
        u.cpu_quota_us = quota;
        u.cpu_period_us = Some(period);
    }
    u.oom_kills = read("memory.events").and_then(|s| parse_flat_keyed(&s).get("oom_kill").copied());
    u.threads = read("pids.current").and_then(|s| s.trim().parse().ok());
    u.threads_max = read("pids.max").and_then(|s| parse_limit(&s)).flatten();
    u.pids = read("cgroup.procs").map(|s| parse_procs(&s));
    u
}

/// The v1 controllers, for [`usage_v1`]'s reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// `cpu`: CFS throttling and quota.
    Cpu,
    /// `cpuacct`: CPU usage.
    Cpuacct,
    /// `memory`.
    Memory,
    /// `pids`.
    Pids,
}

/// Reads the usage of a v1 cgroup through `read(controller, file name)`.
pub fn usage_v1(read: &dyn Fn(Controller, &str) -> Option<String>, hz: f64) -> CgroupUsage {
    use Controller::{Cpu, Cpuacct, Memory, Pids};
    let mut u = CgroupUsage {
        cpu_usage_seconds: read(Cpuacct, "cpuacct.usage")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|ns| ns as f64 / 1e9),
        ..CgroupUsage::default()
    };
    if let Some(st) = read(Cpuacct, "cpuacct.stat").map(|s| parse_flat_keyed(&s)) {
        u.cpu_user_seconds = st.get("user").map(|t| *t as f64 / hz);
        u.cpu_system_seconds = st.get("system").map(|t| *t as f64 / hz);
    }
    if let Some(st) = read(Cpu, "cpu.stat").map(|s| parse_flat_keyed(&s)) {
        u.cfs_periods = st.get("nr_periods").copied();
        u.cfs_throttled_periods = st.get("nr_throttled").copied();
        u.cfs_throttled_seconds = st.get("throttled_time").map(|ns| *ns as f64 / 1e9);
    }
    // -1 means no quota; it does not parse as u64, which is what we want.
    u.cpu_quota_us = read(Cpu, "cpu.cfs_quota_us").and_then(|s| s.trim().parse().ok());
    u.cpu_period_us = read(Cpu, "cpu.cfs_period_us").and_then(|s| s.trim().parse().ok());
    let usage = read(Memory, "memory.usage_in_bytes").and_then(|s| s.trim().parse::<u64>().ok());
    u.memory_usage_bytes = usage.map(|v| v as f64);
    if let Some(st) = read(Memory, "memory.stat").map(|s| parse_flat_keyed(&s)) {
        // The total_ fields include descendant cgroups, as usage does.
        let get = |k: &str| st.get(&format!("total_{k}")).or_else(|| st.get(k)).copied();
        u.memory_rss_bytes = get("rss").map(|v| v as f64);
        u.memory_cache_bytes = get("cache").map(|v| v as f64);
        u.memory_mapped_file_bytes = get("mapped_file").map(|v| v as f64);
        u.memory_working_set_bytes = working_set(usage, get("inactive_file"));
    }
    u.memory_limit_bytes = read(Memory, "memory.limit_in_bytes")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|v| memory_limit_value(Some(v)));
    u.oom_kills = read(Memory, "memory.oom_control")
        .and_then(|s| parse_flat_keyed(&s).get("oom_kill").copied());
    u.threads = read(Pids, "pids.current").and_then(|s| s.trim().parse().ok());
    u.threads_max = read(Pids, "pids.max")
        .and_then(|s| parse_limit(&s))
        .flatten();
    u.pids = read(Pids, "cgroup.procs")
        .or_else(|| read(Memory, "cgroup.procs"))
        .or_else(|| read(Cpuacct, "cgroup.procs"))
        .map(|s| parse_procs(&s));
    u
}

fn read_file(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(err) => {
            tracing::debug!(path = %path.display(), error = %err, "resource metrics: cgroup file skipped");
            None
        }
    }
}

/// Reads a cgroup's usage from its directories.
pub fn read_usage(dirs: &CgroupDirs, hz: f64) -> CgroupUsage {
    match dirs {
        CgroupDirs::V2(dir) => usage_v2(&|f| read_file(&dir.join(f))),
        CgroupDirs::V1 {
            cpu,
            cpuacct,
            memory,
            pids,
        } => usage_v1(
            &|c, f| {
                let dir = match c {
                    Controller::Cpu => cpu,
                    Controller::Cpuacct => cpuacct,
                    Controller::Memory => memory,
                    Controller::Pids => pids,
                };
                read_file(&dir.as_ref()?.join(f))
            },
            hz,
        ),
    }
}

#[cfg(test)]
mod tests;
