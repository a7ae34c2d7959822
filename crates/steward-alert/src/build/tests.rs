//! A YAML configuration built into what the AlertManager runs: an alert
//! put routes to a webhook receiver on loopback; each receiver kind's
//! key fields mapped; routes' options and time interval muting.

use std::sync::Arc;
use std::time::Duration;

use axum::{Router as HttpRouter, body::Bytes, extract::State, routing::post};
use chrono::{TimeZone, Utc};
use tokio::sync::mpsc;

use super::*;
use crate::alert::{IncomingAlert, MemAlertStore};
use crate::clock::SystemClock;
use crate::manager::{AlertManager, Maintenance, ManagerOptions, VersionInfo};
use crate::nflog::MemNotificationLog;
use crate::silence::Silences;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

type Bodies = mpsc::UnboundedSender<serde_json::Value>;

/// A webhook receiver on loopback sending each body it gets to the
/// returned channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = HttpRouter::new()
        .route(
            "/hook",
            post(|State(tx): State<Bodies>, body: Bytes| async move {
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
            }),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn a_configured_webhook_receives_the_routed_alert() {
    let (url, mut got) = receiver().await;
    let yaml = format!(
        r#"
route:
  receiver: nobody
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['team="db"']
      receiver: hook
receivers:
  - name: nobody
  - name: hook
    webhook_configs:
      - url: {url}
"#
    );
    let config = Config::load(&yaml).unwrap();
    let configured = configured(&config, yaml.clone(), "http://steward.example").unwrap();
    assert_eq!(configured.receivers, ["nobody", "hook"]);
    assert_eq!(configured.original, yaml);
    let clock: crate::clock::SharedClock = Arc::new(SystemClock);
    let manager = AlertManager::start(ManagerOptions {
        config: configured,
        alerts: Arc::new(MemAlertStore::new()),
        silences: Silences::in_memory(clock.clone(), Duration::from_secs(3600)).await,
        nflog: Arc::new(MemNotificationLog::new(Duration::from_secs(3600))),
        clock,
        maintenance: Maintenance::default(),
        version: VersionInfo::default(),
    })
    .await
    .unwrap();
    manager
        .put_alerts(vec![IncomingAlert {
            labels: labels(&[("alertname", "DiskFull"), ("team", "db")]),
            ..IncomingAlert::default()
        }])
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), got.recv())
        .await
        .expect("the webhook is notified")
        .unwrap();
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["externalURL"], "http://steward.example");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "DiskFull");
    assert_eq!(body["groupLabels"]["alertname"], "DiskFull");
    manager.stop().await;
}

