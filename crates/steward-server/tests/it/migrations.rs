//! Migrations of configured databases over the API, journaled as they go.

use axum::http::{Method, StatusCode};
use serde_json::json;
use steward_store::EventQuery;

use crate::support::{App, error_code};

async fn kinds(app: &App) -> Vec<(String, String)> {
    let page = app
        .store
        .events(&EventQuery {
            kind: Some("migration".into()),
            order: steward_store::Order::Asc,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    page.events
        .into_iter()
        .map(|e| (e.kind.to_string(), e.actor.to_string()))
        .collect()
}

#[tokio::test]
async fn status_plan_and_apply_are_journaled_with_the_caller() {
    let app = App::new().await;
    let (status, databases) = app
        .call(Method::GET, "/api/v1/databases", Some(&app.viewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(databases[0]["name"], "agents");
    assert_eq!(databases[0]["pending"], 2);

    let (_, plan) = app
        .call(
            Method::GET,
            "/api/v1/databases/agents/plan",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(plan["steps"].as_array().unwrap().len(), 2);
    assert_eq!(
        plan["steps"][1]["statements"][1]["sql"],
        "CREATE INDEX runs_task ON runs (task_id)"
    );

    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/databases/agents/apply",
            Some(&app.viewer),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/databases/agents/apply",
            Some(&app.operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["migrations"].as_array().unwrap().len(), 2);
    let (_, status_body) = app
        .call(
            Method::GET,
            "/api/v1/databases/agents/migrations",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status_body["current"], "2");
    assert_eq!(
        status_body["entries"][0]["applied_by"], "token:deployer",
        "the history names the caller"
    );

    let journal = kinds(&app).await;
    let expected: Vec<(String, String)> = [
        "migration.started",
        "migration.backup",
        "migration.applied",
        "migration.backup",
        "migration.applied",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), "token:deployer".to_owned()))
    .collect();
    assert_eq!(journal, expected);
    let (_, drift) = app
        .call(
            Method::GET,
            "/api/v1/databases/agents/drift",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(drift["drifted"], false);
}

#[tokio::test]
async fn a_failed_migration_answers_422_and_journals_the_rollback() {
    let app = App::new().await;
    std::fs::write(
        app.dir.path().join("migrations/V3__broken.sql"),
        "CREATE TABLE ok (x INT);\nINSERT INTO nowhere VALUES (1);",
    )
    .unwrap();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/databases/agents/apply",
            Some(&app.operator),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "migration_failed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("V3__broken.sql:2") && message.contains("no such table"),
        "{message}"
    );
    let journal: Vec<String> = kinds(&app).await.into_iter().map(|(k, _)| k).collect();
    assert!(
        journal.ends_with(&[
            "migration.rolled_back".to_owned(),
            "migration.failed".to_owned()
        ]),
        "{journal:?}"
    );
}

#[tokio::test]
async fn unknown_databases_and_bad_requests_are_client_errors() {
    let app = App::new().await;
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/databases/nope/migrations",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no database `nope`")
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/databases/agents/apply",
            Some(&app.operator),
            Some(json!({"targett": "2"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `targett`"),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/databases/agents/down",
            Some(&app.admin),
            Some(json!({"to": "banana"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn requests_that_conflict_with_the_database_answer_409() {
    let app = App::new().await;
    let post = |path: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                &format!("/api/v1/databases/agents/{path}"),
                Some(&app.admin),
                Some(body),
            )
            .await
        }
    };
    let (status, body) = post("apply", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = post("baseline", json!({"version": "1"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "migration_conflict");
    assert_eq!(body["error"]["kind"], "conflict");

    // Without its down file, the newest migration cannot be undone.
    let down_file = app.dir.path().join("migrations/V2__runs.down.sql");
    let sql = std::fs::read_to_string(&down_file).unwrap();
    std::fs::remove_file(&down_file).unwrap();
    let (status, body) = post("down", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "migration_conflict");
    std::fs::write(&down_file, sql).unwrap();
    let (status, body) = post("down", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Two backups now (before the apply, before the down): both ids start
    // with the year.
    let (_, backups) = app
        .call(
            Method::GET,
            "/api/v1/databases/agents/backups",
            Some(&app.viewer),
            None,
        )
        .await;
    assert!(backups.as_array().unwrap().len() >= 2, "{backups}");
    let (status, body) = post("restore", json!({"backup": "2"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "backup_ambiguous");
    let (status, body) = post("restore", json!({"backup": "1999"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "backup_not_found");
    let (status, body) = post("restore", json!({"backup": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_body");
    let newest = backups[0]["id"].as_str().unwrap();
    let (status, body) = post("restore", json!({"backup": newest})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
