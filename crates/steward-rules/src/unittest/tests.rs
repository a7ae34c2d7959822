//! The runner's output, byte for byte as promtool 2.42 prints it for the
//! same files (taken from promtool's runs of `tests/data`).

use std::path::{Path, PathBuf};

use super::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(name: &str) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_files(&[data(name)], &mut out, &mut err).unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn wrong_samples_are_shown_as_promtool_shows_them() {
    let (code, out, err) = run("recording_chain_wrong.test.yml");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        r#"  FAILED:
    expr: "job:requests:rate1m", time: 5m,
        exp: {__name__="job:requests:rate1m", job="a"} 2E+00
        got: {__name__="job:requests:rate1m", job="a"} 1E+00
    expr: "job:requests:rate1m_x2", time: 5m,
        exp: {__name__="job:requests:rate1m_x2", job="a"} 2E+00
        got: {__name__="job:requests:rate1m_x2", derived="yes", job="a"} 2E+00
"#
    );
    assert_eq!(
        out,
        format!(
            "Unit Testing:  {}\n\n\n\n",
            data("recording_chain_wrong.test.yml").display()
        )
    );
}

#[test]
fn a_failed_evaluation_ends_the_test_group() {
    let (code, _, err) = run("limit_exceeded.test.yml");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "  FAILED:\n    rule: instance:up, time: 2m0s, err: exceeded limit of 2 with 3 series\n"
    );
}

#[test]
fn wrong_alerts_are_shown_as_promtool_shows_them() {
    let (code, _, err) = run("for_too_early.test.yml");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        r#"  FAILED:
    name: fires too early,
    alertname: InstanceDown, time: 4m, 
        exp:[
            0:
              Labels:{alertname="InstanceDown", instance="a:1", job="api", severity="page"}
              Annotations:{summary="instance is down"}
            ], 
        got:[]
"#
    );
}

#[test]
fn passing_files_print_success() {
    for name in [
        "for_pending_firing.test.yml",
        "keep_firing_for.test.yml",
        "expanding.test.yml",
    ] {
        let (code, out, err) = run(name);
        assert_eq!((code, err.as_str()), (0, ""), "{name}");
        assert!(out.ends_with("  SUCCESS\n\n"), "{name}: {out}");
    }
}

#[test]
fn globs_match_file_names() {
    assert!(glob_match("*.rules.yml", "a.rules.yml"));
    assert!(glob_match("a?.yml", "ab.yml"));
    assert!(!glob_match("*.yml", "a.yaml"));
}
