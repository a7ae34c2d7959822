//! [`TemplateExpander`]: alert labels and annotations expanded as
//! Prometheus 2.42 expands them, with steward-template.
//!
//! Each text gets the preamble defining `$labels`, `$externalLabels`,
//! `$externalURL` and `$value`, is parsed as template `__alert_<rule>`
//! with Prometheus' functions and `missingkey=zero`, and is executed with
//! the alert's data; `query` runs PromQL at the evaluation time against
//! the store the expander was given. A failure is reported in
//! Prometheus' words (`error parsing template ...` / `error executing
//! template ...`), which the rule shows as
//! `<error expanding template: ...>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use steward_metrics::Labels;
use steward_metrics::promql::{Engine, Value as PromValue};
use steward_metrics::storage::Storage;
use steward_template::funcs::prometheus::{self, ALERT_PREAMBLE, QueryFn, QuerySample};
use steward_template::funcs::{expect_args, str_arg};
use steward_template::{Error as TemplateError, FuncMap, Function, MissingKey, Templates, Value};

use crate::{AnnotationExpander, Verbatim};

/// Expands alert templates with Prometheus' language and functions.
#[derive(Clone)]
pub struct TemplateExpander {
    storage: Arc<dyn Storage>,
    engine: Engine,
    external_url: String,
}

impl std::fmt::Debug for TemplateExpander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateExpander")
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

impl TemplateExpander {
    /// An expander whose `query` reads `storage` through `engine`;
    /// `external_url` is `$externalURL` and the base of the `graphLink`
    /// and `tableLink` functions (Prometheus' `--web.external-url`).
    pub fn new(storage: Arc<dyn Storage>, engine: Engine, external_url: impl Into<String>) -> Self {
        Self {
            storage,
            engine,
            external_url: external_url.into(),
        }
    }

    /// Prometheus' functions, `query` evaluating at `time_ms`.
    fn funcs(&self, time_ms: i64) -> FuncMap {
        let storage = self.storage.clone();
        let engine = self.engine.clone();
        let query: Arc<QueryFn> =
            Arc::new(move |q: &str| run_query(&engine, &*storage, q, time_ms));
        let mut funcs = prometheus::funcs(&self.external_url, query.clone());
        // Prometheus hands the engine's error to the template as it is
        // (`error calling query: <engine error>`), without the prefix the
        // generic `query` adds
        funcs.insert(
            "query".to_owned(),
            Function::new(move |args| {
                expect_args(args, 1)?;
                let samples = query(str_arg(args, 0)?).map_err(TemplateError::func)?;
                Ok(Value::list(samples.iter().map(QuerySample::to_value)))
            }),
        );
        funcs
    }
}

/// A PromQL instant query as the rule engine runs it for templates: a
/// vector, or a scalar as one sample without labels.
fn run_query(
    engine: &Engine,
    storage: &dyn Storage,
    q: &str,
    time_ms: i64,
) -> Result<Vec<QuerySample>, String> {
    let res = engine
        .instant_query(storage, q, time_ms)
        .map_err(|e| e.to_string())?;
    match res.value {
        PromValue::Vector(v) => Ok(v
            .into_iter()
            .map(|s| QuerySample {
                labels: label_map(&s.labels),
                value: s.v,
            })
            .collect()),
        PromValue::Scalar { v, .. } => Ok(vec![QuerySample {
            labels: BTreeMap::new(),
            value: v,
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

/// The template name Prometheus gives a rule's texts.
fn template_name(rule_name: &str) -> String {
    format!("__alert_{rule_name}")
}

/// A parse error as Go's text/template words it: `template: name:line:
/// message` (steward-template adds a column, which Go does not print).
fn go_parse_error(e: &TemplateError) -> String {
    match e {
        TemplateError::Parse {
            name,
            line,
            message,
            ..
        } => format!("template: {name}:{line}: {message}"),
        other => other.to_string(),
    }
}

/// Parses `text` behind the preamble with Prometheus' functions.
fn parse(name: &str, text: &str, funcs: FuncMap) -> Result<Templates, TemplateError> {
    let mut t = Templates::new();
    // Prometheus parses alert templates with missingkey=zero: a missing
    // label reads as the empty string, not `<no value>`
    t.add_funcs(funcs)
        .set_missing_key(MissingKey::Zero)
        .parse(name, &format!("{ALERT_PREAMBLE}{text}"))?;
    Ok(t)
}

impl AnnotationExpander for TemplateExpander {
    fn expand(
        &self,
        rule_name: &str,
        text: &str,
        labels: &Labels,
        value: f64,
        external_labels: &Labels,
        time_ms: i64,
    ) -> Result<String, String> {
        // texts without actions are the common case: no parsing needed
        if !text.contains("{{") {
            return Ok(text.to_owned());
        }
        let name = template_name(rule_name);
        let data = prometheus::alert_data(
            &label_map(labels),
            &label_map(external_labels),
            &self.external_url,
            value,
        );
        let res = match parse(&name, text, self.funcs(time_ms)) {
            Err(e) => Err(format!(
                "error parsing template {name}: {}",
                go_parse_error(&e)
            )),
            Ok(t) => t
                .execute(&name, &data)
                .map_err(|e| format!("error executing template {name}: {e}")),
        };
        if let Err(e) = &res {
            tracing::warn!(rule = rule_name, labels = %labels, error = %e, "expanding alert template failed");
        }
        res
    }

    fn check_syntax(&self, text: &str, rule_name: &str) -> Result<(), String> {
        check_syntax(text, rule_name)
    }
}

/// Checks a label or annotation text of alerting rule `rule_name` as
/// `promtool check rules` does (parsing only, behind the preamble, with
/// Prometheus' functions); the error in Go's words.
pub fn check_syntax(text: &str, rule_name: &str) -> Result<(), String> {
    let no_query: Arc<QueryFn> = Arc::new(|_: &str| Ok(Vec::new()));
    parse(
        &template_name(rule_name),
        text,
        prometheus::funcs("", no_query),
    )
    .map(drop)
    .map_err(|e| go_parse_error(&e))
}

/// Checks template syntax only, expanding nothing: for loading rule files
/// where no store is at hand (`steward rules check`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntaxChecker;

impl AnnotationExpander for SyntaxChecker {
    /// Leaves texts as written, as [`Verbatim`] does: checking needs no
    /// expansion.
    fn expand(
        &self,
        rule_name: &str,
        text: &str,
        labels: &Labels,
        value: f64,
        external_labels: &Labels,
        time_ms: i64,
    ) -> Result<String, String> {
        Verbatim.expand(rule_name, text, labels, value, external_labels, time_ms)
    }

    fn check_syntax(&self, text: &str, rule_name: &str) -> Result<(), String> {
        check_syntax(text, rule_name)
    }
}

#[cfg(test)]
mod tests;
