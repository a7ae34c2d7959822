//! Reloads of the AlertManager's configuration: `POST /api/v1/reload`
//! reads the configuration file and the Alertmanager configuration it
//! names again (a new receiver appears in API v2; an invalid file is
//! refused with the file and the problem named, the old receivers stay),
//! journals each outcome, reports the rules and the AlertManager each
//! when they run side by side, and Alertmanager's own `POST
//! /alertmanager/-/reload` answers as Alertmanager 0.25 does.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{App, error_code, request};

/// An Alertmanager configuration with these receivers (webhooks nobody
/// listens to: nothing fires in these tests), the first at the root.
fn am_config(receivers: &[&str]) -> String {
    let mut text = format!(
        "route:\n  receiver: {}\n  group_wait: 1s\nreceivers:\n",
        receivers[0]
    );
    for name in receivers {
        text.push_str(&format!(
            "  - name: {name}\n    webhook_configs:\n      - url: http://127.0.0.1:9/{name}\n"
        ));
    }
    text
}

/// An application whose `[alerts]` names `alertmanager.yml` in a
/// directory of its own, and that file.
async fn app_with_am_file(receivers: &[&str]) -> (App, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alertmanager.yml");
    std::fs::write(&file, am_config(receivers)).unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[alerts]\nconfig = {:?}\n",
        file.display().to_string()
    );
    (App::from_toml(&toml).await, dir, file)
}

