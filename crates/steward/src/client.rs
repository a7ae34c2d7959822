//! The API client the CLI talks to steward with: finds the server and a
//! token, sends requests, and turns error responses into [`ClientError`]s.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Serialize, de::DeserializeOwned};
use steward_server::ErrorBody;

use crate::{
    UsageError,
    cli::Global,
    local::{self, ConfigSource},
};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Steward answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Steward's error code.
        code: String,
        /// The error's kind (`invalid_input`, `unavailable`, `failed`,
        /// ...); empty when the server did not say.
        kind: String,
        /// Steward's message.
        message: String,
    },
    /// Steward could not be reached.
    #[error("cannot reach steward at {url}: {detail}; is `steward up` running there?")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// Steward accepted the connection but did not answer in time; it may
    /// still be working on the request.
    #[error(
        "timed out after {after} waiting for an answer from steward at {url}; it may still be working on the request"
    )]
    Timeout {
        /// The URL tried.
        url: String,
        /// How long the client waited, e.g. `30s`.
        after: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from steward at {url}: {detail}")]
    Protocol {
        /// The URL asked.
        url: String,
        /// What was wrong with the answer.
        detail: String,
    },
}

/// How long a request (other than a stream) waits for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one steward server.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    /// How long a request (other than a stream) waits for its answer.
    timeout: Duration,
}

impl Client {
    /// A client for the server and token given on the command line or in
    /// the environment; otherwise the local configuration's server and its
    /// admin token file. The local token is only ever sent to the local
    /// configuration's server, and only when that is a loopback address;
    /// never to a `--server` given explicitly.
    pub(crate) fn new(global: &Global) -> anyhow::Result<Self> {
        let (base, local_token) = match &global.server {
            Some(server) => (server.trim_end_matches('/').to_owned(), None),
            None => {
                let source = local::resolve(global.config.as_deref());
                let loaded = local::load_config(&source).map_err(|err| match source {
                    ConfigSource::File(_) => anyhow::Error::new(err),
                    ConfigSource::Embedded => anyhow::Error::new(err)
                        .context("cannot load the embedded example configuration"),
                })?;
                // A token given explicitly needs nothing from the data
                // directory, and may go to any address.
                let token = match &global.token {
                    Some(_) => None,
                    None => local::admin_token(&loaded)?,
                };
                (local::server_url(&loaded), token)
            }
        };
        let token = match global.token.clone().or(local_token) {
            Some(token) if !token.is_empty() => token,
            _ => {
                return Err(UsageError(
                    "no API token: pass --token, set STEWARD_TOKEN, or run on the machine where `steward up` wrote <data_dir>/admin.token".into(),
                )
                .into());
            }
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("steward-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &global.ca_cert {
            let pem = std::fs::read(path).map_err(|err| {
                UsageError(format!("cannot read --ca-cert {}: {err}", path.display()))
            })?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|err| {
                UsageError(format!(
                    "--ca-cert {} is not a PEM certificate: {err}",
                    path.display()
                ))
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(Client {
            http: builder.build()?,
            base,
            token,
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// The server's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// GET with query parameters, decoding JSON.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let request = self
            .request(Method::GET, path)
            .query(query)
            .timeout(self.timeout);
        decode(path, self.send(request).await?).await
    }

    /// GET with query parameters, handing back the status and body of any
    /// answer: for APIs (Prometheus') whose error bodies are not steward's.
    pub(crate) async fn get_bytes(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
        let request = self
            .request(Method::GET, path)
            .query(query)
            .timeout(self.timeout);
        let response = request.send().await.map_err(|err| self.send_error(&err))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|err| ClientError::Protocol {
                url: format!("{}{path}", self.base),
                detail: error_chain(&err),
            })?;
        Ok((status, body))
    }

    /// POST a JSON body, decoding JSON.
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self
            .request(Method::POST, path)
            .json(body)
            .timeout(self.timeout);
        decode(path, self.send(request).await?).await
    }

    /// POST a JSON body to a route that answers without one (204).
    pub(crate) async fn post_no_content<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<()> {
        let request = self
            .request(Method::POST, path)
            .json(body)
            .timeout(self.timeout);
        self.send(request).await?;
        Ok(())
    }

    /// PATCH a JSON body, decoding JSON.
    pub(crate) async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self
            .request(Method::PATCH, path)
            .json(body)
            .timeout(self.timeout);
        decode(path, self.send(request).await?).await
    }

    /// DELETE, decoding JSON.
    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.request(Method::DELETE, path).timeout(self.timeout);
        decode(path, self.send(request).await?).await
    }

    /// Opens a long-lived GET (server-sent events) without a timeout.
    pub(crate) async fn open_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
        last_event_id: Option<i64>,
    ) -> anyhow::Result<Response> {
        let mut request = self
            .request(Method::GET, path)
            .query(query)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        self.send(request).await
    }

    /// Sends a request; a non-2xx answer becomes [`ClientError::Api`].
    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request.send().await.map_err(|err| self.send_error(&err))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(api_error(response).await.into())
    }

    /// Why a request got no answer.
    fn send_error(&self, err: &reqwest::Error) -> ClientError {
        // A connection that was never made is unreachable; one that
        // was made and then went quiet is a timeout, not an outage.
        if err.is_timeout() && !err.is_connect() {
            ClientError::Timeout {
                url: self.base.clone(),
                after: steward_core::format_duration(self.timeout),
            }
        } else {
            ClientError::Unreachable {
                url: self.base.clone(),
                detail: error_chain(err),
            }
        }
    }
}

/// Turns an error response into a [`ClientError::Api`], keeping steward's
/// code and message when the body has them.
async fn api_error(response: Response) -> ClientError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&body) {
        Ok(parsed) => ClientError::Api {
            status: status.as_u16(),
            code: parsed.error.code,
            kind: parsed.error.kind,
            message: parsed.error.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http_error".to_owned(),
            kind: String::new(),
            message: status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_lowercase(),
        },
    }
}

async fn decode<T: DeserializeOwned>(path: &str, response: Response) -> anyhow::Result<T> {
    let url = response.url().to_string();
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|err| ClientError::Protocol {
            url: url.clone(),
            detail: error_chain(&err),
        })?;
    serde_json::from_slice(&bytes).map_err(|err| {
        ClientError::Protocol {
            url,
            detail: format!(
                "{path} answered {status} with a body that is not the expected JSON: {err}"
            ),
        }
        .into()
    })
}

/// What really went wrong with a request, in one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    // reqwest's outer messages repeat the URL; the root cause says what
    // actually happened ("Connection refused (os error 111)").
    let mut root = err;
    while let Some(cause) = root.source() {
        root = cause;
    }
    root.to_string()
}

/// Whether an error means the server is (temporarily) unreachable, so a
/// follower may reconnect.
pub(crate) fn is_unreachable(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<ClientError>(),
        Some(ClientError::Unreachable { .. })
    ) || matches!(
        err.downcast_ref::<ClientError>(),
        Some(ClientError::Api { status, .. }) if *status == StatusCode::SERVICE_UNAVAILABLE.as_u16()
    )
}

#[cfg(test)]
mod tests;

/// Percent-encodes a path segment so a name can never change the path.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
