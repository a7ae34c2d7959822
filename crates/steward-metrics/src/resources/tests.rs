//! Tests of the replica collector, a strict reader of the text format the
//! other tests share, and the comparison with a running node_exporter.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// One sample of a rendered exposition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// Reads the text format strictly enough to catch what a Prometheus parser
/// would refuse: names, quoting, one HELP and TYPE per family ahead of its
/// samples, families not interleaved, no duplicate series. Panics with the
/// offending line.
pub(crate) fn read_exposition(text: &str) -> Vec<Line> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
    };
    let mut out = Vec::new();
    let mut typed = BTreeSet::new();
    let mut helped = BTreeSet::new();
    let mut finished = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut it = rest.splitn(3, ' ');
            let (kw, name) = (it.next().unwrap(), it.next().unwrap());
            assert!(name_ok(name), "bad name in {line:?}");
            if current.as_deref() != Some(name) {
                if let Some(c) = current.take() {
                    finished.insert(c);
                }
                current = Some(name.to_owned());
            }
            assert!(!finished.contains(name), "family {name} interleaved");
            match kw {
                "HELP" => assert!(helped.insert(name.to_owned()), "second HELP: {line:?}"),
                "TYPE" => {
                    let t = it.next().unwrap();
                    assert!(["counter", "gauge", "untyped"].contains(&t), "{line:?}");
                    assert!(typed.insert(name.to_owned()), "second TYPE: {line:?}");
                }
                _ => panic!("unexpected comment {line:?}"),
            }
            continue;
        }
        let (head, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head, BTreeMap::new()),
            Some((n, rest)) => (
                n,
                read_labels(rest.strip_suffix('}').expect("closing brace"), line),
            ),
        };
        assert!(name_ok(name), "bad name in {line:?}");
        assert_eq!(
            current.as_deref(),
            Some(name),
            "sample outside its family: {line:?}"
        );
        assert!(
            series.insert((name.to_owned(), labels.clone())),
            "duplicate series {line:?}"
        );
        out.push(Line {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn read_labels(s: &str, line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "unquoted value in {line:?}");
        let mut value = String::new();
        loop {
            match chars
                .next()
                .unwrap_or_else(|| panic!("unterminated value in {line:?}"))
            {
                '"' => break,
                '\\' => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    c => panic!("bad escape {c:?} in {line:?}"),
                },
                c => value.push(c),
            }
        }
        assert!(
            out.insert(name, value).is_none(),
            "repeated label in {line:?}"
        );
        match chars.next() {
            Some(',') => {}
            None => break,
            c => panic!("unexpected {c:?} in {line:?}"),
        }
    }
    out
}

pub(crate) fn values<'a>(lines: &'a [Line], name: &str) -> Vec<&'a Line> {
    lines.iter().filter(|l| l.name == name).collect()
}

fn labels() -> Labels {
    Labels::from_pairs([("service", "api"), ("version", "v2"), ("replica", "api-1")])
}

#[test]
fn a_stopped_replica_reports_only_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let out = replica_exposition_at(
        dir.path(),
        &[ReplicaRef {
            labels: labels(),
            source: ReplicaSource::Stopped,
            restarts: 3,
        }],
    );
    assert_eq!(
        out,
        "# HELP steward_replica_restarts_total Times steward restarted the replica.\n\
         # TYPE steward_replica_restarts_total counter\n\
         steward_replica_restarts_total{replica=\"api-1\",service=\"api\",version=\"v2\"} 3\n"
    );
}

#[test]
fn a_vanished_process_reports_only_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let out = replica_exposition_at(
        dir.path(),
        &[ReplicaRef {
            labels: labels(),
            source: ReplicaSource::Process { pid: 4242 },
            restarts: 0,
        }],
    );
    let lines = read_exposition(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].name, "steward_replica_restarts_total");
}