#[test]
fn routes_keep_their_options_and_identity() {
    let config = Config::load(
        r#"
route:
  receiver: a
  group_by: ['...']
  routes:
    - matchers: ['x="1"']
      receiver: b
      group_by: [x]
      group_wait: 5s
      continue: true
    - matchers: ['x="1"']
      receiver: c
      mute_time_intervals: [never]
time_intervals:
  - name: never
    time_intervals:
      - years: ['1990']
receivers: [{name: a}, {name: b}, {name: c}]
"#,
    )
    .unwrap();
    let tree = RouteTree::new(Route::from_config(&config));
    let routes = tree.routes(&labels(&[("x", "1")]));
    let names: Vec<&str> = routes.iter().map(|r| r.receiver.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(routes[0].key, routes[1].key);
    assert_ne!(routes[0].id, routes[1].id);
    assert_eq!(routes[0].group_wait, Duration::from_secs(5));
    assert_eq!(routes[0].group_by.as_ref().map(|b| b.len()), Some(1));
    // `'...'` is inherited by c
    assert_eq!(routes[1].group_by, None);
    // the same options are shared, not rebuilt, per alert
    assert!(Arc::ptr_eq(
        &routes[0],
        &tree.routes(&labels(&[("x", "1")]))[0]
    ));
    let root = tree.routes(&labels(&[("x", "2")]));
    assert_eq!(root[0].receiver, "a");

    let configured = configured(&config, String::new(), "").unwrap();
    let muter = configured.group_muter.expect("time intervals mute");
    let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    assert!(!muter.mutes_group(&routes[1], now));
    let then = Utc.with_ymd_and_hms(1990, 5, 1, 12, 0, 0).unwrap();
    assert!(muter.mutes_group(&routes[1], then));
    assert!(!muter.mutes_group(&routes[0], then));
}

#[test]
fn each_receiver_kind_maps_its_key_fields() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "og-key\n").unwrap();
    let yaml = format!(
        r#"
global:
  smtp_from: steward@example.com
  smtp_smarthost: smtp.example.com:465
  resolve_timeout: 7m
route:
  receiver: all
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
receivers:
  - name: all
    webhook_configs:
      - url: http://hooks.example/a
        send_resolved: false
        max_alerts: 3
    email_configs:
      - to: 'ops@example.com, dba@example.com'
        auth_username: user
        auth_password: pw
        text: 'custom {{{{ .Status }}}}'
      - to: dev@example.com
        smarthost: mail.example.com:587
        require_tls: false
    slack_configs:
      - api_url: https://slack.example/hook
        channel: '#ops'
        title: 'Custom'
    pagerduty_configs:
      - routing_key: rk
        severity: critical
    opsgenie_configs:
      - api_key_file: {}
        api_url: https://og.example
        priority: P2
    msteams_configs:
      - webhook_url: https://teams.example/hook
"#,
        key_file.display()
    );
    let config = Config::load(&yaml).unwrap();
    let b = Builder {
        config: &config,
        renderer: Renderer::default(),
    };
    let r = &config.receivers[0];

    let w = b.webhook(&r.webhook_configs[0], "w").unwrap();
    assert_eq!(w.url, "http://hooks.example/a");
    assert!(!w.send_resolved);
    assert_eq!(w.max_alerts, 3);
    assert_eq!(w.timeout, NOTIFY_TIMEOUT);

    let e = b.email(&r.email_configs[0]).unwrap();
    assert_eq!(e.to, ["ops@example.com", "dba@example.com"]);
    assert_eq!(e.from, "steward@example.com");
    assert_eq!((e.host.as_str(), e.port), ("smtp.example.com", 465));
    assert_eq!(e.security, email::Security::Implicit);
    assert_eq!(e.auth, Some(("user".to_owned(), "pw".to_owned())));
    assert_eq!(e.text, "custom {{ .Status }}");
    assert_eq!(e.subject, email::DEFAULT_SUBJECT);
    assert_eq!(e.html, email::DEFAULT_HTML);
    assert!(!e.send_resolved);
    let e = b.email(&r.email_configs[1]).unwrap();
    assert_eq!((e.host.as_str(), e.port), ("mail.example.com", 587));
    assert_eq!(e.security, email::Security::None);
    assert_eq!(e.auth, None);
    assert_eq!(e.text, template::DEFAULT_TEXT);

    let s = b.slack(&r.slack_configs[0], "x").unwrap();
    assert_eq!(s.api_url, "https://slack.example/hook");
    assert_eq!(s.channel.as_deref(), Some("#ops"));
    assert_eq!(s.title, "Custom");
    assert_eq!(s.text, template::DEFAULT_TEXT);
    assert_eq!(s.username, None);

    let p = b.pagerduty(&r.pagerduty_configs[0], "x").unwrap();
    assert_eq!(p.routing_key, "rk");
    assert_eq!(p.url, pagerduty::DEFAULT_URL);
    assert_eq!(p.severity, "critical");
    assert_eq!(p.description, template::DEFAULT_TITLE);
    assert!(p.details.values().all(|v| !v.contains("pagerduty.default")));

    let o = b.opsgenie(&r.opsgenie_configs[0], "x").unwrap();
    assert_eq!(o.api_key, "og-key");
    assert_eq!(o.api_url, "https://og.example/");
    assert_eq!(o.priority, "P2");
    assert_eq!(o.message, template::DEFAULT_TITLE);

    let m = b.msteams(&r.msteams_configs[0], "x").unwrap();
    assert_eq!(m.webhook_url, "https://teams.example/hook");
    assert_eq!(m.title, template::DEFAULT_TITLE);
    assert!(m.send_resolved);

    let configured = configured(&config, yaml, "").unwrap();
    assert_eq!(configured.resolve_timeout, Duration::from_secs(7 * 60));
    assert_eq!(configured.inhibit_rules.len(), 1);
    assert_eq!(configured.inhibit_rules[0].equal, ["alertname"]);
    assert!(configured.group_muter.is_none());
    let kinds: Vec<(String, u32)> = configured
        .notifier
        .integrations("all")
        .into_iter()
        .map(|i| (i.kind, i.index))
        .collect();
    assert_eq!(kinds.len(), 7);
    assert!(kinds.contains(&("email".to_owned(), 1)));
}

