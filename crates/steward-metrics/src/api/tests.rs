//! The API's routes driven through the router on an in-memory store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::*;
use crate::exposition::MetricType;
use crate::storage::MemoryStorage;
use crate::{Labels, Sample};

/// `up` for two targets and one counter, sampled every 15s over 5 minutes.
fn state() -> ApiState {
    let storage = MemoryStorage::new();
    let series = [
        (
            Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", "a")]),
            1.0,
        ),
        (
            Labels::from_pairs([("__name__", "up"), ("job", "db"), ("instance", "b")]),
            0.0,
        ),
        (
            Labels::from_pairs([("__name__", "http_requests_total"), ("job", "api")]),
            10.0,
        ),
    ];
    let mut batch = Vec::new();
    for i in 0..=20i64 {
        for (labels, base) in &series {
            let v = if *base >= 10.0 {
                base * i as f64
            } else {
                *base
            };
            batch.push((labels.clone(), Sample::new(i * 15_000, v)));
        }
    }
    storage.append(&batch).expect("append");
    ApiState::new(Arc::new(storage), Arc::new(Engine::default()))
}

async fn send(state: ApiState, req: Request<Body>) -> (StatusCode, Json) {
    let resp = router(state).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not json ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn get(uri: &str) -> (StatusCode, Json) {
    get_with(state(), uri).await
}

async fn get_with(state: ApiState, uri: &str) -> (StatusCode, Json) {
    send(
        state,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

async fn post(uri: &str, form: &str) -> (StatusCode, Json) {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .expect("request");
    send(state(), req).await
}

fn ok_data(status: StatusCode, body: &Json) -> &Json {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    assert!(body.get("warnings").is_none(), "{body}");
    &body["data"]
}

#[tokio::test]
async fn instant_vector() {
    let (s, b) = get("/api/v1/query?query=up&time=60").await;
    let data = ok_data(s, &b);
    assert_eq!(
        *data,
        json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "a", "job": "api"}, "value": [60, "1"]},
            {"metric": {"__name__": "up", "instance": "b", "job": "db"}, "value": [60, "0"]},
        ]})
    );
}

#[tokio::test]
async fn instant_time_as_rfc3339_and_fraction() {
    let (s, b) = get("/api/v1/query?query=http_requests_total&time=1970-01-01T00:01:00Z").await;
    assert_eq!(ok_data(s, &b)["result"][0]["value"], json!([60, "40"]));
    let (s, b) = get("/api/v1/query?query=time()&time=60.5").await;
    assert_eq!(
        *ok_data(s, &b),
        json!({"resultType": "scalar", "result": [60.5, "60.5"]})
    );
}

#[tokio::test]
async fn scalar() {
    let (s, b) = get("/api/v1/query?query=1%2B1&time=10").await;
    assert_eq!(
        *ok_data(s, &b),
        json!({"resultType": "scalar", "result": [10, "2"]})
    );
}

