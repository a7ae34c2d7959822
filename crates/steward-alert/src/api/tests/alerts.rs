//! `/api/v2/alerts` and `/api/v2/alerts/groups`: posting (with amtool's
//! zero times, invalid alerts, bad bodies), listing with every filter,
//! and groups; fingerprints are those Alertmanager 0.25 computes for the
//! same labels.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use super::Api;

/// What Alertmanager 0.25 answered for these alerts (its fingerprints
/// `c62f23f5e7a9168e` and `25c2cdb12d31dc50` included), with this test's
/// times.
const POSTED: &str = r#"[
    {"labels":{"alertname":"A","severity":"critical","instance":"x"},"annotations":{"summary":"s"},"generatorURL":"http://g"},
    {"labels":{"alertname":"A","severity":"warning","empty":""},"startsAt":"0001-01-01T00:00:00.000Z","endsAt":"0001-01-01T00:00:00.000Z"}
]"#;

const WARNING: &str = r#"{"annotations":{},"endsAt":"2024-01-01T00:05:00.000Z","fingerprint":"25c2cdb12d31dc50","receivers":[{"name":"team"}],"startsAt":"2024-01-01T00:00:00.000Z","status":{"inhibitedBy":["c62f23f5e7a9168e"],"silencedBy":[],"state":"suppressed"},"updatedAt":"2024-01-01T00:00:00.000Z","labels":{"alertname":"A","severity":"warning"}}"#;

const CRITICAL: &str = r#"{"annotations":{"summary":"s"},"endsAt":"2024-01-01T00:05:00.000Z","fingerprint":"c62f23f5e7a9168e","receivers":[{"name":"pager"}],"startsAt":"2024-01-01T00:00:00.000Z","status":{"inhibitedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2024-01-01T00:00:00.000Z","generatorURL":"http://g","labels":{"alertname":"A","instance":"x","severity":"critical"}}"#;

async fn posted() -> Api {
    let api = Api::new().await;
    let answer = api.post("/api/v2/alerts", POSTED).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, "", "no body");
    api
}

#[tokio::test(start_paused = true)]
async fn posted_alerts_are_listed_as_alertmanager_lists_them() {
    let api = posted().await;
    let answer = api.get("/api/v2/alerts").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), Some("application/json"));
    assert_eq!(answer.body, format!("[{WARNING},{CRITICAL}]"));
}

#[tokio::test(start_paused = true)]
async fn no_alerts_is_an_empty_list() {
    let api = Api::new().await;
    assert_eq!(api.get("/api/v2/alerts").await.body, "[]");
    assert_eq!(api.get("/api/v2/alerts/groups").await.body, "[]");
}

#[tokio::test(start_paused = true)]
async fn groups_are_listed_as_alertmanager_lists_them() {
    let api = posted().await;
    let answer = api.get("/api/v2/alerts/groups").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        format!(
            r#"[{{"alerts":[{CRITICAL}],"labels":{{"alertname":"A"}},"receiver":{{"name":"pager"}}}},{{"alerts":[{WARNING}],"labels":{{"alertname":"A"}},"receiver":{{"name":"team"}}}}]"#
        )
    );
    let answer = api
        .get("/api/v2/alerts/groups?receiver=team&inhibited=false")
        .await;
    assert_eq!(answer.body, "[]");
    let answer = api
        .get("/api/v2/alerts/groups?filter=instance%3D%22x%22")
        .await;
    assert_eq!(answer.json().as_array().unwrap().len(), 1);
    let answer = api.get("/api/v2/alerts/groups?filter=nope").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body, r#""bad matcher format: nope""#);
}

