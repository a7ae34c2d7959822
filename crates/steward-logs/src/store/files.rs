//! File-system helpers of the store: private directories and files (a
//! service may log its secrets) and directory syncs after renames.

use std::{
    fs::{DirBuilder, File, Permissions},
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::Path,
};

use crate::{Error, Result};

/// Creates `dir` (and its parents) readable by steward's user only.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, Permissions::from_mode(0o700)))
        .map_err(|err| Error::io(dir, err))
}

/// Makes `path` readable by steward's user only.
pub(crate) fn private_file(path: &Path) -> Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(0o600))
        .map_err(|err| Error::io(path, err))
}

/// Makes the directory's entries (a created or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|err| Error::io(dir, err))
}