#[tokio::test]
async fn range_matrix() {
    let (s, b) = get("/api/v1/query_range?query=up&start=0&end=60&step=30s").await;
    let data = ok_data(s, &b);
    assert_eq!(data["resultType"], "matrix");
    assert_eq!(
        data["result"][1],
        json!({"metric": {"__name__": "up", "instance": "b", "job": "db"},
               "values": [[0, "0"], [30, "0"], [60, "0"]]})
    );
    assert_eq!(data["result"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn post_form() {
    let (s, b) = post("/api/v1/query", "query=up%7Bjob%3D%22db%22%7D&time=60").await;
    let data = ok_data(s, &b);
    assert_eq!(data["result"].as_array().map(Vec::len), Some(1));
    assert_eq!(data["result"][0]["metric"]["job"], "db");

    // body parameters win over the URL's
    let (s, b) = post(
        "/api/v1/query_range?step=1",
        "query=up&start=0&end=30&step=15",
    )
    .await;
    assert_eq!(
        ok_data(s, &b)["result"][0]["values"],
        json!([[0, "1"], [15, "1"], [30, "1"]])
    );
}

#[tokio::test]
async fn bad_requests() {
    // (uri, expected message, or its prefix when it ends with '*')
    let cases = [
        (
            "/api/v1/query?query=up%7B&time=0",
            "invalid parameter \"query\": parse error*",
        ),
        (
            "/api/v1/query?query=up&time=yesterday",
            "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/api/v1/query?query=up&timeout=soon",
            "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=11001&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/api/v1/query_range?query=up&start=60&end=0&step=1",
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=60&step=0",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&end=60&step=1",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=rate(up%5B1m%5D)%5B5m%5D&start=0&end=60&step=15",
            "invalid parameter \"query\": *",
        ),
        ("/api/v1/series", "no match[] parameter provided"),
        (
            "/api/v1/series?match[]=sum(up)",
            "invalid parameter \"match[]\": parse error*",
        ),
        ("/api/v1/label/1bad/values", "invalid label name: \"1bad\""),
        (
            "/api/v1/status/tsdb?limit=0",
            "limit must be a positive number",
        ),
        ("/api/v1/metadata?limit=x", "limit must be a number"),
        (
            "/api/v1/format_query?query=sum(",
            "invalid parameter \"query\": parse error*",
        ),
    ];
    for (uri, want) in cases {
        let (s, b) = get(uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {b}");
        assert_eq!(b["status"], "error", "{uri}");
        assert_eq!(b["errorType"], "bad_data", "{uri}");
        let msg = b["error"].as_str().unwrap_or_default();
        match want.strip_suffix('*') {
            Some(prefix) => assert!(msg.starts_with(prefix), "{uri}: {msg}"),
            None => assert_eq!(msg, want, "{uri}"),
        }
    }
}

#[tokio::test]
async fn execution_error_is_422() {
    // both `up` series end up with the same labels
    let q = "label_replace(label_replace(up,\"job\",\"x\",\"\",\"\"),\"instance\",\"y\",\"\",\"\")";
    let uri = format!(
        "/api/v1/query?time=60&query={}",
        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let (s, b) = get(&uri).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errorType"], "execution");
    assert!(
        b["error"].as_str().is_some_and(|m| m.contains("label")),
        "{b}"
    );
    let e = ApiError::from(Error::QueryExecution("x".into()));
    assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e = ApiError::from(Error::QueryTimeout("query execution".into()));
    assert_eq!(
        (e.error_type, e.status()),
        ("timeout", StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        ApiError::internal("x").status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn series_with_match() {
    let (s, b) =
        get("/api/v1/series?match[]=up%7Bjob%3D%22api%22%7D&match[]=http_requests_total").await;
    assert_eq!(
        *ok_data(s, &b),
        json!([
            {"__name__": "http_requests_total", "job": "api"},
            {"__name__": "up", "instance": "a", "job": "api"},
        ])
    );
    // a time range without samples selects nothing
    let (s, b) = get("/api/v1/series?match[]=up&start=1000&end=2000").await;
    assert_eq!(*ok_data(s, &b), json!([]));
    // POST form with repeated keys
    let (s, b) = post(
        "/api/v1/series",
        "match%5B%5D=up&match%5B%5D=%7Bjob%3D~%22a.%2A%22%7D",
    )
    .await;
    assert_eq!(ok_data(s, &b).as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn label_names() {
    let (s, b) = get("/api/v1/labels").await;
    assert_eq!(*ok_data(s, &b), json!(["__name__", "instance", "job"]));
    let (s, b) = get("/api/v1/labels?match[]=http_requests_total").await;
    assert_eq!(*ok_data(s, &b), json!(["__name__", "job"]));
    let (s, b) = post("/api/v1/labels", "match%5B%5D=http_requests_total").await;
    assert_eq!(*ok_data(s, &b), json!(["__name__", "job"]));
}

#[tokio::test]
async fn label_values() {
    let (s, b) = get("/api/v1/label/job/values").await;
    assert_eq!(*ok_data(s, &b), json!(["api", "db"]));
    let (s, b) = get("/api/v1/label/__name__/values").await;
    assert_eq!(*ok_data(s, &b), json!(["http_requests_total", "up"]));
    let (s, b) =
        get("/api/v1/label/job/values?match[]=up%7Binstance%3D%22b%22%7D&match[]=nothing").await;
    assert_eq!(*ok_data(s, &b), json!(["db"]));
}

#[tokio::test]
async fn tsdb_status() {
    let (s, b) = get("/api/v1/status/tsdb").await;
    let data = ok_data(s, &b);
    assert_eq!(data["headStats"]["numSeries"], 3);
    assert_eq!(
        data["seriesCountByMetricName"],
        json!([{"name": "up", "value": 2}, {"name": "http_requests_total", "value": 1}])
    );
    let (s, b) = get("/api/v1/status/tsdb?limit=1").await;
    let data = ok_data(s, &b);
    assert_eq!(
        data["seriesCountByMetricName"],
        json!([{"name": "up", "value": 2}])
    );
    assert_eq!(
        data["labelValueCountByLabelName"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn format_query() {
    let (s, b) = get("/api/v1/format_query?query=sum(up)by(job)").await;
    assert_eq!(*ok_data(s, &b), json!("sum by (job) (up)"));
    let (s, b) = post("/api/v1/format_query", "query=up%2B1").await;
    assert_eq!(*ok_data(s, &b), json!("up + 1"));
}

#[tokio::test]
async fn buildinfo() {
    let (s, b) = get("/api/v1/status/buildinfo").await;
    let data = ok_data(s, &b);
    assert_eq!(data["version"], PROMETHEUS_COMPAT_VERSION);
    assert!(
        data["revision"]
            .as_str()
            .is_some_and(|r| r.starts_with("steward-"))
    );
}

#[tokio::test]
async fn targets_without_manager() {
    for uri in [
        "/api/v1/targets",
        "/api/v1/targets?state=active",
        "/api/v1/targets?state=dropped",
    ] {
        let (s, b) = get(uri).await;
        assert_eq!(
            *ok_data(s, &b),
            json!({"activeTargets": [], "droppedTargets": []}),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn metadata() {
    let (s, b) = get("/api/v1/metadata").await;
    assert_eq!(*ok_data(s, &b), json!({}));

    let mut st = state();
    let families = vec![
        Metadata {
            family: "up".into(),
            kind: Some(MetricType::Gauge),
            help: Some("target up".into()),
            unit: None,
        },
        // a second target exposing the same family adds nothing
        Metadata {
            family: "up".into(),
            kind: Some(MetricType::Gauge),
            help: Some("target up".into()),
            unit: None,
        },
        Metadata {
            family: "http_requests_total".into(),
            kind: Some(MetricType::Counter),
            help: None,
            unit: None,
        },
    ];
    st.metadata = Some(Arc::new(move || families.clone()));
    let (s, b) = get_with(st.clone(), "/api/v1/metadata").await;
    assert_eq!(
        *ok_data(s, &b),
        json!({
            "http_requests_total": [{"type": "counter", "help": "", "unit": ""}],
            "up": [{"type": "gauge", "help": "target up", "unit": ""}],
        })
    );
    let (s, b) = get_with(st.clone(), "/api/v1/metadata?metric=up").await;
    assert_eq!(ok_data(s, &b).as_object().map(|o| o.len()), Some(1));
    let (s, b) = get_with(st, "/api/v1/metadata?limit=1").await;
    assert_eq!(ok_data(s, &b).as_object().map(|o| o.len()), Some(1));
}

#[tokio::test]
async fn nested_under_prefix() {
    let app = axum::Router::new().nest("/prometheus", router(state()));
    let resp = app
        .oneshot(
            Request::get("/prometheus/api/v1/query?query=1&time=0")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn time_parsing() {
    assert_eq!(params::parse_time("1.0015"), Ok(1002));
    assert_eq!(params::parse_time("-1"), Ok(-1000));
    assert_eq!(params::parse_time("1970-01-01T00:00:01.5+00:00"), Ok(1500));
    assert!(params::parse_time("NaN").is_err());
    assert!(params::parse_time("1e300").is_err());
}
