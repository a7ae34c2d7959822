//! API tokens: creation, hashing, lookup, listing, revocation, names.

use steward_core::{Actor, Name, Role};
use steward_store::{Error, Store, TOKEN_PREFIX};

crate::store_suite!(
    tokens_authenticate_until_revoked,
    live_names_are_unique,
    admin_tokens_are_counted,
    concurrent_bootstraps_create_one_admin_token,
    bootstrap_avoids_a_name_a_non_admin_holds,
    concurrent_revocations_never_remove_the_last_admin
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

async fn concurrent_bootstraps_create_one_admin_token(store: Store) {
    const INSTANCES: usize = 6;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(INSTANCES));
    let mut tasks = Vec::new();
    for _ in 0..INSTANCES {
        let store = store.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut tx = store.begin().await.unwrap();
            let created = tx.bootstrap_admin_token().await.unwrap();
            // Writing the token file takes a moment, inside the transaction.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            tx.commit().await.unwrap();
            created
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.extend(task.await.unwrap());
    }
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].info.name.as_str(), "admin");
    assert_eq!(store.live_admin_tokens().await.unwrap(), 1);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.bootstrap_admin_token().await.unwrap().is_none());
}

async fn bootstrap_avoids_a_name_a_non_admin_holds(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.create_token(&Name::new("admin").unwrap(), Role::Viewer, &Actor::system())
        .await
        .unwrap();
    let created = tx.bootstrap_admin_token().await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(created.info.name.as_str(), "admin-bootstrap");
    assert_eq!(created.info.role, Role::Admin);
}

/// What the revoke route does: revoke, and refuse (roll back) when no
/// admin would remain.
async fn revoke_keeping_an_admin(store: Store, name: String) -> Result<(), String> {
    let mut tx = store.begin().await.unwrap();
    let revoked = tx
        .revoke_token(&name)
        .await
        .map_err(|err| err.to_string())?;
    // Widens the window in which another revocation could interleave.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    if revoked.role == Role::Admin && tx.live_admin_tokens().await.unwrap() == 0 {
        return Err(format!("`{name}` is the last admin token"));
    }
    tx.commit().await.unwrap();
    Ok(())
}

async fn concurrent_revocations_never_remove_the_last_admin(store: Store) {
    for round in 0..5 {
        let names = [format!("first-{round}"), format!("second-{round}")];
        let mut tx = store.begin().await.unwrap();
        for name in &names {
            tx.create_token(
                &Name::new(name.as_str()).unwrap(),
                Role::Admin,
                &Actor::system(),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        // The previous round's survivor goes, so that exactly these two remain.
        let mut tx = store.begin().await.unwrap();
        for token in store.tokens(false).await.unwrap() {
            if token.role == Role::Admin && !names.contains(&token.name.to_string()) {
                tx.revoke_token(&token.id).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        assert_eq!(store.live_admin_tokens().await.unwrap(), 2, "round {round}");

        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = names
            .iter()
            .map(|name| {
                let (store, start, name) = (store.clone(), start.clone(), name.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    revoke_keeping_an_admin(store, name).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(
            store.live_admin_tokens().await.unwrap(),
            1,
            "round {round}: {outcomes:?}"
        );
        assert_eq!(
            outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
            1,
            "round {round}: {outcomes:?}"
        );
    }
}
