//! Unit tests for flag parsing and configuration validation.

use std::time::Duration;

use clap::Parser;
use clap::error::ErrorKind;

use super::*;

fn args(flags: &[&str]) -> std::result::Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("steward-demo-agent").chain(flags.iter().copied()))
}

fn config(flags: &[&str]) -> Config {
    args(flags)
        .expect("flags parse")
        .into_config(None)
        .expect("config is valid")
}

#[test]
fn defaults_are_usable() {
    let c = config(&[]);
    assert_eq!(c.listen, "127.0.0.1");
    assert_eq!(c.port, DEFAULT_PORT);
    assert_eq!(c.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(c.sim.llm_latency.median, Duration::from_millis(300));
    assert_eq!(c.sim.llm_calls, CountRange { min: 2, max: 4 });
    assert_eq!(c.sim.error_rate, 0.0);
    assert_eq!(c.sim.models.len(), 2);
    assert_eq!(c.sim.default_model().name, "demo-mini");
    assert!(!c.fail_health);
    assert_eq!(c.startup_delay, Duration::ZERO);
    assert_eq!(c.exit_after, None);
    assert_eq!(c.memory_growth_bytes, 0);
}

#[test]
fn port_falls_back_to_port_env_and_flag_wins() {
    let a = args(&[]).unwrap();
    assert_eq!(a.clone().into_config(Some("9000")).unwrap().port, 9000);
    assert_eq!(
        args(&["--port", "0"])
            .unwrap()
            .into_config(Some("9000"))
            .unwrap()
            .port,
        0
    );
    let err = a.into_config(Some("http")).unwrap_err();
    assert!(err.to_string().contains("PORT"), "{err}");
}

#[test]
fn bad_version_knobs_parse_with_their_units() {
    let c = config(&[
        "--fail-health",
        "--startup-delay",
        "2",
        "--extra-latency-ms",
        "250",
        "--memory-growth-mb",
        "3",
        "--exit-after",
        "1500ms",
    ]);
    assert!(c.fail_health);
    assert_eq!(c.startup_delay, Duration::from_secs(2));
    assert_eq!(c.sim.extra_latency, Duration::from_millis(250));
    assert_eq!(c.memory_growth_bytes, 3 * 1024 * 1024);
    assert_eq!(c.exit_after, Some(Duration::from_millis(1500)));
}

#[test]
fn durations_accept_bare_numbers_and_suffixes() {
    assert_eq!(parse_millis("250").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_millis("2s").unwrap(), Duration::from_secs(2));
    assert_eq!(parse_millis(" 500ms ").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_secs("1").unwrap(), Duration::from_secs(1));
    assert_eq!(parse_secs("1.5").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_secs("1m").unwrap(), Duration::from_secs(60));
    assert_eq!(parse_secs("0").unwrap(), Duration::ZERO);
    for bad in ["", "abc", "5h", "-1", "1..2s", "ms"] {
        assert!(parse_secs(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn count_ranges_parse_and_reject_inverted_bounds() {
    assert_eq!(
        "3".parse::<CountRange>().unwrap(),
        CountRange { min: 3, max: 3 }
    );
    assert_eq!(
        "2-4".parse::<CountRange>().unwrap(),
        CountRange { min: 2, max: 4 }
    );
    assert_eq!(
        " 0 - 1 ".parse::<CountRange>().unwrap(),
        CountRange { min: 0, max: 1 }
    );
    assert_eq!(CountRange { min: 2, max: 4 }.to_string(), "2-4");
    for bad in ["4-2", "a", "1-", "-1", ""] {
        assert!(
            bad.parse::<CountRange>().is_err(),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn model_prices_parse_one_or_two_prices() {
    let m: ModelPrice = "gpt-x:0.5".parse().unwrap();
    assert_eq!((m.prompt_per_1k, m.completion_per_1k), (0.5, 0.5));
    let m: ModelPrice = "org/model-1.5:1:2".parse().unwrap();
    assert_eq!(m.name, "org/model-1.5");
    assert_eq!((m.prompt_per_1k, m.completion_per_1k), (1.0, 2.0));
    assert!((m.cost(1000, 500) - 2.0).abs() < 1e-12);
    for bad in ["", "m", ":1", "a b:1", "m:-1", "m:x", "m:1:2:3", "m:inf"] {
        assert!(
            bad.parse::<ModelPrice>().is_err(),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn models_can_be_comma_separated() {
    let c = config(&["--model", "a:1,b:2:3"]);
    let names: Vec<&str> = c.sim.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(c.sim.model("b").is_some());
    assert!(c.sim.model("demo-mini").is_none());
}

#[test]
fn out_of_range_values_are_clap_validation_errors() {
    for flags in [
        &["--error-rate", "1.5"][..],
        &["--error-rate=-0.1"],
        &["--llm-latency-sigma=-1"],
        &["--llm-calls", "3-1"],
        &["--exit-after", "soon"],
        &["--model", "bad name:1"],
    ] {
        let err = args(flags).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation, "{flags:?}");
        assert_eq!(err.exit_code(), 2);
    }
    assert_eq!(config(&["--error-rate", "1"]).sim.error_rate, 1.0);
}

#[test]
fn a_later_flag_overrides_an_earlier_one() {
    let c = config(&["--error-rate", "0.5", "--error-rate", "0.1"]);
    assert_eq!(c.sim.error_rate, 0.1);
}

#[test]
fn cross_field_rules_are_checked() {
    let dup = args(&["--model", "a:1", "--model", "a:2"])
        .unwrap()
        .into_config(None);
    assert!(matches!(
        dup,
        Err(Error::InvalidConfig {
            field: "--model",
            ..
        })
    ));
    let no_llm = args(&["--llm-calls", "0"]).unwrap().into_config(None);
    assert!(matches!(
        no_llm,
        Err(Error::InvalidConfig {
            field: "--llm-calls",
            ..
        })
    ));
    let empty_version = args(&["--agent-version", " "]).unwrap().into_config(None);
    assert!(empty_version.is_err());
}
