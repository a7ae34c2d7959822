//! The real amtool (Debian's prometheus-alertmanager package, 0.25, named
//! by `STEWARD_TEST_AMTOOL`) against steward's API v2 served on a
//! loopback port: `alert add` reaches a webhook receiver on loopback
//! through the AlertManager; `alert query` (simple and JSON) lists the
//! alert; `silence add` silences it, `silence query` (simple, `-q`,
//! JSON) lists the silence, `alert query --silenced` shows the alert
//! suppressed; `silence expire` expires it and `silence query --expired`
//! lists it there. No command warns (amtool compares versions first).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{Router as Http, extract::State, http::StatusCode, routing::post};
use steward_alert::{
    AlertManager, LabelSet,
    alert::{Fingerprint, MemAlertStore},
    clock::{SharedClock, SystemClock},
    dispatch::{RouteOpts, Router},
    manager::{Configured, Maintenance, ManagerOptions, VersionInfo},
    nflog::MemNotificationLog,
    notify::{Integration, RetryPolicy, receivers::Receivers, webhook::Webhook},
    silence::Silences,
};

const HOUR: Duration = Duration::from_secs(3600);

/// Every alert to one route, grouped by `alertname`, flushed quickly.
struct OneRoute(Arc<RouteOpts>);

impl Router for OneRoute {
    fn routes(&self, _: &LabelSet) -> Vec<Arc<RouteOpts>> {
        vec![self.0.clone()]
    }
}

type Got = Arc<Mutex<Vec<serde_json::Value>>>;

async fn serve(app: Http) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A webhook receiver keeping every payload.
async fn webhook_receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let app = Http::new()
        .route(
            "/hook",
            post(
                |State(got): State<Got>, body: axum::body::Bytes| async move {
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    StatusCode::OK
                },
            ),
        )
        .with_state(got.clone());
    (format!("{}/hook", serve(app).await), got)
}

async fn manager(hook: String) -> AlertManager {
    let mut receivers = Receivers::new(
        "http://steward:7400",
        RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            deadline: Duration::from_secs(5),
        },
    );
    let webhook: Arc<dyn Integration> = Arc::new(Webhook {
        url: hook,
        max_alerts: 0,
        send_resolved: true,
        hmac_secret: None,
        timeout: Duration::from_secs(5),
        client: reqwest::Client::new(),
    });
    receivers.add("team", vec![webhook], None);
    let mut route = RouteOpts::new("{}", "{}", "team");
    route.group_by = Some(BTreeSet::from(["alertname".to_owned()]));
    route.group_wait = Duration::from_millis(100);
    route.group_interval = Duration::from_millis(500);
    let clock: SharedClock = Arc::new(SystemClock);
    AlertManager::start(ManagerOptions {
        config: Configured {
            router: Arc::new(OneRoute(Arc::new(route))),
            notifier: Arc::new(receivers),
            inhibit_rules: Vec::new(),
            group_muter: None,
            resolve_timeout: Duration::from_secs(300),
            original: "route:\n  receiver: team\nreceivers:\n- name: team\n".to_owned(),
            receivers: vec!["team".to_owned()],
        },
        alerts: Arc::new(MemAlertStore::new()),
        silences: Silences::in_memory(clock.clone(), 120 * HOUR).await,
        nflog: Arc::new(MemNotificationLog::new(120 * HOUR)),
        clock,
        maintenance: Maintenance::default(),
        version: VersionInfo::default(),
    })
    .await
    .unwrap()
}

/// amtool pointed at steward.
struct Amtool {
    binary: String,
    url: String,
}

impl Amtool {
    /// Runs amtool; its stdout, after checking that it succeeded without a
    /// word on stderr.
    async fn run(&self, args: &[&str]) -> String {
        amtool(&self.binary, &self.url, args).await
    }
}

async fn amtool(binary: &str, url: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(binary)
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .await
        .expect("run amtool");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "amtool {args:?} failed: {stderr}{stdout}"
    );
    assert_eq!(stderr, "", "amtool {args:?} warned");
    stdout
}

