//! Tests of the process-tree collector.

use std::collections::HashMap;

use super::*;

fn stat(pid: u32, ppid: u32, state: char) -> PidStat {
    PidStat {
        pid,
        ppid,
        state,
        utime: 10,
        stime: 5,
        cutime: 1,
        cstime: 1,
        num_threads: 2,
        starttime: u64::from(pid) * 100,
        rss_pages: 10,
    }
}

#[test]
fn stat_with_a_hostile_command_name() {
    let s = "4242 (my (weird) ) proc) R 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 89 10 20 0 7 0 98765 1000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    assert_eq!(
        parse_pid_stat(s),
        Some(PidStat {
            pid: 4242,
            ppid: 1,
            state: 'R',
            utime: 1234,
            stime: 567,
            cutime: 89,
            cstime: 10,
            num_threads: 7,
            starttime: 98765,
            rss_pages: 2560,
        })
    );
    assert_eq!(parse_pid_stat("4242 (short) R 1 2 3\n"), None);
    assert_eq!(parse_pid_stat(""), None);
}

#[test]
fn the_tree_is_the_root_and_its_descendants() {
    let all: HashMap<u32, PidStat> = [
        stat(1, 0, 'S'),
        stat(10, 1, 'S'),
        stat(11, 10, 'S'),
        stat(12, 11, 'S'),
        stat(13, 10, 'S'),
        stat(20, 1, 'S'),
    ]
    .into_iter()
    .map(|s| (s.pid, s))
    .collect();
    let mut t = process_tree(10, &all);
    assert_eq!(t[0], 10);
    t.sort_unstable();
    assert_eq!(t, [10, 11, 12, 13]);
    assert_eq!(process_tree(12, &all), [12]);
    assert!(process_tree(99, &all).is_empty());
}

#[test]
fn usage_sums_the_tree_and_gives_up_on_partial_fd_counts() {
    let all: HashMap<u32, PidStat> = [stat(10, 1, 'S'), stat(11, 10, 'Z'), stat(12, 10, 'S')]
        .into_iter()
        .map(|s| (s.pid, s))
        .collect();
    let tree = [10, 11, 12];
    let fds = |pid: u32| match pid {
        10 => Some(4),
        12 => Some(3),
        _ => None,
    };
    let u = tree_usage(&tree, &all, 100.0, 4096.0, Some(1000.0), &fds).unwrap();
    assert_eq!(
        u,
        TreeUsage {
            cpu_seconds: 3.0 * 17.0 / 100.0,
            cpu_user_seconds: 3.0 * 11.0 / 100.0,
            cpu_system_seconds: 3.0 * 6.0 / 100.0,
            rss_bytes: 30.0 * 4096.0,
            threads: 6,
            processes: 3,
            // the zombie 11 has no fds to count
            fds: Some(7),
            start_time_seconds: Some(1000.0 + 10.0),
        }
    );
    let no_fds = |_: u32| None;
    let u = tree_usage(&tree, &all, 100.0, 4096.0, None, &no_fds).unwrap();
    assert_eq!((u.fds, u.start_time_seconds), (None, None));
    assert!(tree_usage(&[], &all, 100.0, 4096.0, None, &no_fds).is_none());
}

#[test]
fn this_process_and_a_child() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let root = Path::new("/proc");
    let all = scan_processes(root);
    let me = std::process::id();
    let tree = process_tree(me, &all);
    assert!(tree.contains(&child.id()), "{tree:?}");
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| crate::resources::host::parse::parse_stat(&s).btime)
        .unwrap() as f64;
    let fds = |pid: u32| count_fds(root, pid);
    let u = tree_usage(
        &tree,
        &all,
        crate::resources::host::user_hz(),
        page_size(),
        Some(boot),
        &fds,
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(u.processes >= 2);
    assert!(u.threads >= 2);
    assert!(u.rss_bytes > 0.0);
    assert!(u.fds.unwrap() >= 3);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = u.start_time_seconds.unwrap();
    assert!(
        start > boot && start <= now + 1.0,
        "{start} not in [{boot}, {now}]"
    );
}
