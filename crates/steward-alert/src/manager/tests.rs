//! The AlertManager on paused tokio time: alerts put (merged, validated
//! as API v2 does, dispatched to the notifier), queried with their
//! status, receivers and filters, grouped, silenced and inhibited;
//! silences through it; status; reload; stop; a put that outlives its
//! caller; periodic garbage collection. [`Setup`] is shared with the
//! API's and the state tracking's tests (`state/tests.rs`).
//!
//! - [`held`]: puts against a store held back at one step (a caller that
//!   goes away, a slow commit).

mod held;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;

use super::*;
use crate::alert::{AlertState, MemAlertStore};
use crate::clock::{Clock, TokioClock};
use crate::dispatch::{Integration, Notification, RouteOpts};
use crate::matchers::parse_matcher;
use crate::nflog::MemNotificationLog;
use crate::silence::SilenceState;
use crate::{LabelSet, Matchers};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

pub(crate) fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// When every test starts (wall time).
pub(crate) fn wall_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Routes an alert to each route whose matchers match it, in order; the
/// last route, with no matchers, only when no other matched (as a tree's
/// root with its children).
pub(crate) struct TestRouter(pub(crate) Vec<(Matchers, Arc<RouteOpts>)>);

impl Router for TestRouter {
    fn routes(&self, labels: &LabelSet) -> Vec<Arc<RouteOpts>> {
        let (fallback, children) = self.0.split_last().expect("a route");
        let matched: Vec<Arc<RouteOpts>> = children
            .iter()
            .filter(|(m, _)| m.matches(labels))
            .map(|(_, r)| r.clone())
            .collect();
        match matched.is_empty() {
            true => vec![fallback.1.clone()],
            false => matched,
        }
    }
}

/// Records every notification; each receiver has one webhook.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) sent: Mutex<Vec<Notification>>,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn integrations(&self, receiver: &str) -> Vec<Integration> {
        vec![Integration {
            receiver: receiver.to_owned(),
            kind: "webhook".to_owned(),
            index: 0,
            send_resolved: true,
        }]
    }

    async fn notify(&self, notification: &Notification) -> Result<()> {
        self.sent.lock().push(notification.clone());
        Ok(())
    }
}

/// A route grouping by `alertname`, waiting 30s, to `receiver`.
pub(crate) fn route(id: &str, receiver: &str) -> Arc<RouteOpts> {
    let mut r = RouteOpts::new(id, format!("{{}}/{id}"), receiver);
    r.group_by = Some(BTreeSet::from(["alertname".to_owned()]));
    Arc::new(r)
}

