//! The checks of `[[logs.forward]]`: a usable URL, a name fit for a
//! directory and unique, headers steward may set (the tenant goes in
//! `tenant_id`), one kind of authentication, and batching and backoff
//! settings that can work.

use std::collections::HashMap;

use super::Checker;
use super::remote_write::{RESERVED_HEADERS, check_url, is_header_name, is_queue_name};
use crate::LogForward;

impl Checker<'_, '_, '_> {
    /// Every check of `[[logs.forward]]`.
    pub(super) fn log_forward(&mut self, forwards: &[LogForward]) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, forward) in forwards.iter().enumerate() {
            let at = |key: &str| path!["logs", "forward", index, key];
            if let Err(problem) = check_url(&forward.url) {
                self.error(
                    &at("url"),
                    format!("log forward URL `{}` {problem}", forward.url),
                    Some("write the full endpoint, e.g. http://loki:3100/loki/api/v1/push".into()),
                );
            }
            let name = forward.name.as_str();
            if !is_queue_name(name) {
                self.error(
                    &at("name"),
                    format!("log forward name `{name}` is not a valid queue name"),
                    Some("use letters, digits, `_` and `-` (it names a directory)".into()),
                );
            } else if let Some(first) = seen.get(name) {
                let line = self.line_of(&path!["logs", "forward", *first, "name"]);
                self.error(
                    &at("name"),
                    format!("log forward `{name}` is defined twice"),
                    Some(format!(
                        "the first definition is at {line}; give each a distinct `name`"
                    )),
                );
            } else {
                seen.insert(name, index);
            }
            for header in forward.headers.keys() {
                let lower = header.to_ascii_lowercase();
                let (message, hint) = if lower == "x-scope-orgid" {
                    (
                        format!("{header} is set by `tenant_id`"),
                        "write the tenant as `tenant_id`",
                    )
                } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                    (
                        format!("{header} is a reserved header. It must not be changed"),
                        "authentication goes in `basic_auth` or `bearer_token`",
                    )
                } else if !is_header_name(header) {
                    (
                        format!("`{header}` is not a valid header name"),
                        "a header name is letters, digits and `-`",
                    )
                } else {
                    continue;
                };
                self.error(
                    &path!["logs", "forward", index, "headers", header.as_str()],
                    message,
                    Some(hint.into()),
                );
            }
            if forward
                .tenant_id
                .as_deref()
                .is_some_and(|t| !is_header_value(t))
            {
                self.error(
                    &at("tenant_id"),
                    "`tenant_id` must be a non-empty header value",
                    None,
                );
            }
            if forward.basic_auth.is_some() && forward.bearer_token.is_some() {
                self.error(
                    &at("bearer_token"),
                    format!("log forward `{name}` has both `basic_auth` and `bearer_token`"),
                    Some("a request sends one Authorization header; keep one".into()),
                );
            }
            self.forward_batching(index, forward);
        }
    }

    fn forward_batching(&mut self, index: usize, forward: &LogForward) {
        let at = |key: &str| path!["logs", "forward", index, key];
        if forward.batch_size.0 == 0 {
            self.error(&at("batch_size"), "`batch_size` must be positive", None);
        }
        for (key, value) in [
            ("batch_wait", &forward.batch_wait),
            ("min_backoff", &forward.min_backoff),
            ("timeout", &forward.timeout),
        ] {
            if value.0.is_zero() {
                self.error(&at(key), format!("`{key}` must be positive"), None);
            }
        }
        if forward.max_backoff.0 < forward.min_backoff.0 {
            self.error(
                &at("max_backoff"),
                format!(
                    "max_backoff {} is shorter than min_backoff {}",
                    forward.max_backoff, forward.min_backoff
                ),
                None,
            );
        }
        if forward.max_queue_size.0 < forward.batch_size.0 {
            self.error(
                &at("max_queue_size"),
                format!(
                    "max_queue_size {} is smaller than batch_size {}",
                    forward.max_queue_size, forward.batch_size
                ),
                Some("the queue on disk must hold at least one push".into()),
            );
        }
    }
}

/// Not empty, visible ASCII and spaces: what a tenant header may carry.
fn is_header_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}
