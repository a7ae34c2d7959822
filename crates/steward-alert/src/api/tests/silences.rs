//! `/api/v2/silences` and `/api/v2/silence/{silenceID}`: creating,
//! listing (shape, order, filters), reading, updating in place or by
//! replacement, expiring, and every error Alertmanager 0.25 answers.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Answer, Api};

const UNKNOWN: &str = "00000000-0000-0000-0000-000000000000";

fn silence_body(matchers: &str, starts: &str, ends: &str) -> String {
    format!(
        r#"{{"matchers":{matchers},"startsAt":"{starts}","endsAt":"{ends}","createdBy":"me","comment":"c"}}"#
    )
}

fn created(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "{}", answer.body);
    object["silenceID"].as_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn silences_are_created_and_listed_as_alertmanager_lists_them() {
    let api = Api::new().await;
    let active = created(
        &api.post(
            "/api/v2/silences",
            &silence_body(
                r#"[{"name":"alertname","value":"A","isRegex":false}]"#,
                "2023-12-31T23:59:00Z",
                "2024-01-01T01:00:00Z",
            ),
        )
        .await,
    );
    let pending = created(
        &api.post(
            "/api/v2/silences",
            r#"{"matchers":[{"name":"severity","value":"crit.*","isRegex":true,"isEqual":false}],
                "startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"","comment":"pending"}"#,
        )
        .await,
    );
    assert_ne!(active, pending);
    let answer = api.get("/api/v2/silences").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), Some("application/json"));
    let first = format!(
        r#"{{"id":"{active}","status":{{"state":"active"}},"updatedAt":"2024-01-01T00:00:00.000Z","comment":"c","createdBy":"me","endsAt":"2024-01-01T01:00:00.000Z","matchers":[{{"isEqual":true,"isRegex":false,"name":"alertname","value":"A"}}],"startsAt":"2024-01-01T00:00:00.000Z"}}"#
    );
    let second = format!(
        r#"{{"id":"{pending}","status":{{"state":"pending"}},"updatedAt":"2024-01-01T00:00:00.000Z","comment":"pending","createdBy":"","endsAt":"2030-01-02T00:00:00.000Z","matchers":[{{"isEqual":false,"isRegex":true,"name":"severity","value":"crit.*"}}],"startsAt":"2030-01-01T00:00:00.000Z"}}"#
    );
    assert_eq!(answer.body, format!("[{first},{second}]"));

    let one = api.get(&format!("/api/v2/silence/{active}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, first);

    let ids = |answer: Answer| {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let cases = [
        ("filter=alertname%3DA", vec![active.clone()]),
        ("filter=alertname%3D~A", vec![]),
        ("filter=severity%21~crit.*", vec![pending.clone()]),
        ("filter=severity%3D~crit.*", vec![]),
        ("filter=foo%3D", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            ids(api.get(&format!("/api/v2/silences?{query}")).await),
            expected,
            "{query}"
        );
    }
    let answer = api.get("/api/v2/silences?filter=x").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body, r#""bad matcher format: x""#);
}

#[tokio::test(start_paused = true)]
async fn silences_are_updated_in_place_or_replaced() {
    let api = Api::new().await;
    let body = silence_body(
        r#"[{"name":"a","value":"b","isRegex":false}]"#,
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:00:00Z",
    );
    let id = created(&api.post("/api/v2/silences", &body).await);
    let longer = format!(
        r#"{{"id":"{id}","matchers":[{{"name":"a","value":"b","isRegex":false}}],"startsAt":"2024-01-01T00:00:00.000Z","endsAt":"2024-01-01T02:00:00Z","createdBy":"me","comment":"longer"}}"#
    );
    assert_eq!(
        created(&api.post("/api/v2/silences", &longer).await),
        id,
        "the same matchers and start: changed in place"
    );
    let other = format!(
        r#"{{"id":"{id}","matchers":[{{"name":"a","value":"c","isRegex":false}}],"startsAt":"2024-01-01T00:00:00Z","endsAt":"2024-01-01T02:00:00Z","createdBy":"me","comment":"other"}}"#
    );
    let replaced = created(&api.post("/api/v2/silences", &other).await);
    assert_ne!(replaced, id, "other matchers: a new silence");
    let old = api.get(&format!("/api/v2/silence/{id}")).await.json();
    assert_eq!(old["status"]["state"], "expired");
    assert_eq!(old["comment"], "longer");
}

#[tokio::test(start_paused = true)]
async fn silences_expire_on_delete() {
    let api = Api::new().await;
    let id = api.setup.silence(r#"alertname="A""#).await;
    for _ in 0..2 {
        let answer = api
            .call(Method::DELETE, &format!("/api/v2/silence/{id}"), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "");
    }
    let silence = api.get(&format!("/api/v2/silence/{id}")).await.json();
    assert_eq!(silence["status"]["state"], "expired");
    assert_eq!(silence["endsAt"], "2024-01-01T00:00:00.000Z");

    let answer = api
        .call(Method::DELETE, &format!("/api/v2/silence/{UNKNOWN}"), None)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = api.get(&format!("/api/v2/silence/{UNKNOWN}")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body, "");
    for method in [Method::GET, Method::DELETE] {
        let answer = api.call(method, "/api/v2/silence/nope", None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            answer.json(),
            json!({"code": 601, "message": "silenceID in path must be of type uuid: \"nope\""})
        );
    }
}

#[tokio::test(start_paused = true)]
async fn refused_silences_answer_as_alertmanager_does() {
    let api = Api::new().await;
    let ab = r#"[{"name":"a","value":"b","isRegex":false}]"#;
    let (now, later) = ("2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z");
    let string = |s: &str| serde_json::Value::from(s);
    let cases: Vec<(String, StatusCode, serde_json::Value)> = vec![
        (
            silence_body(ab, later, now),
            StatusCode::BAD_REQUEST,
            string("Failed to create silence: start time must be before end time"),
        ),
        (
            silence_body(ab, now, now),
            StatusCode::BAD_REQUEST,
            string("Failed to create silence: start time must be before end time"),
        ),
        (
            silence_body(ab, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"),
            StatusCode::BAD_REQUEST,
            string("Failed to create silence: end time can't be in the past"),
        ),
        (
            format!(
                r#"{{"id":"{UNKNOWN}","matchers":{ab},"startsAt":"{now}","endsAt":"{later}","createdBy":"me","comment":"c"}}"#
            ),
            StatusCode::NOT_FOUND,
            string("silence not found"),
        ),
        (
            format!(
                r#"{{"id":"nope","matchers":{ab},"startsAt":"{now}","endsAt":"{later}","createdBy":"me","comment":"c"}}"#
            ),
            StatusCode::NOT_FOUND,
            string("silence not found"),
        ),
        (
            silence_body("[]", now, later),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"code": 612, "message": "matchers in body should have at least 1 items"}),
        ),
        (
            silence_body(r#"[{"name":"a","value":""}]"#, now, later),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"code": 602, "message": "matchers.0.isRegex in body is required"}),
        ),
        (
            format!(
                r#"{{"matchers":{ab},"startsAt":"{now}","endsAt":"{later}","createdBy":"me"}}"#
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"code": 602, "message": "comment in body is required"}),
        ),
        (
            silence_body(r#"[{"name":"a","value":"","isRegex":false}]"#, now, later),
            StatusCode::BAD_REQUEST,
            string("silence invalid: at least one matcher must not match the empty string"),
        ),
        (
            silence_body(r#"[{"name":"0a","value":"x","isRegex":false}]"#, now, later),
            StatusCode::BAD_REQUEST,
            string("silence invalid: invalid label matcher 0: invalid label name \"0a\""),
        ),
    ];
    for (body, status, expected) in cases {
        let answer = api.post("/api/v2/silences", &body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.json(), expected, "{body}");
    }
    let answer = api
        .post(
            "/api/v2/silences",
            &silence_body(r#"[{"name":"a","value":"(","isRegex":true}]"#, now, later),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let message = answer.json().as_str().unwrap().to_owned();
    assert!(
        message.starts_with("silence invalid: invalid label matcher 0: invalid regular expression"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    for body in [
        silence_body(ab, "nope", later),
        "[]".to_owned(),
        "{".to_owned(),
    ] {
        let answer = api.post("/api/v2/silences", &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["code"], 400, "{body}");
    }
    assert_eq!(
        api.get("/api/v2/silences").await.body,
        "[]",
        "nothing was made"
    );
}
