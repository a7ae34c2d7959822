//! Host resource metrics from procfs, under node_exporter's metric names,
//! label names, units and help texts, so dashboards and alerts written for
//! node_exporter work on steward's own series.
//!
//! Files are parsed by hand (see [`parse`]) rather than with the `procfs`
//! crate: the handful of files needed are simple, the parsers stay pure
//! functions over `&str` that fixtures can test, and node_exporter's naming
//! rules (meminfo's `_bytes` suffixes, which modes and columns exist) are
//! applied in one place without mapping another crate's structs back.
//! Each file is read independently; a file that cannot be read costs only
//! its own metrics and is logged at debug level.

pub mod parse;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;

use self::parse::{CPU_MODES, NETDEV_FIELDS};
use super::text::{Exposition, Kind};
use crate::{Error, Labels, Result};

/// node_exporter's default `--collector.filesystem.mount-points-exclude`
/// on Linux.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// node_exporter's default `--collector.filesystem.fs-types-exclude` on
/// Linux: pseudo and read-only image filesystems.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// node_exporter's default `--collector.diskstats.device-exclude`: RAM
/// disks, loop devices, floppies and partitions (their whole disk is
/// counted already).
pub const DEFAULT_DISK_DEVICES_EXCLUDE: &str =
    r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// USER_HZ, the unit of /proc/stat's and /proc/<pid>/stat's CPU times. The
/// kernel fixes it at 100 on every architecture Linux exports to user space
/// with a different HZ; node_exporter (through prometheus/procfs) hardcodes
/// 100 too. sysconf is asked anyway and 100 used if it answers nothing.
pub(crate) fn user_hz() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(v)) if v > 0 => v as f64,
        _ => 100.0,
    }
}

/// What the host collector reads and which filesystems and disks it skips.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Where procfs is mounted (`/proc`); a different root lets tests and
    /// containerised deployments point at another tree.
    pub proc_root: PathBuf,
    /// Mount points not reported.
    pub mount_points_exclude: Regex,
    /// Filesystem types not reported.
    pub fs_types_exclude: Regex,
    /// Block devices not reported.
    pub disk_devices_exclude: Regex,
    /// How long one statvfs may take before its mount point is reported as
    /// a device error and skipped until the call returns (a hung network
    /// filesystem must not stall every scrape).
    pub statfs_timeout: Duration,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            mount_points_exclude: Regex::new(DEFAULT_MOUNT_POINTS_EXCLUDE)
                .expect("constant pattern compiles"),
            fs_types_exclude: Regex::new(DEFAULT_FS_TYPES_EXCLUDE)
                .expect("constant pattern compiles"),
            disk_devices_exclude: Regex::new(DEFAULT_DISK_DEVICES_EXCLUDE)
                .expect("constant pattern compiles"),
            statfs_timeout: Duration::from_secs(5),
        }
    }
}

/// The sizes statvfs reports for one filesystem, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    /// Total size.
    pub size: f64,
    /// Free space.
    pub free: f64,
    /// Space available to unprivileged users.
    pub avail: f64,
    /// Total inodes.
    pub files: f64,
    /// Free inodes.
    pub files_free: f64,
    /// Whether statvfs reports the mount read-only.
    pub read_only: bool,
}

/// The host's metrics in the Prometheus text format.
///
/// Fails only when /proc/stat cannot be read, which means `proc_root` is not
/// a procfs at all; any other unreadable file just leaves its metrics out.
pub fn host_exposition(opts: &HostOptions) -> Result<String> {
    Ok(collect_host(opts, &statfs_bounded(opts.statfs_timeout))?.render())
}

fn read(root: &Path, rel: &str) -> Option<String> {
    let path = root.join(rel);
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "resource metrics: file skipped");
            None
        }
    }
}

