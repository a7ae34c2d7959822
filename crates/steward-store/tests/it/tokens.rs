//! API tokens: creation, hashing, lookup, listing, revocation, names.

use steward_core::{Actor, Name, Role};
use steward_store::{Error, Store, TOKEN_PREFIX};

crate::store_suite!(
    tokens_authenticate_until_revoked,
    live_names_are_unique,
    admin_tokens_are_counted
);

async fn tokens_authenticate_until_revoked(store: Store) {
    let name = Name::new("ci").unwrap();
    let mut tx = store.begin().await.unwrap();
    let created = tx
        .create_token(&name, Role::Operator, &Actor::system())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let secret = created.secret.expose().clone();
    assert!(secret.starts_with(TOKEN_PREFIX) && secret.len() == TOKEN_PREFIX.len() + 48);
    assert!(created.info.id.starts_with("tok_"));

    let found = store
        .authenticate(&secret)
        .await
        .unwrap()
        .expect("token is live");
    assert_eq!(found.name, name);
    assert_eq!(found.role, Role::Operator);
    assert!(found.last_used_at.is_some(), "use is recorded");
    assert_eq!(store.authenticate("stw_not-a-token").await.unwrap(), None);
    assert_eq!(
        store
            .authenticate(&secret[..secret.len() - 1])
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.authenticate("Bearer nonsense").await.unwrap(), None);

    let listed = store.tokens(false).await.unwrap();
    assert_eq!(listed.len(), 1);
    let listed_json = serde_json::to_string(&listed).unwrap();
    assert!(
        !listed_json.contains(&secret[TOKEN_PREFIX.len()..]),
        "listing never shows the secret"
    );

    let mut tx = store.begin().await.unwrap();
    let revoked = tx.revoke_token("ci").await.unwrap();
    tx.commit().await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        store.authenticate(&secret).await.unwrap(),
        None,
        "revoked tokens stop working"
    );
    assert!(store.tokens(false).await.unwrap().is_empty());
    assert_eq!(store.tokens(true).await.unwrap().len(), 1);

    let mut tx = store.begin().await.unwrap();
    let again = tx.revoke_token(&created.info.id).await.unwrap_err();
    assert!(matches!(again, Error::NotFound { .. }), "{again}");
}

async fn live_names_are_unique(store: Store) {
    let name = Name::new("deployer").unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.create_token(&name, Role::Operator, &Actor::system())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let err = tx
        .create_token(&name, Role::Viewer, &Actor::system())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(
        err.to_string().contains("`deployer` already exists"),
        "{err}"
    );
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    tx.revoke_token("deployer").await.unwrap();
    let reused = tx
        .create_token(&name, Role::Viewer, &Actor::system())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        reused.info.role,
        Role::Viewer,
        "a revoked token's name can be reused"
    );
}

async fn admin_tokens_are_counted(store: Store) {
    assert_eq!(store.live_admin_tokens().await.unwrap(), 0);
    let mut tx = store.begin().await.unwrap();
    tx.create_token(&Name::new("root").unwrap(), Role::Admin, &Actor::system())
        .await
        .unwrap();
    tx.create_token(
        &Name::new("viewer").unwrap(),
        Role::Viewer,
        &Actor::system(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.live_admin_tokens().await.unwrap(), 1);
}
