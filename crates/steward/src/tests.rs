//! Unit tests for the binary's `main` module: the exit code of each kind
//! of failure.

use super::*;

fn api(status: u16, kind: &str) -> anyhow::Error {
    anyhow::Error::new(ClientError::Api {
        status,
        code: "some_code".to_owned(),
        kind: kind.to_owned(),
        message: "something".to_owned(),
    })
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    assert_eq!(exit_code(&UsageError("no such flag".to_owned()).into()), 2);
    let config = steward_config::load_str(
        "steward.toml",
        "[server]\nlisen = 1\n",
        std::path::Path::new("."),
        &steward_config::Environment::default(),
    )
    .expect_err("an unknown key");
    assert_eq!(exit_code(&anyhow::Error::new(config)), 2);
    assert_eq!(exit_code(&api(422, "invalid_input")), 2);
    assert_eq!(exit_code(&api(400, "invalid_input")), 2);
    assert_eq!(
        exit_code(&api(422, "invalid_input").context("cannot deploy 1.2.0")),
        2
    );
}

#[test]
fn operational_failures_exit_1() {
    // A Docker engine that is down during a deployment.
    assert_eq!(exit_code(&api(503, "unavailable")), 1);
    // A deployment or migration that ran and failed.
    assert_eq!(exit_code(&api(422, "failed")), 1);
    assert_eq!(exit_code(&api(409, "conflict")), 1);
    assert_eq!(exit_code(&api(404, "not_found")), 1);
    assert_eq!(exit_code(&api(403, "forbidden")), 1);
    assert_eq!(exit_code(&api(429, "rate_limited")), 1);
    assert_eq!(exit_code(&api(500, "internal")), 1);
    assert_eq!(
        exit_code(&api(503, "unavailable").context("cannot deploy 1.2.0")),
        1
    );
    let unreachable = anyhow::Error::new(ClientError::Unreachable {
        url: "http://127.0.0.1:7373".to_owned(),
        detail: "connection refused".to_owned(),
    });
    assert_eq!(exit_code(&unreachable), 1);
    assert_eq!(exit_code(&anyhow::anyhow!("anything else")), 1);
    // A rule check or test that failed, already reported as promtool does.
    assert_eq!(
        exit_code(&Reported("1 of 2 rule files have problems".to_owned()).into()),
        1
    );
}

#[test]
fn servers_that_do_not_name_the_kind_fall_back_on_the_status() {
    assert_eq!(exit_code(&api(400, "")), 2);
    assert_eq!(exit_code(&api(422, "")), 1);
    assert_eq!(exit_code(&api(503, "")), 1);
}
