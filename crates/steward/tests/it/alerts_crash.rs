//! The AlertManager's durability end to end: `steward up` takes alerts
//! through API v2 under load (new alerts and re-sends, Prometheus' way)
//! and is killed with SIGKILL in the middle; the load stops there (no
//! sender re-sends anything). After a restart on the same data
//! directory, every alert whose POST was answered 2xx is listed firing,
//! every group's notifications end up covering all its acknowledged
//! alerts (none lost), and no group is notified of the same firing set
//! twice more than once (the one duplicate the notification log allows:
//! a notification sent, then the crash before its log entry is written).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use steward_test_support::free_port;

use crate::support::{Server, receiver};

const GROUPS: usize = 20;
const ALERTS: usize = 240;
/// New alerts per POST (the rest of a batch re-sends older ones).
const NEW_PER_BATCH: usize = 2;
const BATCH: usize = 24;

fn alert(i: usize, starts_at: &str) -> Value {
    let ends_at =
        (Utc::now() + chrono::Duration::minutes(4)).to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "labels": {"alertname": "Crash", "group": format!("g{:02}", i % GROUPS), "alert": format!("a{i:03}")},
        "annotations": {"summary": format!("alert {i}")},
        "startsAt": starts_at,
        "endsAt": ends_at,
    })
}

/// POSTs batches until a POST fails (the kill); the alerts of every batch
/// answered 2xx, and the error that ended it.
/// `progress` counts the distinct alerts acknowledged.
async fn load(
    url: String,
    token: String,
    progress: Arc<AtomicUsize>,
) -> (BTreeSet<String>, reqwest::Error) {
    let client = reqwest::Client::new();
    let mut acked = BTreeSet::new();
    let mut starts: Vec<String> = Vec::new();
    let mut next = 0;
    let mut old = 0;
    loop {
        let mut batch = Vec::new();
        while next < ALERTS && batch.len() < NEW_PER_BATCH {
            starts.push(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
            batch.push(next);
            next += 1;
        }
        while batch.len() < BATCH && old < next {
            batch.push(old % next);
            old += 1;
        }
        old %= next.max(1);
        let body: Vec<Value> = batch.iter().map(|&i| alert(i, &starts[i])).collect();
        let sent = client
            .post(format!("{url}alertmanager/api/v2/alerts"))
            .bearer_auth(&token)
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                acked.extend(batch.iter().map(|i| format!("a{i:03}")));
                progress.store(acked.len(), Ordering::Release);
            }
            Ok(response) => panic!("steward refused a batch: {}", response.status()),
            Err(err) => return (acked, err),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each notification's group and firing alerts, in arrival order.
type Notified = Arc<Mutex<Vec<(String, BTreeSet<String>)>>>;

fn collect(got: std::sync::mpsc::Receiver<Value>) -> Notified {
    let notified: Notified = Arc::default();
    let out = notified.clone();
    std::thread::spawn(move || {
        for body in got {
            let group = body["groupLabels"]["group"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let firing: BTreeSet<String> = body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["status"] == "firing")
                .filter_map(|a| a["labels"]["alert"].as_str().map(str::to_owned))
                .collect();
            out.lock().unwrap().push((group, firing));
        }
    });
    notified
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_under_load_loses_no_alert_and_no_notification() {
    let (hook, got) = receiver();
    let notified = collect(got);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\nrate_limit_per_second = 0\n\n[alerts]\nconfig_yaml = '''\nroute:\n  receiver: hook\n  group_by: [group]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n'''\n",
            free_port()
        ),
    )
    .unwrap();
    let server = tokio::task::spawn_blocking(move || Server::spawn(dir, config))
        .await
        .unwrap();
    let token = std::fs::read_to_string(server.dir.path().join(".steward/admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let url = format!("{}/", server.url.trim_end_matches('/'));

    let progress = Arc::new(AtomicUsize::new(0));
    let loader = tokio::spawn(load(url.clone(), token.clone(), progress.clone()));
    // killed when half the alerts are in and at least a group_wait has
    // passed: some groups were notified, others only have alerts
    // acknowledged, and notifications may be on their way
    let started = std::time::Instant::now();
    while progress.load(Ordering::Acquire) < ALERTS / 2
        || started.elapsed() < Duration::from_millis(1500)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the load never reached half its alerts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (dir, config) = tokio::task::spawn_blocking(move || server.kill())
        .await
        .unwrap();
    let (acked, ended) = loader.await.unwrap();
    let before_kill = notified.lock().unwrap().len();
    assert!(
        acked.len() > 40 && acked.len() < ALERTS,
        "the kill came in the middle of the load ({} acknowledged, ended by {ended:?})",
        acked.len()
    );

    let server = tokio::task::spawn_blocking(move || Server::spawn(dir, config))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let listed: Vec<Value> = client
        .get(format!("{url}alertmanager/api/v2/alerts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // API v2 lists only alerts that have not resolved
    let firing: BTreeSet<String> = listed
        .iter()
        .filter_map(|a| a["labels"]["alert"].as_str().map(str::to_owned))
        .collect();
    let lost: Vec<&String> = acked.difference(&firing).collect();
    assert!(
        lost.is_empty(),
        "acknowledged alerts lost by the crash: {lost:?}"
    );

    // every group's acknowledged alerts reach the receiver
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &acked {
        let i: usize = name[1..].parse().unwrap();
        expected
            .entry(format!("g{:02}", i % GROUPS))
            .or_default()
            .insert(name.clone());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let covered: HashMap<String, BTreeSet<String>> = {
            let mut last = HashMap::new();
            for (group, firing) in notified.lock().unwrap().iter() {
                last.insert(group.clone(), firing.clone());
            }
            last
        };
        let missing: Vec<&String> = expected
            .iter()
            .filter(|(group, alerts)| {
                covered
                    .get(*group)
                    .is_none_or(|got| !got.is_superset(alerts))
            })
            .map(|(group, _)| group)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "groups never notified of all their acknowledged alerts: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // two group intervals more: anything the log would let through again
    // arrives now
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notifications = notified.lock().unwrap().clone();
    let mut previous: HashMap<&str, &BTreeSet<String>> = HashMap::new();
    let mut repeats: HashMap<&str, usize> = HashMap::new();
    for (group, firing) in &notifications {
        if let Some(before) = previous.get(group.as_str())
            && firing.is_subset(before)
        {
            *repeats.entry(group).or_default() += 1;
        }
        previous.insert(group, firing);
    }
    assert!(
        repeats.values().all(|&n| n <= 1),
        "groups notified again of what they were already notified: {repeats:?} \
         ({} notifications, {before_kill} before the kill)",
        notifications.len()
    );
    drop(server);
}
