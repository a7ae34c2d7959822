//! OTLP logs: the messages ([`proto`], [`json`]) and their translation into
//! streams, as Loki's OTLP endpoint translates them but with steward's
//! label names.
//!
//! What [`translate`] chooses:
//!
//! - **Stream labels** come from the resource attributes that identify
//!   where logs come from: `service.name` is `service`,
//!   `service.namespace` is `namespace`, `service.instance.id` is
//!   `instance`, `deployment.environment.name` (else the older
//!   `deployment.environment`) is `environment`; the others Loki indexes
//!   by default ([`INDEXED_ATTRIBUTES`]: cloud region and zone, the
//!   Kubernetes cluster, namespace, pod, container and workload names,
//!   `container.name`) keep their names with dots as underscores
//!   (`k8s.pod.name` is `k8s_pod_name`). A resource without
//!   `service.name` gets `service="unknown_service"`, as OpenTelemetry
//!   names a service nobody named.
//! - **Structured metadata** of each entry, in this order, a later field
//!   of the same name replacing an earlier one: every other resource
//!   attribute, `scope_name` and `scope_version`, the record's attributes,
//!   `level`, `trace_id`, `span_id` (lower-case hex), `event_name`. Names
//!   are sanitised as Loki does it, with Prometheus' rules
//!   ([`steward_metrics::otlp::names::label_name`]: characters outside
//!   `[a-zA-Z0-9_]` become `_`); values are pdata's `AsString`
//!   ([`steward_metrics::otlp::translate::value_string`]: strings as they
//!   are, bytes in base64, other kinds as JSON); empty values are left
//!   out.
//! - **`level`**: `severity_text` lower-cased, or when it is empty the
//!   level of `severity_number` (1-4 `trace`, 5-8 `debug`, 9-12 `info`,
//!   13-16 `warn`, 17-20 `error`, 21-24 `fatal`), or none.
//! - **The line** is the body: a string body as it is, other kinds as
//!   JSON (maps as objects), bytes in base64, no body an empty line.
//! - **The timestamp** is `time_unix_nano`, else `observed_time_unix_nano`,
//!   else the caller's `now`.
//!
//! A record whose entry does not pass the [`Limits`] (a line too long,
//! too much metadata), or whose resource's labels do not, is rejected and
//! counted; the others are taken.

pub mod json;
pub mod proto;

use std::collections::HashMap;

use steward_metrics::otlp::names::label_name;
use steward_metrics::otlp::proto::KeyValue;
use steward_metrics::otlp::translate::value_string;

use super::{Limits, validate};
use crate::collect::parse::Level;
use crate::{Entry, PushStream};
use proto::{ExportLogsServiceRequest, LogRecord};

/// The resource attributes that become stream labels, and their label
/// names. When two give the same label, the first present wins.
pub const INDEXED_ATTRIBUTES: &[(&str, &str)] = &[
    ("service.name", "service"),
    ("service.namespace", "namespace"),
    ("service.instance.id", "instance"),
    ("deployment.environment.name", "environment"),
    ("deployment.environment", "environment"),
    ("cloud.region", "cloud_region"),
    ("cloud.availability_zone", "cloud_availability_zone"),
    ("k8s.cluster.name", "k8s_cluster_name"),
    ("k8s.namespace.name", "k8s_namespace_name"),
    ("k8s.pod.name", "k8s_pod_name"),
    ("k8s.container.name", "k8s_container_name"),
    ("container.name", "container_name"),
    ("k8s.replicaset.name", "k8s_replicaset_name"),
    ("k8s.deployment.name", "k8s_deployment_name"),
    ("k8s.statefulset.name", "k8s_statefulset_name"),
    ("k8s.daemonset.name", "k8s_daemonset_name"),
    ("k8s.cronjob.name", "k8s_cronjob_name"),
    ("k8s.job.name", "k8s_job_name"),
];

/// The `service` of a resource without `service.name`.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// At most this many reasons are kept in [`OtlpLogs::message`].
const MAX_MESSAGES: usize = 8;

/// What an OTLP export carried, translated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtlpLogs {
    /// The streams of the records taken, merged by label set.
    pub streams: Vec<PushStream>,
    /// Records not taken.
    pub rejected: u64,
    /// Why (the first reasons, with paths), empty when none was rejected:
    /// the `error_message` of the response's partial success.
    pub message: String,
}

