//! Owner-only files and directories for a SQLite state database: the file
//! holds service environments (secrets) in plain text, so it, its WAL and
//! shared-memory files and its lock file are 0600, and a directory created
//! for it 0700.

use std::{
    fs::{DirBuilder, OpenOptions, Permissions},
    io,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

/// Mode of files that may hold secrets.
pub(crate) const PRIVATE_FILE: u32 = 0o600;
/// Mode of directories created for them.
pub(crate) const PRIVATE_DIR: u32 = 0o700;

/// Creates `dir` and its missing parents, each 0700. An existing directory
/// is left as it is: the database may live in a shared one (`/tmp`).
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
}

/// Makes sure the database file exists and is 0600 before SQLite opens it:
/// SQLite gives the WAL and shared-memory files the database file's mode,
/// so they follow. An existing file readable by others is tightened, with
/// a warning.
pub(crate) fn prepare_database_file(file: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_FILE)
        .open(file)?;
    if let Some(mode) = tighten(file)? {
        tracing::warn!(path = %file.display(), mode = format!("{mode:o}"), "state database file was readable by others; set it to 600");
    }
    Ok(())
}

/// Tightens every file beside the database whose name starts with the
/// database file's name (`steward.db-wal`, `steward.db-shm`, the migration
/// lock file): those SQLite and the migration engine created before this
/// version, or with the process's umask. Only logged at debug level: the
/// database file's own warning already told about an older installation,
/// and a fresh one's lock file holds no secret.
pub(crate) fn tighten_companions(file: &Path) -> io::Result<()> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.as_encoded_bytes();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_companion = entry.file_name().as_encoded_bytes().starts_with(name);
        if is_companion && entry.file_type()?.is_file() {
            match tighten(&entry.path()) {
                Ok(Some(mode)) => {
                    tracing::debug!(path = %entry.path().display(), mode = format!("{mode:o}"), "state database companion file set to 600");
                }
                Ok(None) => {}
                // Removed meanwhile (SQLite deletes its WAL on close).
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}

/// Sets a file that others may access to 0600; returns its old mode when
/// it changed it.
fn tighten(path: &Path) -> io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, Permissions::from_mode(PRIVATE_FILE))?;
    Ok(Some(mode))
}

#[cfg(test)]
mod tests;
