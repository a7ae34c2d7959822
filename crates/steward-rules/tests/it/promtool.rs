//! Data-driven: every `tests/data/*.test.yml` through steward's
//! `test rules` runner, and every `tests/data/check/*.yml` through its
//! rule file validation; compared with the outcomes `failing.txt` records
//! and, when `STEWARD_TEST_PROMTOOL` names promtool 2.42, with what
//! promtool says of the same files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use steward_rules::{SyntaxChecker, rulefmt, unittest};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(suffix)))
        .collect();
    out.sort();
    out
}

#[allow(clippy::print_stdout)] // the skip line is the point
fn promtool() -> Option<String> {
    let p = std::env::var("STEWARD_TEST_PROMTOOL")
        .ok()
        .filter(|p| !p.is_empty());
    if p.is_none() {
        println!("skipping the comparison with promtool: STEWARD_TEST_PROMTOOL is not set");
    }
    p
}

/// The first line of each failure: which alert, expression or rule at
/// which time (the details after it are worded by each engine).
fn failure_heads(stderr: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            if !(t.starts_with("alertname: ") || t.starts_with("expr: ") || t.starts_with("rule: "))
            {
                return None;
            }
            let t = t.split(", err: ").next().unwrap_or(t);
            Some(t.trim_end_matches([',', ' ']).to_owned())
        })
        .collect()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn steward_test(file: &Path) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = unittest::run_files(&[file.to_owned()], &mut out, &mut err).unwrap();
    Run {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn promtool_run(promtool: &str, args: &[&str], file: &Path) -> Run {
    let o = Command::new(promtool)
        .args(args)
        .arg(file.file_name().unwrap())
        .current_dir(file.parent().unwrap())
        .output()
        .expect("promtool runs");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn test_files_agree_with_promtool() {
    let dir = data_dir();
    let failing: BTreeSet<String> = std::fs::read_to_string(dir.join("failing.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let promtool = promtool();
    let tests = files(&dir, ".test.yml");
    assert!(tests.len() >= 12, "test files: {tests:?}");
    let mut problems = Vec::new();
    for f in &tests {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = steward_test(f);
        let want = i32::from(failing.contains(&name));
        if ours.code != want {
            problems.push(format!(
                "{name}: steward exits {} (want {want})\n{}{}",
                ours.code, ours.stdout, ours.stderr
            ));
        }
        if ours.code == 0 {
            assert!(ours.stdout.contains("  SUCCESS"), "{name}: {}", ours.stdout);
        } else {
            assert!(
                ours.stderr.starts_with("  FAILED:\n"),
                "{name}: {}",
                ours.stderr
            );
        }
        let Some(promtool) = &promtool else { continue };
        let theirs = promtool_run(promtool, &["test", "rules"], f);
        if theirs.code != ours.code {
            problems.push(format!(
                "{name}: promtool exits {}, steward {}\npromtool:\n{}\nsteward:\n{}",
                theirs.code, ours.code, theirs.stderr, ours.stderr
            ));
            continue;
        }
        let (a, b) = (failure_heads(&theirs.stderr), failure_heads(&ours.stderr));
        if a != b {
            problems.push(format!(
                "{name}: failures differ\npromtool: {a:#?}\nsteward: {b:#?}\npromtool:\n{}\nsteward:\n{}",
                theirs.stderr, ours.stderr
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// promtool's problems without positions (steward reports none for
/// semantic problems) and with only the start of expression errors
/// (each parser words its own).
fn normalize(msg: &str) -> String {
    let mut rest = msg;
    loop {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let a = digits(rest);
        if a == 0 || !rest[a..].starts_with(':') {
            break;
        }
        let b = digits(&rest[a + 1..]);
        if b == 0 || !rest[a + 1 + b..].starts_with(": ") {
            break;
        }
        rest = &rest[a + 1 + b + 2..];
    }
    match rest.find("could not parse expression: ") {
        Some(i) => rest[..i + "could not parse expression:".len()].to_owned(),
        None => rest.to_owned(),
    }
}

#[test]
fn check_rules_agrees_with_promtool() {
    let dir = data_dir().join("check");
    let promtool = promtool();
    let mut problems = Vec::new();
    for f in files(&dir, ".yml") {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = match rulefmt::parse_file(&f, &SyntaxChecker) {
            Ok(_) => Vec::new(),
            Err(steward_rules::Error::Invalid { errors }) => errors,
            Err(e) => vec![e.to_string()],
        };
        assert_eq!(ours.is_empty(), name == "valid.yml", "{name}: {ours:?}");
        for e in &ours {
            assert!(e.starts_with(&f.display().to_string()), "{name}: {e}");
        }
        let Some(promtool) = &promtool else { continue };
        let theirs = promtool_run(promtool, &["check", "rules"], &f);
        if (theirs.code == 0) != ours.is_empty() {
            problems.push(format!(
                "{name}: promtool exits {}, steward says {ours:?}",
                theirs.code
            ));
            continue;
        }
        // Go walks label maps in random order: compare sorted
        let mut theirs_msgs: Vec<String> = theirs
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(normalize)
            .collect();
        // YAML decoding errors are each reader's own words
        if theirs_msgs
            .iter()
            .any(|m| m.starts_with("yaml:") || m.starts_with("not a valid duration"))
        {
            continue;
        }
        let mut ours_msgs: Vec<String> = ours
            .iter()
            .map(|e| normalize(e.split_once(": ").map_or(e.as_str(), |(_, m)| m)))
            .collect();
        theirs_msgs.sort();
        ours_msgs.sort();
        if theirs_msgs != ours_msgs {
            problems.push(format!(
                "{name}:\npromtool: {theirs_msgs:#?}\nsteward: {ours_msgs:#?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
