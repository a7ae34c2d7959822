//! Tests of the host collector: parsers against fixtures, the rendering
//! against node_exporter's conventions, and a sanity check of this machine.

use std::collections::BTreeMap;

use super::parse::*;
use super::*;
use crate::resources::tests::{read_exposition, values};

const STAT: &str = "cpu  1000 20 300 40000 50 0 6 7 0 0
cpu0 600 10 200 20000 25 0 3 4 8 9
cpu1 400 10 100 20000 25 0 3 3 0 0
intr 123456 1 2 3 0 0
ctxt 987654
btime 1700000000
processes 4242
procs_running 3
procs_blocked 1
softirq 1 2 3
";

#[test]
fn stat_parses_cpus_and_counters() {
    let s = parse_stat(STAT);
    assert_eq!(s.cpus.len(), 2);
    assert_eq!(s.cpus[0].cpu, "0");
    assert_eq!(s.cpus[0].ticks, [600, 10, 200, 20000, 25, 0, 3, 4, 8, 9]);
    assert_eq!(
        (
            s.intr,
            s.ctxt,
            s.btime,
            s.processes,
            s.procs_running,
            s.procs_blocked
        ),
        (
            Some(123456),
            Some(987654),
            Some(1_700_000_000),
            Some(4242),
            Some(3),
            Some(1)
        )
    );
    // A kernel too old for steal/guest columns gives zeros for them.
    let old = parse_stat("cpu0 1 2 3 4\n");
    assert_eq!(old.cpus[0].ticks, [1, 2, 3, 4, 0, 0, 0, 0, 0, 0]);
    assert!(parse_stat("cpuX 1 2\ncpu0 a b\n").cpus.is_empty());
}

#[test]
fn cpu_ticks_become_seconds_per_mode() {
    let mut e = Exposition::default();
    stat_metrics(&mut e, &parse_stat(STAT), 100.0);
    let lines = read_exposition(&e.render());
    let cpu: BTreeMap<(String, String), f64> = values(&lines, "node_cpu_seconds_total")
        .iter()
        .map(|l| ((l.labels["cpu"].clone(), l.labels["mode"].clone()), l.value))
        .collect();
    assert_eq!(cpu.len(), 16);
    assert_eq!(cpu[&("0".into(), "user".into())], 6.0);
    assert_eq!(cpu[&("0".into(), "idle".into())], 200.0);
    assert_eq!(cpu[&("1".into(), "steal".into())], 0.03);
    let guest: Vec<_> = values(&lines, "node_cpu_guest_seconds_total")
        .iter()
        .map(|l| (l.labels["cpu"].as_str(), l.labels["mode"].as_str(), l.value))
        .collect();
    assert_eq!(guest[..2], [("0", "user", 0.08), ("0", "nice", 0.09)]);
    let one = |n: &str| values(&lines, n)[0].value;
    assert_eq!(one("node_intr_total"), 123456.0);
    assert_eq!(one("node_context_switches_total"), 987654.0);
    assert_eq!(one("node_boot_time_seconds"), 1.7e9);
    assert_eq!(one("node_forks_total"), 4242.0);
    assert_eq!(one("node_procs_running"), 3.0);
    assert_eq!(one("node_procs_blocked"), 1.0);
    assert!(
        e.render()
            .contains("# TYPE node_cpu_seconds_total counter\n")
    );
    assert!(e.render().contains("# TYPE node_procs_running gauge\n"));
}

#[test]
fn loadavg() {
    assert_eq!(
        parse_loadavg("0.52 1.50 10.00 2/345 12345\n"),
        Some([0.52, 1.5, 10.0])
    );
    assert_eq!(parse_loadavg("0.52\n"), None);
}

#[test]
fn meminfo_names_and_units_follow_node_exporter() {
    let got = parse_meminfo(
        "MemTotal:       24684092 kB\nMemFree:  100 kB\nActive(anon):     4096 kB\nHugePages_Total:       2\nHugepagesize:       2048 kB\nbroken line\nWeird: 1 MB\n",
    );
    assert_eq!(
        got,
        [
            ("MemTotal_bytes".to_owned(), 24684092.0 * 1024.0),
            ("MemFree_bytes".to_owned(), 102400.0),
            ("Active_anon_bytes".to_owned(), 4096.0 * 1024.0),
            ("HugePages_Total".to_owned(), 2.0),
            ("Hugepagesize_bytes".to_owned(), 2048.0 * 1024.0),
        ]
    );
    let mut e = Exposition::default();
    meminfo_metrics(&mut e, &got);
    let text = e.render();
    assert!(text.contains(
        "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 25276510208\n"
    ));
    assert!(text.contains("\nnode_memory_HugePages_Total 2\n"));
}

const MOUNTS: &str = "proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
/dev/vdb /mnt/my\\040disk xfs ro,relatime 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
/dev/vda /var/lib/docker ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid 0 0
tmpfs /run tmpfs rw,nosuid 0 0
/dev/vdc /broken ext4 rw 0 0
nsfs /run/docker/netns/x nsfs rw 0 0
";

