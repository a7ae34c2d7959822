//! The HTTP side of a scrape: one GET with Prometheus' headers, the job's
//! authentication and timeout, a bounded body, and Prometheus' error texts
//! for the target's `lastError`.

use std::time::Duration;

use super::target::{Auth, JobConfig};
use crate::exposition::SCRAPE_ACCEPT;

/// A body larger than this fails the scrape instead of exhausting memory.
const MAX_BODY: usize = 256 << 20;

/// Fetches expositions over HTTP.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher with its own connection pool.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_default();
        Fetcher { client }
    }

    /// The body and Content-Type of `url`, or the reason the scrape failed.
    pub async fn fetch(&self, job: &JobConfig, url: &str) -> Result<(Vec<u8>, String), String> {
        let mut request = self
            .client
            .get(url)
            .timeout(job.timeout)
            .header(reqwest::header::ACCEPT, SCRAPE_ACCEPT)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", job.timeout.as_secs_f64()),
            );
        request = match &job.auth {
            Auth::None => request,
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        let describe = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("Get \"{url}\": context deadline exceeded")
            } else {
                // the innermost cause says what went wrong (refused, reset...)
                let mut source: &dyn std::error::Error = &e;
                while let Some(next) = source.source() {
                    source = next;
                }
                format!("Get \"{url}\": {source}")
            }
        };
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("server returned HTTP status {status}"));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("body size limit exceeded ({MAX_BODY} bytes)"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, content_type))
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}