async fn receivers(app: &App) -> Vec<String> {
    let (status, body) = app
        .call(
            Method::GET,
            "/alertmanager/api/v2/receivers",
            Some(&app.viewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn reload(app: &App, token: &str) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/reload", Some(token), Some(json!({})))
        .await
}

#[tokio::test]
async fn the_alertmanager_file_is_read_again_and_an_invalid_one_changes_nothing() {
    let (app, _dir, file) = app_with_am_file(&["ops"]).await;
    assert_eq!(receivers(&app).await, ["ops"]);

    std::fs::write(&file, am_config(&["ops", "pager"])).unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["alertmanager"],
        json!({"config": file.display().to_string(), "receivers": ["ops", "pager"]})
    );
    assert_eq!(body["rule_files"], json!([]), "no rules run on this server");
    assert_eq!(receivers(&app).await, ["ops", "pager"]);
    let reloaded = app.events_of("alerts.reloaded").await;
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded[0]["actor"], "token:deployer");
    assert_eq!(reloaded[0]["payload"]["receivers"], json!(["ops", "pager"]));

    // a route to a receiver the file does not define
    std::fs::write(
        &file,
        am_config(&["ops", "pager"]).replace("receiver: ops", "receiver: nowhere"),
    )
    .unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "alerts_invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&file.display().to_string()),
        "the file is named: {message}"
    );
    assert!(
        message.contains("undefined receiver \"nowhere\" used in route"),
        "{message}"
    );
    assert!(
        message.contains("previous configuration runs on"),
        "{message}"
    );
    assert_eq!(
        receivers(&app).await,
        ["ops", "pager"],
        "the previous configuration runs on"
    );
    let failed = app.events_of("alerts.reload_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["severity"], "error");
    assert!(
        failed[0]["payload"]["error"]
            .as_str()
            .unwrap()
            .contains("nowhere"),
        "{}",
        failed[0]
    );
    assert_eq!(app.events_of("alerts.reloaded").await.len(), 1);

    let (status, _) = reload(&app, &app.viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reloading is an operator's");
}

#[tokio::test]
async fn alertmanagers_own_reload_endpoint_answers_as_alertmanager() {
    let (app, _dir, file) = app_with_am_file(&["ops"]).await;
    let reload = |token: String| {
        let app = &app;
        async move {
            let response = app
                .send(request(
                    Method::POST,
                    "/alertmanager/-/reload",
                    Some(&token),
                    None,
                ))
                .await;
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                status,
                content_type,
                String::from_utf8(body.to_vec()).unwrap(),
            )
        }
    };

    std::fs::write(&file, "route:\n  receiver: ops\n").unwrap();
    let (status, content_type, text) = reload(app.operator.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert!(
        text.starts_with("failed to reload config: ") && text.ends_with('\n'),
        "{text:?}"
    );
    assert!(text.contains("undefined receiver \"ops\""), "{text}");
    assert_eq!(receivers(&app).await, ["ops"]);

    std::fs::write(&file, am_config(&["ops", "oncall"])).unwrap();
    let (status, _, text) = reload(app.operator.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "", "Alertmanager answers success with an empty body");
    assert_eq!(receivers(&app).await, ["ops", "oncall"]);
    assert_eq!(app.events_of("alerts.reloaded").await.len(), 1);
    assert_eq!(app.events_of("alerts.reload_failed").await.len(), 1);

    let (status, _, _) = reload(app.viewer.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// `steward.toml` in `dir` with `[alerts]` inline, receivers `names`.
fn write_steward_toml(file: &Path, names: &[&str]) {
    std::fs::write(
        file,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[alerts]\nconfig_yaml = '''\n{}'''\n",
            am_config(names)
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn the_configuration_file_itself_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    write_steward_toml(&file, &["ops"]);
    let app = App::from_file(dir, &file).await;
    assert_eq!(receivers(&app).await, ["ops"]);

    write_steward_toml(&file, &["ops", "pager"]);
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alertmanager"]["config"], "[alerts] config_yaml");
    assert_eq!(receivers(&app).await, ["ops", "pager"]);

    // an unknown key: steward.toml itself is invalid, nothing reloads
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("[alerts]\n", "[alerts]\nretention_days = 3\n"),
    )
    .unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_config");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("retention_days"), "{message}");
    assert!(message.contains("steward.toml"), "{message}");
    assert_eq!(receivers(&app).await, ["ops", "pager"]);
    assert_eq!(app.events_of("alerts.reload_failed").await.len(), 1);

    // an inline configuration that is invalid names `[alerts] config_yaml`
    write_steward_toml(&file, &["ops"]);
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("group_wait: 1s", "group_wait: soon"),
    )
    .unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("[alerts] config_yaml"), "{message}");
    assert_eq!(receivers(&app).await, ["ops", "pager"]);
}

#[tokio::test]
async fn rules_and_alertmanager_reload_together_and_each_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("agent.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: one\n    rules:\n      - record: job:one\n        expr: vector(1)\n",
    )
    .unwrap();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(&am, am_config(&["ops"])).unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[rules]\nfiles = [{:?}]\n\n[alerts]\nconfig = {:?}\n",
        rules.display().to_string(),
        am.display().to_string()
    );
    let app = App::with_deployments(&toml).await;

    std::fs::write(&am, am_config(&["ops", "pager"])).unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"], 1);
    assert_eq!(body["alertmanager"]["receivers"], json!(["ops", "pager"]));

    // the rules invalid, the Alertmanager configuration valid: the
    // latter is applied, the answer a refusal naming both
    std::fs::write(
        &rules,
        "groups:\n  - name: broken\n    rules:\n      - record: 'not a name'\n        expr: up\n",
    )
    .unwrap();
    std::fs::write(&am, am_config(&["ops", "pager", "oncall"])).unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "rules_invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the rules were not reloaded"),
        "{message}"
    );
    assert!(message.contains("not a name"), "{message}");
    assert!(
        message.contains("the Alertmanager configuration was reloaded from"),
        "{message}"
    );
    assert_eq!(receivers(&app).await, ["ops", "pager", "oncall"]);

    // both invalid
    std::fs::write(&am, "route: {}\n").unwrap();
    let (status, body) = reload(&app, &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "reload_invalid");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the rules were not reloaded"), "{message}");
    assert!(
        message.contains("the Alertmanager configuration was not reloaded"),
        "{message}"
    );
    assert_eq!(receivers(&app).await, ["ops", "pager", "oncall"]);
    assert_eq!(app.events_of("rules.reload_failed").await.len(), 2);
    assert_eq!(app.events_of("alerts.reload_failed").await.len(), 1);
    assert_eq!(app.events_of("alerts.reloaded").await.len(), 2);
}