#[test]
fn mounts_are_unescaped() {
    let m = parse_mounts(MOUNTS);
    assert_eq!(
        m[5],
        Mount {
            device: "/dev/vdb".into(),
            mount_point: "/mnt/my disk".into(),
            fs_type: "xfs".into(),
            read_only: true,
        }
    );
    assert_eq!(unescape_octal(r"a\011b\134c\0"), "a\tb\\c\\0");
}

#[test]
fn filesystems_skip_pseudo_ones_and_report_errors() {
    let statfs = |mp: &str| -> Option<std::io::Result<FsStats>> {
        match mp {
            "/broken" => Some(Err(std::io::Error::from_raw_os_error(5))),
            _ => Some(Ok(FsStats {
                size: 1000.0 * 4096.0,
                free: 500.0 * 4096.0,
                avail: 400.0 * 4096.0,
                files: 100.0,
                files_free: 90.0,
                read_only: false,
            })),
        }
    };
    let mut e = Exposition::default();
    filesystem_metrics(
        &mut e,
        &HostOptions::default(),
        &parse_mounts(MOUNTS),
        &statfs,
    );
    let lines = read_exposition(&e.render());
    let by_mp = |name: &str| -> BTreeMap<String, f64> {
        values(&lines, name)
            .iter()
            .map(|l| {
                assert_eq!(
                    l.labels.keys().collect::<Vec<_>>(),
                    ["device", "fstype", "mountpoint"]
                );
                (l.labels["mountpoint"].clone(), l.value)
            })
            .collect()
    };
    let mps = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        mps(&by_mp("node_filesystem_device_error")),
        ["/", "/broken", "/mnt/my disk", "/run", "/var/lib/docker"]
    );
    assert_eq!(by_mp("node_filesystem_device_error")["/broken"], 1.0);
    assert_eq!(
        mps(&by_mp("node_filesystem_size_bytes")),
        ["/", "/mnt/my disk", "/run", "/var/lib/docker"]
    );
    assert_eq!(by_mp("node_filesystem_size_bytes")["/"], 4_096_000.0);
    assert_eq!(by_mp("node_filesystem_avail_bytes")["/"], 1_638_400.0);
    assert_eq!(by_mp("node_filesystem_free_bytes")["/"], 2_048_000.0);
    assert_eq!(by_mp("node_filesystem_files")["/"], 100.0);
    assert_eq!(by_mp("node_filesystem_files_free")["/"], 90.0);
    assert_eq!(by_mp("node_filesystem_readonly")["/mnt/my disk"], 1.0);
    assert_eq!(by_mp("node_filesystem_readonly")["/"], 0.0);
}

#[test]
fn net_dev() {
    let s = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
verylongname0:2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17
  bad: 1 2 3
";
    let d = parse_net_dev(s);
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].device, "verylongname0");
    assert_eq!(d[1].counters[0], 2);
    assert_eq!(d[1].counters[15], 17);
    let mut e = Exposition::default();
    netdev_metrics(&mut e, &d);
    let lines = read_exposition(&e.render());
    let get = |name: &str, dev: &str| {
        values(&lines, name)
            .iter()
            .find(|l| l.labels["device"] == dev)
            .unwrap()
            .value
    };
    assert_eq!(get("node_network_receive_bytes_total", "lo"), 1000.0);
    assert_eq!(get("node_network_receive_errs_total", "verylongname0"), 4.0);
    assert_eq!(get("node_network_receive_drop_total", "verylongname0"), 5.0);
    assert_eq!(
        get("node_network_transmit_bytes_total", "verylongname0"),
        10.0
    );
    assert_eq!(
        get("node_network_transmit_packets_total", "verylongname0"),
        11.0
    );
    assert_eq!(
        get("node_network_transmit_errs_total", "verylongname0"),
        12.0
    );
    assert_eq!(
        get("node_network_transmit_drop_total", "verylongname0"),
        13.0
    );
    assert_eq!(
        get("node_network_transmit_colls_total", "verylongname0"),
        15.0
    );
}

#[test]
fn pressure_totals_are_microseconds() {
    let io = parse_pressure(
        "some avg10=0.00 avg60=0.10 avg300=0.00 total=11462475\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5992349\n",
    );
    assert_eq!(
        io,
        Pressure {
            some_us: Some(11_462_475),
            full_us: Some(5_992_349)
        }
    );
    let cpu = parse_pressure("some avg10=1.00 avg60=0.00 avg300=0.00 total=225126846\n");
    let mut e = Exposition::default();
    pressure_resource_metrics(&mut e, "cpu", cpu);
    pressure_resource_metrics(&mut e, "io", io);
    assert_eq!(
        e.render(),
        "# HELP node_pressure_cpu_waiting_seconds_total Total time in seconds that processes have waited for CPU time\n\
         # TYPE node_pressure_cpu_waiting_seconds_total counter\n\
         node_pressure_cpu_waiting_seconds_total 225.126846\n\
         # HELP node_pressure_io_waiting_seconds_total Total time in seconds that processes have waited due to IO congestion\n\
         # TYPE node_pressure_io_waiting_seconds_total counter\n\
         node_pressure_io_waiting_seconds_total 11.462475\n\
         # HELP node_pressure_io_stalled_seconds_total Total time in seconds no process could make progress due to IO congestion\n\
         # TYPE node_pressure_io_stalled_seconds_total counter\n\
         node_pressure_io_stalled_seconds_total 5.992349\n"
    );
}

