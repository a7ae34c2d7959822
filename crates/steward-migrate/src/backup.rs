//! Backups of target databases: taken before migrations, listed, pruned
//! and restored.
//!
//! - SQLite: `VACUUM INTO` a file (a consistent online copy). Restoring
//!   rebuilds the live file's schema and rows from the copy inside one
//!   transaction, so other connections never see half a database.
//! - PostgreSQL: `pg_dump --format=custom` when it is installed; restoring
//!   drops the user schemas and runs `pg_restore` in one transaction.
//! - MariaDB/MySQL: `mysqldump` (or `mariadb-dump`) when installed;
//!   restoring recreates the database and feeds the dump to the client.
//!
//! Passwords reach the tools through their environment variables, never
//! through argv (which every user of the machine can read).
//!
//! The tools run while the migration lock is held, so each run has a
//! timeout after which the tool is killed. Dumps go from the tool's stdout
//! straight into the backup file and restores read the file as the tool's
//! stdin: steward never holds a dump in memory, and never writes into a
//! pipe that the tool might stop reading while its own output fills up.

use std::{
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::Command,
};

use crate::{Dialect, Error, Result, conn::Conn};

/// A backup on disk, described by a JSON file beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// Identifier: the backup file's name.
    pub id: String,
    /// The backup file.
    pub path: PathBuf,
    /// Engine of the database it came from.
    pub dialect: Dialect,
    /// When it was taken.
    pub created_at: DateTime<Utc>,
    /// Why, e.g. `before 3 add_index` or `before run`.
    pub reason: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The external tool a dialect's backups need, if any, and whether it is
/// installed.
pub fn tool_available(dialect: Dialect) -> bool {
    match dialect {
        Dialect::Sqlite => true,
        Dialect::Postgres => which("pg_dump").is_some() && which("pg_restore").is_some(),
        Dialect::Mysql => dump_tool().is_some() && client_tool().is_some(),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn dump_tool() -> Option<PathBuf> {
    which("mariadb-dump").or_else(|| which("mysqldump"))
}

fn client_tool() -> Option<PathBuf> {
    which("mariadb").or_else(|| which("mysql"))
}

/// Takes a backup of the database `conn` is connected to (at `url`) into
/// `dir`; a dump tool that runs longer than `tool_timeout` is killed.
pub(crate) async fn take(
    conn: &mut Conn,
    url: &str,
    dir: &Path,
    reason: &str,
    tool_timeout: Duration,
) -> Result<BackupInfo> {
    let dialect = conn.dialect();
    // Owner only: backups hold every row of the database.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Error::Backup {
            detail: format!("cannot create backup directory {}: {source}", dir.display()),
        })?;
    let created_at = Utc::now();
    let extension = match dialect {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "pgdump",
        Dialect::Mysql => "sql",
    };
    let slug: String = reason
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let id = format!(
        "{}-{}.{extension}",
        created_at.format("%Y%m%dT%H%M%S%3fZ"),
        slug.trim_matches('-')
    );
    let path = dir.join(&id);
    match dialect {
        Dialect::Sqlite => {
            let target = path.to_string_lossy().replace('\'', "''");
            // Created empty and private first: VACUUM INTO fills an empty
            // file and keeps its mode, so the copy is never readable by
            // others, not even while it is written.
            private_file(&path).map_err(|err| Error::Backup {
                detail: format!("cannot create {}: {err}", path.display()),
            })?;
            if let Err(err) = conn.execute(&format!("VACUUM INTO '{target}'")).await {
                let _ = std::fs::remove_file(&path);
                return Err(Error::Backup {
                    detail: format!("VACUUM INTO {} failed: {err}", path.display()),
                });
            }
        }
        Dialect::Postgres => {
            let (dbname, password) = postgres_target(url)?;
            let mut command = Command::new("pg_dump");
            command
                .arg("--format=custom")
                .arg("--no-owner")
                .arg(format!("--dbname={dbname}"));
            run_tool(
                command,
                password.as_deref().map(|p| ("PGPASSWORD", p)),
                Input::Nothing,
                Output::NewFile(&path),
                tool_timeout,
            )
            .await?;
        }
        Dialect::Mysql => {
            let target = MysqlTarget::parse(url)?;
            let tool = dump_tool().ok_or_else(|| Error::Backup {
                detail: "mysqldump is not installed".into(),
            })?;
            let mut command = Command::new(tool);
            target.args(&mut command);
            command
                .arg("--single-transaction")
                .arg("--routines")
                .arg("--triggers")
                .arg("--events")
                .arg("--skip-comments")
                .arg(&target.database);
            run_tool(
                command,
                target.password.as_deref().map(|p| ("MYSQL_PWD", p)),
                Input::Nothing,
                Output::NewFile(&path),
                tool_timeout,
            )
            .await?;
        }
    }
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let info = BackupInfo {
        id,
        path,
        dialect,
        created_at,
        reason: reason.to_owned(),
        bytes,
    };
    let sidecar = sidecar(&info.path);
    let json = serde_json::to_vec_pretty(&info).expect("backup info serializes");
    write_private(&sidecar, &json).map_err(|source| Error::Backup {
        detail: format!("cannot write {}: {source}", sidecar.display()),
    })?;
    Ok(info)
}

