//! The dispatcher on paused tokio time: group_wait, immediate flushes of
//! old alerts, group_interval batching, repeat_interval, resolutions
//! (with and without send_resolved, by resolve timeout), grouping and
//! group keys, several routes and integrations, failed notifications,
//! time-interval muting and stopping. Muting by inhibition and silences
//! (and steward's rule for resolutions of muted alerts) is in [`muting`].

mod muting;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::*;
use crate::alert::{AlertStore, IncomingAlert, Marker, MemAlertStore};
use crate::clock::{Clock, TokioClock};
use crate::inhibit::{InhibitRule, Inhibitor};
use crate::nflog::MemNotificationLog;
use crate::silence::{Silencer, Silences};
use crate::{Error, Matchers, Result};

const HOUR: Duration = Duration::from_secs(3600);

pub(super) fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Routes each alert to every route whose matchers match it.
struct TestRouter(Vec<(Matchers, Arc<RouteOpts>)>);

impl Router for TestRouter {
    fn routes(&self, labels: &LabelSet) -> Vec<Arc<RouteOpts>> {
        self.0
            .iter()
            .filter(|(m, _)| m.matches(labels))
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// Records notifications with the second (since the test's start) they
/// were sent at; fails on demand.
struct Recorder {
    start: Instant,
    integrations: Mutex<HashMap<String, Vec<Integration>>>,
    sent: Mutex<Vec<(u64, Notification)>>,
    failing: AtomicBool,
    failures: AtomicUsize,
    /// Makes notifications take a day.
    hanging: AtomicBool,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn integrations(&self, receiver: &str) -> Vec<Integration> {
        self.integrations
            .lock()
            .get(receiver)
            .cloned()
            .unwrap_or_else(|| vec![webhook(receiver, true)])
    }

    async fn notify(&self, notification: &Notification) -> Result<()> {
        if self.hanging.load(Ordering::SeqCst) {
            tokio::time::sleep(24 * HOUR).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(Error::Notify("receiver down".to_owned()));
        }
        let at = self.start.elapsed().as_secs();
        self.sent.lock().push((at, notification.clone()));
        Ok(())
    }
}

pub(super) fn webhook(receiver: &str, send_resolved: bool) -> Integration {
    Integration {
        receiver: receiver.to_owned(),
        kind: "webhook".to_owned(),
        index: 0,
        send_resolved,
    }
}

/// A route `id` keyed `{}`-something, to `receiver`, grouping by nothing.
pub(super) fn route(id: &str, receiver: &str) -> RouteOpts {
    RouteOpts::new(id, "{}", receiver)
}

/// The AlertManager's parts wired as the lead will: store, inhibitor,
/// silences, notification log, dispatcher.
pub(super) struct Harness {
    start: Instant,
    clock: TokioClock,
    store: MemAlertStore,
    pub(super) inhibitor: Inhibitor,
    pub(super) silences: Silences,
    pub(super) marker: Marker,
    pub(super) nflog: Arc<MemNotificationLog>,
    recorder: Arc<Recorder>,
    pub(super) dispatcher: Dispatcher,
}

pub(super) fn wall_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

impl Harness {
    pub(super) async fn new(routes: Vec<(&str, RouteOpts)>) -> Self {
        Self::build(routes, Vec::new(), None).await
    }

    pub(super) async fn build(
        routes: Vec<(&str, RouteOpts)>,
        rules: Vec<InhibitRule>,
        group_muter: Option<Arc<dyn GroupMuter>>,
    ) -> Self {
        let start = Instant::now();
        let clock = TokioClock::starting_at(wall_start());
        let shared: crate::clock::SharedClock = Arc::new(clock);
        let marker = Marker::new();
        let inhibitor = Inhibitor::new(rules, marker.clone());
        let silences = Silences::in_memory(shared.clone(), HOUR).await;
        let nflog = Arc::new(MemNotificationLog::new(120 * HOUR));
        let recorder = Arc::new(Recorder {
            start,
            integrations: Mutex::new(HashMap::new()),
            sent: Mutex::new(Vec::new()),
            failing: AtomicBool::new(false),
            failures: AtomicUsize::new(0),
            hanging: AtomicBool::new(false),
        });
        let mut pipeline = Pipeline::new(nflog.clone(), recorder.clone(), shared)
            .with_muter(Arc::new(inhibitor.clone()))
            .with_muter(Arc::new(Silencer::new(silences.clone(), marker.clone())));
        if let Some(m) = group_muter {
            pipeline = pipeline.with_group_muter(m);
        }
        let router = TestRouter(
            routes
                .into_iter()
                .map(|(m, r)| (Matchers::parse(m).unwrap(), Arc::new(r)))
                .collect(),
        );
        let dispatcher = Dispatcher::new(Arc::new(router), pipeline);
        Self {
            start,
            clock,
            store: MemAlertStore::new(),
            inhibitor,
            silences,
            marker,
            nflog,
            recorder,
            dispatcher,
        }
    }

    /// Waits until `secs` seconds after the start (paused time jumps).
    pub(super) async fn at(&self, secs: f64) {
        tokio::time::sleep_until(self.start + Duration::from_secs_f64(secs)).await;
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Stores an alert and hands it on, as the AlertManager does.
    pub(super) async fn ingest(&self, incoming: IncomingAlert) {
        let now = self.now();
        let alert = incoming.into_alert(now, 24 * HOUR).unwrap();
        let stored = self.store.put(alert, now).await.unwrap();
        self.inhibitor.observe(&stored);
        self.dispatcher.dispatch(&stored);
    }

    /// Sends a firing alert with these labels (no end: the resolve
    /// timeout, a day here, keeps it firing).
    pub(super) async fn fire(&self, pairs: &[(&str, &str)]) {
        self.ingest(IncomingAlert {
            labels: labels(pairs),
            ..Default::default()
        })
        .await;
    }

    /// Sends the alert's resolution (ending now).
    pub(super) async fn resolve(&self, pairs: &[(&str, &str)]) {
        self.ingest(IncomingAlert {
            labels: labels(pairs),
            ends_at: Some(self.now()),
            ..Default::default()
        })
        .await;
    }

    pub(super) fn set_integrations(&self, receiver: &str, integrations: Vec<Integration>) {
        self.recorder
            .integrations
            .lock()
            .insert(receiver.to_owned(), integrations);
    }

    pub(super) fn notifications(&self) -> Vec<(u64, Notification)> {
        self.recorder.sent.lock().clone()
    }

    /// Each notification as `second receiver/kind +[firing] -[resolved]`,
    /// alerts by name.
    pub(super) fn sent(&self) -> Vec<String> {
        self.notifications()
            .iter()
            .map(|(at, n)| {
                let names = |it: Vec<&crate::alert::Alert>| {
                    it.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
                };
                format!(
                    "{at} {}/{} +[{}] -[{}]",
                    n.receiver(),
                    n.integration.kind,
                    names(n.firing().collect()),
                    names(n.resolved().collect()),
                )
            })
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_notification_waits_for_group_wait() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(29.5).await;
    assert!(h.sent().is_empty());
    h.at(31.0).await;
    assert_eq!(h.sent(), ["30 team/webhook +[A] -[]"]);
    let (_, n) = &h.notifications()[0];
    assert_eq!(n.group_key, "{}:{}");
    assert!(!n.all_resolved);
    assert_eq!(n.status(), "firing");
    assert_eq!(n.reason, crate::nflog::UpdateReason::FirstNotification);
    assert_eq!(
        n.alerts[0].ends_at, None,
        "firing alerts are sent without end"
    );
    let groups = h.dispatcher.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].alerts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_alert_older_than_group_wait_flushes_a_new_group_at_once() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.at(10.0).await;
    h.ingest(IncomingAlert {
        labels: labels(&[("alertname", "Old")]),
        starts_at: Some(h.now() - chrono::TimeDelta::seconds(60)),
        ..Default::default()
    })
    .await;
    h.at(10.5).await;
    assert_eq!(h.sent(), ["10 team/webhook +[Old] -[]"]);
    // Once the group has flushed, an old alert waits for the interval.
    h.at(20.0).await;
    h.ingest(IncomingAlert {
        labels: labels(&[("alertname", "Older")]),
        starts_at: Some(h.now() - chrono::TimeDelta::seconds(600)),
        ..Default::default()
    })
    .await;
    h.at(309.0).await;
    assert_eq!(h.sent().len(), 1);
    h.at(311.0).await;
    assert_eq!(h.sent()[1], "310 team/webhook +[Old,Older] -[]");
}

#[tokio::test(start_paused = true)]
async fn group_interval_batches_the_alerts_that_come_meanwhile() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(40.0).await;
    h.fire(&[("alertname", "B")]).await;
    h.at(100.0).await;
    h.fire(&[("alertname", "C")]).await;
    // Re-sending A changes nothing.
    h.fire(&[("alertname", "A")]).await;
    h.at(631.0).await;
    assert_eq!(
        h.sent(),
        ["30 team/webhook +[A] -[]", "330 team/webhook +[A,B,C] -[]"]
    );
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_group_is_repeated_after_repeat_interval() {
    let mut r = route("0", "team");
    r.repeat_interval = HOUR;
    let h = Harness::new(vec![("", r)]).await;
    h.fire(&[("alertname", "A")]).await;
    // 30s + 12 intervals is exactly an hour after the last notification:
    // not yet (Alertmanager compares strictly); the next flush repeats.
    h.at(3631.0).await;
    assert_eq!(h.sent().len(), 1);
    h.at(7831.0).await;
    assert_eq!(
        h.sent(),
        [
            "30 team/webhook +[A] -[]",
            "3930 team/webhook +[A] -[]",
            "7830 team/webhook +[A] -[]",
        ]
    );
    assert_eq!(
        h.notifications()[1].1.reason,
        crate::nflog::UpdateReason::RepeatInterval
    );
}

#[tokio::test(start_paused = true)]
async fn resolutions_are_sent_once_and_the_empty_group_goes() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.fire(&[("alertname", "B")]).await;
    h.at(100.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(400.0).await;
    h.resolve(&[("alertname", "B")]).await;
    h.at(631.0).await;
    assert_eq!(
        h.sent(),
        [
            "30 team/webhook +[A,B] -[]",
            "330 team/webhook +[B] -[A]",
            // A left the group after the flush that reported it.
            "630 team/webhook +[] -[B]",
        ]
    );
    let (_, last) = h.notifications().pop().unwrap();
    assert!(last.all_resolved);
    assert_eq!(last.status(), "resolved");
    assert!(h.dispatcher.groups().iter().all(|g| g.alerts.is_empty()));
    // Maintenance removes the empty group at its next round.
    h.at(661.0).await;
    assert!(h.dispatcher.groups().is_empty());
    h.at(2000.0).await;
    assert_eq!(h.sent().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn without_send_resolved_resolutions_are_logged_but_not_sent() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.set_integrations("team", vec![webhook("team", false)]);
    h.fire(&[("alertname", "A")]).await;
    h.fire(&[("alertname", "B")]).await;
    h.at(100.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(400.0).await;
    h.resolve(&[("alertname", "B")]).await;
    h.at(631.0).await;
    assert_eq!(h.sent(), ["30 team/webhook +[A,B] -[]"]);
    // The log knows nothing fires any more...
    let entries = h.nflog.entries();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].firing.is_empty());
    // ...so A firing again is news at once (new group: after group_wait).
    h.at(700.0).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(731.0).await;
    assert_eq!(h.sent()[1], "730 team/webhook +[A] -[]");
}

#[tokio::test(start_paused = true)]
async fn an_alert_not_resent_resolves_by_its_end() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.ingest(IncomingAlert {
        labels: labels(&[("alertname", "A")]),
        ends_at: Some(h.now() + chrono::TimeDelta::seconds(120)),
        ..Default::default()
    })
    .await;
    h.at(331.0).await;
    assert_eq!(
        h.sent(),
        ["30 team/webhook +[A] -[]", "330 team/webhook +[] -[A]"]
    );
}

#[tokio::test(start_paused = true)]
async fn group_by_splits_groups_whose_keys_are_alertmanagers() {
    let mut by_name = RouteOpts::new("0", r#"{}/{env="prod"}"#, "team");
    by_name.group_by = Some(BTreeSet::from(["alertname".to_owned()]));
    let mut each = RouteOpts::new("1", "{}/{}", "all");
    each.group_by = None;
    let h = Harness::new(vec![(r#"env="prod""#, by_name), ("", each)]).await;
    h.fire(&[("alertname", "A"), ("env", "prod"), ("instance", "1")])
        .await;
    h.fire(&[("alertname", "A"), ("env", "prod"), ("instance", "2")])
        .await;
    h.fire(&[("alertname", "B"), ("env", "prod")]).await;
    h.at(31.0).await;
    let mut keys: Vec<(String, usize)> = h
        .notifications()
        .iter()
        .map(|(_, n)| (n.group_key.clone(), n.alerts.len()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (r#"{}/{env="prod"}:{alertname="A"}"#.to_owned(), 2),
            (r#"{}/{env="prod"}:{alertname="B"}"#.to_owned(), 1),
            (
                r#"{}/{}:{alertname="A", env="prod", instance="1"}"#.to_owned(),
                1
            ),
            (
                r#"{}/{}:{alertname="A", env="prod", instance="2"}"#.to_owned(),
                1
            ),
            (r#"{}/{}:{alertname="B", env="prod"}"#.to_owned(), 1),
        ]
    );
    let a_group = h
        .notifications()
        .into_iter()
        .find(|(_, n)| n.group_key.ends_with(r#":{alertname="A"}"#))
        .unwrap()
        .1;
    assert_eq!(a_group.group_labels, labels(&[("alertname", "A")]));
    assert_eq!(
        a_group.common_labels(),
        labels(&[("alertname", "A"), ("env", "prod")])
    );
}

#[tokio::test(start_paused = true)]
async fn sibling_routes_with_the_same_key_keep_separate_groups() {
    let h = Harness::new(vec![
        ("", RouteOpts::new("0", "{}/{}", "one")),
        ("", RouteOpts::new("1", "{}/{}", "two")),
    ])
    .await;
    h.fire(&[("alertname", "A")]).await;
    h.at(31.0).await;
    let mut sent = h.sent();
    sent.sort();
    assert_eq!(sent, ["30 one/webhook +[A] -[]", "30 two/webhook +[A] -[]"]);
    assert_eq!(h.dispatcher.groups().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn each_integration_is_deduplicated_on_its_own() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    let email = Integration {
        kind: "email".to_owned(),
        ..webhook("team", false)
    };
    h.set_integrations("team", vec![webhook("team", true), email]);
    h.fire(&[("alertname", "A")]).await;
    h.at(100.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(331.0).await;
    let mut sent = h.sent();
    sent.sort();
    assert_eq!(
        sent,
        [
            "30 team/email +[A] -[]",
            "30 team/webhook +[A] -[]",
            "330 team/webhook +[] -[A]",
        ]
    );
    let entries = h.nflog.entries();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.firing.is_empty()));
}

#[tokio::test(start_paused = true)]
async fn a_failed_flush_keeps_resolved_alerts_for_the_next_one() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(100.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.recorder.failing.store(true, Ordering::SeqCst);
    h.at(331.0).await;
    assert_eq!(h.recorder.failures.load(Ordering::SeqCst), 1);
    // Nothing logged: the log still says A fires.
    assert_eq!(h.nflog.entries()[0].firing.len(), 1);
    h.recorder.failing.store(false, Ordering::SeqCst);
    h.at(631.0).await;
    assert_eq!(
        h.sent(),
        ["30 team/webhook +[A] -[]", "630 team/webhook +[] -[A]"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_notification_that_hangs_fails_after_the_group_interval() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.recorder.hanging.store(true, Ordering::SeqCst);
    h.fire(&[("alertname", "A")]).await;
    h.at(100.0).await;
    h.recorder.hanging.store(false, Ordering::SeqCst);
    // The flush of 30s gives up at 330s (its group interval); the next
    // flush, due since 330s, runs at once and delivers.
    h.at(329.0).await;
    assert!(h.sent().is_empty());
    assert!(h.nflog.entries().is_empty());
    h.at(331.0).await;
    assert_eq!(h.sent(), ["330 team/webhook +[A] -[]"]);
}

#[test]
fn the_shared_parts_are_send_and_sync() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Dispatcher>();
    shared::<Silences>();
    shared::<Inhibitor>();
    shared::<Marker>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pipeline>();
    send_sync::<MemAlertStore>();
    send_sync::<MemNotificationLog>();
}

/// Mutes the routes that name a mute time interval until 200s.
#[derive(Debug)]
struct MutedUntil(DateTime<Utc>);

impl GroupMuter for MutedUntil {
    fn mutes_group(&self, route: &RouteOpts, now: DateTime<Utc>) -> bool {
        !route.mute_time_intervals.is_empty() && now < self.0
    }
}

#[tokio::test(start_paused = true)]
async fn time_intervals_mute_whole_groups() {
    let mut muted = route("0", "quiet");
    muted.mute_time_intervals = vec!["nights".to_owned()];
    let until = wall_start() + chrono::TimeDelta::seconds(200);
    let h = Harness::build(
        vec![("", muted), ("", route("1", "loud"))],
        Vec::new(),
        Some(Arc::new(MutedUntil(until))),
    )
    .await;
    h.fire(&[("alertname", "A")]).await;
    h.at(331.0).await;
    assert_eq!(
        h.sent(),
        ["30 loud/webhook +[A] -[]", "330 quiet/webhook +[A] -[]"]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_ends_every_group() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(10.0).await;
    h.dispatcher.stop().await;
    h.at(1000.0).await;
    assert!(h.sent().is_empty());
    assert!(h.dispatcher.groups().is_empty());
}
