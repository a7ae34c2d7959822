//! Replica log files (`<logs>/<service>/<replica>.stdout.log` and
//! `.stderr.log`): created readable by steward's user only (a service may
//! log its secrets), rotated by size and pruned by age.
//!
//! A running replica holds its log open with `O_APPEND`, so rotation
//! copies the file to `.1` (older copies shift to `.2` ... `.N`, the oldest
//! goes) and then truncates it in place, as logrotate's `copytruncate`
//! does: the replica's next write lands at the new end, the start of the
//! file. Lines written between the copy and the truncation are lost; that
//! is the price of not restarting the replica.

use std::{
    collections::HashSet,
    fs::{DirBuilder, File, OpenOptions, Permissions},
    io,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

/// Mode of log files and replica records.
pub(crate) const PRIVATE_FILE: u32 = 0o600;
/// Mode of the backend's directories.
pub(crate) const PRIVATE_DIR: u32 = 0o700;

/// The endings of a replica's current log files.
const LOG_ENDINGS: [&str; 2] = [".stdout.log", ".stderr.log"];

/// What to keep of replica logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRetention {
    /// Rotate a log file larger than this many bytes; `0` never rotates.
    pub max_size: u64,
    /// Rotated copies kept per log file; `0` truncates without a copy.
    pub keep: u32,
    /// Delete rotated copies, and the logs of replicas that no longer run,
    /// not written for this long; `None` keeps them.
    pub max_age: Option<Duration>,
}

/// What one pass over the logs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCleanup {
    /// Log files rotated.
    pub rotated: usize,
    /// Files deleted: copies beyond `keep` or past `max_age`, and logs of
    /// replicas gone for longer than `max_age`.
    pub deleted: usize,
}

/// Creates `dir` (and missing parents) 0700, and tightens an existing one
/// that others may read or enter.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::debug!(path = %dir.display(), mode = format!("{mode:o}"), "directory set to 700");
        std::fs::set_permissions(dir, Permissions::from_mode(PRIVATE_DIR))?;
    }
    Ok(())
}

/// Opens a log file for appending, creating it 0600; a log an earlier
/// version created readable by others is tightened.
pub(crate) fn open_log(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    Ok(file)
}

/// Creates (or replaces the content of) `path` as a 0600 file.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    Ok(file)
}

/// Rotates and prunes every replica log under `logs`. `live` names the
/// replicas that still run (their current logs are never deleted); `now`
/// is the time ages are measured from.
pub(super) fn clean(
    logs: &Path,
    live: &HashSet<String>,
    retention: &LogRetention,
    now: SystemTime,
) -> io::Result<LogCleanup> {
    let mut done = LogCleanup::default();
    let services = match std::fs::read_dir(logs) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(done),
        Err(err) => return Err(err),
    };
    for service in services {
        let service = service?;
        if service.file_type()?.is_dir() {
            clean_service(&service.path(), live, retention, now, &mut done)?;
        }
    }
    Ok(done)
}

fn clean_service(
    dir: &Path,
    live: &HashSet<String>,
    retention: &LogRetention,
    now: SystemTime,
    done: &mut LogCleanup,
) -> io::Result<()> {
    let mut current = Vec::new();
    let mut rotated = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = replica_of(&name) {
            current.push((entry.path(), id.to_owned()));
        } else if let Some(index) = rotation_index(&name) {
            rotated.push((entry.path(), index));
        }
    }
    let old = |path: &Path| -> io::Result<bool> {
        let Some(max_age) = retention.max_age else {
            return Ok(false);
        };
        let modified = std::fs::metadata(path)?.modified()?;
        Ok(now.duration_since(modified).unwrap_or_default() > max_age)
    };
    for (path, index) in rotated {
        if (index > retention.keep || old(&path)?) && remove(&path)? {
            done.deleted += 1;
        }
    }
    for (path, id) in current {
        if !live.contains(&id) && old(&path)? {
            // A replica gone long ago: its log and every copy of it.
            if remove(&path)? {
                done.deleted += 1;
            }
            for index in 1..=retention.keep {
                if remove(&copy_path(&path, index))? {
                    done.deleted += 1;
                }
            }
            continue;
        }
        if retention.max_size > 0 && std::fs::metadata(&path)?.len() > retention.max_size {
            done.deleted += rotate(&path, retention.keep)?;
            done.rotated += 1;
        }
    }
    Ok(())
}

/// Copies `path` to `.1` (shifting older copies up, dropping the one past
/// `keep`) and truncates it; returns how many copies it dropped.
fn rotate(path: &Path, keep: u32) -> io::Result<usize> {
    let mut dropped = 0;
    if keep > 0 {
        if remove(&copy_path(path, keep))? {
            dropped += 1;
        }
        for index in (1..keep).rev() {
            match std::fs::rename(copy_path(path, index), copy_path(path, index + 1)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        let mut source = File::open(path)?;
        let mut copy = create_private(&copy_path(path, 1))?;
        io::copy(&mut source, &mut copy)?;
    }
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    tracing::debug!(path = %path.display(), keep, "replica log rotated");
    Ok(dropped)
}

/// Removes a file; `false` when it was not there.
fn remove(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// The replica whose current log file this is.
fn replica_of(name: &str) -> Option<&str> {
    LOG_ENDINGS
        .iter()
        .find_map(|ending| name.strip_suffix(ending))
        .filter(|id| !id.is_empty())
}

/// `N` of a rotated copy `<replica>.stdout.log.N`.
fn rotation_index(name: &str) -> Option<u32> {
    let (base, index) = name.rsplit_once('.')?;
    replica_of(base)?;
    index.parse().ok().filter(|index| *index > 0)
}

/// The `index`th rotated copy of the log at `path`.
fn copy_path(path: &Path, index: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests;