/// The test configuration: `severity="critical"` goes to `pager`,
/// everything else to `team`; critical alerts inhibit warnings of the
/// same `alertname`.
pub(crate) fn configured(recorder: &Arc<Recorder>) -> Configured {
    Configured {
        router: Arc::new(TestRouter(vec![
            (
                Matchers::parse(r#"severity="critical""#).unwrap(),
                route("pager", "pager"),
            ),
            (Matchers::default(), route("root", "team")),
        ])),
        notifier: recorder.clone(),
        inhibit_rules: vec![InhibitRule {
            source: Matchers::parse(r#"severity="critical""#).unwrap(),
            target: Matchers::parse(r#"severity="warning""#).unwrap(),
            equal: vec!["alertname".to_owned()],
        }],
        group_muter: None,
        resolve_timeout: 5 * MINUTE,
        original: "route:\n  receiver: team\n".to_owned(),
        receivers: vec!["team".to_owned(), "pager".to_owned()],
    }
}

/// An AlertManager over memory stores, on a clock that starts at
/// [`wall_start`] and follows tokio's (paused) time.
pub(crate) struct Setup {
    pub(crate) manager: AlertManager,
    pub(crate) store: Arc<MemAlertStore>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) clock: TokioClock,
}

impl Setup {
    pub(crate) async fn new() -> Self {
        Self::with_store(Arc::new(MemAlertStore::new()), Maintenance::default()).await
    }

    pub(crate) async fn with_store(store: Arc<MemAlertStore>, maintenance: Maintenance) -> Self {
        Self::build(store.clone(), store, maintenance).await
    }

    async fn build(
        store: Arc<MemAlertStore>,
        alerts: Arc<dyn AlertStore>,
        maintenance: Maintenance,
    ) -> Self {
        let clock = TokioClock::starting_at(wall_start());
        let shared: SharedClock = Arc::new(clock);
        let recorder = Arc::new(Recorder::default());
        let manager = AlertManager::start(ManagerOptions {
            config: configured(&recorder),
            alerts,
            silences: Silences::in_memory(shared.clone(), 120 * HOUR).await,
            nflog: Arc::new(MemNotificationLog::new(120 * HOUR)),
            clock: shared,
            maintenance,
            version: VersionInfo::default(),
        })
        .await
        .unwrap();
        Self {
            manager,
            store,
            recorder,
            clock,
        }
    }

    pub(crate) async fn fire(&self, pairs: &[(&str, &str)]) {
        self.manager
            .put_alerts(vec![IncomingAlert {
                labels: labels(pairs),
                ..Default::default()
            }])
            .await
            .unwrap();
    }

    /// A silence of `matchers` from now for an hour; its id.
    pub(crate) async fn silence(&self, matchers: &str) -> String {
        let now = self.clock.now();
        self.manager
            .set_silence(Silence::new(
                Matchers::parse(matchers).unwrap(),
                now,
                now + chrono::TimeDelta::hours(1),
                "alice",
                "maintenance",
            ))
            .await
            .unwrap()
    }
}

fn names(views: &[AlertView]) -> Vec<String> {
    views
        .iter()
        .map(|v| v.alert.labels["alertname"].clone())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn put_alerts_stores_the_valid_ones_and_lists_the_invalid() {
    let s = Setup::new().await;
    let end = wall_start() - chrono::TimeDelta::hours(1);
    let err = s
        .manager
        .put_alerts(vec![
            IncomingAlert {
                labels: labels(&[("alertname", "A")]),
                ..Default::default()
            },
            IncomingAlert::default(),
            IncomingAlert {
                labels: labels(&[("0bad", "x")]),
                ..Default::default()
            },
            IncomingAlert {
                labels: labels(&[("alertname", "B")]),
                starts_at: Some(wall_start()),
                ends_at: Some(end),
                ..Default::default()
            },
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "at least one label pair required; invalid label set: invalid name \"0bad\"; \
         start time must be before end time"
    );
    assert!(matches!(err, Error::InvalidAlert(_)));
    let stored = s.store.list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].labels, labels(&[("alertname", "A")]));
    assert_eq!(
        stored[0].ends_at,
        Some(wall_start() + chrono::TimeDelta::minutes(5)),
        "the resolve timeout gives the end"
    );
    assert!(stored[0].timeout);
}

#[tokio::test(start_paused = true)]
async fn put_alerts_merges_with_the_stored_alert_and_dispatches() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "A")]).await;
    tokio::time::sleep(MINUTE).await;
    s.fire(&[("alertname", "A")]).await;
    let stored = s.store.list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].starts_at, wall_start(), "the first start stays");
    assert_eq!(
        stored[0].updated_at,
        wall_start() + chrono::TimeDelta::minutes(1)
    );
    let sent = s.recorder.sent.lock().clone();
    assert_eq!(sent.len(), 1, "one notification after group_wait");
    assert_eq!(sent[0].receiver(), "team");
    assert_eq!(sent[0].group_key, r#"{}/root:{alertname="A"}"#);
}

