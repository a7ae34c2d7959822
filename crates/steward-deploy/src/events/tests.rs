//! Tests of the deployment event catalogue.

use super::DeployEvent;
use crate::model::StepStatus;

#[test]
fn every_kind_is_valid_unique_and_in_the_deploy_prefix() {
    let kinds: Vec<&str> = DeployEvent::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        steward_core::check_catalogue(DeployEvent::PREFIX, &kinds),
        Ok(())
    );
    assert_eq!(kinds.len(), 30);
}

#[test]
fn only_the_four_outcomes_are_terminal() {
    let terminal: Vec<&str> = DeployEvent::ALL
        .iter()
        .filter(|event| event.is_terminal())
        .map(|event| event.as_str())
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