#[tokio::test(start_paused = true)]
async fn filters_select_alerts() {
    let api = posted().await;
    let fingerprints = |answer: super::Answer| {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["fingerprint"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let cases = [
        ("filter=severity%3D%22critical%22", vec!["c62f23f5e7a9168e"]),
        (
            "filter=alertname%3DA&filter=severity%3D~%22warn.*%22",
            vec!["25c2cdb12d31dc50"],
        ),
        ("filter=instance%3D%22%22", vec!["25c2cdb12d31dc50"]),
        ("filter=instance%21%3D%22%22", vec!["c62f23f5e7a9168e"]),
        ("active=false", vec!["25c2cdb12d31dc50"]),
        ("active=maybe", vec!["25c2cdb12d31dc50"]),
        ("inhibited=false", vec!["c62f23f5e7a9168e"]),
        ("inhibited=false&active=false", vec![]),
        (
            "silenced=false&unprocessed=false",
            vec!["25c2cdb12d31dc50", "c62f23f5e7a9168e"],
        ),
        ("receiver=pag.*", vec!["c62f23f5e7a9168e"]),
        ("receiver=pag", vec![]),
        ("receiver=", vec!["25c2cdb12d31dc50", "c62f23f5e7a9168e"]),
    ];
    for (query, expected) in cases {
        let got = fingerprints(api.get(&format!("/api/v2/alerts?{query}")).await);
        assert_eq!(got, expected, "{query}");
    }
}

#[tokio::test(start_paused = true)]
async fn silenced_alerts_name_their_silences() {
    let api = posted().await;
    let id = api.setup.silence(r#"severity="critical""#).await;
    let answer = api.get("/api/v2/alerts?active=false&inhibited=false").await;
    let alerts = answer.json();
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    assert_eq!(
        alerts[0]["status"],
        json!({"inhibitedBy": [], "silencedBy": [id], "state": "suppressed"})
    );
}

#[tokio::test(start_paused = true)]
async fn bad_filters_are_400_strings() {
    let api = Api::new().await;
    let answer = api.get("/api/v2/alerts?filter=foo").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.content_type(), Some("application/json"));
    assert_eq!(answer.body, r#""bad matcher format: foo""#);
    let answer = api.get("/api/v2/alerts?receiver=%28").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let message = answer.json();
    let message = message.as_str().unwrap();
    assert!(
        message.starts_with("failed to parse receiver param: error parsing regexp: "),
        "{message}"
    );
    assert!(message.ends_with(": `^(?:()$`"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    let answer = api.get("/api/v2/alerts?filter=a%3D~%22%28%22").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let message = answer.json().as_str().unwrap().to_owned();
    assert!(
        message.starts_with("invalid regular expression \"(\": error parsing regexp: "),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test(start_paused = true)]
async fn invalid_alerts_are_listed_and_the_valid_ones_kept() {
    let api = Api::new().await;
    let answer = api
        .post(
            "/api/v2/alerts",
            r#"[{"labels":{"alertname":"B"}},{"labels":{}},{"labels":{"0bad":"x"}},
                {"labels":{"a":"b"},"startsAt":"2030-01-01T00:00:00Z","endsAt":"2029-01-01T00:00:00Z"}]"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        r#""at least one label pair required; invalid label set: invalid name \"0bad\"; start time must be before end time""#
    );
    let listed = api.get("/api/v2/alerts").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["labels"], json!({"alertname": "B"}));
}

#[tokio::test(start_paused = true)]
async fn bodies_that_are_not_alerts_are_refused_before_the_handler() {
    let api = Api::new().await;
    let answer = api.post("/api/v2/alerts", "{").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["code"], 400);
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("parsing alerts body from \"\" failed, because "),
        "{message}"
    );
    let answer = api.post("/api/v2/alerts", "{}").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = api.post("/api/v2/alerts", r#"[{"labels":{"a":1}}]"#).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = api.post("/api/v2/alerts", r#"[[{"a":"b"}]]"#).await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "an alert is an object"
    );
    let answer = api
        .post(
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"}},{"annotations":{"a":"b"}}]"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer.json(),
        json!({"code": 602, "message": "1.labels in body is required"})
    );
    assert_eq!(
        api.get("/api/v2/alerts").await.body,
        "[]",
        "nothing is taken from a refused body"
    );
    let answer = api
        .post(
            "/api/v2/alerts",
            r#"[{"labels":{"a":"b"},"startsAt":"soon"}]"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let form = Request::builder()
        .method(Method::POST)
        .uri("/api/v2/alerts")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(r#"[{"labels":{"a":"b"}}]"#))
        .unwrap();
    let answer = api.request(form).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        answer.json(),
        json!({"code": 415, "message": "unsupported media type \"application/x-www-form-urlencoded\", only [application/json] are allowed"})
    );
    let charset = Request::builder()
        .method(Method::POST)
        .uri("/api/v2/alerts")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(r#"[{"labels":{"a":"b"}}]"#))
        .unwrap();
    assert_eq!(api.request(charset).await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn bodies_are_bounded() {
    let api = Api::new().await;
    let huge = format!(
        r#"[{{"labels":{{"a":"{}"}}}}]"#,
        "x".repeat(super::super::MAX_BODY_BYTES)
    );
    let answer = api.post("/api/v2/alerts", &huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["code"], 413);
    assert_eq!(api.get("/api/v2/alerts").await.body, "[]");
}
