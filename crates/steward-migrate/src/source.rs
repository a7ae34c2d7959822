//! Migration sources: a directory in steward's layout, or unchanged in the
//! layouts of sqlx, golang-migrate and diesel.
//!
//! | layout | up | down | verify |
//! |---|---|---|---|
//! | steward (Flyway-like) | `V<ver>__<name>.sql` | `V<ver>__<name>.down.sql` or `U<ver>__<name>.sql` | `V<ver>__<name>.verify.sql` |
//! | steward repeatable | `R__<name>.sql` | | |
//! | sqlx, golang-migrate | `<ver>_<name>.up.sql` (or sqlx's `<ver>_<name>.sql`) | `<ver>_<name>.down.sql` | |
//! | diesel | `<ver>_<name>/up.sql` | `<ver>_<name>/down.sql` | |
//!
//! Checksums are SHA-256 of the content with a byte-order mark removed and
//! line endings normalised to `\n`, so a checkout with CRLF line endings
//! does not look like an edited migration.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::{Error, MigrationVersion, Result};

/// One SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    /// Path relative to the migration directory (as shown to users).
    pub path: PathBuf,
    /// The file's text.
    pub content: String,
    /// SHA-256 (hex) of the normalised content.
    pub checksum: String,
}

impl SqlFile {
    /// A file with its checksum computed.
    pub fn new(path: impl Into<PathBuf>, content: impl Into<String>) -> Self {
        let content = content.into();
        SqlFile {
            path: path.into(),
            checksum: checksum(&content),
            content,
        }
    }
}

/// SHA-256 (hex) of `content` without a byte-order mark and with `\r\n` and
/// lone `\r` line endings turned into `\n`.
pub fn checksum(content: &str) -> String {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let normalised = content.replace("\r\n", "\n").replace('\r', "\n");
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

/// Versioned or repeatable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationKind {
    /// Applied once, in version order.
    Versioned,
    /// Re-applied whenever its checksum changes, after the versioned ones.
    Repeatable,
}

/// One migration: its up file and, when present, down and verify files.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Version (`None` for repeatable migrations).
    pub version: Option<MigrationVersion>,
    /// Descriptive name (`create_users`).
    pub name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// The forward migration.
    pub up: SqlFile,
    /// The reverse migration.
    pub down: Option<SqlFile>,
    /// Queries that must return no rows after the migration.
    pub verify: Option<SqlFile>,
    /// Whether the up file opts out of a transaction
    /// (`-- steward:no-transaction`, or sqlx's `-- no-transaction`).
    pub no_transaction: bool,
}

impl Migration {
    /// `V3 create_users` or `R refresh_views`, for messages.
    pub fn label(&self) -> String {
        match &self.version {
            Some(version) => format!("{version} {}", self.name),
            None => format!("R {}", self.name),
        }
    }
}

/// The migrations of one directory, versioned ones in version order, then
/// repeatable ones by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Source {
    /// Where they were read from, if from a directory.
    pub dir: Option<PathBuf>,
    /// Versioned migrations, ascending.
    pub versioned: Vec<Migration>,
    /// Repeatable migrations, by name.
    pub repeatable: Vec<Migration>,
}

/// Which file of a migration a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Up,
    Down,
    Verify,
}

/// What a file name says: version (none for repeatables), name and role.
type Parsed = (Option<MigrationVersion>, String, Role);

impl Source {
    /// Reads a migration directory (and, for diesel's layout, its
    /// subdirectories). Files that do not end in `.sql` are ignored.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let read_dir = |path: &Path| {
            std::fs::read_dir(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })
        };
        let mut files = Vec::new();
        for entry in read_dir(dir)? {
            let entry = entry.map_err(|source| Error::Read {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                for inner in read_dir(&path)? {
                    let inner = inner.map_err(|source| Error::Read {
                        path: path.clone(),
                        source,
                    })?;
                    let inner_path = inner.path();
                    if inner_path.extension().is_some_and(|ext| ext == "sql")
                        && inner_path.is_file()
                    {
                        files.push((
                            PathBuf::from(&name).join(inner.file_name()),
                            read(&inner_path)?,
                        ));
                    }
                }
            } else if path.extension().is_some_and(|ext| ext == "sql") {
                files.push((PathBuf::from(&name), read(&path)?));
            }
        }
        let mut source = Self::from_files(files)?;
        source.dir = Some(dir.to_owned());
        Ok(source)
    }

    /// Builds a source from `(relative path, content)` pairs, e.g. files
    /// embedded in a binary.
    pub fn from_files(files: impl IntoIterator<Item = (PathBuf, String)>) -> Result<Self> {
        // Keyed by version (versioned) or name (repeatable).
        let mut versioned: BTreeMap<MigrationVersion, Parts> = BTreeMap::new();
        let mut repeatable: BTreeMap<String, Parts> = BTreeMap::new();
        for (path, content) in files {
            let (version, name, role) = parse_path(&path)?;
            let parts = match &version {
                Some(version) => versioned.entry(version.clone()).or_default(),
                None => repeatable.entry(name.clone()).or_default(),
            };
            if let Some(existing) = &parts.name
                && existing != &name
            {
                return Err(Error::Source {
                    path,
                    message: format!(
                        "version {} is also used by a migration named `{existing}`",
                        version_text(version.as_ref())
                    ),
                });
            }
            parts.name.get_or_insert(name);
            let slot = match role {
                Role::Up => &mut parts.up,
                Role::Down => &mut parts.down,
                Role::Verify => &mut parts.verify,
            };
            if let Some(existing) = slot {
                return Err(Error::Source {
                    path,
                    message: format!(
                        "duplicate {} file for version {}: {} is one already",
                        role_name(role),
                        version_text(version.as_ref()),
                        existing.path.display()
                    ),
                });
            }
            *slot = Some(SqlFile::new(path, content));
            parts.version = version;
        }
        let mut source = Source::default();
        for parts in versioned.into_values() {
            source
                .versioned
                .push(parts.finish(MigrationKind::Versioned)?);
        }
        for parts in repeatable.into_values() {
            let migration = parts.finish(MigrationKind::Repeatable)?;
            if let Some(down) = &migration.down {
                return Err(Error::Source {
                    path: down.path.clone(),
                    message: "repeatable migrations have no down file; they are re-applied when they change".into(),
                });
            }
            source.repeatable.push(migration);
        }
        Ok(source)
    }

    /// Every migration: versioned ones in order, then repeatable ones.
    pub fn all(&self) -> impl Iterator<Item = &Migration> {
        self.versioned.iter().chain(&self.repeatable)
    }
}

