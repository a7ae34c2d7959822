//! The migration manager of a database configured in `steward.toml`: its
//! migrations directory, its backups in `<data_dir>/backups/<name>`, as many
//! kept as `[retention] backups_keep` says, and who applies. One
//! constructor for the deployment engine, the API and the CLI.

use std::path::{Path, PathBuf};

use steward_config::{Config, DatabaseConfig};

use crate::{Error, MigrationManager, Options, Result, Source};

/// Where the backups of configured database `database` go.
pub fn backup_dir(data_dir: &Path, database: &DatabaseConfig) -> PathBuf {
    data_dir.join("backups").join(database.name.as_str())
}

/// The options of runs on configured database `database` by `actor`.
pub fn options(
    config: &Config,
    data_dir: &Path,
    database: &DatabaseConfig,
    actor: &str,
) -> Options {
    let mut options = Options::new(backup_dir(data_dir, database));
    options.applied_by = actor.to_owned();
    options.keep_backups = config.retention.backups_to_keep();
    options
}

/// The manager of configured database `database`, acting for `actor`,
/// with its [`options`] adjusted by `configure`. Fails with
/// [`Error::NoMigrations`] when it has no migrations directory.
pub fn manager(
    config: &Config,
    data_dir: &Path,
    database: &DatabaseConfig,
    actor: &str,
    configure: impl FnOnce(&mut Options),
) -> Result<MigrationManager> {
    let dir = database
        .migrations
        .as_ref()
        .ok_or_else(|| Error::NoMigrations {
            database: database.name.to_string(),
        })?;
    let mut options = options(config, data_dir, database, actor);
    configure(&mut options);
    MigrationManager::new(database.url.expose(), Source::from_dir(dir)?, options)
}
