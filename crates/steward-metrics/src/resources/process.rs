//! Resource usage of a process replica: the process tree under its root pid
//! (the root and every descendant), read from /proc.
//!
//! The tree is found from one scan of /proc/<pid>/stat parent pids per
//! collection rather than /proc/<pid>/task/*/children, which needs
//! CONFIG_PROC_CHILDREN and misses children of non-leader threads only in
//! ways that are awkward to get right.

use std::collections::HashMap;
use std::path::Path;

/// The fields of /proc/<pid>/stat used here (man 5 proc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidStat {
    /// The process id.
    pub pid: u32,
    /// The parent's process id.
    pub ppid: u32,
    /// The state letter (`R`, `S`, `Z`...).
    pub state: char,
    /// User-mode CPU time, in USER_HZ ticks.
    pub utime: u64,
    /// Kernel-mode CPU time, in ticks.
    pub stime: u64,
    /// User time of waited-for children, in ticks.
    pub cutime: u64,
    /// Kernel time of waited-for children, in ticks.
    pub cstime: u64,
    /// Threads in the process.
    pub num_threads: u64,
    /// Start time, in ticks after boot.
    pub starttime: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// Parses /proc/<pid>/stat. The command name is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted from the last
/// `)`.
pub fn parse_pid_stat(s: &str) -> Option<PidStat> {
    let pid = s.split_once(' ')?.0.trim().parse().ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    // rest starts at field 3 (state); field n is at index n - 3.
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let n = |field: usize| f.get(field - 3)?.parse::<u64>().ok();
    // rss may be negative in theory (a signed long); treat that as 0.
    let rss = f.get(24 - 3)?.parse::<i64>().ok()?;
    Some(PidStat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: u32::try_from(n(4)?).ok()?,
        utime: n(14)?,
        stime: n(15)?,
        cutime: n(16)?,
        cstime: n(17)?,
        num_threads: n(20)?,
        starttime: n(22)?,
        rss_pages: u64::try_from(rss).unwrap_or(0),
    })
}

/// The root and all its descendants, root first, given every process's
/// stat. Empty when the root is not among them (it exited).
pub fn process_tree(root: u32, all: &HashMap<u32, PidStat>) -> Vec<u32> {
    if !all.contains_key(&root) {
        return Vec::new();
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for s in all.values() {
        if s.pid != s.ppid {
            children.entry(s.ppid).or_default().push(s.pid);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            for pid in c {
                // pid reuse can in principle make a cycle through stale data
                if !out.contains(pid) {
                    out.push(*pid);
                }
            }
        }
        i += 1;
    }
    out
}

/// Reads /proc/<pid>/stat of every process under `proc_root`. Processes
/// that exit during the scan are simply missing.
pub fn scan_processes(proc_root: &Path) -> HashMap<u32, PidStat> {
    let mut out = HashMap::new();
    let dir = match std::fs::read_dir(proc_root) {
        Ok(d) => d,
        Err(err) => {
            tracing::debug!(path = %proc_root.display(), error = %err, "resource metrics: cannot list processes");
            return out;
        }
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(s) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| parse_pid_stat(&s))
        {
            out.insert(pid, s);
        }
    }
    out
}

/// The summed usage of a process tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeUsage {
    /// User plus system CPU seconds of the live processes and of the
    /// children they waited for (see [`tree_usage`]).
    pub cpu_seconds: f64,
    /// User-mode part of `cpu_seconds`.
    pub cpu_user_seconds: f64,
    /// Kernel-mode part of `cpu_seconds`.
    pub cpu_system_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: f64,
    /// Threads.
    pub threads: u64,
    /// Processes.
    pub processes: u64,
    /// Open file descriptors; `None` when some process's fd directory was
    /// unreadable (another user's process), since a partial count would look
    /// like a drop.
    pub fds: Option<u64>,
    /// The root's start time, seconds since the epoch (needs boot time).
    pub start_time_seconds: Option<f64>,
}

/// Sums the tree's usage. The CPU time includes each live process's
/// `cutime`/`cstime` so that the counter does not drop when a child exits
/// and is reaped: the kernel moves the child's time into its parent's
/// children fields at that moment.
pub fn tree_usage(
    tree: &[u32],
    all: &HashMap<u32, PidStat>,
    hz: f64,
    page_size: f64,
    boot_time: Option<f64>,
    fd_count: &dyn Fn(u32) -> Option<u64>,
) -> Option<TreeUsage> {
    let root = all.get(tree.first()?)?;
    let mut u = TreeUsage {
        cpu_seconds: 0.0,
        cpu_user_seconds: 0.0,
        cpu_system_seconds: 0.0,
        rss_bytes: 0.0,
        threads: 0,
        processes: 0,
        fds: Some(0),
        start_time_seconds: boot_time.map(|b| b + root.starttime as f64 / hz),
    };
    // Ticks are summed as integers and divided once, so the counter is the
    // same float however the tree is ordered.
    let (mut user, mut system) = (0u64, 0u64);
    for pid in tree {
        let Some(s) = all.get(pid) else { continue };
        user += s.utime + s.cutime;
        system += s.stime + s.cstime;
        u.rss_bytes += s.rss_pages as f64 * page_size;
        u.threads += s.num_threads;
        u.processes += 1;
        // A zombie has no fd directory left to count.
        if s.state != 'Z' {
            u.fds = match (u.fds, fd_count(*pid)) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
    }
    u.cpu_user_seconds = user as f64 / hz;
    u.cpu_system_seconds = system as f64 / hz;
    u.cpu_seconds = (user + system) as f64 / hz;
    Some(u)
}

/// The number of entries in /proc/<pid>/fd.
pub fn count_fds(proc_root: &Path, pid: u32) -> Option<u64> {
    let path = proc_root.join(pid.to_string()).join("fd");
    match std::fs::read_dir(&path) {
        Ok(d) => Some(d.count() as u64),
        Err(err) => {
            tracing::debug!(path = %path.display(), error = %err, "resource metrics: cannot count fds");
            None
        }
    }
}

/// The page size, the unit of /proc/<pid>/stat's rss.
pub(crate) fn page_size() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(v)) if v > 0 => v as f64,
        _ => 4096.0,
    }
}

#[cfg(test)]
mod tests;
