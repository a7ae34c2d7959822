//! Database URLs, parsed once: the engine a URL names, a SQLite URL's file
//! (or that it is in memory), a relative SQLite file resolved against a
//! directory, the URL as a driver wants it, and a display that never shows
//! credentials. The configuration, the state store and the migration engine
//! all read URLs through this type, so that they agree on the rules.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use crate::{Error, Result};

/// The engines steward speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// SQLite (`sqlite://path`, `sqlite:path`, `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// MySQL or MariaDB (`mysql://`, `mariadb://`).
    Mysql,
}

impl Engine {
    /// Lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    /// The engine a URL scheme names.
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        Some(match scheme {
            "sqlite" => Engine::Sqlite,
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::Mysql,
            _ => return None,
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// URL schemes steward accepts for databases.
pub const DATABASE_SCHEMES: [&str; 5] = ["sqlite", "postgres", "postgresql", "mysql", "mariadb"];

/// Where a SQLite URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// An in-memory database.
    Memory,
    /// A file, with the URL's query (`mode=ro`...), if any.
    File {
        /// The file, as written in the URL.
        path: PathBuf,
        /// The query after `?`, without it.
        query: Option<String>,
    },
}

/// A database URL of a supported engine. `Debug` and `Display` show only
/// its scheme: the rest may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    engine: Engine,
}

impl DatabaseUrl {
    /// Parses `url`; fails naming the scheme when steward does not speak it.
    pub fn parse(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        let engine = Engine::from_scheme(scheme).ok_or_else(|| Error::UnsupportedDatabaseUrl {
            scheme: scheme.to_owned(),
        })?;
        Ok(DatabaseUrl {
            url: url.to_owned(),
            engine,
        })
    }

    /// The engine it names.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Its scheme, as written (`postgresql`, `mariadb`...).
    pub fn scheme(&self) -> &str {
        self.url.split(':').next().unwrap_or_default()
    }

    /// The whole URL, credentials included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// Where a SQLite URL points; `None` for other engines.
    pub fn sqlite(&self) -> Option<SqliteLocation> {
        if self.engine != Engine::Sqlite {
            return None;
        }
        let rest = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))
            .unwrap_or_default();
        let (file, query) = match rest.split_once('?') {
            Some((file, query)) => (file, Some(query)),
            None => (rest, None),
        };
        if file.is_empty()
            || file == ":memory:"
            || query.is_some_and(|query| query.contains("mode=memory"))
        {
            return Some(SqliteLocation::Memory);
        }
        Some(SqliteLocation::File {
            path: PathBuf::from(file),
            query: query.map(str::to_owned),
        })
    }

    /// The file of a SQLite URL; `None` in memory or for other engines.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self.sqlite()? {
            SqliteLocation::File { path, .. } => Some(path),
            SqliteLocation::Memory => None,
        }
    }

    /// The URL with a relative SQLite file resolved against `base` (other
    /// URLs unchanged).
    pub fn resolved_against(&self, base: &Path) -> Self {
        match self.sqlite() {
            Some(SqliteLocation::File { path, query }) if path.is_relative() => {
                let path = normalize_path(&base.join(path));
                let url = match query {
                    Some(query) => format!("sqlite://{}?{query}", path.display()),
                    None => format!("sqlite://{}", path.display()),
                };
                DatabaseUrl {
                    url,
                    engine: Engine::Sqlite,
                }
            }
            _ => self.clone(),
        }
    }

    /// The URL as the engine's driver wants it (`mariadb://` is spelled
    /// `mysql://`).
    pub fn for_driver(&self) -> String {
        match self.url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => self.url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({}://[redacted])", self.scheme())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://[redacted]", self.scheme())
    }
}

/// Removes `.` and resolves `..` lexically, so paths shown to users read
/// like the directories they name (`a/b/../c` becomes `a/c`). Symlinks are
/// not followed: the configuration means the path as written.
pub fn normalize_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(
                    out.components().next_back(),
                    Some(Component::RootDir | Component::Prefix(_))
                ) {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