#[derive(Default)]
struct Parts {
    version: Option<MigrationVersion>,
    name: Option<String>,
    up: Option<SqlFile>,
    down: Option<SqlFile>,
    verify: Option<SqlFile>,
}

impl Parts {
    fn finish(self, kind: MigrationKind) -> Result<Migration> {
        let Some(up) = self.up else {
            let orphan = self.down.or(self.verify).expect("a part exists");
            return Err(Error::Source {
                message: "there is no up migration for this file".into(),
                path: orphan.path,
            });
        };
        Ok(Migration {
            no_transaction: wants_no_transaction(&up.content),
            version: self.version,
            name: self.name.unwrap_or_default(),
            kind,
            up,
            down: self.down,
            verify: self.verify,
        })
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

fn version_text(version: Option<&MigrationVersion>) -> String {
    version.map_or_else(|| "R".to_owned(), ToString::to_string)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Up => "up",
        Role::Down => "down",
        Role::Verify => "verify",
    }
}

/// Reads version, name and role from a path relative to the directory.
fn parse_path(path: &Path) -> Result<Parsed> {
    let bad = |message: &str| Error::Source {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let file = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| bad("file name is not valid UTF-8"))?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        // diesel: <version>_<name>/{up,down}.sql
        let dir = dir
            .to_str()
            .ok_or_else(|| bad("directory name is not valid UTF-8"))?;
        let role = match file {
            "up.sql" => Role::Up,
            "down.sql" => Role::Down,
            "verify.sql" => Role::Verify,
            _ => {
                return Err(bad(
                    "in a migration directory, expected up.sql, down.sql or verify.sql",
                ));
            }
        };
        let (version, name) = split_version(dir, '_').ok_or_else(|| {
            bad("directory name must be <version>_<name>, e.g. 2024-01-31-120000_create_users")
        })?;
        return Ok((Some(version), name, role));
    }
    let stem = file
        .strip_suffix(".sql")
        .ok_or_else(|| bad("not a .sql file"))?;
    if let Some(name) = stem.strip_prefix("R__") {
        return Ok((None, name.to_owned(), Role::Up));
    }
    for (prefix, default_role) in [('V', Role::Up), ('U', Role::Down)] {
        if let Some(rest) = stem.strip_prefix(prefix)
            && let Some((version, name)) = rest.split_once("__")
            && let Some(version) = MigrationVersion::parse(version)
        {
            let (name, role) = match (
                default_role,
                name.strip_suffix(".down"),
                name.strip_suffix(".verify"),
            ) {
                (Role::Up, Some(base), _) => (base, Role::Down),
                (Role::Up, _, Some(base)) => (base, Role::Verify),
                (role, _, _) => (name, role),
            };
            return Ok((Some(version), name.to_owned(), role));
        }
    }
    // sqlx and golang-migrate: <version>_<name>[.up|.down].sql
    let (base, role) = match (stem.strip_suffix(".up"), stem.strip_suffix(".down")) {
        (Some(base), _) => (base, Role::Up),
        (_, Some(base)) => (base, Role::Down),
        _ => (stem, Role::Up),
    };
    let (version, name) = split_version(base, '_').ok_or_else(|| {
        bad("cannot tell this migration's version; name it V<version>__<name>.sql (or <version>_<name>.up.sql)")
    })?;
    Ok((Some(version), name, role))
}

/// Splits `<version><sep><name>` at the first separator after the version.
fn split_version(text: &str, separator: char) -> Option<(MigrationVersion, String)> {
    // The version is the leading run of digits and `-` (diesel's dates);
    // the name follows the separator.
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '-'))
        .map_or(text.len(), |(at, _)| at);
    let version = MigrationVersion::parse(text[..end].trim_end_matches('-'))?;
    let name = text[end..].strip_prefix(separator).unwrap_or(&text[end..]);
    Some((version, name.to_owned()))
}

/// Whether the file's leading comments ask to run outside a transaction.
pub(crate) fn wants_no_transaction(content: &str) -> bool {
    content
        .lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with("--"))
        .filter_map(|line| line.strip_prefix("--"))
        .map(|comment| comment.trim().to_ascii_lowercase())
        .any(|comment| comment == "steward:no-transaction" || comment == "no-transaction")
}

#[cfg(test)]
mod tests;
