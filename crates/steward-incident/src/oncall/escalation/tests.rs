//! Tests of escalation policies: the plan of pages (levels, rounds, the
//! on-call user of a schedule at each page's time), the checks of a
//! policy, and the escalation on tokio's paused clock: every level paged
//! when nobody answers, an acknowledgement that stops it, a timeout of
//! the acknowledgement that starts it over, a resolution that ends it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::*;
use crate::oncall::{LayerSpec, ScheduleSpec};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

/// `platform`: ana, then bo from 2026-03-02T10:10Z (daily at 10:10 UTC).
fn schedules() -> BTreeMap<String, Schedule> {
    let spec = ScheduleSpec {
        name: "platform".into(),
        time_zone: "UTC".into(),
        layers: vec![LayerSpec {
            name: "primary".into(),
            users: vec!["ana".into(), "bo".into()],
            rotation: "daily".into(),
            start: chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
                .and_then(|d| d.and_hms_opt(10, 10, 0))
                .expect("time"),
            end: None,
            restrictions: Vec::new(),
        }],
        overrides: Vec::new(),
    };
    BTreeMap::from([(
        "platform".to_owned(),
        Schedule::new(&spec).expect("schedule"),
    )])
}

fn level(users: &[&str], schedules: &[&str], delay: &str) -> LevelSpec {
    LevelSpec {
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        schedules: schedules.iter().map(|s| (*s).to_owned()).collect(),
        delay: delay.parse().expect("duration"),
    }
}

/// Level 1: cy for 5 minutes; level 2: the platform schedule (and cy
/// again, paged once) for 10 minutes; one repeat.
fn policy() -> EscalationPolicy {
    EscalationPolicy::new(
        &EscalationPolicySpec {
            name: "api".into(),
            levels: vec![
                level(&["cy"], &[], "5m"),
                level(&["cy"], &["platform"], "10m"),
            ],
            repeat: 1,
        },
        &schedules(),
    )
    .expect("policy")
}

const START: &str = "2026-03-02T10:00:00Z";

#[test]
fn the_plan_pages_each_level_after_the_delays_before_it_and_repeats() {
    let pages = policy().pages(at(START));
    let summary: Vec<(String, usize, u32, Vec<String>)> = pages
        .iter()
        .map(|p| {
            (
                p.at.format("%H:%M").to_string(),
                p.level,
                p.round,
                p.users.clone(),
            )
        })
        .collect();
    let users = |u: &[&str]| u.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            ("10:00".to_owned(), 0, 0, users(&["cy"])),
            // the schedule's handoff at 10:10 is before this page
            ("10:05".to_owned(), 1, 0, users(&["cy", "ana"])),
            ("10:15".to_owned(), 0, 1, users(&["cy"])),
            ("10:20".to_owned(), 1, 1, users(&["cy", "bo"])),
        ]
    );
}

#[test]
fn policies_are_checked_with_the_field_at_fault() {
    let check = |spec: EscalationPolicySpec| {
        EscalationPolicy::new(&spec, &schedules())
            .expect_err("invalid")
            .to_string()
    };
    let spec = |levels| EscalationPolicySpec {
        name: "p".into(),
        levels,
        repeat: 0,
    };
    assert_eq!(
        check(spec(vec![])),
        "escalation policy \"p\": levels: a policy needs at least one level"
    );
    assert_eq!(
        check(spec(vec![level(&[], &[], "5m")])),
        "escalation policy \"p\": levels[0]: a level needs users or schedules to page"
    );
    assert_eq!(
        check(spec(vec![
            level(&["a"], &[], "5m"),
            level(&[], &["nights"], "5m")
        ])),
        "escalation policy \"p\": levels[1].schedules[0]: no schedule named \"nights\" (schedules: platform)"
    );
    assert_eq!(
        check(spec(vec![level(&["a"], &[], "0")])),
        "escalation policy \"p\": levels[0].delay: 0s is not between a second and a day"
    );
    assert_eq!(
        check(spec(vec![level(&["a"], &[], "2d")])),
        "escalation policy \"p\": levels[0].delay: 2d is not between a second and a day"
    );
    let mut endless = spec(vec![level(&["a"], &[], "5m")]);
    endless.repeat = 4_000_000_000;
    assert_eq!(
        check(endless),
        "escalation policy \"p\": repeat: 4000000000 is more than 9 repeats"
    );
}

