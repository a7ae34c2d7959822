//! Unit tests for the `backup` module: running the dump and restore tools.

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    time::{Duration, Instant},
};

use super::*;

/// Writes an executable shell script named `name` into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn a_tool_that_hangs_is_killed_at_the_timeout_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // A `pg_dump` that hangs (as one waiting on a lock would).
    let tool = script(
        dir.path(),
        "pg_dump",
        &format!("echo $$ > {}\nexec sleep 600", pid_file.display()),
    );
    let dump = dir.path().join("dump.pgdump");
    let started = Instant::now();
    let err = run_tool(
        Command::new(&tool),
        None,
        Input::Nothing,
        Output::NewFile(&dump),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "backup: pg_dump timed out after 1s and was killed"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!running(pid), "the tool (pid {pid}) is still running");
    assert!(!dump.exists(), "the partial dump is removed");
}

#[tokio::test]
async fn the_default_tool_timeout_is_half_an_hour() {
    let options = crate::Options::new("backups");
    assert_eq!(options.tool_timeout, Duration::from_secs(30 * 60));
}

#[tokio::test]
async fn a_dump_streams_into_a_file_only_its_owner_reads() {
    let dir = tempfile::tempdir().unwrap();
    // Several MiB, more than any pipe buffer.
    let tool = script(
        dir.path(),
        "mysqldump",
        "head -c 8388608 /dev/zero | tr '\\0' 'x'",
    );
    let dump = dir.path().join("dump.sql");
    run_tool(
        Command::new(&tool),
        None,
        Input::Nothing,
        Output::NewFile(&dump),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let metadata = std::fs::metadata(&dump).unwrap();
    assert_eq!(metadata.len(), 8 * 1024 * 1024);
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_tool_that_writes_while_reading_a_large_input_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.sql");
    std::fs::write(&input, vec![b'x'; 8 * 1024 * 1024]).unwrap();
    // Echoes its input to stdout and stderr: it blocks unless both are
    // drained while it still reads.
    let tool = script(dir.path(), "mysql", "tee /dev/stderr");
    tokio::time::timeout(
        Duration::from_secs(60),
        run_tool(
            Command::new(&tool),
            None,
            Input::File(&input),
            Output::Discard,
            Duration::from_secs(60),
        ),
    )
    .await
    .expect("the tool finishes")
    .unwrap();
}

#[tokio::test]
async fn a_failure_carries_the_end_of_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let tool = script(
        dir.path(),
        "pg_restore",
        "head -c 1048576 /dev/zero | tr '\\0' 'a' >&2\necho 'pg_restore: error: the real reason' >&2\nexit 3",
    );
    let err = run_tool(
        Command::new(&tool),
        None,
        Input::Nothing,
        Output::Discard,
        Duration::from_secs(60),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("backup: pg_restore exited with exit status: 3: ..."),
        "{}",
        &err[..err.len().min(200)]
    );
    assert!(
        err.ends_with("pg_restore: error: the real reason"),
        "{err:.200}"
    );
    assert!(err.len() < STDERR_TAIL + 200, "{} bytes", err.len());
}

#[test]
fn tails_keep_the_end() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let text: Vec<u8> = (0..100_000u32)
        .flat_map(|i| (i % 10).to_string().into_bytes())
        .collect();
    let kept = runtime.block_on(tail(&text[..], 10));
    assert_eq!(kept, "...0123456789");
    let kept = runtime.block_on(tail(&b"short"[..], 10));
    assert_eq!(kept, "short");
}
