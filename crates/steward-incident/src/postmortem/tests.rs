//! Tests of the postmortem: what the data fills in (summary with times,
//! impact, the top candidate and its evidence, trigger, detection,
//! resolution, timeline, action items), prompts where people write, and
//! the wording when no change was found.

use std::collections::BTreeSet;

use chrono::TimeDelta;

use super::*;
use crate::test_time::at;
use crate::{
    incident::{Action, Severity},
    rca::{ChangeKind, ChangeRecord, Context, rank},
};

fn incident() -> Incident {
    let mut i = Incident::open(
        "inc-7",
        "AgentTaskErrorRatioHigh on agent",
        Severity::Sev2,
        at(12),
    );
    i.detected_at = Some(at(10));
    i.commander = Some("ana".into());
    i.apply(Action::Acknowledge, at(15)).expect("ack");
    i.apply(Action::Mitigate, at(20)).expect("mitigate");
    i.apply(Action::Resolve, at(30)).expect("resolve");
    i
}

fn candidates() -> Vec<Candidate> {
    let affected = BTreeSet::from(["agent".to_owned()]);
    let dependencies = Default::default();
    rank(
        &[
            ChangeRecord {
                id: "dep_2".into(),
                kind: ChangeKind::Deployment,
                service: "agent".into(),
                at: at(5),
                summary: "agent 1.0.0 -> 1.1.0".into(),
            },
            ChangeRecord {
                id: "cfg_1".into(),
                kind: ChangeKind::Config,
                service: "agent".into(),
                at: at(-60),
                summary: "a flag".into(),
            },
        ],
        &Context {
            affected: &affected,
            dependencies: &dependencies,
            first_alert: at(10),
            window: TimeDelta::hours(2),
            half_life: TimeDelta::minutes(15),
            history: &[],
            failing: &BTreeSet::new(),
        },
    )
}

fn timeline() -> Vec<TimelineEntry> {
    let entry = |m, kind, text: &str| TimelineEntry {
        at: at(m),
        kind,
        text: text.to_owned(),
    };
    vec![
        entry(
            5,
            EntryKind::Change,
            "deployment dep_2 of agent 1.0.0 -> 1.1.0 succeeded",
        ),
        entry(
            10,
            EntryKind::Alert,
            "AgentTaskErrorRatioHigh fired on agent",
        ),
        entry(12, EntryKind::Notification, "paged bo (level 1)"),
        entry(
            19,
            EntryKind::Action,
            "rolled back agent to 1.0.0 (dep_3): succeeded",
        ),
        entry(25, EntryKind::Alert, "AgentTaskErrorRatioHigh resolved"),
    ]
}

#[test]
fn the_postmortem_is_filled_from_the_incidents_data() {
    let incident = incident();
    let candidates = candidates();
    let timeline = timeline();
    let items = [ActionItem {
        id: "ai-1".into(),
        title: "gate agent rollouts on the task error ratio".into(),
        kind: ActionKind::Prevent,
        owner: Some("bo".into()),
        status: ActionStatus::Open,
    }];
    let impact = [
        "failing: agent".to_owned(),
        "gateway impacted through gateway -> agent".to_owned(),
    ];
    let md = postmortem(&Sources {
        incident: &incident,
        impact: &impact,
        candidates: &candidates,
        timeline: &timeline,
        action_items: &items,
    });
    for expected in [
        "# Postmortem: AgentTaskErrorRatioHigh on agent (inc-7)",
        "**Status:** draft · **Severity:** SEV2 · **Date:** 2026-03-02 · **Incident commander:** ana",
        "AgentTaskErrorRatioHigh on agent. The likeliest cause is the deployment dep_2 (agent 1.0.0 -> 1.1.0). Opened 2026-03-02 10:12:00 UTC, 2m after the first alert. Acknowledged 3m after opening; mitigated 8m after opening; resolved 18m after opening",
        "- gateway impacted through gateway -> agent",
        "Top candidate: **deployment dep_2**, agent 1.0.0 -> 1.1.0.",
        "- deployment of agent (agent 1.0.0 -> 1.1.0) 5m before the first alert",
        "- configuration change cfg_1 (a flag), configuration change of agent (a flag) 1h10m before the first alert",
        "Deployment at 2026-03-02 10:05:00 UTC: agent 1.0.0 -> 1.1.0.",
        "First alert at 2026-03-02 10:10:00 UTC: AgentTaskErrorRatioHigh fired on agent.",
        "- 2026-03-02 10:19:00 UTC rolled back agent to 1.0.0 (dep_3): succeeded",
        "| 2026-03-02 10:12:00 UTC | notification | paged bo (level 1) |",
        "| ai-1 | gate agent rollouts on the task error ratio | prevent | bo | open |",
        "### Where we got lucky",
    ] {
        assert!(
            md.lines().any(|l| l == expected),
            "missing line {expected:?} in:\n{md}"
        );
    }
    // the sections in the book's order
    let order: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        order,
        [
            "## Summary",
            "## Impact",
            "## Root causes",
            "## Trigger",
            "## Detection",
            "## Resolution",
            "## Timeline (UTC)",
            "## Action items",
            "## Lessons learned",
        ]
    );
}

#[test]
fn without_a_change_the_root_cause_says_so_and_people_fill_the_rest() {
    let incident = Incident::open("inc-8", "replica crash loop", Severity::Sev3, at(0));
    let md = postmortem(&Sources {
        incident: &incident,
        impact: &[],
        candidates: &[],
        timeline: &[],
        action_items: &[],
    });
    assert!(
        md.contains("No change (deployment, migration, configuration change or optimization)"),
        "{md}"
    );
    assert!(md.contains("Opened by hand, not from an alert."), "{md}");
    assert!(md.contains("**Incident commander:** none named"), "{md}");
    assert_eq!(md.matches(TO_FILL).count(), 7, "{md}");
}