/// Collects everything, with `statfs` standing in for statvfs(3) so tests
/// can use a fixture mount table.
pub(crate) fn collect_host(
    opts: &HostOptions,
    statfs: &dyn Fn(&str) -> Option<std::io::Result<FsStats>>,
) -> Result<Exposition> {
    let root = opts.proc_root.as_path();
    let stat_path = root.join("stat");
    let stat = std::fs::read_to_string(&stat_path).map_err(|source| Error::ProcRead {
        path: stat_path,
        source,
    })?;
    let mut e = Exposition::default();
    stat_metrics(&mut e, &parse::parse_stat(&stat), user_hz());

    if let Some(l) = read(root, "loadavg").and_then(|s| parse::parse_loadavg(&s)) {
        for (name, v, w) in [
            ("node_load1", l[0], "1m"),
            ("node_load5", l[1], "5m"),
            ("node_load15", l[2], "15m"),
        ] {
            e.add_plain(name, &format!("{w} load average."), Kind::Gauge, v);
        }
    }
    if let Some(s) = read(root, "meminfo") {
        meminfo_metrics(&mut e, &parse::parse_meminfo(&s));
    }
    let mounts = read(root, "1/mounts").or_else(|| read(root, "mounts"));
    if let Some(s) = mounts {
        filesystem_metrics(&mut e, opts, &parse::parse_mounts(&s), statfs);
    }
    if let Some(s) = read(root, "net/dev") {
        netdev_metrics(&mut e, &parse::parse_net_dev(&s));
    }
    pressure_metrics(&mut e, root);
    if let Some(s) = read(root, "diskstats") {
        disk_metrics(&mut e, opts, &parse::parse_diskstats(&s));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    e.add_plain(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        Kind::Gauge,
        now,
    );
    uname_metric(&mut e);
    Ok(e)
}

pub(crate) fn stat_metrics(e: &mut Exposition, st: &parse::ProcStat, hz: f64) {
    for c in &st.cpus {
        for (mode, ticks) in CPU_MODES.iter().zip(c.ticks) {
            e.add(
                "node_cpu_seconds_total",
                "Seconds the CPUs spent in each mode.",
                Kind::Counter,
                Labels::from_pairs([("cpu", c.cpu.as_str()), ("mode", mode)]),
                ticks as f64 / hz,
            );
        }
    }
    for c in &st.cpus {
        for (mode, ticks) in [("user", c.ticks[8]), ("nice", c.ticks[9])] {
            e.add(
                "node_cpu_guest_seconds_total",
                "Seconds the CPUs spent in guests (VMs) for each mode.",
                Kind::Counter,
                Labels::from_pairs([("cpu", c.cpu.as_str()), ("mode", mode)]),
                ticks as f64 / hz,
            );
        }
    }
    let plain = [
        (
            "node_intr_total",
            "Total number of interrupts serviced.",
            Kind::Counter,
            st.intr,
        ),
        (
            "node_context_switches_total",
            "Total number of context switches.",
            Kind::Counter,
            st.ctxt,
        ),
        (
            "node_forks_total",
            "Total number of forks.",
            Kind::Counter,
            st.processes,
        ),
        (
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            Kind::Gauge,
            st.btime,
        ),
        (
            "node_procs_running",
            "Number of processes in runnable state.",
            Kind::Gauge,
            st.procs_running,
        ),
        (
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            Kind::Gauge,
            st.procs_blocked,
        ),
    ];
    for (name, help, kind, v) in plain {
        if let Some(v) = v {
            e.add_plain(name, help, kind, v as f64);
        }
    }
}

pub(crate) fn meminfo_metrics(e: &mut Exposition, fields: &[(String, f64)]) {
    for (field, v) in fields {
        // node_exporter types the cumulative fields (none today, but the
        // rule is theirs) as counters by their `_total` suffix.
        let kind = if field.ends_with("_total") {
            Kind::Counter
        } else {
            Kind::Gauge
        };
        e.add_plain(
            &format!("node_memory_{field}"),
            &format!("Memory information field {field}."),
            kind,
            *v,
        );
    }
}

pub(crate) fn filesystem_metrics(
    e: &mut Exposition,
    opts: &HostOptions,
    mounts: &[parse::Mount],
    statfs: &dyn Fn(&str) -> Option<std::io::Result<FsStats>>,
) {
    let mut seen = std::collections::HashSet::new();
    for m in mounts {
        if opts.mount_points_exclude.is_match(&m.mount_point)
            || opts.fs_types_exclude.is_match(&m.fs_type)
            || !seen.insert((&m.device, &m.mount_point, &m.fs_type))
        {
            continue;
        }
        let labels = Labels::from_pairs([
            ("device", m.device.as_str()),
            ("fstype", m.fs_type.as_str()),
            ("mountpoint", m.mount_point.as_str()),
        ]);
        let stats = match statfs(&m.mount_point) {
            Some(Ok(s)) => Some(s),
            Some(Err(err)) => {
                tracing::debug!(mount_point = %m.mount_point, error = %err, "resource metrics: statvfs failed");
                None
            }
            None => None,
        };
        e.add(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            Kind::Gauge,
            labels.clone(),
            if stats.is_some() { 0.0 } else { 1.0 },
        );
        e.add(
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            Kind::Gauge,
            labels.clone(),
            if m.read_only || stats.is_some_and(|s| s.read_only) {
                1.0
            } else {
                0.0
            },
        );
        let Some(s) = stats else { continue };
        for (name, help, v) in [
            (
                "node_filesystem_size_bytes",
                "Filesystem size in bytes.",
                s.size,
            ),
            (
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                s.free,
            ),
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                s.avail,
            ),
            (
                "node_filesystem_files",
                "Filesystem total file nodes.",
                s.files,
            ),
            (
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                s.files_free,
            ),
        ] {
            e.add(name, help, Kind::Gauge, labels.clone(), v);
        }
    }
}

