//! Tests of the cgroup collector: fixture files of both hierarchies, path
//! resolution, and a real Docker container when one can be started.

use std::collections::HashMap;

use super::*;

const HYBRID_CGROUP: &str = "9:name=systemd:/docker/abc
8:pids:/docker/abc
4:memory:/docker/abc
2:cpuacct:/docker/abc
1:cpu:/docker/abc
0::/docker/abc
";

const HYBRID_MOUNTINFO: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

#[test]
fn a_hybrid_host_resolves_to_the_v1_controllers() {
    let lines = parse_proc_cgroup(HYBRID_CGROUP);
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[1],
        CgroupLine {
            hierarchy: 8,
            controllers: vec!["pids".into()],
            path: "/docker/abc".into()
        }
    );
    let mounts = parse_cgroup_mounts(HYBRID_MOUNTINFO);
    assert_eq!(mounts.len(), 6);
    let cg = resolve(&lines, &mounts).unwrap();
    let d = |c: &str| Some(PathBuf::from(format!("/sys/fs/cgroup/{c}/docker/abc")));
    assert_eq!(
        cg,
        Cgroup {
            id: "/docker/abc".into(),
            dirs: CgroupDirs::V1 {
                cpu: d("cpu"),
                cpuacct: d("cpuacct"),
                memory: d("memory"),
                pids: d("pids"),
            }
        }
    );
}

#[test]
fn a_v2_host_resolves_to_one_directory() {
    let lines = parse_proc_cgroup("0::/system.slice/docker-abc.scope\n");
    let mounts = parse_cgroup_mounts(
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
    );
    assert_eq!(
        resolve(&lines, &mounts),
        Some(Cgroup {
            id: "/system.slice/docker-abc.scope".into(),
            dirs: CgroupDirs::V2("/sys/fs/cgroup/system.slice/docker-abc.scope".into()),
        })
    );
    // Inside a cgroup namespace only a sub-tree is mounted.
    let mounts =
        parse_cgroup_mounts("30 23 0:26 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    assert_eq!(
        resolve(&lines, &mounts).unwrap().dirs,
        CgroupDirs::V2("/sys/fs/cgroup/docker-abc.scope".into())
    );
    assert_eq!(resolve(&lines, &[]), None);
}

#[test]
fn limits_and_flat_files() {
    assert_eq!(parse_limit("max\n"), Some(None));
    assert_eq!(parse_limit("67108864\n"), Some(Some(67_108_864)));
    assert_eq!(parse_limit("x"), None);
    assert_eq!(parse_cpu_max("max 100000\n"), Some((None, 100_000)));
    assert_eq!(
        parse_cpu_max("50000 100000\n"),
        Some((Some(50_000), 100_000))
    );
    assert_eq!(parse_cpu_max("50000"), None);
    let m = parse_flat_keyed("nr_periods 3\nnr_throttled 1\nbad\nx y\n");
    assert_eq!(m.len(), 2);
    assert_eq!(m["nr_throttled"], 1);
    assert_eq!(parse_procs("1\n22\n\n"), [1, 22]);
}

