//! Pure parsers of the /proc files the host collector reads, each taking
//! the file's contents so they can be tested from fixtures.
//!
//! Lines that do not parse are skipped rather than failing the file: the
//! kernel adds fields and lines over versions, and one odd line must not
//! cost every other metric of the file.

/// The per-CPU time counters of one `cpuN` line of /proc/stat, in ticks of
/// USER_HZ.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuTimes {
    /// The CPU number (`0` for `cpu0`).
    pub cpu: String,
    /// user, nice, system, idle, iowait, irq, softirq, steal, guest,
    /// guest_nice, in that order; missing trailing fields (old kernels) are 0.
    pub ticks: [u64; 10],
}

/// The modes of /proc/stat's cpu lines, in file order, as node_exporter
/// names them; guest and guest_nice are exposed separately.
pub const CPU_MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// What the host collector uses of /proc/stat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcStat {
    /// One entry per `cpuN` line (the aggregate `cpu` line is left out).
    pub cpus: Vec<CpuTimes>,
    /// `intr`: the total number of interrupts serviced.
    pub intr: Option<u64>,
    /// `ctxt`: context switches.
    pub ctxt: Option<u64>,
    /// `btime`: boot time, seconds since the epoch.
    pub btime: Option<u64>,
    /// `processes`: forks since boot.
    pub processes: Option<u64>,
    /// `procs_running`.
    pub procs_running: Option<u64>,
    /// `procs_blocked`.
    pub procs_blocked: Option<u64>,
}

