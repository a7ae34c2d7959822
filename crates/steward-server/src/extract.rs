//! Request extractors whose rejections are [`ApiError`]s, so that a
//! malformed body or query string gets the same JSON error shape as every
//! other error, naming the offending field.

use axum::{
    extract::{
        FromRequest, FromRequestParts,
        rejection::{JsonRejection, QueryRejection},
    },
    http::StatusCode,
};

use crate::ApiError;

/// A JSON request body.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct JsonBody<T>(pub(crate) T);

/// Query-string parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct QueryParams<T>(pub(crate) T);

/// Removes axum's generic lead-in so the message starts with the field.
fn detail(text: &str) -> String {
    for prefix in [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    text.to_owned()
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let text = detail(&rejection.body_text());
        match rejection {
            JsonRejection::JsonDataError(_) => {
                ApiError::invalid("invalid_body", format!("invalid request body: {text}"))
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(
                "malformed_json",
                format!("request body is not valid JSON: {text}"),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `content-type: application/json`",
            ),
            _ => ApiError::bad_request(
                "unreadable_body",
                format!("cannot read the request body: {text}"),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "invalid query parameter: {}",
                detail(&rejection.body_text())
            ),
        )
    }
}
