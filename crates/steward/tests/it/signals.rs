//! `steward up` and the terminal it runs in: a closed terminal (SIGHUP)
//! stops it gracefully with its replicas, and its logs carry colour codes
//! only on a terminal.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use steward_test_support::{free_port, wait_until_blocking};

use crate::{
    deploy::{agent_config, http_status, replica_processes},
    support::BIN,
};

/// Kills whatever replicas are left (a failed test must not leave demo
/// agents behind).
struct Replicas(PathBuf);

impl Drop for Replicas {
    fn drop(&mut self) {
        for pid in replica_processes(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

/// Sends `signal` (e.g. `HUP`) to a process.
fn send(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits for the process to exit, at most `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("steward did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lines of `reader` as they come, on a channel.
fn lines(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for a line containing `text`.
fn expect_line(lines: &mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with `{text}`"));
        if line.contains(text) {
            return;
        }
    }
}

#[test]
fn sighup_stops_steward_gracefully_with_its_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    let port = free_port();
    std::fs::write(&config, agent_config(free_port(), port, 2, "")).unwrap();
    let data_dir = dir.path().join(".steward");
    let _cleanup = Replicas(data_dir.clone());
    let mut child = Command::new(BIN)
        .arg("up")
        .arg(&config)
        .env_remove("STEWARD_TOKEN")
        .env_remove("STEWARD_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The terminal is gone: whatever steward writes on stderr now fails.
    drop(child.stderr.take());
    let stdout = lines(child.stdout.take().unwrap());
    expect_line(&stdout, "listening on");
    wait_until_blocking("the replicas serve", Duration::from_secs(60), || {
        http_status(port, "/healthz") == Some(200) && replica_processes(&data_dir).len() == 2
    });

    send("HUP", child.id());
    // The shell of a closing terminal forwards SIGHUP to its jobs too.
    std::thread::sleep(Duration::from_millis(100));
    send("HUP", child.id());
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success(), "steward exited with {status}");
    assert!(
        replica_processes(&data_dir).is_empty(),
        "the replicas stopped with steward"
    );
}

/// A configuration without services (steward logs at info as it starts).
fn quiet_config(dir: &Path) -> PathBuf {
    let config = dir.join("steward.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:{}\"\n", free_port()),
    )
    .unwrap();
    config
}

/// Runs `steward up` with stderr into a file until it has logged that it
/// listens, stops it, and returns what it wrote there.
fn logs_in_a_file(no_color: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let config = quiet_config(dir.path());
    let log = dir.path().join("steward.log");
    let mut command = Command::new(BIN);
    command
        .arg("up")
        .arg(&config)
        .env_remove("NO_COLOR")
        .env("STEWARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let mut child = command.spawn().unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    expect_line(&stdout, "listening on");
    wait_until_blocking("steward logs", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("steward listening"))
    });
    send("TERM", child.id());
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    std::fs::read(&log).unwrap()
}

#[test]
fn logs_written_to_a_file_have_no_colour_codes() {
    for no_color in [false, true] {
        let logs = logs_in_a_file(no_color);
        let text = String::from_utf8_lossy(&logs);
        assert!(text.contains("INFO"), "{text}");
        assert!(
            !logs.contains(&0x1b),
            "escape codes in a log file (NO_COLOR set: {no_color}):\n{text}"
        );
    }
}

/// Runs `steward up` in a pseudo-terminal (util-linux `script`) until it
/// has logged that it listens, stops it, and returns the terminal's output.
fn logs_on_a_terminal(no_color: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let config = quiet_config(dir.path());
    // The shell prints its pid, then becomes steward.
    let inner = format!("echo pid=$$; exec '{BIN}' up '{}'", config.display());
    let mut command = Command::new("script");
    command
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("STEWARD_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let mut child = command
        .spawn()
        .expect("util-linux `script` runs commands in a pseudo-terminal");
    let mut output = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = output.read(&mut chunk) {
            if n == 0 || sender.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains("steward listening")
            && let Some(pid) = text
                .split("pid=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|pid| pid.parse::<u32>().ok())
        {
            break pid;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("steward did not log on the terminal:\n{text}"),
        }
    };
    send("TERM", pid);
    while let Ok(chunk) = receiver.recv_timeout(Duration::from_secs(30)) {
        seen.extend(chunk);
    }
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    seen
}

#[test]
fn logs_on_a_terminal_have_colour_unless_no_color_is_set() {
    let coloured = logs_on_a_terminal(false);
    assert!(
        coloured.contains(&0x1b),
        "no colour on a terminal:\n{}",
        String::from_utf8_lossy(&coloured)
    );
    let plain = logs_on_a_terminal(true);
    let text = String::from_utf8_lossy(&plain);
    assert!(text.contains("INFO"), "{text}");
    assert!(!plain.contains(&0x1b), "colour despite NO_COLOR:\n{text}");
}

#[test]
fn json_logs_of_up_are_json_lines_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = quiet_config(dir.path());
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "up"])
        .arg(&config)
        .env("STEWARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = child.stderr.take().unwrap();
    let collected = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    });
    expect_line(&stdout, "listening on");
    send("TERM", child.id());
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let text = collected.join().unwrap();
    let messages: Vec<String> = text
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
            value["fields"]["message"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("shutting down"))
            && messages.iter().any(|m| m == "steward stopped"),
        "{messages:?}"
    );
}