/// The rows of amtool's table output whose first column is `first`.
fn rows<'a>(table: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.first() == Some(&first))
        .collect()
}

async fn wait_for(got: &Got, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..400 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn amtool_adds_queries_silences_and_expires() {
    let Ok(binary) = std::env::var("STEWARD_TEST_AMTOOL") else {
        #[allow(clippy::print_stdout)] // the skip line is the point
        {
            println!("skipping the amtool test: STEWARD_TEST_AMTOOL is not set");
        }
        return;
    };
    let (hook, got) = webhook_receiver().await;
    let manager = manager(hook).await;
    let url = serve(steward_alert::api::router(manager.clone())).await;
    let amtool = Amtool { binary, url };
    let am = |args: &'static [&'static str]| amtool.run(args);

    am(&["alert", "add", "alertname=Test", "severity=critical"]).await;
    let sent = wait_for(&got, 1).await;
    assert_eq!(sent.len(), 1, "the webhook hears the alert");
    assert_eq!(sent[0]["status"], "firing");
    assert_eq!(sent[0]["alerts"][0]["labels"]["alertname"], "Test");

    let table = am(&["alert", "query"]).await;
    let test = rows(&table, "Test");
    assert_eq!(test.len(), 1, "{table}");
    assert_eq!(test[0].last(), Some(&"active"), "{table}");

    let listed: serde_json::Value =
        serde_json::from_str(&am(&["alert", "query", "-o", "json"]).await).unwrap();
    let labels: LabelSet = [("alertname", "Test"), ("severity", "critical")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let alert = &listed[0];
    assert_eq!(alert["labels"], serde_json::json!(labels));
    assert_eq!(
        alert["fingerprint"],
        Fingerprint::of(&labels).to_string().as_str()
    );
    assert_eq!(alert["receivers"], serde_json::json!([{"name": "team"}]));
    assert_eq!(alert["status"]["state"], "active");

    let id = am(&[
        "silence",
        "add",
        "alertname=Test",
        "-c",
        "comment",
        "-a",
        "author",
        "-d",
        "1h",
    ])
    .await;
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let table = am(&["silence", "query"]).await;
    let silence = rows(&table, &id);
    assert_eq!(silence.len(), 1, "{table}");
    assert_eq!(silence[0][1], r#"alertname="Test""#);
    assert_eq!(&silence[0][3..], ["author", "comment"], "{table}");
    assert_eq!(am(&["silence", "query", "-q"]).await, format!("{id}\n"));
    let silences: serde_json::Value =
        serde_json::from_str(&am(&["silence", "query", "-o", "json"]).await).unwrap();
    assert_eq!(silences[0]["id"], id.as_str());
    assert_eq!(silences[0]["createdBy"], "author");
    assert_eq!(silences[0]["comment"], "comment");
    assert_eq!(silences[0]["status"]["state"], "active");
    assert_eq!(
        silences[0]["matchers"],
        serde_json::json!([{"isEqual": true, "isRegex": false, "name": "alertname", "value": "Test"}])
    );

    let table = am(&["alert", "query", "--silenced"]).await;
    let test = rows(&table, "Test");
    assert_eq!(test.len(), 1, "{table}");
    assert_eq!(test[0].last(), Some(&"suppressed"), "{table}");
    let table = am(&["alert", "query"]).await;
    assert!(
        rows(&table, "Test").is_empty(),
        "only active alerts: {table}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&am(&["alert", "query", "--silenced", "-o", "json"]).await).unwrap();
    assert_eq!(listed[0]["status"]["silencedBy"], serde_json::json!([id]));

    assert_eq!(amtool.run(&["silence", "expire", &id]).await, "");
    assert_eq!(am(&["silence", "query", "-q"]).await, "");
    let table = am(&["silence", "query", "--expired"]).await;
    assert_eq!(rows(&table, &id).len(), 1, "{table}");
    let table = am(&["alert", "query"]).await;
    assert_eq!(rows(&table, "Test").len(), 1, "active again: {table}");

    manager.stop().await;
}
