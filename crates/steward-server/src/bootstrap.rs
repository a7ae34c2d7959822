//! The data directory, private to steward's user, and the first admin
//! token: created when no live admin token exists, and handed over through
//! a file only the owner can read.

use std::{
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use serde_json::json;
use steward_core::{Actor, NewEvent};
use steward_store::Store;

use crate::{Error, Result};

/// Name of the file in the data directory that holds the bootstrap token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Mode of the data directory: it holds the state database (service
/// environments in plain text), the admin token, backups and replica logs.
const DATA_DIR_MODE: u32 = 0o700;

/// Creates the data directory (and missing parents) 0700, or tightens an
/// existing one that others may read or enter, with a warning naming it
/// and its old mode.
pub fn secure_data_dir(data_dir: &Path) -> Result<()> {
    let failed = |source| Error::DataDir {
        path: data_dir.display().to_string(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DATA_DIR_MODE)
        .create(data_dir)
        .map_err(failed)?;
    let mode = std::fs::metadata(data_dir)
        .map_err(failed)?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %data_dir.display(),
            mode = format!("{mode:o}"),
            "data directory was accessible to other users; set it to 700"
        );
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(DATA_DIR_MODE))
            .map_err(failed)?;
    }
    Ok(())
}

/// Creates an admin token when there is no live one, writes it to
/// `<data_dir>/admin.token` (mode 0600) and returns that path; returns
/// `None` when an admin token already exists.
///
/// The check and the creation are one transaction that holds the store's
/// admin-token lock, so of several steward instances starting at once on
/// one PostgreSQL database exactly one creates a token. The file is written
/// before the token is committed: if writing fails no token exists that
/// nobody knows, and the next start tries again.
pub async fn ensure_admin_token(store: &Store, data_dir: &Path) -> Result<Option<PathBuf>> {
    let mut tx = store.begin().await?;
    let Some(token) = tx.bootstrap_admin_token().await? else {
        return Ok(None);
    };
    tx.append(
        NewEvent::new(
            crate::events::TokenEvent::Created.kind(),
            Actor::system(),
            format!("created bootstrap admin token `{}`", token.info.name),
        )
        .payload(json!({"id": token.info.id, "name": token.info.name, "role": "admin", "bootstrap": true})),
    )
    .await?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_private(&path, token.secret.expose()).map_err(|source| Error::AdminToken {
        path: path.display().to_string(),
        source,
    })?;
    tx.commit().await?;
    Ok(Some(path))
}

/// Writes `secret` to `path` readable by the owner only, atomically and
/// durably: a reader sees the old file or the new one, never half of it,
/// and after a crash the rename is on disk.
///
/// The temporary file is created exclusively and without following a
/// symlink, so a link planted at its path (by whoever else can write to the
/// directory) never redirects the secret; such a leftover is removed (the
/// link itself, not its target) and the creation tried once more.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DATA_DIR_MODE)
        .create(dir)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let temporary = PathBuf::from(name);
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&temporary)
    };
    let mut file = match create() {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            tracing::warn!(path = %temporary.display(), "removing a leftover temporary admin token file");
            std::fs::remove_file(&temporary)?;
            create()?
        }
        Err(err) => return Err(err),
    };
    let written = (|| {
        file.write_all(secret.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    // The rename is durable only once the directory is.
    std::fs::File::open(dir)?.sync_all()
}