/// Translates a decoded export into streams (see the module's
/// documentation for the choices); `now_ns` dates records without any
/// time.
pub fn translate(request: &ExportLogsServiceRequest, limits: &Limits, now_ns: i64) -> OtlpLogs {
    let mut streams = Vec::new();
    let mut rejected = 0u64;
    let mut messages = Vec::new();
    let mut more = false;
    let mut reject = |count: usize, message: String| {
        rejected += count as u64;
        if messages.len() < MAX_MESSAGES {
            messages.push(message);
        } else {
            more = true;
        }
    };
    for (i, rl) in request.resource_logs.iter().enumerate() {
        let path = format!("resourceLogs[{i}]");
        let attributes = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let (pairs, resource_metadata) = resource_labels(attributes);
        let labels = match validate::labels(&pairs, &format!("{path}.resource"), limits) {
            Ok(labels) => labels,
            Err(message) => {
                let count = rl.scope_logs.iter().map(|s| s.log_records.len()).sum();
                reject(count, message);
                continue;
            }
        };
        let mut entries = Vec::new();
        for (j, sl) in rl.scope_logs.iter().enumerate() {
            let mut base = resource_metadata.clone();
            if let Some(scope) = &sl.scope {
                base.set("scope_name", &scope.name);
                base.set("scope_version", &scope.version);
            }
            for (k, record) in sl.log_records.iter().enumerate() {
                let path = format!("{path}.scopeLogs[{j}].logRecords[{k}]");
                match entry(record, base.clone(), now_ns, &path) {
                    Ok(entry) => match validate::entry(&entry, || path.clone(), limits) {
                        Ok(()) => entries.push(entry),
                        Err(message) => reject(1, message),
                    },
                    Err(message) => reject(1, message),
                }
            }
        }
        streams.push((labels, entries));
    }
    let mut message = messages.join("; ");
    if more {
        message.push_str("; ...");
    }
    OtlpLogs {
        streams: validate::merge(streams),
        rejected,
        message,
    }
}

/// The stream labels of a resource, and its other attributes as
/// structured metadata.
fn resource_labels(attributes: &[KeyValue]) -> (Vec<(&'static str, String)>, Fields) {
    let mut labels: Vec<(&'static str, String)> = Vec::new();
    for (key, label) in INDEXED_ATTRIBUTES {
        if labels.iter().any(|(l, _)| l == label) {
            continue;
        }
        // the last of repeated keys, as a map of them would have it
        if let Some(kv) = attributes.iter().rev().find(|kv| kv.key == *key) {
            let value = value_string(kv.value.as_ref());
            if !value.is_empty() {
                labels.push((label, value));
            }
        }
    }
    if !labels.iter().any(|(l, _)| *l == "service") {
        labels.push(("service", UNKNOWN_SERVICE.to_owned()));
    }
    let mut metadata = Fields::default();
    for kv in attributes {
        if !INDEXED_ATTRIBUTES.iter().any(|(key, _)| *key == kv.key) {
            metadata.set_attribute(kv);
        }
    }
    (labels, metadata)
}

/// The entry of a record, on top of the resource's and scope's metadata.
fn entry(
    record: &LogRecord,
    mut metadata: Fields,
    now_ns: i64,
    path: &str,
) -> Result<Entry, String> {
    let ns = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|&t| t != 0);
    let ts = match ns {
        None => now_ns,
        Some(t) => {
            i64::try_from(t).map_err(|_| format!("{path}: time {t} ns is past the year 2262"))?
        }
    };
    for kv in &record.attributes {
        metadata.set_attribute(kv);
    }
    if let Some(level) = level(record) {
        metadata.set(crate::collect::parse::LEVEL, &level);
    }
    if record.trace_id.iter().any(|&b| b != 0) {
        metadata.set("trace_id", &hex::encode(&record.trace_id));
    }
    if record.span_id.iter().any(|&b| b != 0) {
        metadata.set("span_id", &hex::encode(&record.span_id));
    }
    metadata.set("event_name", &record.event_name);
    Ok(Entry {
        ts,
        line: value_string(record.body.as_ref()),
        metadata: metadata.pairs,
    })
}

/// The record's level: its severity text lower-cased, else its severity
/// number's level.
fn level(record: &LogRecord) -> Option<String> {
    if !record.severity_text.is_empty() {
        // the same names as levels collected from lines (`WARNING` is warn)
        return Some(match Level::from_word(&record.severity_text) {
            Some(level) => level.as_str().to_owned(),
            None => record.severity_text.to_lowercase(),
        });
    }
    let level = match record.severity_number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    };
    Some(level.to_owned())
}

/// Structured metadata being built: pairs in the order first set, and
/// where each name is.
#[derive(Debug, Clone, Default)]
struct Fields {
    pairs: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Fields {
    /// Sets an attribute, its name sanitised.
    fn set_attribute(&mut self, kv: &KeyValue) {
        let name = label_name(&kv.key);
        if !name.is_empty() {
            self.set(&name, &value_string(kv.value.as_ref()));
        }
    }

    /// Sets `name` to `value` (replacing an earlier value in place); an
    /// empty value is left out.
    fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        match self.index.get(name) {
            Some(&i) => value.clone_into(&mut self.pairs[i].1),
            None => {
                self.index.insert(name.to_owned(), self.pairs.len());
                self.pairs.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