/// A fixture procfs with one process tree (10 -> 11 -> 12) and an unrelated
/// process 20.
fn fixture_proc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, s: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    w("stat", "cpu  1 2 3 4 5 6 7 8 0 0\nbtime 1700000000\n");
    let stat = |pid: u32, ppid: u32, utime: u64, threads: u64, start: u64, rss: u64| {
        format!(
            "{pid} (app {pid}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 {utime} 50 7 3 20 0 {threads} 0 {start} 1000000 {rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        )
    };
    w("10/stat", &stat(10, 1, 100, 2, 500, 100));
    w("11/stat", &stat(11, 10, 200, 1, 600, 10));
    w("12/stat", &stat(12, 11, 300, 4, 700, 1));
    w("20/stat", &stat(20, 1, 900, 9, 100, 1000));
    for (pid, fds) in [(10, 3), (11, 2), (12, 1)] {
        for fd in 0..fds {
            w(&format!("{pid}/fd/{fd}"), "");
        }
    }
    dir
}

#[test]
fn a_process_replica_sums_its_tree() {
    let proc = fixture_proc();
    let out = replica_exposition_at(
        proc.path(),
        &[ReplicaRef {
            labels: labels(),
            source: ReplicaSource::Process { pid: 10 },
            restarts: 1,
        }],
    );
    let lines = read_exposition(&out);
    let hz = host::user_hz();
    let page = process::page_size();
    let one = |name: &str| {
        let v = values(&lines, name);
        assert_eq!(v.len(), 1, "{name} in {out}");
        assert_eq!(v[0].labels.get("service").map(String::as_str), Some("api"));
        assert!(!v[0].labels.contains_key("id"));
        v[0].value
    };
    // utime 100+200+300, stime 3*50, cutime 3*7, cstime 3*3
    assert_eq!(
        one("container_cpu_usage_seconds_total"),
        (600.0 + 150.0 + 21.0 + 9.0) / hz
    );
    assert_eq!(one("container_cpu_user_seconds_total"), 621.0 / hz);
    assert_eq!(one("container_memory_rss"), 111.0 * page);
    assert_eq!(one("container_memory_working_set_bytes"), 111.0 * page);
    assert_eq!(one("container_threads"), 7.0);
    assert_eq!(one("container_processes"), 3.0);
    assert_eq!(one("container_file_descriptors"), 6.0);
    assert_eq!(
        one("container_start_time_seconds"),
        1_700_000_000.0 + 500.0 / hz
    );
    assert_eq!(one("steward_replica_restarts_total"), 1.0);
}