/// Creates `path` empty, readable and writable by its owner only; fails
/// when it exists.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Writes `bytes` to `path`, readable by its owner only (also when the
/// file existed with a looser mode).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

fn sidecar(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Every backup in `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<BackupInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut backups: Vec<BackupInfo> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|path| {
            let info = serde_json::from_slice::<BackupInfo>(&std::fs::read(&path).ok()?).ok()?;
            // Only a backup's own sidecar describes it (the restore marker
            // holds a backup's description too).
            (sidecar(&info.path).file_name() == path.file_name()).then_some(info)
        })
        .filter(|info| info.path.is_file())
        .collect();
    backups.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(backups)
}

/// The backup `id` in `dir` (by id, or by a unique prefix of it).
pub fn find(dir: &Path, id: &str) -> Result<BackupInfo> {
    let matches: Vec<BackupInfo> = list(dir)?
        .into_iter()
        .filter(|b| b.id.starts_with(id))
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one match")),
        0 => Err(Error::NoSuchBackup {
            id: id.to_owned(),
            dir: dir.to_owned(),
        }),
        count => Err(Error::AmbiguousBackup {
            id: id.to_owned(),
            count,
        }),
    }
}

/// Deletes all but the newest `keep` backups; returns what was deleted.
/// Deletes nothing while a restore is in progress in `dir` (an interrupted
/// one is finished by the next run, and may need any of them).
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<BackupInfo>> {
    let mut deleted = Vec::new();
    if dir.join(RESTORE_MARKER).exists() {
        return Ok(deleted);
    }
    for backup in list(dir)?.into_iter().skip(keep) {
        let _ = std::fs::remove_file(sidecar(&backup.path));
        match std::fs::remove_file(&backup.path) {
            Ok(()) => deleted.push(backup),
            // Pruned meanwhile by another run sharing the directory.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Read {
                    path: backup.path,
                    source,
                });
            }
        }
    }
    Ok(deleted)
}

/// Name of the file that records a restore in progress, beside the
/// backups. A restore is not atomic on every engine (MariaDB's recreates the
/// database), so one that was interrupted is finished by the next run.
const RESTORE_MARKER: &str = "restore-in-progress.json";

/// The backup whose restore was interrupted, if any.
pub(crate) fn interrupted_restore(dir: &Path) -> Option<BackupInfo> {
    let text = std::fs::read(dir.join(RESTORE_MARKER)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Restores `backup` into the database at `url`, through `conn`; a restore
/// tool that runs longer than `tool_timeout` is killed. The intent is
/// written down first, so that a restore cut short by a crash is completed
/// by the next run instead of leaving half a database.
pub(crate) async fn restore(
    conn: &mut Conn,
    url: &str,
    backup: &BackupInfo,
    tool_timeout: Duration,
) -> Result<()> {
    let marker = backup.path.parent().map(|dir| dir.join(RESTORE_MARKER));
    if let Some(marker) = &marker {
        let json = serde_json::to_vec(backup).expect("backup info serializes");
        write_private(marker, &json).map_err(|source| Error::Backup {
            detail: format!("cannot write {}: {source}", marker.display()),
        })?;
    }
    restore_now(conn, url, backup, tool_timeout).await?;
    if let Some(marker) = &marker {
        let _ = std::fs::remove_file(marker);
    }
    Ok(())
}

async fn restore_now(
    conn: &mut Conn,
    url: &str,
    backup: &BackupInfo,
    tool_timeout: Duration,
) -> Result<()> {
    if backup.dialect != conn.dialect() {
        return Err(Error::Backup {
            detail: format!(
                "backup {} is a {} backup, the database is {}",
                backup.id,
                backup.dialect.as_str(),
                conn.dialect().as_str()
            ),
        });
    }
    let failed = |detail: String| Error::Backup {
        detail: format!("restoring {} failed: {detail}", backup.id),
    };
    match conn.dialect() {
        Dialect::Sqlite => restore_sqlite(conn, &backup.path)
            .await
            .map_err(|err| failed(err.to_string())),
        Dialect::Postgres => {
            let schemas = conn
                .text_rows(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                     AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'",
                )
                .await
                .map_err(|err| failed(err.to_string()))?;
            let mut drop = String::new();
            for schema in schemas
                .into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
            {
                drop.push_str(&format!(
                    "DROP SCHEMA \"{}\" CASCADE; ",
                    schema.replace('"', "\"\"")
                ));
            }
            drop.push_str("CREATE SCHEMA public;");
            conn.execute(&drop)
                .await
                .map_err(|err| failed(err.to_string()))?;
            let (dbname, password) = postgres_target(url)?;
            let mut command = Command::new("pg_restore");
            command
                .arg("--no-owner")
                .arg("--single-transaction")
                .arg(format!("--dbname={dbname}"))
                .arg(&backup.path);
            // The dump may itself create `public`; that one error is expected.
            match run_tool(
                command,
                password.as_deref().map(|p| ("PGPASSWORD", p)),
                Input::Nothing,
                Output::Discard,
                tool_timeout,
            )
            .await
            {
                Ok(()) => Ok(()),
                Err(Error::Backup { detail })
                    if detail.contains("schema \"public\" already exists") =>
                {
                    conn.execute("DROP SCHEMA public CASCADE")
                        .await
                        .map_err(|err| failed(err.to_string()))?;
                    let mut command = Command::new("pg_restore");
                    command
                        .arg("--no-owner")
                        .arg("--single-transaction")
                        .arg(format!("--dbname={dbname}"))
                        .arg(&backup.path);
                    run_tool(
                        command,
                        password.as_deref().map(|p| ("PGPASSWORD", p)),
                        Input::Nothing,
                        Output::Discard,
                        tool_timeout,
                    )
                    .await
                }
                Err(err) => Err(err),
            }
        }
        Dialect::Mysql => {
            let target = MysqlTarget::parse(url)?;
            let database = target.database.replace('`', "``");
            conn.execute(&format!("DROP DATABASE `{database}`"))
                .await
                .map_err(|err| failed(err.to_string()))?;
            conn.execute(&format!("CREATE DATABASE `{database}`"))
                .await
                .map_err(|err| failed(err.to_string()))?;
            conn.execute(&format!("USE `{database}`"))
                .await
                .map_err(|err| failed(err.to_string()))?;
            let tool =
                client_tool().ok_or_else(|| failed("the mysql client is not installed".into()))?;
            let mut command = Command::new(tool);
            target.args(&mut command);
            command.arg(&target.database);
            run_tool(
                command,
                target.password.as_deref().map(|p| ("MYSQL_PWD", p)),
                Input::File(&backup.path),
                Output::Discard,
                tool_timeout,
            )
            .await
        }
    }
}

