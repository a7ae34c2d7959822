//! The store test suite. Every test runs twice: on a fresh SQLite file and
//! on a fresh PostgreSQL database (skipped, saying so, when
//! `STEWARD_TEST_POSTGRES_URL` is not set; `scripts/test.sh` sets it).

mod alerts;
mod deploy;
mod files;
mod incidents;
mod journal;
mod lifecycle;
mod retention;
mod tokens;

/// Declares each listed `async fn(Store)` as a SQLite test and a
/// PostgreSQL test.
#[macro_export]
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = steward_store::testing::sqlite().await;
                    super::$name(test.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(test) = steward_store::testing::postgres().await else { return };
                    super::$name(test.store.clone()).await;
                }
            )*
        }
    };
}