/// Parses /proc/stat.
pub fn parse_stat(s: &str) -> ProcStat {
    let mut out = ProcStat::default();
    for line in s.lines() {
        let mut it = line.split_ascii_whitespace();
        let Some(key) = it.next() else { continue };
        let first = || line.split_ascii_whitespace().nth(1)?.parse::<u64>().ok();
        match key {
            "intr" => out.intr = first(),
            "ctxt" => out.ctxt = first(),
            "btime" => out.btime = first(),
            "processes" => out.processes = first(),
            "procs_running" => out.procs_running = first(),
            "procs_blocked" => out.procs_blocked = first(),
            k if k.starts_with("cpu") && k.len() > 3 => {
                let cpu = &k[3..];
                if !cpu.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let mut ticks = [0u64; 10];
                let mut ok = true;
                for (slot, field) in ticks.iter_mut().zip(it) {
                    match field.parse() {
                        Ok(v) => *slot = v,
                        Err(_) => ok = false,
                    }
                }
                if ok {
                    out.cpus.push(CpuTimes {
                        cpu: cpu.to_owned(),
                        ticks,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Parses /proc/loadavg into the 1, 5 and 15 minute load averages.
pub fn parse_loadavg(s: &str) -> Option<[f64; 3]> {
    let mut it = s.split_ascii_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Parses /proc/meminfo into (metric suffix, value) pairs named as
/// node_exporter names them: `Active(anon)` becomes `Active_anon`, and a
/// field given in kB becomes `<field>_bytes` with the value times 1024
/// (the kernel's "kB" means KiB); unitless fields such as
/// `HugePages_Total` keep their name and value.
pub fn parse_meminfo(s: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in s.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut it = rest.split_ascii_whitespace();
        let Some(Ok(v)) = it.next().map(str::parse::<u64>) else {
            continue;
        };
        let mut name = match key.split_once('(') {
            Some((a, b)) => format!("{a}_{}", b.trim_end_matches(')')),
            None => key.to_owned(),
        };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let mut v = v as f64;
        match it.next() {
            Some("kB") => {
                v *= 1024.0;
                name.push_str("_bytes");
            }
            Some(_) => continue,
            None => {}
        }
        out.push((name, v));
    }
    out
}

/// One mount of /proc/mounts (or /proc/1/mounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mounted device or source.
    pub device: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// The filesystem type.
    pub fs_type: String,
    /// Whether the options include `ro`.
    pub read_only: bool,
}

/// Parses the fstab-like /proc/mounts; the kernel writes space, tab,
/// newline and backslash in paths as octal escapes (`\040`), which are
/// decoded.
pub fn parse_mounts(s: &str) -> Vec<Mount> {
    s.lines()
        .filter_map(|line| {
            let mut it = line.split_ascii_whitespace();
            let device = unescape_octal(it.next()?);
            let mount_point = unescape_octal(it.next()?);
            let fs_type = unescape_octal(it.next()?);
            let read_only = it.next()?.split(',').any(|o| o == "ro");
            Some(Mount {
                device,
                mount_point,
                fs_type,
                read_only,
            })
        })
        .collect()
}

/// Decodes the kernel's `\ooo` escapes in /proc mount tables.
pub(crate) fn unescape_octal(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The counters of one interface in /proc/net/dev, in file order: receive
/// bytes, packets, errs, drop, fifo, frame, compressed, multicast, then
/// transmit bytes, packets, errs, drop, fifo, colls, carrier, compressed.
#[derive(Debug, Clone, PartialEq)]
pub struct NetDev {
    /// The interface name.
    pub device: String,
    /// The sixteen counters.
    pub counters: [u64; 16],
}

/// The node_exporter names of the /proc/net/dev columns, without the
/// `node_network_` prefix and `_total` suffix.
pub const NETDEV_FIELDS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// Parses /proc/net/dev (two header lines, then `name: 16 counters`).
pub fn parse_net_dev(s: &str) -> Vec<NetDev> {
    s.lines()
        .filter_map(|line| {
            // Interface names cannot contain ':', so the first one ends it;
            // long names may run into the first number without a space.
            let (name, rest) = line.split_once(':')?;
            let device = name.trim();
            if device.is_empty() || device.contains('|') {
                return None;
            }
            let mut counters = [0u64; 16];
            let mut n = 0;
            for (slot, f) in counters.iter_mut().zip(rest.split_ascii_whitespace()) {
                *slot = f.parse().ok()?;
                n += 1;
            }
            (n == 16).then(|| NetDev {
                device: device.to_owned(),
                counters,
            })
        })
        .collect()
}

/// The cumulative stall times of one /proc/pressure file, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pressure {
    /// `some ... total=`: time at least one task was stalled.
    pub some_us: Option<u64>,
    /// `full ... total=`: time all non-idle tasks were stalled.
    pub full_us: Option<u64>,
}

/// Parses a /proc/pressure/{cpu,memory,io} file.
pub fn parse_pressure(s: &str) -> Pressure {
    let mut out = Pressure::default();
    for line in s.lines() {
        let mut it = line.split_ascii_whitespace();
        let kind = it.next();
        let total = it
            .find_map(|f| f.strip_prefix("total="))
            .and_then(|v| v.parse().ok());
        match kind {
            Some("some") => out.some_us = total,
            Some("full") => out.full_us = total,
            _ => {}
        }
    }
    out
}

/// The counters node_exporter derives from one line of /proc/diskstats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskStats {
    /// The block device name.
    pub device: String,
    /// Reads completed.
    pub reads_completed: u64,
    /// Sectors read (always 512-byte units in this file).
    pub sectors_read: u64,
    /// Milliseconds spent reading.
    pub read_time_ms: u64,
    /// Writes completed.
    pub writes_completed: u64,
    /// Sectors written.
    pub sectors_written: u64,
    /// Milliseconds spent writing.
    pub write_time_ms: u64,
    /// Milliseconds spent doing I/O.
    pub io_time_ms: u64,
}

/// Parses /proc/diskstats (`major minor name` then at least 11 counters).
pub fn parse_diskstats(s: &str) -> Vec<DiskStats> {
    s.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let n = |i: usize| f[i].parse::<u64>().ok();
            Some(DiskStats {
                device: f[2].to_owned(),
                reads_completed: n(3)?,
                sectors_read: n(5)?,
                read_time_ms: n(6)?,
                writes_completed: n(7)?,
                sectors_written: n(9)?,
                write_time_ms: n(10)?,
                io_time_ms: n(12)?,
            })
        })
        .collect()
}
