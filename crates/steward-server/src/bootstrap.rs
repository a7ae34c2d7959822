//! The first admin token: created when no live admin token exists, and
//! handed over through a file only the owner can read.

use std::{
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use serde_json::json;
use steward_core::{Actor, EventKind, Name, NewEvent, Role};
use steward_store::{Error as StoreError, Store};

use crate::{Error, Result};

/// Name of the file in the data directory that holds the bootstrap token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Creates an admin token when there is no live one, writes it to
/// `<data_dir>/admin.token` (mode 0600) and returns that path; returns
/// `None` when an admin token already exists.
///
/// The file is written before the token is committed: if writing fails no
/// token exists that nobody knows, and the next start tries again.
pub async fn ensure_admin_token(store: &Store, data_dir: &Path) -> Result<Option<PathBuf>> {
    if store.live_admin_tokens().await? > 0 {
        return Ok(None);
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let mut tx = store.begin().await?;
    let mut created = None;
    for name in ["admin", "admin-bootstrap"] {
        let name = Name::new(name).expect("valid name");
        match tx.create_token(&name, Role::Admin, &Actor::system()).await {
            Ok(token) => {
                created = Some(token);
                break;
            }
            // A non-admin token may already hold the name.
            Err(StoreError::Conflict(_)) => {
                tx = store.begin().await?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    let Some(token) = created else {
        return Err(StoreError::Conflict(
            "tokens named `admin` and `admin-bootstrap` exist but neither is an admin; revoke one"
                .into(),
        )
        .into());
    };
    tx.append(
        NewEvent::new(
            EventKind::new("token.created").expect("valid kind"),
            Actor::system(),
            format!("created bootstrap admin token `{}`", token.info.name),
        )
        .payload(json!({"id": token.info.id, "name": token.info.name, "role": "admin", "bootstrap": true})),
    )
    .await?;
    write_private(&path, token.secret.expose()).map_err(|source| Error::AdminToken {
        path: path.display().to_string(),
        source,
    })?;
    tx.commit().await?;
    Ok(Some(path))
}

/// Writes `secret` to `path` readable by the owner only, atomically: a
/// reader sees the old file or the new one, never half of it.
fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let temporary = path.with_extension("token.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
