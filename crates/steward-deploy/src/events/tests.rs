//! Tests of the deployment event catalogue.

use std::collections::HashSet;

use super::DeployEvent;
use crate::model::StepStatus;

#[test]
fn every_kind_is_valid_unique_and_parses_back() {
    let mut seen = HashSet::new();
    for event in DeployEvent::ALL {
        let kind = event.kind();
        assert_eq!(kind.as_str(), event.as_str());
        assert!(
            event.as_str().starts_with("deploy."),
            "{event} is outside the deploy prefix"
        );
        assert!(seen.insert(event.as_str()), "{event} is listed twice");
        assert_eq!(DeployEvent::parse(event.as_str()), Some(event));
    }
    assert_eq!(DeployEvent::parse("deploy.nonsense"), None);
}

#[test]
fn only_the_four_outcomes_are_terminal() {
    let terminal: Vec<&str> = DeployEvent::ALL
        .into_iter()
        .filter(|event| event.is_terminal())
        .map(DeployEvent::as_str)
        .collect();
    assert_eq!(
        terminal,
        [
            "deploy.succeeded",
            "deploy.rolled_back",
            "deploy.failed",
            "deploy.aborted"
        ]
    );
    assert!(DeployEvent::is_terminal_kind("deploy.aborted"));
    assert!(!DeployEvent::is_terminal_kind("deploy.step.failed"));
    assert!(!DeployEvent::is_terminal_kind("audit.request"));
}

#[test]
fn step_statuses_map_to_step_events() {
    assert_eq!(DeployEvent::of_step(StepStatus::Pending), None);
    assert_eq!(
        DeployEvent::of_step(StepStatus::Running),
        Some(DeployEvent::StepStarted)
    );
    assert_eq!(
        DeployEvent::of_step(StepStatus::RollbackFailed).map(DeployEvent::as_str),
        Some("deploy.step.rollback_failed")
    );
}
