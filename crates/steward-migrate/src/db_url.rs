//! What the connection, the lock and the backups read from a target's URL
//! beyond its dialect ([`crate::Dialect::from_url`]): a SQLite URL's file,
//! and MariaDB's scheme spelled as the MySQL driver wants it.

use std::path::PathBuf;

/// The database file of a SQLite URL, or `None` for an in-memory one.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
    if file.is_empty() || file == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(file))
}

/// `mariadb://` is accepted as a synonym of `mysql://`.
pub(crate) fn mysql_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    }
}