/// Replaces the live database's objects and rows with the backup's, in one
/// transaction.
async fn restore_sqlite(conn: &mut Conn, backup: &Path) -> Result<(), sqlx::Error> {
    let path = backup.to_string_lossy().replace('\'', "''");
    conn.execute(&format!("ATTACH DATABASE '{path}' AS steward_backup"))
        .await?;
    let result = async {
        conn.execute("BEGIN IMMEDIATE").await?;
        let work = async {
            let live = conn
                .text_rows("SELECT type, name FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'view')")
                .await?;
            for row in live {
                if let [Some(kind), Some(name)] = row.as_slice() {
                    let kind = if kind == "view" { "VIEW" } else { "TABLE" };
                    conn.execute(&format!("DROP {kind} IF EXISTS main.\"{}\"", name.replace('"', "\"\""))).await?;
                }
            }
            let objects = conn
                .text_rows(
                    "SELECT type, name, sql FROM steward_backup.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' \
                     ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END",
                )
                .await?;
            // Tables first, then their rows, then indexes, views, triggers
            // (so triggers do not fire while rows are copied).
            for row in &objects {
                if let [Some(kind), Some(name), Some(sql)] = row.as_slice()
                    && kind == "table"
                {
                    conn.execute(sql).await?;
                    let quoted = name.replace('"', "\"\"");
                    conn.execute(&format!("INSERT INTO main.\"{quoted}\" SELECT * FROM steward_backup.\"{quoted}\"")).await?;
                }
            }
            let has_sequence = conn
                .returns_rows("SELECT 1 FROM steward_backup.sqlite_master WHERE name = 'sqlite_sequence'")
                .await?;
            if has_sequence {
                conn.execute("DELETE FROM main.sqlite_sequence").await?;
                conn.execute("INSERT INTO main.sqlite_sequence SELECT * FROM steward_backup.sqlite_sequence").await?;
            }
            for row in &objects {
                if let [Some(kind), Some(_), Some(sql)] = row.as_slice()
                    && kind != "table"
                {
                    conn.execute(sql).await?;
                }
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match work {
            Ok(()) => conn.execute("COMMIT").await.map(drop),
            Err(err) => {
                let _ = conn.execute("ROLLBACK").await;
                Err(err)
            }
        }
    }
    .await;
    let _ = conn.execute("DETACH DATABASE steward_backup").await;
    result
}

/// A PostgreSQL URL without its password (for argv) and the password.
fn postgres_target(url: &str) -> Result<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).map_err(|err| Error::Backup {
        detail: format!("cannot read the database URL: {err}"),
    })?;
    let password = parsed.password().map(percent_decode);
    let _ = parsed.set_password(None);
    Ok((parsed.to_string(), password))
}

