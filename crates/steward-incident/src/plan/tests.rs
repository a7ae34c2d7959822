//! Tests of response-plan runs: order, approvals, at-most-once
//! execution, failures that stop the plan until a retry or a skip,
//! checklist items, and which incidents a plan applies to.

use super::*;
use crate::test_time::at;

fn plan() -> ResponsePlanSpec {
    let step = |action, requires_approval| StepSpec {
        action,
        requires_approval,
    };
    ResponsePlanSpec {
        name: "agent-errors".into(),
        services: vec!["agent".into()],
        alerts: vec!["AgentTaskErrorRatioHigh".into()],
        steps: vec![
            step(
                StepAction::Rollback {
                    service: "agent".into(),
                },
                false,
            ),
            step(
                StepAction::Manual {
                    text: "tell the support channel".into(),
                },
                false,
            ),
            step(
                StepAction::ScaleOut {
                    service: "agent".into(),
                    add: 2,
                },
                true,
            ),
        ],
    }
}

#[test]
fn steps_run_in_order_each_automated_one_handed_out_once() {
    let mut run = PlanRun::new(&plan());
    let rollback = StepAction::Rollback {
        service: "agent".into(),
    };
    assert_eq!(run.next(at(0)), Next::Execute(0, rollback));
    // asked again while it runs: nobody else gets it
    assert_eq!(run.next(at(1)), Next::Wait(0));
    assert_eq!(run.steps[0].attempts, 1);
    assert_eq!(
        run.record(0, Ok("rolled back to 1.0.0 (dep_3)".into()), at(2))
            .unwrap(),
        "step 1 succeeded: rolled back to 1.0.0 (dep_3)"
    );
    // the checklist item waits for a person
    assert_eq!(run.next(at(2)), Next::Wait(1));
    assert!(
        run.record(1, Ok("x".into()), at(2)).is_err(),
        "a person ticks it"
    );
    assert_eq!(run.tick(1, "ana", at(3)).unwrap(), "ana did step 2");
    // the scale-out needs an approval first
    assert_eq!(run.next(at(3)), Next::Wait(2));
    assert_eq!(run.steps[2].state, StepState::AwaitingApproval);
    assert_eq!(run.steps[2].attempts, 0);
    assert_eq!(run.approve(2, "bo").unwrap(), "bo approved step 3");
    assert!(matches!(
        run.next(at(4)),
        Next::Execute(2, StepAction::ScaleOut { add: 2, .. })
    ));
    run.record(2, Ok("4 replicas".into()), at(5)).unwrap();
    assert_eq!(run.next(at(5)), Next::Finished);
    assert_eq!(run.steps[2].approved_by.as_deref(), Some("bo"));
}

#[test]
fn a_failed_step_stops_the_plan_until_a_person_retries_or_skips_it() {
    let mut run = PlanRun::new(&plan());
    assert!(matches!(run.next(at(0)), Next::Execute(0, _)));
    assert_eq!(
        run.record(0, Err("no previous release".into()), at(1))
            .unwrap(),
        "step 1 failed: no previous release"
    );
    for _ in 0..3 {
        assert_eq!(run.next(at(2)), Next::Wait(0), "not run again on its own");
    }
    assert_eq!(run.steps[0].attempts, 1);
    assert_eq!(run.retry(0, "ana").unwrap(), "ana retried step 1");
    assert!(matches!(run.next(at(3)), Next::Execute(0, _)));
    assert_eq!(run.steps[0].attempts, 2);
    run.record(0, Err("still none".into()), at(4)).unwrap();
    assert_eq!(run.skip(0, "ana").unwrap(), "ana skipped step 1");
    assert_eq!(run.next(at(5)), Next::Wait(1));
}

#[test]
fn transitions_out_of_place_are_refused() {
    let mut run = PlanRun::new(&plan());
    assert!(run.approve(0, "ana").is_err(), "step 1 needs no approval");
    assert!(run.retry(0, "ana").is_err(), "not failed");
    assert!(matches!(run.next(at(0)), Next::Execute(0, _)));
    let err = run.skip(0, "ana").unwrap_err();
    assert_eq!(err.to_string(), "step 1 is done or being executed");
    let err = run.tick(7, "ana", at(1)).unwrap_err();
    assert_eq!(err.to_string(), "plan agent-errors has no step 8");
}

#[test]
fn a_plan_applies_to_incidents_on_its_services_or_with_its_alerts() {
    let plan = plan();
    assert!(plan.applies(["gateway", "agent"].into_iter(), [].into_iter()));
    assert!(plan.applies([].into_iter(), ["AgentTaskErrorRatioHigh"].into_iter()));
    assert!(!plan.applies(["gateway"].into_iter(), ["Other"].into_iter()));
}

#[test]
fn steps_read_from_configuration_with_their_action() {
    let spec: ResponsePlanSpec = serde_json::from_value(serde_json::json!({
        "name": "p",
        "services": ["agent"],
        "steps": [
            {"action": "rollback", "service": "agent"},
            {"action": "command", "argv": ["/usr/local/bin/flush-cache", "--all"], "requires_approval": true},
            {"action": "manual", "text": "post in #incidents"}
        ]
    }))
    .expect("a plan");
    assert_eq!(spec.steps.len(), 3);
    assert!(spec.steps[1].requires_approval);
    assert_eq!(
        spec.steps[1].action,
        StepAction::Command {
            argv: vec!["/usr/local/bin/flush-cache".into(), "--all".into()]
        }
    );
}
