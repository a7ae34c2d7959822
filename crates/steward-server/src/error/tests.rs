//! Unit tests for the `error` module: statuses and kinds of error bodies.

use http_body_util::BodyExt;

use super::*;

/// An error of any crate, of a chosen kind.
#[derive(Debug)]
struct Sample(ErrorKind);

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot reach the engine at unix:///secret.sock")
    }
}

impl ErrorCode for Sample {
    fn code(&self) -> &'static str {
        "sample_error"
    }

    fn kind(&self) -> ErrorKind {
        self.0
    }
}

async fn answer(err: ApiError) -> (StatusCode, Option<String>, ErrorBody) {
    let response = err.into_response();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn every_kind_has_its_status_and_name_in_the_body() {
    let cases = [
        (ErrorKind::InvalidInput, 422, "invalid_input"),
        (ErrorKind::NotFound, 404, "not_found"),
        (ErrorKind::Conflict, 409, "conflict"),
        (ErrorKind::Unauthenticated, 401, "unauthenticated"),
        (ErrorKind::Forbidden, 403, "forbidden"),
        (ErrorKind::Unavailable, 503, "unavailable"),
        (ErrorKind::Failed, 422, "failed"),
        (ErrorKind::Internal, 500, "internal"),
    ];
    for (kind, status, name) in cases {
        let (answered, _, body) = answer(ApiError::from_error(&Sample(kind))).await;
        assert_eq!(answered.as_u16(), status, "{kind:?}");
        assert_eq!(body.error.kind, name, "{kind:?}");
        assert_eq!(body.error.code, "sample_error");
    }
}

#[tokio::test]
async fn an_unavailable_dependency_is_503_without_its_details() {
    let (status, _, body) = answer(ApiError::from_error(&Sample(ErrorKind::Unavailable))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body.error.kind, "unavailable");
    assert!(
        !body.error.message.contains("secret"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn a_docker_engine_that_is_down_is_unavailable() {
    let err = steward_deploy::Error::unavailable(
        "docker",
        "cannot reach the Docker engine at unix:///var/run/docker.sock: connection refused",
    );
    let (status, _, body) = answer(ApiError::from_error(&err)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body.error.kind, "unavailable");
}

#[tokio::test]
async fn errors_made_from_a_status_get_the_matching_kind() {
    let cases = [
        (
            ApiError::bad_request("malformed_json", "x"),
            "invalid_input",
        ),
        (ApiError::invalid("invalid_body", "x"), "invalid_input"),
        (ApiError::unauthenticated("x"), "unauthenticated"),
        (ApiError::not_found("x"), "not_found"),
        (
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "x"),
            "forbidden",
        ),
        (
            ApiError::new(StatusCode::CONFLICT, "last_admin_token", "x"),
            "conflict",
        ),
    ];
    for (err, kind) in cases {
        assert_eq!(err.kind(), kind);
        let (_, retry_after, body) = answer(err).await;
        assert_eq!(body.error.kind, kind);
        assert_eq!(retry_after, None);
    }
}

#[tokio::test]
async fn rate_limited_errors_say_when_to_retry() {
    let (status, retry_after, body) =
        answer(ApiError::rate_limited("rate_limited", "slow down", 3)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("3"));
    assert_eq!(body.error.kind, "rate_limited");
}

#[test]
fn bodies_without_a_kind_still_parse() {
    let body: ErrorBody =
        serde_json::from_str(r#"{"error": {"code": "x", "message": "y"}}"#).unwrap();
    assert_eq!(body.error.kind, "");
}
