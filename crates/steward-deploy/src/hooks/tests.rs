//! Hooks run as real processes: environment, failure output, timeouts.

use std::time::Duration;

use super::{HookContext, run};

fn context() -> HookContext {
    HookContext {
        version: "2.0.0".to_owned(),
        services: "gateway,worker".to_owned(),
        deployment_id: "dep_000000000001".to_owned(),
        actor: "token:ci".to_owned(),
        status: "running".to_owned(),
    }
}

fn argv(script: &str) -> Vec<String> {
    vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()]
}

#[tokio::test]
async fn a_hook_sees_the_deployment_in_its_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("env.txt");
    let script = format!(
        "echo \"$STEWARD_VERSION $STEWARD_SERVICES $STEWARD_DEPLOYMENT_ID $STEWARD_ACTOR\" > {}",
        out.display()
    );
    run(
        "pre_deploy",
        &argv(&script),
        &context(),
        Duration::from_secs(10),
    )
    .await
    .expect("hook succeeds");
    let written = std::fs::read_to_string(&out).expect("hook wrote");
    assert_eq!(
        written.trim(),
        "2.0.0 gateway,worker dep_000000000001 token:ci"
    );
}

#[tokio::test]
async fn a_failing_hook_reports_its_status_and_output() {
    let err = run(
        "pre_deploy",
        &argv("echo 'database is read-only' >&2; exit 3"),
        &context(),
        Duration::from_secs(10),
    )
    .await
    .expect_err("hook fails");
    let text = err.to_string();
    assert!(
        text.starts_with("hook pre_deploy failed: sh exited with exit status: 3"),
        "{text}"
    );
    assert!(text.ends_with("database is read-only"), "{text}");
}

#[tokio::test]
async fn a_hook_that_runs_too_long_is_killed() {
    let err = run(
        "post_deploy",
        &argv("sleep 30"),
        &context(),
        Duration::from_millis(300),
    )
    .await
    .expect_err("times out");
    assert!(err.to_string().contains("did not finish within"), "{err}");
}

#[tokio::test]
async fn a_missing_program_is_named() {
    let err = run(
        "on_rollback",
        &["/nonexistent/notify".to_owned()],
        &context(),
        Duration::from_secs(5),
    )
    .await
    .expect_err("cannot start");
    assert!(
        err.to_string().contains("cannot run /nonexistent/notify"),
        "{err}"
    );
}
