//! Opening, reopening and migrating the state database.

use steward_core::{Actor, EventKind, NewEvent};
use steward_store::{Backend, Error, Store, testing};

crate::store_suite!(schema_is_migrated_and_pingable);

async fn schema_is_migrated_and_pingable(store: Store) {
    store.ping().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), "4");
}

#[tokio::test]
async fn sqlite_state_survives_reopening() {
    let test = testing::sqlite().await;
    let kind = EventKind::new("steward.started").unwrap();
    let appended = test
        .store
        .append(NewEvent::new(kind, Actor::system(), "first run"))
        .await
        .unwrap();
    test.store.close().await;

    let reopened = Store::connect(&test.url).await.unwrap();
    assert_eq!(reopened.backend(), Backend::Sqlite);
    assert_eq!(reopened.event(appended.id).await.unwrap(), appended);
    assert_eq!(
        *reopened.subscribe().borrow(),
        appended.id,
        "watchers start at the newest event"
    );
    reopened.close().await;
}

#[tokio::test]
async fn sqlite_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/state.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.ping().await.unwrap();
    assert!(path.is_file());
    store.close().await;
}

#[tokio::test]
async fn unsupported_urls_name_only_the_scheme() {
    let err = Store::connect("mysql://root:hunter2@db/steward")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`mysql`") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn unreachable_postgres_is_a_connect_error() {
    // Port 1 on loopback refuses connections on any normal machine.
    let err = Store::connect("postgres://steward:secret@127.0.0.1:1/steward")
        .await
        .unwrap_err();
    use steward_core::{ErrorCode, ErrorKind};
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(err.code(), "store_unavailable");
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}