#[test]
fn a_cgroup_replica_gets_an_id_label_and_cadvisor_names() {
    let proc = fixture_proc();
    let cg = tempfile::tempdir().unwrap();
    for (f, s) in [
        (
            "cpu.stat",
            "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 1500000\n",
        ),
        ("memory.current", "1000000\n"),
        (
            "memory.stat",
            "anon 600000\nfile 300000\ninactive_file 250000\nfile_mapped 1000\n",
        ),
        ("memory.max", "max\n"),
        ("cpu.max", "50000 100000\n"),
        ("memory.events", "low 0\nhigh 0\nmax 0\noom 2\noom_kill 1\n"),
        ("pids.current", "7\n"),
        ("pids.max", "max\n"),
        ("cgroup.procs", "10\n11\n"),
    ] {
        std::fs::write(cg.path().join(f), s).unwrap();
    }
    let out = replica_exposition_at(
        proc.path(),
        &[ReplicaRef {
            labels: labels(),
            source: ReplicaSource::Cgroup(cgroup::Cgroup {
                id: "/system.slice/docker-abc.scope".into(),
                dirs: cgroup::CgroupDirs::V2(cg.path().to_owned()),
            }),
            restarts: 0,
        }],
    );
    let lines = read_exposition(&out);
    let got: BTreeMap<&str, f64> = lines
        .iter()
        .filter(|l| l.name != "steward_replica_restarts_total")
        .map(|l| {
            assert_eq!(
                l.labels.get("id").unwrap(),
                "/system.slice/docker-abc.scope"
            );
            (l.name.as_str(), l.value)
        })
        .collect();
    let hz = host::user_hz();
    let want: BTreeMap<&str, f64> = [
        ("container_cpu_usage_seconds_total", 2.5),
        ("container_cpu_user_seconds_total", 2.0),
        ("container_cpu_system_seconds_total", 0.5),
        ("container_cpu_cfs_periods_total", 10.0),
        ("container_cpu_cfs_throttled_periods_total", 4.0),
        ("container_cpu_cfs_throttled_seconds_total", 1.5),
        ("container_memory_usage_bytes", 1_000_000.0),
        ("container_memory_working_set_bytes", 750_000.0),
        ("container_memory_rss", 600_000.0),
        ("container_memory_cache", 300_000.0),
        ("container_memory_mapped_file", 1000.0),
        ("container_spec_memory_limit_bytes", 0.0),
        ("container_spec_cpu_quota", 50000.0),
        ("container_spec_cpu_period", 100_000.0),
        ("container_oom_events_total", 1.0),
        ("container_threads", 7.0),
        ("container_threads_max", 0.0),
        ("container_processes", 2.0),
        ("container_file_descriptors", 5.0),
        ("container_start_time_seconds", 1_700_000_000.0 + 500.0 / hz),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    // The caller's id wins over the cgroup path.
    let out = replica_exposition_at(
        proc.path(),
        &[ReplicaRef {
            labels: Labels::from_pairs([("id", "mine")]),
            source: ReplicaSource::Cgroup(cgroup::Cgroup {
                id: "/x".into(),
                dirs: cgroup::CgroupDirs::V2(cg.path().to_owned()),
            }),
            restarts: 0,
        }],
    );
    assert!(
        read_exposition(&out)
            .iter()
            .all(|l| l.labels.get("id").map(String::as_str) == Some("mine"))
    );
}

/// Names compared with node_exporter: every one steward writes.
const COMPARED: &[&str] = &[
    "node_cpu_seconds_total",
    "node_cpu_guest_seconds_total",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_memory_MemTotal_bytes",
    "node_memory_MemFree_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_Buffers_bytes",
    "node_memory_Cached_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes",
    "node_memory_HugePages_Total",
    "node_filesystem_size_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
    "node_filesystem_readonly",
    "node_filesystem_device_error",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_packets_total",
    "node_network_receive_errs_total",
    "node_network_transmit_errs_total",
    "node_network_receive_drop_total",
    "node_network_transmit_drop_total",
    "node_network_transmit_colls_total",
    "node_pressure_cpu_waiting_seconds_total",
    "node_pressure_cpu_stalled_seconds_total",
    "node_pressure_memory_waiting_seconds_total",
    "node_pressure_memory_stalled_seconds_total",
    "node_pressure_io_waiting_seconds_total",
    "node_pressure_io_stalled_seconds_total",
    "node_boot_time_seconds",
    "node_time_seconds",
    "node_context_switches_total",
    "node_intr_total",
    "node_forks_total",
    "node_procs_running",
    "node_procs_blocked",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_disk_reads_completed_total",
    "node_disk_writes_completed_total",
    "node_disk_io_time_seconds_total",
    "node_uname_info",
];

fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .expect("STEWARD_NODE_EXPORTER is an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).expect("node_exporter reachable");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let (head, body) = body.split_once("\r\n\r\n").expect("http response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    body.to_owned()
}

/// node_exporter's samples, comments and lines of types steward does not
/// read skipped, and empty-valued labels dropped (Prometheus treats them as
/// absent, e.g. newer versions' `device_error=""`).
fn read_node_exporter(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (head, v) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match head.split_once('{') {
                None => (head, BTreeMap::new()),
                Some((n, rest)) => (
                    n,
                    read_labels(rest.trim_end_matches('}').trim_end_matches(','), l),
                ),
            };
            Line {
                name: name.to_owned(),
                labels: labels.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
                value: v.parse().unwrap_or(f64::NAN),
            }
        })
        .collect()
}

