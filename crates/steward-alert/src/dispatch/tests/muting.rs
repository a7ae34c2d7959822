//! Muting in the dispatcher on paused time: inhibited and silenced alerts
//! are left out of notifications (and marked), and steward's rule for
//! resolutions of muted alerts (#226): an alert notified as firing that
//! resolves while muted still gets its resolution, one muted before it
//! was ever notified never does.

use chrono::TimeDelta;

use super::*;
use crate::alert::AlertState;
use crate::silence::Silence;

fn critical_inhibits_warning() -> InhibitRule {
    InhibitRule {
        source: Matchers::parse("severity=critical").unwrap(),
        target: Matchers::parse("severity=warning").unwrap(),
        equal: vec!["cluster".to_owned()],
    }
}

async fn silence(h: &Harness, matchers: &str) -> String {
    h.silences
        .set(Silence::new(
            Matchers::parse(matchers).unwrap(),
            h.now(),
            h.now() + TimeDelta::hours(10),
            "alice",
            "maintenance",
        ))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn inhibited_alerts_are_left_out_while_the_source_fires() {
    let h = Harness::build(
        vec![("", route("0", "team"))],
        vec![critical_inhibits_warning()],
        None,
    )
    .await;
    let warning_a = [
        ("alertname", "W"),
        ("severity", "warning"),
        ("cluster", "a"),
    ];
    let critical_a = [
        ("alertname", "C"),
        ("severity", "critical"),
        ("cluster", "a"),
    ];
    let warning_b = [
        ("alertname", "W2"),
        ("severity", "warning"),
        ("cluster", "b"),
    ];
    h.fire(&warning_a).await;
    h.fire(&critical_a).await;
    h.fire(&warning_b).await;
    h.at(31.0).await;
    assert_eq!(h.sent(), ["30 team/webhook +[C,W2] -[]"]);
    let critical_fp = crate::alert::Fingerprint::of(&labels(&critical_a));
    let status = h
        .marker
        .status(crate::alert::Fingerprint::of(&labels(&warning_a)));
    assert_eq!(status.state, AlertState::Suppressed);
    assert_eq!(status.inhibited_by, [critical_fp.to_string()]);
    // The source resolves: the target is news at the next flush.
    h.at(100.0).await;
    h.resolve(&critical_a).await;
    h.at(331.0).await;
    assert_eq!(h.sent()[1], "330 team/webhook +[W,W2] -[C]");
}

#[tokio::test(start_paused = true)]
async fn silenced_alerts_are_left_out_until_the_silence_expires() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    let id = silence(&h, "alertname=A").await;
    h.at(1.0).await;
    h.fire(&[("alertname", "A")]).await;
    h.fire(&[("alertname", "B")]).await;
    h.at(32.0).await;
    assert_eq!(h.sent(), ["31 team/webhook +[B] -[]"]);
    let status = h.marker.status(crate::alert::Fingerprint::of(&labels(&[(
        "alertname",
        "A",
    )])));
    assert_eq!(status.silenced_by, [id.as_str()]);
    h.at(100.0).await;
    h.silences.expire(&id).await.unwrap();
    h.at(332.0).await;
    assert_eq!(h.sent()[1], "331 team/webhook +[A,B] -[]");
}

#[tokio::test(start_paused = true)]
async fn a_notified_alert_that_resolves_while_silenced_gets_its_resolution() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.fire(&[("alertname", "A")]).await;
    h.at(60.0).await;
    silence(&h, "alertname=A").await;
    h.at(400.0).await;
    // Silenced while firing: nothing at 330.
    assert_eq!(h.sent(), ["30 team/webhook +[A] -[]"]);
    h.resolve(&[("alertname", "A")]).await;
    h.at(631.0).await;
    assert_eq!(
        h.sent(),
        ["30 team/webhook +[A] -[]", "630 team/webhook +[] -[A]"]
    );
    let (_, n) = h.notifications().pop().unwrap();
    assert!(n.all_resolved);
    assert!(h.nflog.entries()[0].firing.is_empty());
    h.at(2000.0).await;
    assert_eq!(h.sent().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_alert_silenced_before_it_was_ever_notified_stays_silent() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    silence(&h, "alertname=A").await;
    h.fire(&[("alertname", "A")]).await;
    h.at(100.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(2000.0).await;
    assert!(h.sent().is_empty());
    assert!(h.nflog.entries().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silenced_alert_in_a_busy_group_keeps_its_resolution_due() {
    let mut r = route("0", "team");
    r.repeat_interval = HOUR;
    let h = Harness::new(vec![("", r)]).await;
    h.fire(&[("alertname", "A")]).await;
    h.fire(&[("alertname", "B")]).await;
    h.at(60.0).await;
    silence(&h, "alertname=A").await;
    // The repeat shows only B, but the log still counts A as firing...
    h.at(3931.0).await;
    assert_eq!(
        h.sent(),
        ["30 team/webhook +[A,B] -[]", "3930 team/webhook +[B] -[]"]
    );
    assert_eq!(h.nflog.entries()[0].firing.len(), 2);
    // ...so that its resolution under the silence is still sent.
    h.at(4000.0).await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(4231.0).await;
    assert_eq!(h.sent()[2], "4230 team/webhook +[B] -[A]");
    assert_eq!(
        h.notifications()[2].1.reason,
        crate::nflog::UpdateReason::NewResolved
    );
}

#[tokio::test(start_paused = true)]
async fn a_notified_alert_that_resolves_while_inhibited_gets_its_resolution() {
    let h = Harness::build(
        vec![("", route("0", "team"))],
        vec![critical_inhibits_warning()],
        None,
    )
    .await;
    let warning = [
        ("alertname", "W"),
        ("severity", "warning"),
        ("cluster", "a"),
    ];
    h.fire(&warning).await;
    h.at(31.0).await;
    assert_eq!(h.sent(), ["30 team/webhook +[W] -[]"]);
    // A critical alert of the same cluster now inhibits W: the group shows
    // only it; W resolves while inhibited and its resolution is sent.
    h.fire(&[
        ("alertname", "C"),
        ("severity", "critical"),
        ("cluster", "a"),
    ])
    .await;
    h.at(100.0).await;
    h.resolve(&warning).await;
    h.at(331.0).await;
    assert_eq!(h.sent()[1], "330 team/webhook +[C] -[W]");
}

#[tokio::test(start_paused = true)]
async fn without_send_resolved_a_silenced_resolution_is_only_logged() {
    let h = Harness::new(vec![("", route("0", "team"))]).await;
    h.set_integrations("team", vec![webhook("team", false)]);
    h.fire(&[("alertname", "A")]).await;
    h.at(60.0).await;
    silence(&h, "alertname=A").await;
    h.resolve(&[("alertname", "A")]).await;
    h.at(331.0).await;
    assert_eq!(h.sent(), ["30 team/webhook +[A] -[]"]);
    assert!(h.nflog.entries()[0].firing.is_empty());
}
