//! Integration tests of the migration engine against real databases:
//! SQLite files, and fresh databases on the PostgreSQL and MariaDB servers
//! that `scripts/test.sh` starts (tests on those skip, saying so, when the
//! servers are not there).

mod apply;
mod backups;
mod down;
mod history;
mod locking;
mod modes;
mod realistic;
mod support;

/// Declares each listed `async fn(TestDatabase)` as a test on SQLite,
/// PostgreSQL and MariaDB.
#[macro_export]
macro_rules! engine_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = steward_migrate::testing::database(steward_migrate::Dialect::Sqlite).await.unwrap();
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = steward_migrate::testing::database(steward_migrate::Dialect::Postgres).await else { return };
                    super::$name(db).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = steward_migrate::testing::database(steward_migrate::Dialect::Mysql).await else { return };
                    super::$name(db).await;
                }
            )*
        }
    };
}