/// Records the pages and re-triggers, with the paused clock's time.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Pager for Recorder {
    async fn page(&self, page: &Page) {
        self.events.lock().expect("lock").push(format!(
            "{} page level {} round {} {}",
            page.at.format("%H:%M"),
            page.level,
            page.round,
            page.users.join(",")
        ));
    }

    async fn retriggered(&self, acknowledged_at: DateTime<Utc>, at: DateTime<Utc>) {
        self.events.lock().expect("lock").push(format!(
            "{} retriggered (acknowledged {})",
            at.format("%H:%M"),
            acknowledged_at.format("%H:%M")
        ));
    }
}

struct Run {
    recorder: Arc<Recorder>,
    response: watch::Sender<Response>,
    task: tokio::task::JoinHandle<Ended>,
}

fn start(ack_timeout: Option<Duration>) -> Run {
    let recorder = Arc::new(Recorder::default());
    let (response, receiver) = watch::channel(Response::Triggered);
    let task = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            escalate(
                &policy(),
                at(START),
                ack_timeout,
                recorder.as_ref(),
                receiver,
            )
            .await
        })
    };
    Run {
        recorder,
        response,
        task,
    }
}

impl Run {
    fn events(&self) -> Vec<String> {
        self.recorder.events.lock().expect("lock").clone()
    }
}

/// Lets the clock run `minutes` (paused: at once).
async fn wait(minutes: u64) {
    tokio::time::sleep(Duration::from_secs(minutes * 60)).await;
}

#[tokio::test(start_paused = true)]
async fn with_nobody_answering_every_level_is_paged_then_escalation_waits() {
    let run = start(None);
    wait(60).await;
    assert_eq!(
        run.events(),
        [
            "10:00 page level 0 round 0 cy",
            "10:05 page level 1 round 0 cy,ana",
            "10:15 page level 0 round 1 cy",
            "10:20 page level 1 round 1 cy,bo",
        ]
    );
    run.response.send(Response::Resolved).expect("send");
    assert_eq!(run.task.await.expect("task"), Ended::Resolved);
}

#[tokio::test(start_paused = true)]
async fn an_acknowledgement_stops_paging_and_a_resolution_ends_it() {
    let run = start(Some(Duration::from_secs(3600)));
    wait(7).await;
    run.response
        .send(Response::Acknowledged(at("2026-03-02T10:07:00Z")))
        .expect("send");
    wait(30).await;
    assert_eq!(
        run.events(),
        [
            "10:00 page level 0 round 0 cy",
            "10:05 page level 1 round 0 cy,ana"
        ]
    );
    run.response.send(Response::Resolved).expect("send");
    assert_eq!(run.task.await.expect("task"), Ended::Resolved);
}

#[tokio::test(start_paused = true)]
async fn an_acknowledgement_not_resolved_in_time_starts_escalation_over() {
    let run = start(Some(Duration::from_secs(30 * 60)));
    wait(2).await;
    run.response
        .send(Response::Acknowledged(at("2026-03-02T10:02:00Z")))
        .expect("send");
    // 10:32: the acknowledgement's 30 minutes passed; the state still says
    // acknowledged (its keeper has not caught up), which no longer counts
    wait(36).await;
    assert_eq!(
        run.events(),
        [
            "10:00 page level 0 round 0 cy",
            "10:32 retriggered (acknowledged 10:02)",
            "10:32 page level 0 round 0 cy",
            "10:37 page level 1 round 0 cy,bo",
        ]
    );
    // acknowledged again at 10:38: paging stops, with a new timeout
    run.response
        .send(Response::Acknowledged(at("2026-03-02T10:38:00Z")))
        .expect("send");
    wait(20).await;
    assert_eq!(run.events().len(), 4, "{:?}", run.events());
    run.response.send(Response::Resolved).expect("send");
    assert_eq!(run.task.await.expect("task"), Ended::Resolved);
}

#[tokio::test(start_paused = true)]
async fn escalation_stops_when_the_incident_state_goes_away() {
    let run = start(None);
    wait(1).await;
    drop(run.response);
    assert_eq!(run.task.await.expect("task"), Ended::Stopped);
}
