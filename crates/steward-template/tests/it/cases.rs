//! Data-driven cases: each file in `tests/cases/` holds cases of the form
//!
//! ```text
//! ### name
//! --- set          (optional: "prometheus", "prometheus-alert",
//!                   "alertmanager", "missingkey=zero", "missingkey=error")
//! --- template
//! {{ .x }}
//! --- data         (optional JSON; null by default)
//! {"x": 1}
//! --- output       ("--- output +nl" appends a newline)
//! 1
//! ```
//!
//! or `--- error` with a substring the error message must contain.
//! Trailing blank lines of a section are not part of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use steward_template::funcs::{alertmanager, prometheus};
use steward_template::{MissingKey, Templates, Value};

#[derive(Default, Debug)]
struct Case {
    name: String,
    file: String,
    sections: BTreeMap<String, String>,
}

fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("read cases file");
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut cases: Vec<Case> = Vec::new();
    let mut section: Option<(String, Vec<&str>)> = None;
    let flush = |cases: &mut Vec<Case>, section: &mut Option<(String, Vec<&str>)>| {
        if let (Some((name, mut lines)), Some(case)) = (section.take(), cases.last_mut()) {
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
            let mut body = lines.join("\n");
            let name = match name.strip_suffix(" +nl") {
                Some(n) => {
                    body.push('\n');
                    n.to_owned()
                }
                None => name,
            };
            case.sections.insert(name, body);
        }
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            flush(&mut cases, &mut section);
            cases.push(Case {
                name: name.trim().to_owned(),
                file: file.clone(),
                ..Case::default()
            });
        } else if let Some(name) = line.strip_prefix("--- ") {
            flush(&mut cases, &mut section);
            section = Some((name.trim().to_owned(), Vec::new()));
        } else if let Some((_, lines)) = &mut section {
            lines.push(line);
        }
    }
    flush(&mut cases, &mut section);
    cases
}

/// The query function of the Prometheus cases: a fixed answer per query.
fn fake_query(q: &str) -> Result<Vec<prometheus::QuerySample>, String> {
    let s = |inst: &str, job: &str, v: f64| prometheus::QuerySample {
        labels: [("instance", inst), ("job", job)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        value: v,
    };
    match q {
        "up" => Ok(vec![s("b:9100", "node", 1.0), s("a:9100", "node", 0.0)]),
        "empty" => Ok(vec![]),
        "scalar" => Ok(vec![prometheus::QuerySample {
            labels: BTreeMap::new(),
            value: 42.5,
        }]),
        _ => Err(format!("parse error in {q:?}")),
    }
}

fn run(case: &Case) -> Result<String, String> {
    let template = case
        .sections
        .get("template")
        .ok_or("case has no template")?;
    let data: Value = match case.sections.get("data") {
        Some(d) => serde_json::from_str::<serde_json::Value>(d)
            .map_err(|e| format!("bad data: {e}"))?
            .into(),
        None => Value::Nil,
    };
    let set = case.sections.get("set").map(String::as_str).unwrap_or("");
    let mut t = Templates::new();
    t.add_func("fail", |_| Err(steward_template::Error::func("it failed")));
    let prom = || prometheus::funcs("http://prom.example:9090/prefix", Arc::new(fake_query));
    let (text, data) = match set {
        "" => (template.clone(), data),
        "prometheus" => {
            t.add_funcs(prom());
            (template.clone(), data)
        }
        "prometheus-alert" => {
            t.add_funcs(prom());
            let labels = |k: &str| -> BTreeMap<String, String> {
                match &data {
                    Value::Map(m) => match m.get(k) {
                        Some(Value::Map(l)) => {
                            l.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
                        }
                        _ => BTreeMap::new(),
                    },
                    _ => BTreeMap::new(),
                }
            };
            let value = match &data {
                Value::Map(m) => match m.get("value") {
                    Some(Value::Float(f)) => *f,
                    Some(Value::Int(i)) => *i as f64,
                    _ => 0.0,
                },
                _ => 0.0,
            };
            let d = prometheus::alert_data(
                &labels("labels"),
                &labels("external_labels"),
                "http://prom.example:9090/prefix",
                value,
            );
            (format!("{}{template}", prometheus::ALERT_PREAMBLE), d)
        }
        "alertmanager" => {
            t.add_funcs(alertmanager::funcs());
            (template.clone(), alertmanager::wrap_data(&data))
        }
        "missingkey=zero" => {
            t.set_missing_key(MissingKey::Zero);
            (template.clone(), data)
        }
        "missingkey=error" => {
            t.set_missing_key(MissingKey::Error);
            (template.clone(), data)
        }
        other => return Err(format!("unknown set {other:?}")),
    };
    t.parse("test", &text).map_err(|e| e.to_string())?;
    t.execute("test", &data).map_err(|e| e.to_string())
}

#[test]
fn cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for f in &files {
        for case in load(f) {
            count += 1;
            let got = run(&case);
            let ok = match (
                case.sections.get("output"),
                case.sections.get("error"),
                &got,
            ) {
                (Some(want), None, Ok(out)) => out == want,
                (None, Some(want), Err(e)) => e.contains(want.as_str()),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{}: {}\n  want output: {:?}\n  want error: {:?}\n  got: {:?}",
                    case.file,
                    case.name,
                    case.sections.get("output"),
                    case.sections.get("error"),
                    got
                ));
            }
        }
    }
    assert!(count > 0, "no cases found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