static STUCK_MOUNTS: parking_lot::Mutex<Vec<String>> = parking_lot::Mutex::new(Vec::new());

/// statvfs(3) in a thread with a deadline. A mount point whose call does not
/// return in time is remembered and skipped until that call finally
/// returns, as node_exporter does, so one hung NFS server costs one thread
/// rather than one thread per scrape.
fn statfs_bounded(timeout: Duration) -> impl Fn(&str) -> Option<std::io::Result<FsStats>> {
    move |mount_point: &str| {
        if STUCK_MOUNTS.lock().iter().any(|m| m == mount_point) {
            tracing::debug!(
                mount_point,
                "resource metrics: mount point still stuck in statvfs"
            );
            return None;
        }
        // A rendezvous channel: the worker's send succeeds only while we
        // wait, so after the deadline it fails and the worker knows to clear
        // the stuck mark itself.
        let (tx, rx) = mpsc::sync_channel(0);
        let mp = mount_point.to_owned();
        let spawned = std::thread::Builder::new()
            .name("steward-statfs".into())
            .spawn(move || {
                let r = statfs_now(&mp);
                if tx.send(r).is_err() {
                    STUCK_MOUNTS.lock().retain(|m| m != &mp);
                }
            });
        if let Err(err) = spawned {
            return Some(Err(err));
        }
        match rx.recv_timeout(timeout) {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::debug!(mount_point, "resource metrics: statvfs timed out");
                STUCK_MOUNTS.lock().push(mount_point.to_owned());
                drop(rx);
                None
            }
        }
    }
}

/// statvfs(3), sizes in bytes from `f_bsize` as node_exporter computes them
/// (it multiplies statfs' block counts by `Bsize`).
pub(crate) fn statfs_now(mount_point: &str) -> std::io::Result<FsStats> {
    let s = nix::sys::statvfs::statvfs(mount_point).map_err(std::io::Error::from)?;
    let bsize = s.block_size() as f64;
    Ok(FsStats {
        size: s.blocks() as f64 * bsize,
        free: s.blocks_free() as f64 * bsize,
        avail: s.blocks_available() as f64 * bsize,
        files: s.files() as f64,
        files_free: s.files_free() as f64,
        read_only: s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
    })
}

pub(crate) fn netdev_metrics(e: &mut Exposition, devs: &[parse::NetDev]) {
    for (i, field) in NETDEV_FIELDS.iter().enumerate() {
        let name = format!("node_network_{field}_total");
        let help = format!("Network device statistic {field}.");
        for d in devs {
            e.add(
                &name,
                &help,
                Kind::Counter,
                Labels::from_pairs([("device", d.device.as_str())]),
                d.counters[i] as f64,
            );
        }
    }
}