/// Connection settings of a MySQL URL, for the command-line tools.
struct MysqlTarget {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    socket: Option<String>,
    database: String,
}

impl MysqlTarget {
    fn parse(url: &str) -> Result<Self> {
        let parsed =
            url::Url::parse(&crate::db_url::mysql_url(url)).map_err(|err| Error::Backup {
                detail: format!("cannot read the database URL: {err}"),
            })?;
        let database = parsed.path().trim_start_matches('/').to_owned();
        if database.is_empty() {
            return Err(Error::Backup {
                detail: "the MySQL URL names no database".into(),
            });
        }
        Ok(MysqlTarget {
            host: parsed.host_str().map(str::to_owned),
            port: parsed.port(),
            user: Some(percent_decode(parsed.username())).filter(|u| !u.is_empty()),
            password: parsed.password().map(percent_decode),
            socket: parsed
                .query_pairs()
                .find(|(k, _)| k == "socket")
                .map(|(_, v)| v.into_owned()),
            database: percent_decode(&database),
        })
    }

    fn args(&self, command: &mut Command) {
        match &self.socket {
            Some(socket) => {
                command.arg(format!("--socket={socket}"));
            }
            None => {
                // `localhost` makes the client use a socket; TCP is meant.
                let host = match self.host.as_deref() {
                    Some("localhost") | None => "127.0.0.1",
                    Some(host) => host,
                };
                command.arg(format!("--host={host}"));
                if let Some(port) = self.port {
                    command.arg(format!("--port={port}"));
                }
                command.arg("--protocol=TCP");
            }
        }
        if let Some(user) = &self.user {
            command.arg(format!("--user={user}"));
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a backup tool reads on stdin.
#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    /// Nothing (`/dev/null`).
    Nothing,
    /// This file, opened for the tool: the kernel feeds it, so steward
    /// holds none of it in memory and cannot block writing it.
    File(&'a Path),
}

/// Where a backup tool's stdout goes.
#[derive(Debug, Clone, Copy)]
enum Output<'a> {
    /// Read and thrown away (so that a chatty tool never blocks on it).
    Discard,
    /// A new file, created readable by its owner only (a dump holds every
    /// row of the database); removed again when the tool fails.
    NewFile(&'a Path),
}

/// How much of a tool's stderr is kept for the error message: its end,
/// where the reason of a failure is.
const STDERR_TAIL: usize = 16 * 1024;

/// Runs a backup tool with an optional secret in its environment, killing
/// it after `timeout`. Its stdout and stderr are drained while it runs (a
/// tool that fills a pipe nobody reads would stop forever); a failure
/// carries the end of its stderr.
async fn run_tool(
    mut command: Command,
    secret: Option<(&str, &str)>,
    input: Input<'_>,
    output: Output<'_>,
    timeout: Duration,
) -> Result<()> {
    if let Some((name, value)) = secret {
        command.env(name, value);
    }
    let program = command.as_std().get_program();
    let tool = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned();
    let stdin = match input {
        Input::Nothing => Stdio::null(),
        Input::File(path) => std::fs::File::open(path)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?
            .into(),
    };
    let stdout = match output {
        Output::Discard => Stdio::piped(),
        Output::NewFile(path) => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|err| Error::Backup {
                detail: format!("cannot create {}: {err}", path.display()),
            })?
            .into(),
    };
    let result = run_child(command, &tool, stdin, stdout, timeout).await;
    if let (Err(_), Output::NewFile(path)) = (&result, output) {
        let _ = std::fs::remove_file(path);
    }
    result
}

async fn run_child(
    mut command: Command,
    tool: &str,
    stdin: Stdio,
    stdout: Stdio,
    timeout: Duration,
) -> Result<()> {
    command
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|err| Error::Backup {
        detail: format!("cannot run {tool}: {err}"),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let outcome = tokio::time::timeout(timeout, async {
        let drain_stdout = async {
            if let Some(mut stdout) = stdout {
                let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
            }
        };
        let stderr_tail = async {
            match stderr {
                Some(stderr) => tail(stderr, STDERR_TAIL).await,
                None => String::new(),
            }
        };
        let (status, (), stderr) = tokio::join!(child.wait(), drain_stdout, stderr_tail);
        (status, stderr)
    })
    .await;
    match outcome {
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), stderr)) => Err(Error::Backup {
            detail: format!("{tool} exited with {status}: {}", stderr.trim()),
        }),
        Ok((Err(err), _)) => Err(Error::Backup {
            detail: format!("{tool} failed: {err}"),
        }),
        Err(_) => {
            // Reaped here rather than left to `kill_on_drop`, so that no
            // zombie outlives the error.
            let _ = child.kill().await;
            tracing::warn!(tool, timeout = %steward_core::format_duration(timeout), "backup tool timed out and was killed");
            Err(Error::Backup {
                detail: format!(
                    "{tool} timed out after {} and was killed",
                    steward_core::format_duration(timeout)
                ),
            })
        }
    }
}

/// Reads `reader` to its end, keeping the last `keep` bytes as text
/// (prefixed with `...` when the start was dropped).
async fn tail(mut reader: impl AsyncRead + Unpin, keep: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut dropped = false;
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => kept.extend_from_slice(&chunk[..n]),
        }
        // Trimmed in batches so that a long stream costs linear time.
        if kept.len() > 2 * keep {
            kept.drain(..kept.len() - keep);
            dropped = true;
        }
    }
    if kept.len() > keep {
        kept.drain(..kept.len() - keep);
        dropped = true;
    }
    let text = String::from_utf8_lossy(&kept);
    if dropped {
        format!("...{text}")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests;
