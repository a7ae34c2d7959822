//! Notification texts: Go templates over Alertmanager's template data
//! (`.Status`, `.Alerts.Firing`, `.CommonLabels.SortedPairs`, ...) with
//! Alertmanager's functions, so a receiver's `title:` or `text:` from an
//! existing `alertmanager.yml` renders here as there. Steward's default
//! texts are defined as `steward.default.title` and
//! `steward.default.text` (and `steward.default.html`, every value
//! escaped), which a receiver's own template may call; they show what
//! enrichment added (`steward_value`, `steward_version`, `steward_changes`,
//! `steward_related`, `steward_logs`, `steward_logs_url`) under each
//! alert that has it.

use steward_template::{FuncMap, Templates, Value, funcs};

use super::Notification;

/// The title every integration uses unless configured otherwise.
pub const DEFAULT_TITLE: &str = r#"{{ template "steward.default.title" . }}"#;

/// The text every integration uses unless configured otherwise.
pub const DEFAULT_TEXT: &str = r#"{{ template "steward.default.text" . }}"#;

const DEFINITIONS: &str = r#"
{{- define "steward.default.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }}
{{- end -}}
{{- define "steward.default.text" -}}
{{ range .Alerts -}}
{{ .Status | toUpper }} {{ .Labels.alertname }}{{ range .Labels.SortedPairs }}{{ if ne .Name "alertname" }} {{ .Name }}={{ .Value }}{{ end }}{{ end }}
{{ with .Annotations.summary }}  {{ . }}
{{ end }}{{ with .Annotations.description }}  {{ . }}
{{ end }}{{ with .Annotations.runbook_url }}  runbook: {{ . }}
{{ end }}{{ with .Annotations.dashboard_url }}  dashboard: {{ . }}
{{ end }}{{ with .Annotations.steward_value }}  value now: {{ . }}
{{ end }}{{ with .Annotations.steward_version }}  running: {{ . }}
{{ end }}{{ with .Annotations.steward_changes }}  changes:
{{ reReplaceAll "(?m)^" "    " . }}
{{ end }}{{ with .Annotations.steward_related }}  also firing:
{{ reReplaceAll "(?m)^" "    " . }}
{{ end }}{{ with .Annotations.steward_logs }}  logs before it fired:
{{ reReplaceAll "(?m)^" "    " . }}
{{ end }}{{ with .Annotations.steward_logs_url }}  all its logs: {{ . }}
{{ end }}  source: {{ .GeneratorURL }}
{{ end -}}
{{- end -}}
{{- define "steward.default.html" -}}
<!DOCTYPE html><html><body>
{{ range .Alerts }}<p><b>{{ .Status | toUpper }} {{ .Labels.alertname | html }}</b>{{ range .Labels.SortedPairs }}{{ if ne .Name "alertname" }} {{ .Name | html }}={{ .Value | html }}{{ end }}{{ end }}<br>
{{ with .Annotations.summary }}{{ . | html }}<br>
{{ end }}{{ with .Annotations.description }}{{ . | html }}<br>
{{ end }}{{ with .Annotations.runbook_url }}<a href="{{ . | html }}">runbook</a><br>
{{ end }}{{ with .Annotations.dashboard_url }}<a href="{{ . | html }}">dashboard</a><br>
{{ end }}{{ with .Annotations.steward_value }}value now: {{ . | html }}<br>
{{ end }}{{ with .Annotations.steward_version }}running: {{ . | html }}<br>
{{ end }}{{ with .Annotations.steward_changes }}changes:<pre>{{ . | html }}</pre>
{{ end }}{{ with .Annotations.steward_related }}also firing:<pre>{{ . | html }}</pre>
{{ end }}{{ with .Annotations.steward_logs }}logs before it fired:<pre>{{ . | html }}</pre>
{{ end }}{{ with .Annotations.steward_logs_url }}<a href="{{ . | html }}">all its logs</a><br>
{{ end }}<a href="{{ .GeneratorURL | html }}">source</a></p>
{{ end }}</body></html>
{{- end -}}
"#;

/// Renders texts of notifications.
#[derive(Clone)]
pub struct Renderer {
    base: Templates,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new(&[]).expect("the default templates parse")
    }
}

impl Renderer {
    /// A renderer with steward's definitions and `extra` template files'
    /// texts (Alertmanager's `templates:` files, with their `define`s).
    pub fn new(extra: &[&str]) -> steward_template::Result<Self> {
        let mut base = Templates::new();
        let fm: FuncMap = funcs::alertmanager::funcs();
        base.add_funcs(fm);
        base.parse("steward.definitions", DEFINITIONS)?;
        for (i, text) in extra.iter().enumerate() {
            base.parse(&format!("extra.{i}"), text)?;
        }
        Ok(Renderer { base })
    }

    /// Checks that `text` parses (at configuration time).
    pub fn check(&self, text: &str) -> steward_template::Result<()> {
        let mut set = self.base.clone();
        set.parse("check", text).map(|_| ())
    }

    /// `text` executed over `notification`'s data.
    pub fn render(
        &self,
        text: &str,
        notification: &Notification,
    ) -> steward_template::Result<String> {
        let mut set = self.base.clone();
        set.parse("text", text)?;
        let data = funcs::alertmanager::wrap_data(&Value::from(notification.data(0)));
        set.execute("text", &data)
    }

    /// `text` rendered, or on a template error the error itself, so that
    /// a broken template still notifies (and says why it looks wrong).
    pub fn render_or_error(&self, text: &str, notification: &Notification) -> String {
        self.render(text, notification)
            .unwrap_or_else(|e| format!("<error rendering template: {e}>"))
    }
}