#[test]
fn v1_files_in_cadvisor_units() {
    let files: HashMap<(&str, &str), &str> = [
        (("cpuacct", "cpuacct.usage"), "22506364\n"),
        (("cpuacct", "cpuacct.stat"), "user 3\nsystem 1\n"),
        (("cpu", "cpu.stat"), "nr_periods 30\nnr_throttled 2\nthrottled_time 5000000\n"),
        (("cpu", "cpu.cfs_quota_us"), "-1\n"),
        (("cpu", "cpu.cfs_period_us"), "100000\n"),
        (("memory", "memory.usage_in_bytes"), "2572288\n"),
        (
            ("memory", "memory.stat"),
            "cache 1\nrss 2\ninactive_file 3\ntotal_cache 1851392\ntotal_rss 94208\ntotal_mapped_file 1130496\ntotal_inactive_file 1847296\n",
        ),
        (("memory", "memory.limit_in_bytes"), "9223372036854771712\n"),
        (("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
        (("pids", "pids.current"), "3\n"),
        (("pids", "pids.max"), "100\n"),
        (("pids", "cgroup.procs"), "7\n8\n"),
    ]
    .into_iter()
    .collect();
    let read = |c: Controller, f: &str| {
        let c = match c {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
        };
        files.get(&(c, f)).map(|s| (*s).to_owned())
    };
    assert_eq!(
        usage_v1(&read, 100.0),
        CgroupUsage {
            cpu_usage_seconds: Some(0.022506364),
            cpu_user_seconds: Some(0.03),
            cpu_system_seconds: Some(0.01),
            cfs_periods: Some(30),
            cfs_throttled_periods: Some(2),
            cfs_throttled_seconds: Some(0.005),
            memory_usage_bytes: Some(2_572_288.0),
            memory_working_set_bytes: Some(2_572_288.0 - 1_847_296.0),
            memory_rss_bytes: Some(94208.0),
            memory_cache_bytes: Some(1_851_392.0),
            memory_mapped_file_bytes: Some(1_130_496.0),
            memory_limit_bytes: Some(0.0),
            cpu_quota_us: None,
            cpu_period_us: Some(100_000),
            oom_kills: Some(2),
            threads: Some(3),
            threads_max: Some(100),
            pids: Some(vec![7, 8]),
        }
    );
}

#[test]
fn v2_working_set_never_goes_negative_and_missing_files_are_none() {
    let files: HashMap<&str, &str> = [
        ("memory.current", "100\n"),
        ("memory.stat", "anon 10\nfile 200\ninactive_file 150\n"),
        ("memory.max", "67108864\n"),
    ]
    .into_iter()
    .collect();
    let u = usage_v2(&|f| files.get(f).map(|s| (*s).to_owned()));
    assert_eq!(u.memory_working_set_bytes, Some(0.0));
    assert_eq!(u.memory_limit_bytes, Some(67_108_864.0));
    assert_eq!(u.cpu_usage_seconds, None);
    assert_eq!(u.threads, None);
    assert_eq!(u.pids, None);
}

fn docker(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs the host's `sleep` in steward's base image (built by
/// scripts/docker/base-image.sh; it holds the host's glibc) with a memory
/// and CPU limit, and reads the container's cgroup.
#[test]
#[allow(clippy::print_stderr)]
fn a_real_docker_container() {
    const IMAGE: &str = "steward-base:local";
    if docker(&["image", "inspect", "-f", "{{.Id}}", IMAGE]).is_none_or(|s| s.is_empty()) {
        eprintln!(
            "skipping: docker or the image {IMAGE} is not available (scripts/docker/base-image.sh builds it)"
        );
        return;
    }
    let Some(id) = docker(&[
        "run",
        "-d",
        "--rm",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "-v",
        "/bin/sleep:/sleep:ro",
        IMAGE,
        "/sleep",
        "60",
    ]) else {
        eprintln!("skipping: cannot start a container from {IMAGE}");
        return;
    };
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &id]).and_then(|p| p.parse::<u32>().ok());
    let cg = pid.and_then(|pid| resolve_pid(Path::new("/proc"), pid));
    let usage = cg.as_ref().map(|cg| read_usage(&cg.dirs, 100.0));
    let text = pid.map(|pid| {
        crate::resources::replica_exposition(&[crate::resources::ReplicaRef {
            labels: crate::Labels::from_pairs([("name", "c")]),
            source: crate::resources::ReplicaSource::Container { pid },
            restarts: 0,
        }])
    });
    docker(&["rm", "-f", &id]);
    let (pid, cg, u) = (pid.unwrap(), cg.unwrap(), usage.unwrap());
    assert!(cg.id.contains(&id), "{cg:?}");
    assert_eq!(u.memory_limit_bytes, Some(64.0 * 1024.0 * 1024.0));
    assert_eq!(u.cpu_quota_us, Some(50_000));
    assert_eq!(u.cpu_period_us, Some(100_000));
    assert!(u.cpu_usage_seconds.unwrap() > 0.0);
    assert!(u.memory_usage_bytes.unwrap() > 0.0);
    assert!(u.memory_working_set_bytes.unwrap() <= u.memory_usage_bytes.unwrap());
    assert_eq!(u.oom_kills, Some(0));
    assert_eq!(u.threads, Some(1));
    assert_eq!(u.pids, Some(vec![pid]));
    let lines = crate::resources::tests::read_exposition(&text.unwrap());
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    for n in [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_spec_memory_limit_bytes",
        "container_processes",
        "container_file_descriptors",
        "container_start_time_seconds",
    ] {
        assert!(names.contains(&n), "{n} missing: {names:?}");
    }
    assert!(
        lines
            .iter()
            .filter(|l| l.name.starts_with("container_"))
            .all(|l| l.labels.get("id") == Some(&cg.id))
    );
}