fn pressure_metrics(e: &mut Exposition, root: &Path) {
    // Absent on kernels without PSI, so not even a debug line for that.
    if !root.join("pressure").is_dir() {
        return;
    }
    for resource in ["cpu", "memory", "io"] {
        if let Some(s) = read(root, &format!("pressure/{resource}")) {
            pressure_resource_metrics(e, resource, parse::parse_pressure(&s));
        }
    }
}

pub(crate) fn pressure_resource_metrics(e: &mut Exposition, resource: &str, p: parse::Pressure) {
    let what = match resource {
        "cpu" => "CPU time",
        "memory" => "memory",
        _ => "IO",
    };
    let congestion = match resource {
        "cpu" => "CPU",
        "memory" => "memory",
        _ => "IO",
    };
    if let Some(us) = p.some_us {
        let help = if resource == "io" {
            "Total time in seconds that processes have waited due to IO congestion".to_owned()
        } else {
            format!("Total time in seconds that processes have waited for {what}")
        };
        e.add_plain(
            &format!("node_pressure_{resource}_waiting_seconds_total"),
            &help,
            Kind::Counter,
            us as f64 / 1e6,
        );
    }
    if let Some(us) = p.full_us {
        e.add_plain(
            &format!("node_pressure_{resource}_stalled_seconds_total"),
            &format!("Total time in seconds no process could make progress due to {congestion} congestion"),
            Kind::Counter,
            us as f64 / 1e6,
        );
    }
}

/// 512: /proc/diskstats counts sectors in 512-byte units whatever the
/// device's sector size.
const DISKSTATS_SECTOR: f64 = 512.0;

pub(crate) fn disk_metrics(e: &mut Exposition, opts: &HostOptions, disks: &[parse::DiskStats]) {
    type Get = fn(&parse::DiskStats) -> f64;
    let families: [(&str, &str, Get); 7] = [
        (
            "node_disk_reads_completed_total",
            "The total number of reads completed successfully.",
            |d| d.reads_completed as f64,
        ),
        (
            "node_disk_read_bytes_total",
            "The total number of bytes read successfully.",
            |d| d.sectors_read as f64 * DISKSTATS_SECTOR,
        ),
        (
            "node_disk_read_time_seconds_total",
            "The total number of seconds spent by all reads.",
            |d| d.read_time_ms as f64 / 1000.0,
        ),
        (
            "node_disk_writes_completed_total",
            "The total number of writes completed successfully.",
            |d| d.writes_completed as f64,
        ),
        (
            "node_disk_written_bytes_total",
            "The total number of bytes written successfully.",
            |d| d.sectors_written as f64 * DISKSTATS_SECTOR,
        ),
        (
            "node_disk_write_time_seconds_total",
            "This is the total number of seconds spent by all writes.",
            |d| d.write_time_ms as f64 / 1000.0,
        ),
        (
            "node_disk_io_time_seconds_total",
            "Total seconds spent doing I/Os.",
            |d| d.io_time_ms as f64 / 1000.0,
        ),
    ];
    for (name, help, get) in families {
        for d in disks
            .iter()
            .filter(|d| !opts.disk_devices_exclude.is_match(&d.device))
        {
            e.add(
                name,
                help,
                Kind::Counter,
                Labels::from_pairs([("device", d.device.as_str())]),
                get(d),
            );
        }
    }
}

fn uname_metric(e: &mut Exposition) {
    let u = match nix::sys::utsname::uname() {
        Ok(u) => u,
        Err(err) => {
            tracing::debug!(error = %err, "resource metrics: uname failed");
            return;
        }
    };
    let s = |o: &std::ffi::OsStr| o.to_string_lossy().into_owned();
    e.add(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        Kind::Gauge,
        Labels::from_pairs([
            ("domainname", s(u.domainname())),
            ("machine", s(u.machine())),
            ("nodename", s(u.nodename())),
            ("release", s(u.release())),
            ("sysname", s(u.sysname())),
            ("version", s(u.version())),
        ]),
        1.0,
    );
}

#[cfg(test)]
mod tests;