#[test]
fn alertmanager_default_templates_become_stewards() {
    assert!(is_alertmanager_default(
        r#"{{ template "slack.default.title" . }}"#
    ));
    assert!(is_alertmanager_default(
        r#"{{ template "pagerduty.default.description" .}}"#
    ));
    assert!(!is_alertmanager_default(template::DEFAULT_TITLE));
    assert!(!is_alertmanager_default("{{ .Status }}"));
    assert_eq!(text_or("", "d"), "d");
    assert_eq!(text_or("x", "d"), "x");
    assert!(wildcard("*.tmpl", "a.tmpl"));
    assert!(!wildcard("*.tmpl", "a.tmp"));
    assert!(wildcard("a*b*c", "axxbyyc"));
}

/// A webhook receiver on loopback sending each request's `Authorization`
/// header (or none) to the returned channel.
async fn authorization_receiver() -> (String, mpsc::UnboundedReceiver<Option<String>>) {
    let (tx, rx) = mpsc::unbounded_channel::<Option<String>>();
    let app = HttpRouter::new()
        .route(
            "/hook",
            post(
                |State(tx): State<mpsc::UnboundedSender<Option<String>>>,
                 headers: axum::http::HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap_or_default().to_owned());
                    let _ = tx.send(auth);
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn each_integration_gets_the_client_of_its_http_config() {
    let (url, mut got) = authorization_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "hunter2\n").unwrap();
    std::fs::write(dir.path().join("token"), "t0ken\n").unwrap();
    let path = dir.path().join("alertmanager.yml");
    // relative files, resolved against the configuration's directory
    std::fs::write(
        &path,
        format!(
            r#"
global:
  http_config:
    basic_auth: {{username: alerts, password_file: password}}
route: {{receiver: hook}}
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
      - url: {url}
        http_config:
          authorization: {{credentials_file: token}}
      - url: {url}
        http_config: {{follow_redirects: true}}
"#
        ),
    )
    .unwrap();
    let config = Config::load_file(&path).unwrap();
    let b = Builder {
        config: &config,
        renderer: Renderer::default(),
    };
    let hooks = &config.receivers[0].webhook_configs;
    let notification = crate::notify::Notification {
        receiver: "hook".into(),
        group_key: "{}:{}".into(),
        group_labels: LabelSet::new(),
        alerts: Vec::new(),
        external_url: String::new(),
    };
    let expected = [
        Some("Basic YWxlcnRzOmh1bnRlcjI="), // the global one: alerts:hunter2
        Some("Bearer t0ken"),
        None, // an own http_config replaces the global one whole
    ];
    for (i, expected) in expected.into_iter().enumerate() {
        let hook = b.webhook(&hooks[i], "w").unwrap();
        hook.notify(&notification).await.unwrap();
        assert_eq!(
            got.recv().await.unwrap().as_deref(),
            expected,
            "webhook {i}"
        );
    }

    // A file that cannot be read fails the build, saying where.
    std::fs::remove_file(dir.path().join("token")).unwrap();
    let err = configured(&config, String::new(), "")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "receivers[0].webhook_configs[1].http_config.authorization.credentials_file: cannot read "
        ),
        "{err}"
    );
}
