//! Request extractors whose rejections are [`ApiError`]s, so that a
//! malformed body, query string or path parameter gets the same JSON error
//! shape as every other error, naming the offending field.

use axum::{
    body::{Body, Bytes},
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
};
use serde::{Deserialize, de::DeserializeOwned};

use crate::ApiError;

/// A JSON request body: a JSON object.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| {
                ApiError::bad_request(
                    "unreadable_body",
                    format!("cannot read the request body: {}", rejection.body_text()),
                )
            })?;
        // axum's extractor checks the content type and names the field at
        // fault.
        let axum::Json(value) = axum::Json::<T>::from_request(
            Request::from_parts(parts, Body::from(bytes.clone())),
            state,
        )
        .await?;
        // serde also reads a struct from a JSON array of its fields in
        // order; requests are objects, as the API's description says.
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid(
                "invalid_body",
                "invalid request body: expected a JSON object",
            ));
        }
        Ok(JsonBody(value))
    }
}

/// Query-string parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct QueryParams<T>(pub(crate) T);

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct PathParams<T>(pub(crate) T);

/// Removes axum's generic lead-in so the message starts with the field.
fn detail(text: &str) -> String {
    for prefix in [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
        "Invalid URL: ",
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

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => ApiError::bad_request(
                "invalid_path",
                format!("invalid path parameter: {}", detail(&rejection.body_text())),
            ),
            // A handler whose path has no such parameter: a bug here.
            _ => {
                tracing::error!(error = %rejection.body_text(), "path parameters do not match the route");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the server log has the details",
                )
            }
        }
    }
}

/// Deserializes a whole number that JSON may write with a zero fraction
/// (`5.0`): JSON Schema, and so the API's description, counts it as the
/// integer 5.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(whole) = number.as_u64() {
        return Ok(whole);
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&float) => {
            Ok(float as u64)
        }
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number of at least 0, got {number}"
        ))),
    }
}
