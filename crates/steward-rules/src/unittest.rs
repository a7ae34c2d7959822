//! `promtool test rules`: unit tests of rule files in promtool's format,
//! with its output, failure messages and exit status.
//!
//! Each test group loads its `input_series` (expanding notation, `_` and
//! `stale` included), evaluates every group of the rule files from time 0
//! to the last `eval_time` every `evaluation_interval` (feeding input
//! samples up to each evaluation time, as promtool's lazy loader does),
//! compares the firing alerts after the evaluation at or just before each
//! alert test's `eval_time`, and finally runs the `promql_expr_test`s.

mod format;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use steward_metrics::promql::testfile::{parse_metric, parse_series_desc};
use steward_metrics::promql::{Engine, EngineOptions};
use steward_metrics::storage::{MemoryStorage, Storage};
use steward_metrics::{Labels, Sample};

use crate::duration::{PromDuration, go_duration};
use crate::group::Group;
use crate::rule::{AlertState, EvalEnv, Rule, query};
use crate::template::{SyntaxChecker, TemplateExpander};
use crate::{Error, rulefmt};
use format::{alerts_string, samples_string};

/// A promtool unit test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    #[serde(default)]
    eval_time: PromDuration,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    #[serde(default)]
    expr: String,
    #[serde(default)]
    eval_time: PromDuration,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: f64,
}

/// The outcome of one test file: promtool's error blocks, none if it passed.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOutcome {
    /// The file as given.
    pub file: String,
    /// Each failure as promtool prints it (may span lines).
    pub errors: Vec<String>,
}

/// Runs the test files in order, printing as promtool does (progress and
/// blank lines to `out`, failures to `err`); the exit status is 0 when all
/// passed, 1 otherwise. Alert labels and annotations are expanded as
/// Prometheus does ([`TemplateExpander`] over each test group's series,
/// with its `external_labels` and `external_url`).
pub fn run_files(
    files: &[PathBuf],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<i32> {
    let mut failed = false;
    for f in files {
        writeln!(out, "Unit Testing:  {}", f.display())?;
        let outcome = run_file(f);
        if outcome.errors.is_empty() {
            writeln!(out, "  SUCCESS")?;
        } else {
            failed = true;
            writeln!(err, "  FAILED:")?;
            for e in &outcome.errors {
                writeln!(err, "{e}")?;
                writeln!(out)?;
            }
        }
        writeln!(out)?;
    }
    Ok(i32::from(failed))
}

/// Runs one test file.
pub fn run_file(path: &Path) -> FileOutcome {
    let file = path.display().to_string();
    let errors = match run_file_inner(path) {
        Ok(errors) => errors,
        Err(e) => vec![e],
    };
    FileOutcome { file, errors }
}

fn run_file_inner(path: &Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut utf: UnitTestFile = serde_yaml_ng::from_str::<Option<UnitTestFile>>(&text)
        .map_err(|e| e.to_string())?
        .unwrap_or(UnitTestFile {
            rule_files: Vec::new(),
            evaluation_interval: None,
            group_eval_order: Vec::new(),
            tests: Vec::new(),
        });
    let base = path.parent().unwrap_or(Path::new("."));
    let rule_files = resolve_rule_files(base, &utf.rule_files)?;
    let eval_interval = utf
        .evaluation_interval
        .map(|d| d.0)
        .filter(|d| *d > 0)
        .unwrap_or(60_000);
    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in utf.group_eval_order.iter().enumerate() {
        if order.insert(g.as_str(), i).is_some() {
            return Err(format!("group name repeated in evaluation order: {g}"));
        }
    }
    let mut errs = Vec::new();
    for tg in &mut utf.tests {
        if tg.interval.is_none_or(|d| d.0 == 0) {
            tg.interval = Some(PromDuration(eval_interval));
        }
        errs.extend(run_group(tg, eval_interval, &order, &rule_files));
    }
    Ok(errs)
}

/// Rule file names relative to the test file, with `*` and `?` in file
/// names expanded; a pattern matching nothing is warned about.
fn resolve_rule_files(base: &Path, names: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for name in names {
        let p = if name.is_empty() || Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            base.join(name)
        };
        let file_name = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
        if !file_name.contains(['*', '?']) {
            if p.exists() {
                out.push(p);
            } else {
                tracing::warn!(pattern = %p.display(), "no file match pattern");
            }
            continue;
        }
        let dir = p.parent().unwrap_or(Path::new("."));
        let mut matched: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| glob_match(file_name, n))
            })
            .map(|e| e.path())
            .collect();
        matched.sort();
        if matched.is_empty() {
            tracing::warn!(pattern = %p.display(), "no file match pattern");
        }
        out.extend(matched);
    }
    Ok(out)
}

fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && m(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

fn run_group(
    tg: &TestGroup,
    eval_interval: i64,
    order: &BTreeMap<&str, usize>,
    rule_files: &[PathBuf],
) -> Vec<String> {
    let interval = tg.interval.map_or(eval_interval, |d| d.0);
    // the input, in time order, fed to the store up to each evaluation
    let mut pending: Vec<(Labels, Sample)> = Vec::new();
    for s in &tg.input_series {
        match parse_series_desc(&format!("{} {}", s.series, s.values)) {
            Ok((labels, values)) => {
                pending.extend(values.iter().enumerate().filter_map(|(k, v)| {
                    v.map(|v| (labels.clone(), Sample::new(k as i64 * interval, v)))
                }));
            }
            Err(e) => return vec![format!("error in input series {:?}: {e}", s.series)],
        }
    }
    pending.sort_by_key(|(_, s)| s.t);
    let mut groups = Vec::new();
    let mut load_errs = Vec::new();
    for f in rule_files {
        match rulefmt::parse_file(f, &SyntaxChecker) {
            Ok(rg) => {
                for spec in &rg.groups {
                    let mut g = Group::new(&f.display().to_string(), spec, interval, true);
                    g.set_restored();
                    groups.push(g);
                }
            }
            Err(Error::Invalid { errors }) => load_errs.extend(errors),
            Err(e) => load_errs.push(e.to_string()),
        }
    }
    if !load_errs.is_empty() {
        return load_errs;
    }
    groups.sort_by_key(|g| order.get(g.name.as_str()).copied().unwrap_or(0));

    let group_note = if tg.name.is_empty() {
        String::new()
    } else {
        format!(" (in TestGroup {})", tg.name)
    };
    let mut alert_tests: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    for a in &tg.alert_rule_test {
        if a.alertname.is_empty() {
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{group_note}",
                a.eval_time
            )];
        }
        alert_tests.entry(a.eval_time.0).or_default().push(a);
    }
    let maxt = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.0)
        .chain(tg.promql_expr_test.iter().map(|p| p.eval_time.0))
        .max()
        .unwrap_or(0);
    let external_labels = Labels::from_pairs(tg.external_labels.clone());
    let storage = Arc::new(MemoryStorage::new());
    let engine = Engine::new(EngineOptions::default());
    // templates' `query` reads the test's series at the evaluation time
    let expander = TemplateExpander::new(storage.clone(), engine.clone(), tg.external_url.clone());
    let env = EvalEnv {
        storage: storage.as_ref(),
        engine: &engine,
        querier: None,
        expander: &expander,
        external_labels: &external_labels,
    };
    let test_name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let mut errs = Vec::new();
    let mut fed = 0;
    let mut alert_times = alert_tests.keys().copied().peekable();
    let mut ts = 0;
    while ts <= maxt {
        let upto = fed + pending[fed..].partition_point(|(_, s)| s.t <= ts);
        if let Err(e) = storage.append(&pending[fed..upto]) {
            errs.push(e.to_string());
        }
        fed = upto;
        let mut eval_errs = Vec::new();
        for g in &mut groups {
            g.eval(&env, ts, 60_000);
            for r in &g.rules {
                if let Some(e) = &r.status().last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.name(),
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        // alert tests whose eval_time falls in [ts, ts + interval)
        while let Some(t) = alert_times.next_if(|t| ts <= *t && *t < ts + eval_interval) {
            for case in &alert_tests[&t] {
                let mut got: Vec<(Labels, Labels)> = Vec::new();
                for g in &groups {
                    for r in &g.rules {
                        let Rule::Alerting(a) = r else { continue };
                        if a.name != case.alertname {
                            continue;
                        }
                        got.extend(
                            a.active
                                .values()
                                .filter(|x| x.state == AlertState::Firing)
                                .map(|x| (x.labels.clone(), x.annotations.clone())),
                        );
                    }
                }
                let mut exp: Vec<(Labels, Labels)> = case
                    .exp_alerts
                    .iter()
                    .map(|e| {
                        let mut l = e.exp_labels.clone();
                        l.insert("alertname".into(), case.alertname.clone());
                        (
                            Labels::from_pairs(l),
                            Labels::from_pairs(e.exp_annotations.clone()),
                        )
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errs.push(format!(
                        "{test_name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        case.eval_time,
                        alerts_string(&exp).replace('\n', "\n            "),
                        alerts_string(&got).replace('\n', "\n            "),
                    ));
                }
            }
        }
        ts += eval_interval;
    }

    'cases: for case in &tg.promql_expr_test {
        let got = match query(&env, &case.expr, case.eval_time.0) {
            Ok(v) => v,
            Err(e) => {
                errs.push(format!(
                    "    expr: {}, time: {}, err: {e}",
                    format::go_quote(&case.expr),
                    case.eval_time
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &case.exp_samples {
            let labels = match parse_metric(&s.labels) {
                Ok((l, rest)) if rest.trim().is_empty() => l,
                Ok((_, rest)) => {
                    errs.push(format!(
                        "    expr: {}, time: {}, err: labels {}: unexpected {rest:?}",
                        format::go_quote(&case.expr),
                        case.eval_time,
                        format::go_quote(&s.labels)
                    ));
                    continue 'cases;
                }
                Err(e) => {
                    errs.push(format!(
                        "    expr: {}, time: {}, err: labels {}: {e}",
                        format::go_quote(&case.expr),
                        case.eval_time,
                        format::go_quote(&s.labels)
                    ));
                    continue 'cases;
                }
            };
            exp.push((labels, s.value));
        }
        let mut got = got;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        // exact comparison, as promtool's (a NaN never equals)
        let equal =
            got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
        if !equal {
            errs.push(format!(
                "    expr: {}, time: {},\n        exp: {}\n        got: {}",
                format::go_quote(&case.expr),
                case.eval_time,
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests;
