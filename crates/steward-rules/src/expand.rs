//! The seam through which alert labels and annotations are expanded.
//!
//! Prometheus expands them as Go templates with `$labels`, `$value`,
//! `$externalLabels` and `$externalURL` in scope. The template language
//! lives in its own crate; the rule engine only calls this trait, so that
//! the engine and its tests do not depend on it.

use steward_metrics::Labels;

/// Expands the text of an alert label or annotation for one alert.
pub trait AnnotationExpander: Send + Sync + 'static {
    /// The text expanded for an alert of rule `rule_name` (its
    /// `alertname`, which names the template in error messages) with these
    /// labels (the series' labels, without the rule's) and value, at
    /// `time_ms` (the evaluation time, at which `query` runs). An error is
    /// shown in place of the text, as Prometheus does
    /// (`<error expanding template: ...>`).
    fn expand(
        &self,
        rule_name: &str,
        text: &str,
        labels: &Labels,
        value: f64,
        external_labels: &Labels,
        time_ms: i64,
    ) -> Result<String, String>;

    /// Checks the syntax of a label or annotation of rule `rule_name` when
    /// rule files are loaded (`promtool check rules` does); the error is
    /// reported with the rule, after `label "name": ` or
    /// `annotation "name": `. The default accepts everything.
    fn check_syntax(&self, _text: &str, _rule_name: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Returns every text unchanged: for rules without templates and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verbatim;

impl AnnotationExpander for Verbatim {
    fn expand(
        &self,
        _rule_name: &str,
        text: &str,
        _labels: &Labels,
        _value: f64,
        _external_labels: &Labels,
        _time_ms: i64,
    ) -> Result<String, String> {
        Ok(text.to_owned())
    }
}
