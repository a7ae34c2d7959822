//! What the connection, the lock and the backups read from a target's URL
//! beyond its dialect ([`crate::Dialect::from_url`]): a SQLite URL's file,
//! and MariaDB's scheme spelled as the MySQL driver wants it. The rules are
//! steward-core's [`DatabaseUrl`], shared with the configuration and the
//! state store.

use std::path::PathBuf;

use steward_core::DatabaseUrl;

/// The database file of a SQLite URL, or `None` for an in-memory one (or
/// another engine).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    DatabaseUrl::parse(url).ok()?.sqlite_file()
}

/// `mariadb://` is accepted as a synonym of `mysql://`.
pub(crate) fn mysql_url(url: &str) -> String {
    DatabaseUrl::parse(url).map_or_else(|_| url.to_owned(), |url| url.for_driver())
}