#[tokio::test(start_paused = true)]
async fn alerts_carry_status_and_receivers_and_follow_the_filters() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "A"), ("severity", "critical")])
        .await;
    s.fire(&[("alertname", "A"), ("severity", "warning")]).await;
    s.fire(&[("alertname", "B"), ("team", "db")]).await;
    let silence = s.silence(r#"alertname="B""#).await;

    let all = s.manager.alerts(&AlertQuery::default()).await.unwrap();
    let mut fps: Vec<Fingerprint> = all.iter().map(|v| v.fingerprint).collect();
    fps.sort();
    assert_eq!(
        all.iter().map(|v| v.fingerprint).collect::<Vec<_>>(),
        fps,
        "by fingerprint"
    );
    let by_name = |name: &str, sev: Option<&str>| {
        all.iter()
            .find(|v| {
                v.alert.labels["alertname"] == name
                    && v.alert.labels.get("severity").map(String::as_str) == sev
            })
            .unwrap()
            .clone()
    };
    let critical = by_name("A", Some("critical"));
    assert_eq!(critical.receivers, vec!["pager"]);
    assert_eq!(critical.status.state, AlertState::Active);
    let warning = by_name("A", Some("warning"));
    assert_eq!(warning.receivers, vec!["team"]);
    assert_eq!(warning.status.state, AlertState::Suppressed);
    assert_eq!(
        warning.status.inhibited_by,
        vec![critical.fingerprint.to_string()]
    );
    let silenced = by_name("B", None);
    assert_eq!(silenced.status.silenced_by, vec![silence]);
    assert!(silenced.status.inhibited_by.is_empty());

    let query = |f: fn(&mut AlertQuery)| {
        let mut q = AlertQuery::default();
        f(&mut q);
        q
    };
    let only = |q: AlertQuery| {
        let m = s.manager.clone();
        async move { m.alerts(&q).await.unwrap() }
    };
    let got = only(query(|q| q.silenced = false)).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|v| v.status.silenced_by.is_empty()));
    let got = only(query(|q| {
        q.active = false;
        q.inhibited = false;
    }))
    .await;
    assert_eq!(names(&got), vec!["B"]);
    let got = only(query(|q| {
        q.receiver = Some(AlertQuery::receiver_pattern("pag").unwrap());
    }))
    .await;
    assert!(got.is_empty(), "the receiver expression is anchored");
    let got = only(query(|q| {
        q.receiver = Some(AlertQuery::receiver_pattern("pag.*").unwrap());
    }))
    .await;
    assert_eq!(got, vec![critical.clone()]);
    let got = only(query(|q| {
        q.matchers = vec![parse_matcher(r#"severity=~"crit.*|warning""#).unwrap()];
    }))
    .await;
    assert_eq!(got.len(), 2);
}

#[test]
fn filters_treat_empty_values_as_alertmanager_does() {
    let m = |s: &str| vec![parse_matcher(s).unwrap()];
    let with_team = labels(&[("alertname", "A"), ("team", "db")]);
    let without = labels(&[("alertname", "A")]);
    assert!(filter_matches(&m(r#"team="""#), &without));
    assert!(!filter_matches(&m(r#"team="""#), &with_team));
    assert!(filter_matches(&m(r#"team!="""#), &with_team));
    assert!(!filter_matches(&m(r#"team!="""#), &without));
    assert!(filter_matches(&m(r#"team!="web""#), &without));
    assert!(filter_matches(&m(r#"team=~"d.""#), &with_team));
    assert!(!filter_matches(&m(r#"team=~"d""#), &with_team));
    assert!(filter_matches(&[], &without));
}

#[tokio::test(start_paused = true)]
async fn resolved_alerts_are_not_listed() {
    let s = Setup::new().await;
    s.manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "A")]),
            starts_at: Some(wall_start() - chrono::TimeDelta::hours(1)),
            ends_at: Some(wall_start() - chrono::TimeDelta::minutes(1)),
            ..Default::default()
        }])
        .await
        .unwrap();
    assert_eq!(s.store.len(), 1);
    assert!(
        s.manager
            .alerts(&AlertQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.manager.alert_groups(&AlertQuery::default()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn alert_groups_are_ordered_and_name_their_receivers() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "B")]).await;
    s.fire(&[
        ("alertname", "A"),
        ("severity", "critical"),
        ("instance", "2"),
    ])
    .await;
    s.fire(&[
        ("alertname", "A"),
        ("severity", "critical"),
        ("instance", "1"),
    ])
    .await;
    s.fire(&[("alertname", "A"), ("severity", "warning")]).await;
    let groups = s.manager.alert_groups(&AlertQuery::default());
    let summary: Vec<(LabelSet, String, usize)> = groups
        .iter()
        .map(|g| (g.labels.clone(), g.receiver.clone(), g.alerts.len()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (labels(&[("alertname", "A")]), "pager".to_owned(), 2),
            (labels(&[("alertname", "A")]), "team".to_owned(), 1),
            (labels(&[("alertname", "B")]), "team".to_owned(), 1),
        ]
    );
    let instances: Vec<&str> = groups[0]
        .alerts
        .iter()
        .map(|v| v.alert.labels["instance"].as_str())
        .collect();
    assert_eq!(instances, vec!["1", "2"], "notification order");
    assert_eq!(groups[0].alerts[0].receivers, vec!["pager"]);
    assert_eq!(
        groups[1].alerts[0].status.state,
        AlertState::Suppressed,
        "the warning is inhibited"
    );

    let mut q = AlertQuery {
        receiver: Some(AlertQuery::receiver_pattern("team").unwrap()),
        ..AlertQuery::default()
    };
    q.inhibited = false;
    let groups = s.manager.alert_groups(&q);
    assert_eq!(groups.len(), 1, "the inhibited alert's group is left out");
    assert_eq!(groups[0].labels, labels(&[("alertname", "B")]));
}

#[tokio::test(start_paused = true)]
async fn silences_pass_through_with_exact_filters() {
    let s = Setup::new().await;
    let a = s.silence(r#"alertname="A""#).await;
    let b = s.silence(r#"severity=~"crit.*""#).await;
    let all = s.manager.silences(&[]);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|v| v.state == SilenceState::Active));
    let filter = |f: &str| {
        s.manager
            .silences(&[parse_matcher(f).unwrap()])
            .into_iter()
            .map(|v| v.silence.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(filter(r#"alertname="A""#), vec![a.clone()]);
    assert!(
        filter(r#"alertname=~"A""#).is_empty(),
        "operators must be equal"
    );
    assert_eq!(filter(r#"severity=~"crit.*""#), vec![b.clone()]);
    assert!(
        filter(r#"severity="critical""#).is_empty(),
        "values are not matched"
    );

    s.manager.expire_silence(&a).await.unwrap();
    assert_eq!(s.manager.silence(&a).unwrap().state, SilenceState::Expired);
    assert_eq!(s.manager.silences(&[]).last().unwrap().silence.id, a);
    assert!(matches!(
        s.manager.expire_silence("nope").await,
        Err(Error::SilenceNotFound)
    ));
    assert!(s.manager.silence("nope").is_none());
}

#[tokio::test(start_paused = true)]
async fn status_and_receivers_come_from_the_options() {
    let s = Setup::new().await;
    tokio::time::sleep(HOUR).await;
    let status = s.manager.status();
    assert_eq!(status.cluster_status, "disabled");
    assert_eq!(status.version.version, "0.25.0");
    assert_eq!(status.original, "route:\n  receiver: team\n");
    assert_eq!(status.uptime, wall_start(), "the start, not a duration");
    assert_eq!(s.manager.receivers(), vec!["team", "pager"]);
}

#[tokio::test(start_paused = true)]
async fn reload_routes_the_stored_alerts_anew() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "A")]).await;
    tokio::time::sleep(MINUTE).await;
    assert_eq!(s.recorder.sent.lock().len(), 1);

    let recorder = Arc::new(Recorder::default());
    let mut config = configured(&recorder);
    config.router = Arc::new(TestRouter(vec![(Matchers::default(), route("ops", "ops"))]));
    config.receivers = vec!["ops".to_owned()];
    config.original = "route:\n  receiver: ops\n".to_owned();
    s.manager.reload(config).await.unwrap();
    assert_eq!(s.manager.receivers(), vec!["ops"]);
    assert_eq!(s.manager.status().original, "route:\n  receiver: ops\n");
    let listed = s.manager.alerts(&AlertQuery::default()).await.unwrap();
    assert_eq!(listed[0].receivers, vec!["ops"]);

    tokio::time::sleep(MINUTE).await;
    let sent = recorder.sent.lock().clone();
    assert_eq!(
        sent.len(),
        1,
        "the new receiver is told after its group_wait"
    );
    assert_eq!(sent[0].receiver(), "ops");
    s.fire(&[("alertname", "B")]).await;
    tokio::time::sleep(MINUTE).await;
    assert_eq!(recorder.sent.lock().len(), 2);
    assert_eq!(
        s.recorder.sent.lock().len(),
        1,
        "the old dispatcher stopped"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_refuses_later_alerts() {
    let s = Setup::new().await;
    s.fire(&[("alertname", "A")]).await;
    s.manager.stop().await;
    let err = s
        .manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "B")]),
            ..Default::default()
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Stopped));
    tokio::time::sleep(HOUR).await;
    assert!(
        s.recorder.sent.lock().is_empty(),
        "pending flushes were dropped"
    );
    assert!(matches!(
        s.manager.reload(configured(&s.recorder)).await,
        Err(Error::Stopped)
    ));
}

#[tokio::test(start_paused = true)]
async fn resolved_alerts_are_collected_every_30_minutes() {
    let s = Setup::new().await;
    let fp_resolved = Fingerprint::of(&labels(&[("alertname", "Old")]));
    s.manager
        .put_alerts(vec![
            IncomingAlert {
                labels: labels(&[("alertname", "Old")]),
                ends_at: Some(wall_start() + chrono::TimeDelta::minutes(10)),
                ..Default::default()
            },
            IncomingAlert {
                labels: labels(&[("alertname", "Firing")]),
                ends_at: Some(wall_start() + chrono::TimeDelta::hours(2)),
                ..Default::default()
            },
        ])
        .await
        .unwrap();
    s.manager.alerts(&AlertQuery::default()).await.unwrap();
    assert_eq!(
        s.manager.marker().status(fp_resolved).state,
        AlertState::Active
    );

    tokio::time::sleep(29 * MINUTE).await;
    assert_eq!(s.store.len(), 2, "resolved, but not collected yet");
    tokio::time::sleep(2 * MINUTE).await;
    let left = s.store.list().await.unwrap();
    assert_eq!(left.len(), 1, "collected at 30 minutes");
    assert_eq!(left[0].labels["alertname"], "Firing");
    assert_eq!(
        s.manager.marker().status(fp_resolved).state,
        AlertState::Unprocessed,
        "its status is forgotten"
    );
}

#[tokio::test(start_paused = true)]
async fn maintenance_removes_old_silences_and_respects_the_alert_retention() {
    let maintenance = Maintenance {
        alert_retention: HOUR,
        ..Maintenance::default()
    };
    let s = Setup::with_store(Arc::new(MemAlertStore::new()), maintenance).await;
    let id = s.silence(r#"alertname="A""#).await;
    s.manager.expire_silence(&id).await.unwrap();
    s.manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "A")]),
            ends_at: Some(wall_start() + chrono::TimeDelta::minutes(1)),
            ..Default::default()
        }])
        .await
        .unwrap();
    tokio::time::sleep(31 * MINUTE).await;
    assert_eq!(s.store.len(), 1, "kept for the retention");
    tokio::time::sleep(60 * MINUTE).await;
    assert_eq!(s.store.len(), 0, "collected after it");
    assert!(s.manager.silence(&id).is_some(), "kept 120h after its end");
    tokio::time::sleep(120 * HOUR).await;
    assert!(
        s.manager.silence(&id).is_none(),
        "collected by the maintenance"
    );
    assert_eq!(
        s.manager.gc().await.unwrap(),
        GcReport::default(),
        "nothing left to collect"
    );
}

#[tokio::test(start_paused = true)]
async fn a_raised_severity_reroutes_and_resolves_the_lower_copy() {
    use crate::severity::{Condition, SeverityPolicy, SeverityRule};
    let setup = Setup::new().await;
    setup
        .manager
        .set_severity_policy(Some(Arc::new(SeverityPolicy::with_rules(vec![
            SeverityRule {
                matchers: Matchers::default(),
                condition: Condition::FiringFor(10 * MINUTE),
                raise_to: "critical".to_owned(),
            },
        ]))));
    let send = || IncomingAlert {
        labels: labels(&[("alertname", "TaskErrors"), ("severity", "warning")]),
        starts_at: Some(wall_start()),
        ..IncomingAlert::default()
    };
    setup.manager.put_alerts(vec![send()]).await.unwrap();
    tokio::time::sleep(MINUTE).await;
    {
        let sent = setup.recorder.sent.lock();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].receiver(), "team", "a warning goes to the team");
    }
    // the sender re-sends every minute; after ten the alert is critical
    for _ in 0..10 {
        tokio::time::sleep(MINUTE).await;
        setup.manager.put_alerts(vec![send()]).await.unwrap();
    }
    tokio::time::sleep(MINUTE).await;
    let sent = setup.recorder.sent.lock().clone();
    let pager: Vec<_> = sent.iter().filter(|n| n.receiver() == "pager").collect();
    assert_eq!(pager.len(), 1, "the critical copy pages: {sent:?}");
    assert_eq!(pager[0].alerts[0].labels["severity"], "critical");
    let firing = setup.manager.alerts(&AlertQuery::default()).await.unwrap();
    assert_eq!(firing.len(), 1, "only the critical copy fires");
    assert_eq!(firing[0].alert.labels["severity"], "critical");
}

#[tokio::test(start_paused = true)]
async fn groups_at_the_threshold_are_handed_to_the_incident_sink() {
    use crate::handoff::{GroupHandoff, Handoff, IncidentSink};
    #[derive(Default)]
    struct Incidents(Mutex<Vec<GroupHandoff>>);
    #[async_trait::async_trait]
    impl IncidentSink for Incidents {
        async fn hand_off(&self, group: GroupHandoff) {
            self.0.lock().push(group);
        }
    }
    let setup = Setup::new().await;
    let incidents = Arc::new(Incidents::default());
    setup
        .manager
        .set_handoff(Some(Handoff::new(incidents.clone(), "error")));
    setup
        .manager
        .put_alerts(vec![
            IncomingAlert {
                labels: labels(&[("alertname", "Disk"), ("severity", "warning")]),
                ..IncomingAlert::default()
            },
            IncomingAlert {
                labels: labels(&[("alertname", "Down"), ("severity", "critical")]),
                ..IncomingAlert::default()
            },
        ])
        .await
        .unwrap();
    tokio::time::sleep(MINUTE).await;
    let handed = incidents.0.lock().clone();
    assert_eq!(handed.len(), 1, "only the critical group: {handed:?}");
    assert_eq!(handed[0].severity, "critical");
    assert_eq!(handed[0].receiver, "pager");
    assert_eq!(handed[0].group_labels["alertname"], "Down");
    assert_eq!(handed[0].alerts.len(), 1);
    assert_eq!(
        setup.recorder.sent.lock().len(),
        2,
        "both groups still notify"
    );
}

#[tokio::test(start_paused = true)]
async fn a_weak_handle_does_not_keep_the_manager_alive() {
    let s = Setup::new().await;
    let weak = s.manager.downgrade();
    assert!(weak.upgrade().is_some());
    s.manager.stop().await;
    drop(s);
    assert!(
        weak.upgrade().is_none(),
        "a weak handle does not keep the AlertManager alive"
    );
}