#[test]
fn diskstats_skip_partitions_and_ram_disks() {
    let s = "   7       0 loop0 10 0 20 0 0 0 0 0 0 0 0
 254       0 vda 100 5 2000 300 50 6 4000 700 0 900 1000 0 0 0 0
 254       1 vda1 1 0 2 0 0 0 0 0 0 0 0
 259       0 nvme0n1 1 0 8 0 2 0 16 0 0 5 0 0 0 0 0
 259       1 nvme0n1p1 1 0 8 0 2 0 16 0 0 5 0
 251       0 zram0 1 0 8 0 2 0 16 0 0 5 0
   8       0 short 1 2
";
    let d = parse_diskstats(s);
    assert_eq!(d.len(), 6);
    let mut e = Exposition::default();
    disk_metrics(&mut e, &HostOptions::default(), &d);
    let lines = read_exposition(&e.render());
    let devs: Vec<_> = values(&lines, "node_disk_read_bytes_total")
        .iter()
        .map(|l| (l.labels["device"].as_str(), l.value))
        .collect();
    assert_eq!(devs, [("vda", 2000.0 * 512.0), ("nvme0n1", 8.0 * 512.0)]);
    let vda = |n: &str| values(&lines, n)[0].value;
    assert_eq!(vda("node_disk_written_bytes_total"), 4000.0 * 512.0);
    assert_eq!(vda("node_disk_reads_completed_total"), 100.0);
    assert_eq!(vda("node_disk_writes_completed_total"), 50.0);
    assert_eq!(vda("node_disk_read_time_seconds_total"), 0.3);
    assert_eq!(vda("node_disk_write_time_seconds_total"), 0.7);
    assert_eq!(vda("node_disk_io_time_seconds_total"), 0.9);
}

#[test]
fn a_fixture_proc_root_gives_every_family_and_missing_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let w = |rel: &str, s: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    w("stat", STAT);
    w("meminfo", "MemTotal: 4 kB\n");
    w("1/mounts", "/dev/vda / ext4 rw 0 0\n");
    w(
        "pressure/memory",
        "some avg10=0 total=1000000\nfull avg10=0 total=500000\n",
    );
    let opts = HostOptions {
        proc_root: dir.path().to_owned(),
        ..HostOptions::default()
    };
    let fake = |_: &str| -> Option<std::io::Result<FsStats>> { None };
    let lines = read_exposition(&collect_host(&opts, &fake).unwrap().render());
    let names: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    for n in [
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_filesystem_device_error",
        "node_pressure_memory_waiting_seconds_total",
        "node_pressure_memory_stalled_seconds_total",
        "node_time_seconds",
        "node_uname_info",
    ] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    assert!(!names.contains("node_load1"));
    assert!(!names.contains("node_filesystem_size_bytes"));
    assert_eq!(
        values(&lines, "node_pressure_memory_stalled_seconds_total")[0].value,
        0.5
    );

    let empty = tempfile::tempdir().unwrap();
    let opts = HostOptions {
        proc_root: empty.path().to_owned(),
        ..HostOptions::default()
    };
    assert!(matches!(
        host_exposition(&opts),
        Err(Error::ProcRead { .. })
    ));
}

#[test]
fn this_machine_looks_sane() {
    let text = host_exposition(&HostOptions::default()).unwrap();
    let lines = read_exposition(&text);
    let cpus: std::collections::BTreeSet<&str> = values(&lines, "node_cpu_seconds_total")
        .iter()
        .map(|l| l.labels["cpu"].as_str())
        .collect();
    let online = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(cpus.len() >= online, "{cpus:?}");
    assert!(values(&lines, "node_memory_MemTotal_bytes")[0].value > 0.0);
    let fs = values(&lines, "node_filesystem_size_bytes");
    assert!(fs.iter().any(|l| l.value > 0.0), "no filesystem in {text}");
    let boot = values(&lines, "node_boot_time_seconds")[0].value;
    let now = values(&lines, "node_time_seconds")[0].value;
    assert!(boot > 1e9 && boot < now);
    assert!(!values(&lines, "node_network_receive_bytes_total").is_empty());
    assert_eq!(
        values(&lines, "node_uname_info")[0].labels["sysname"],
        "Linux"
    );
}

#[test]
fn a_stuck_statfs_is_skipped_until_it_returns() {
    // The real bounded statfs on a path that answers at once.
    let statfs = statfs_bounded(Duration::from_secs(10));
    let got = statfs("/").unwrap().unwrap();
    assert!(got.size > 0.0 && got.free <= got.size && got.avail <= got.free);
    STUCK_MOUNTS.lock().push("/pretend-stuck".into());
    assert!(statfs("/pretend-stuck").is_none());
    STUCK_MOUNTS.lock().retain(|m| m != "/pretend-stuck");
}
