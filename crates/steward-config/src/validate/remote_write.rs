//! The checks of `[[metrics.remote_write]]`: a usable URL, a queue name
//! fit for a directory and unique, headers steward may set, one kind of
//! authentication, relabelling steps Prometheus would accept, and queue
//! settings that can work (as Prometheus' `QueueConfig` validation).

use std::collections::HashMap;

use super::{Checker, metrics::check_relabel};
use crate::{RemoteWrite, node::Segment};

/// Headers the protocol or the client sets, which Prometheus refuses in
/// `headers` (lowercase).
pub(super) const RESERVED_HEADERS: [&str; 14] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
];

impl Checker<'_, '_, '_> {
    /// Every check of `[[metrics.remote_write]]`.
    pub(super) fn remote_write(&mut self, remotes: &[RemoteWrite]) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, remote) in remotes.iter().enumerate() {
            let at = |key: &str| path!["metrics", "remote_write", index, key];
            if let Err(problem) = check_url(&remote.url) {
                self.error(
                    &at("url"),
                    format!("remote write URL `{}` {problem}", remote.url),
                    Some("write the full endpoint, e.g. http://host:9090/api/v1/write".into()),
                );
            }
            let name = remote.queue_name();
            let name_at = if remote.name.is_some() {
                at("name")
            } else {
                at("url")
            };
            if !is_queue_name(&name) {
                self.error(
                    &name_at,
                    format!("remote write name `{name}` is not a valid queue name"),
                    Some("use letters, digits, `_` and `-` (it names a directory)".into()),
                );
            } else if let Some(first) = seen.get(&name) {
                let line = self.line_of(&path!["metrics", "remote_write", *first, "url"]);
                self.error(
                    &name_at,
                    format!("remote write `{name}` is defined twice"),
                    Some(format!(
                        "the first definition is at {line}; give each a distinct `name`"
                    )),
                );
            } else {
                seen.insert(name, index);
            }
            if remote.remote_timeout.0.is_zero() {
                self.error(
                    &at("remote_timeout"),
                    "`remote_timeout` must be positive",
                    None,
                );
            }
            for header in remote.headers.keys() {
                let lower = header.to_ascii_lowercase();
                let message = if RESERVED_HEADERS.contains(&lower.as_str()) {
                    format!("{header} is a reserved header. It must not be changed")
                } else if !is_header_name(header) {
                    format!("`{header}` is not a valid header name")
                } else {
                    continue;
                };
                self.error(
                    &path!["metrics", "remote_write", index, "headers", header.as_str()],
                    message,
                    Some("authentication goes in `basic_auth` or `bearer_token`".into()),
                );
            }
            if remote.basic_auth.is_some() && remote.bearer_token.is_some() {
                self.error(
                    &at("bearer_token"),
                    format!(
                        "remote write `{}` has both `basic_auth` and `bearer_token`",
                        remote.url
                    ),
                    Some("a request sends one Authorization header; keep one".into()),
                );
            }
            for (s, step) in remote.write_relabel_configs.iter().enumerate() {
                if let Err((field, message)) = check_relabel(step) {
                    let mut path =
                        path!["metrics", "remote_write", index, "write_relabel_configs", s]
                            .to_vec();
                    path.push(Segment::Key(field.to_owned()));
                    self.error(&path, message, None);
                }
            }
            self.queue_config(index, remote);
        }
    }

    fn queue_config(&mut self, index: usize, remote: &RemoteWrite) {
        let q = &remote.queue_config;
        let at = |key: &str| path!["metrics", "remote_write", index, "queue_config", key];
        for (key, value) in [
            ("capacity", q.capacity),
            ("max_shards", q.max_shards),
            ("min_shards", q.min_shards),
            ("max_samples_per_send", q.max_samples_per_send),
        ] {
            if value == 0 {
                self.error(&at(key), format!("`{key}` must be at least 1"), None);
            }
        }
        if q.min_shards > q.max_shards {
            self.error(
                &at("min_shards"),
                format!(
                    "min_shards {} is greater than max_shards {}",
                    q.min_shards, q.max_shards
                ),
                None,
            );
        }
        if q.batch_send_deadline.0.is_zero() {
            self.error(
                &at("batch_send_deadline"),
                "`batch_send_deadline` must be positive",
                None,
            );
        }
        if q.min_backoff.0.is_zero() {
            self.error(&at("min_backoff"), "`min_backoff` must be positive", None);
        }
        if q.max_backoff.0 < q.min_backoff.0 {
            self.error(
                &at("max_backoff"),
                format!(
                    "max_backoff {} is shorter than min_backoff {}",
                    q.max_backoff, q.min_backoff
                ),
                None,
            );
        }
        if q.capacity < q.max_samples_per_send {
            self.warning(
                &at("capacity"),
                format!(
                    "capacity {} is smaller than max_samples_per_send {}: requests never fill",
                    q.capacity, q.max_samples_per_send
                ),
                None,
            );
        }
        if q.max_disk_size.0 == 0 {
            self.error(
                &at("max_disk_size"),
                "`max_disk_size` must be positive",
                None,
            );
        }
    }
}

/// Why `url` cannot be a remote write endpoint.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("is invalid: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme `{}`, not http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    Ok(())
}

/// Letters, digits, `_` and `-`, not empty: safe as a directory name.
pub(super) fn is_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An HTTP token (RFC 9110): what a header name may be.
pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_http_and_a_host() {
        assert!(check_url("http://127.0.0.1:9090/api/v1/write").is_ok());
        assert!(check_url("https://example.org/push").is_ok());
        assert!(check_url("ftp://h/x").is_err());
        assert!(check_url("localhost:9090").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn queue_and_header_names() {
        assert!(is_queue_name("rw-1a2b"));
        assert!(!is_queue_name("a/b"));
        assert!(!is_queue_name(""));
        assert!(is_header_name("X-Scope-OrgID"));
        assert!(!is_header_name("bad header"));
    }
}