#[test]
#[allow(clippy::print_stderr)]
fn agrees_with_node_exporter() {
    let Ok(url) = std::env::var("STEWARD_NODE_EXPORTER") else {
        eprintln!(
            "skipping: set STEWARD_NODE_EXPORTER=http://127.0.0.1:9100/metrics to compare with node_exporter"
        );
        return;
    };
    let theirs = read_node_exporter(&http_get(&url));
    let ours = read_exposition(&host_exposition(&HostOptions::default()).unwrap());
    let label_names = |lines: &[Line], name: &str| -> BTreeSet<BTreeSet<String>> {
        values(lines, name)
            .iter()
            .map(|l| l.labels.keys().cloned().collect())
            .collect()
    };
    let mut compared = 0;
    for name in COMPARED {
        let (t, o) = (label_names(&theirs, name), label_names(&ours, name));
        if t.is_empty() || o.is_empty() {
            eprintln!(
                "{name}: node_exporter has {} series, steward {}",
                t.len(),
                o.len()
            );
            continue;
        }
        assert_eq!(t, o, "label names of {name}");
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} names in common");

    let one = |lines: &[Line], name: &str| values(lines, name)[0].value;
    assert_eq!(
        one(&theirs, "node_memory_MemTotal_bytes"),
        one(&ours, "node_memory_MemTotal_bytes")
    );
    assert_eq!(
        one(&theirs, "node_boot_time_seconds"),
        one(&ours, "node_boot_time_seconds")
    );
    assert!((one(&theirs, "node_time_seconds") - one(&ours, "node_time_seconds")).abs() < 60.0);
    let cpus = |lines: &[Line]| -> BTreeSet<String> {
        values(lines, "node_cpu_seconds_total")
            .iter()
            .map(|l| l.labels["cpu"].clone())
            .collect()
    };
    assert_eq!(cpus(&theirs), cpus(&ours));
    // Idle time moves at most a few seconds per CPU between the two reads.
    for t in values(&theirs, "node_cpu_seconds_total") {
        let o = values(&ours, "node_cpu_seconds_total")
            .into_iter()
            .find(|o| o.labels == t.labels)
            .unwrap();
        assert!(
            o.value >= t.value - 0.5 && o.value - t.value < 30.0,
            "{t:?} vs {o:?}"
        );
    }
    let sizes = |lines: &[Line]| -> BTreeMap<String, f64> {
        values(lines, "node_filesystem_size_bytes")
            .iter()
            .map(|l| (l.labels["mountpoint"].clone(), l.value))
            .collect()
    };
    let (ts, os) = (sizes(&theirs), sizes(&ours));
    let common: Vec<_> = ts.keys().filter(|m| os.contains_key(*m)).collect();
    assert!(
        !common.is_empty(),
        "no filesystem in common: {ts:?} vs {os:?}"
    );
    for m in common {
        assert_eq!(ts[m], os[m], "size of {m}");
    }
    let uname = |lines: &[Line]| values(lines, "node_uname_info")[0].labels.clone();
    assert_eq!(uname(&theirs), uname(&ours));
    eprintln!("compared {compared} metric names with node_exporter at {url}");
}

#[test]
fn the_scrapers_parser_reads_what_is_written() {
    let proc = fixture_proc();
    let replicas = replica_exposition_at(
        proc.path(),
        &[ReplicaRef {
            labels: labels(),
            source: ReplicaSource::Process { pid: 10 },
            restarts: 2,
        }],
    );
    let host = host_exposition(&HostOptions::default()).unwrap();
    for text in [host, replicas] {
        let parsed =
            crate::exposition::parse(text.as_bytes(), crate::exposition::TEXT_CONTENT_TYPE)
                .unwrap();
        let ours = read_exposition(&text);
        assert_eq!(parsed.samples.len(), ours.len());
        for (p, o) in parsed.samples.iter().zip(&ours) {
            assert_eq!(p.labels.metric_name(), Some(o.name.as_str()));
            assert_eq!(p.labels.len(), o.labels.len() + 1);
            assert!(p.value == o.value || (p.value.is_nan() && o.value.is_nan()));
            let meta = parsed.metadata_for(&o.name).unwrap();
            assert!(meta.kind.is_some() && meta.help.is_some(), "{meta:?}");
        }
    }
}
