//! API v2 by `oneshot` requests on paused time: each endpoint's JSON
//! (compared byte for byte with what Alertmanager 0.25 answers, field
//! order included), status codes and error bodies. The alerts' and
//! silences' endpoints are in [`alerts`] and [`silences`]; status,
//! receivers, health and methods here.

mod alerts;
mod silences;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::router;
use crate::manager::tests::Setup;

/// An API over a fresh [`Setup`].
struct Api {
    setup: Setup,
    app: axum::Router,
}

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
    }
}

impl Api {
    async fn new() -> Self {
        let setup = Setup::new().await;
        let app = router(setup.manager.clone());
        Self { setup, app }
    }

    async fn request(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<&str>) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_owned()));
        self.request(request.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, None).await
    }

    async fn post(&self, uri: &str, body: &str) -> Answer {
        self.call(Method::POST, uri, Some(body)).await
    }
}

#[tokio::test(start_paused = true)]
async fn status_shows_the_version_the_configuration_and_no_cluster() {
    let api = Api::new().await;
    tokio::time::sleep(std::time::Duration::from_secs(90)).await;
    let answer = api.get("/api/v2/status").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), Some("application/json"));
    let revision = concat!("steward-", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        answer.body,
        format!(
            r#"{{"cluster":{{"peers":[],"status":"disabled"}},"config":{{"original":"route:\n  receiver: team\n"}},"uptime":"2024-01-01T00:00:00.000Z","versionInfo":{{"branch":"steward","buildDate":"","buildUser":"steward","goVersion":"none","revision":"{revision}","version":"0.25.0"}}}}"#
        )
    );
}

#[tokio::test(start_paused = true)]
async fn receivers_are_listed_in_the_configurations_order() {
    let api = Api::new().await;
    let answer = api.get("/api/v2/receivers").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, r#"[{"name":"team"},{"name":"pager"}]"#);
}

#[tokio::test(start_paused = true)]
async fn health_checks_answer_ok() {
    let api = Api::new().await;
    for path in ["/-/healthy", "/-/ready"] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "OK");
        assert_eq!(answer.content_type(), Some("text/plain; charset=utf-8"));
        let head = api.call(Method::HEAD, path, None).await;
        assert_eq!(head.status, StatusCode::OK);
    }
}

#[tokio::test(start_paused = true)]
async fn other_methods_are_refused_as_alertmanager_does() {
    let api = Api::new().await;
    let cases = [
        (Method::PUT, "/api/v2/alerts", "GET,POST"),
        (Method::POST, "/api/v2/status", "GET"),
        (Method::DELETE, "/api/v2/alerts/groups", "GET"),
        (
            Method::PUT,
            "/api/v2/silence/00000000-0000-0000-0000-000000000000",
            "GET,DELETE",
        ),
    ];
    for (method, path, allowed) in cases {
        let answer = api.call(method.clone(), path, None).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(answer.headers[header::ALLOW], allowed);
        assert_eq!(
            answer.json(),
            serde_json::json!({
                "code": 405,
                "message": format!("method {method} is not allowed, but [{allowed}] are"),
            })
        );
    }
}

#[test]
fn boolean_parameters_read_as_go_reads_them() {
    let p = super::Params::parse(Some("a=false&b=maybe&c=&d=Yes&e=1&e=0"));
    assert!(!p.flag("a"));
    assert!(!p.flag("b"), "anything but a true word is false");
    assert!(p.flag("c"), "empty is the default");
    assert!(p.flag("d"));
    assert!(!p.flag("e"), "the last value counts");
    assert!(p.flag("missing"));
}

#[test]
fn times_read_and_written_as_api_v2_does() {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::optional_time")]
        t: Option<chrono::DateTime<chrono::Utc>>,
    }
    let read = |json: &str| serde_json::from_str::<T>(json).map(|t| t.t);
    let at = read(r#"{"t":"2024-01-02T03:04:05.123456789+01:00"}"#)
        .unwrap()
        .unwrap();
    assert_eq!(super::format_time(at), "2024-01-02T02:04:05.123Z");
    assert_eq!(
        super::format_time(read(r#"{"t":"2024-01-02T03:04:05"}"#).unwrap().unwrap()),
        "2024-01-02T03:04:05.000Z"
    );
    assert_eq!(read(r#"{"t":"0001-01-01T00:00:00.000Z"}"#).unwrap(), None);
    assert_eq!(read(r#"{"t":""}"#).unwrap(), None);
    assert_eq!(read(r#"{"t":null}"#).unwrap(), None);
    assert_eq!(read("{}").unwrap(), None);
    assert!(read(r#"{"t":"yesterday"}"#).is_err());
    assert_eq!(
        super::format_optional_time(None),
        "0001-01-01T00:00:00.000Z"
    );
}
