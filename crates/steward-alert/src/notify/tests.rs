//! Notifications: the payloads each integration sends, checked on real
//! HTTP receivers on loopback against each service's documented format;
//! retries, backoff and the rate limit on tokio's paused clock with an
//! in-process integration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::{Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use chrono::TimeZone;

use super::*;
use crate::notify::{
    msteams::MsTeams,
    opsgenie::Opsgenie,
    pagerduty::PagerDuty,
    slack::Slack,
    template::{DEFAULT_TEXT, DEFAULT_TITLE, Renderer},
    webhook::{SIGNATURE_HEADER, Webhook, signature},
};

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn alert(status: Status, name: &str, instance: &str) -> NotifiedAlert {
    NotifiedAlert {
        status,
        labels: labels(&[
            ("alertname", name),
            ("instance", instance),
            ("severity", "critical"),
        ]),
        annotations: labels(&[
            ("summary", "tasks fail"),
            ("runbook_url", "https://runbooks.example/tasks"),
        ]),
        starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
        ends_at: match status {
            Status::Firing => None,
            Status::Resolved => Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 5, 0).unwrap()),
        },
        generator_url: "http://steward:7400/graph?g0.expr=up".into(),
        fingerprint: format!("{:016x}", instance.len()),
    }
}

fn notification() -> Notification {
    Notification {
        receiver: "team-a".into(),
        group_key: "{}/{severity=\"critical\"}:{alertname=\"TaskErrors\"}".into(),
        group_labels: labels(&[("alertname", "TaskErrors")]),
        alerts: vec![
            alert(Status::Firing, "TaskErrors", "a:1"),
            alert(Status::Resolved, "TaskErrors", "b:22"),
        ],
        external_url: "http://steward:7400".into(),
    }
}

#[test]
fn the_data_is_alertmanagers_version_4_payload() {
    let n = notification();
    let data = n.data(0);
    assert_eq!(data["version"], "4");
    assert_eq!(data["status"], "firing");
    assert_eq!(data["receiver"], "team-a");
    assert_eq!(data["groupKey"], n.group_key);
    assert_eq!(data["groupLabels"]["alertname"], "TaskErrors");
    assert_eq!(
        data["commonLabels"],
        json!({"alertname": "TaskErrors", "severity": "critical"})
    );
    assert_eq!(data["commonAnnotations"]["summary"], "tasks fail");
    assert_eq!(data["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(data["alerts"][0]["startsAt"], "2026-12-01T10:00:00Z");
    assert_eq!(data["alerts"][1]["status"], "resolved");
    assert_eq!(data["truncatedAlerts"], 0);
    let truncated = n.data(1);
    assert_eq!(truncated["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(truncated["truncatedAlerts"], 1);
    let mut resolved = n;
    resolved.alerts.remove(0);
    assert_eq!(resolved.data(0)["status"], "resolved");
}

#[test]
fn default_and_custom_templates_render_alertmanagers_data() {
    let r = Renderer::default();
    let n = notification();
    assert_eq!(
        r.render(DEFAULT_TITLE, &n).unwrap(),
        "[FIRING:1] TaskErrors"
    );
    let text = r.render(DEFAULT_TEXT, &n).unwrap();
    assert!(
        text.starts_with("FIRING TaskErrors instance=a:1 severity=critical\n  tasks fail\n"),
        "{text}"
    );
    assert!(
        text.contains("runbook: https://runbooks.example/tasks"),
        "{text}"
    );
    assert!(text.contains("RESOLVED TaskErrors instance=b:22"), "{text}");
    let custom = r#"{{ len .Alerts.Resolved }} resolved; {{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"#;
    assert_eq!(
        r.render(custom, &n).unwrap(),
        "1 resolved; alertname=TaskErrors severity=critical "
    );
    assert!(r.check("{{ .Status ").is_err());
    assert!(
        r.render_or_error(r#"{{ template "missing" . }}"#, &n)
            .starts_with("<error rendering template")
    );
}

#[test]
fn default_texts_show_what_enrichment_added() {
    let r = Renderer::default();
    let mut n = notification();
    let enrichment = crate::enrich::Enrichment {
        version: Some("2.1.0".into()),
        related: vec![crate::enrich::RelatedAlert {
            labels: labels(&[("alertname", "DiskFull"), ("service", "db")]),
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 58, 0).unwrap(),
        }],
        value: Some(0.42),
        logs: vec!["2026-12-01T09:57:59.000Z worker-1 stderr task failed".into()],
        links: vec![("steward_logs_url".into(), "http://steward/loki/q".into())],
        ..crate::enrich::Enrichment::default()
    };
    enrichment.apply(&mut n.alerts[0]);
    let text = r.render(DEFAULT_TEXT, &n).unwrap();
    assert!(
        text.contains("  logs before it fired:\n    2026-12-01T09:57:59.000Z worker-1 stderr task failed\n  all its logs: http://steward/loki/q\n"),
        "{text}"
    );
    assert!(text.contains("  value now: 0.42\n"), "{text}");
    assert!(text.contains("  running: 2.1.0\n"), "{text}");
    assert!(
        text.contains(
            "  also firing:\n    DiskFull{service=\"db\"} since 2026-12-01T09:58:00Z\n  logs before"
        ),
        "{text}"
    );
    let html = r
        .render(r#"{{ template "steward.default.html" . }}"#, &n)
        .unwrap();
    assert!(html.contains("value now: 0.42<br>"), "{html}");
    assert!(
        html.contains("also firing:<pre>DiskFull{service=&#34;db&#34;} since"),
        "{html}"
    );
    let plain = r.render(DEFAULT_TEXT, &notification()).unwrap();
    assert!(
        !plain.contains("value now"),
        "nothing without enrichment: {plain}"
    );
}

/// What a receiver on loopback got: each request's headers and JSON body.
type Received = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

/// A receiver answering `statuses` in turn (then 200), on a free port.
async fn receiver(statuses: Vec<u16>) -> (String, Received) {
    let got: Received = Arc::default();
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    let state = (got.clone(), answers);
    let handler = post(
        |State((got, answers)): State<(Received, Arc<Mutex<std::vec::IntoIter<u16>>>)>,
         headers: HeaderMap,
         body: axum::body::Bytes| async move {
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            got.lock().unwrap().push((headers, json));
            let code = answers.lock().unwrap().next().unwrap_or(200);
            StatusCode::from_u16(code).unwrap()
        },
    );
    let app = Router::new()
        .route("/", handler.clone())
        .route("/{*path}", handler)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

fn webhook(url: String, secret: Option<&str>) -> Webhook {
    Webhook {
        url,
        max_alerts: 0,
        send_resolved: true,
        hmac_secret: secret.map(str::to_owned),
        timeout: Duration::from_secs(5),
        client: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn webhooks_post_the_payload_signed() {
    let (url, got) = receiver(vec![]).await;
    let hook = webhook(format!("{url}/hook"), Some("s3cret"));
    hook.notify(&notification()).await.unwrap();
    let got = got.lock().unwrap();
    let (headers, body) = &got[0];
    assert_eq!(body["version"], "4");
    assert_eq!(headers["content-type"], "application/json");
    let signed = headers[SIGNATURE_HEADER].to_str().unwrap();
    let raw = serde_json::to_vec(&notification().data(0)).unwrap();
    assert_eq!(signed, signature("s3cret", &raw));
    assert_ne!(signed, signature("other", &raw));
}

#[tokio::test]
async fn http_errors_are_retryable_or_permanent_as_alertmanager_decides() {
    for (status, retryable) in [
        (500, true),
        (503, true),
        (429, true),
        (400, false),
        (404, false),
    ] {
        let (url, _) = receiver(vec![status]).await;
        let err = webhook(url, None)
            .notify(&notification())
            .await
            .unwrap_err();
        assert_eq!(
            matches!(err, NotifyError::Retryable(_)),
            retryable,
            "{status}: {err}"
        );
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }
    // nobody listening: retryable, and the URL (a secret for Slack) is not in the message
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/T000/B000/XXXXSECRET");
    let err = webhook(url, None)
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Retryable(_)), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

#[tokio::test]
async fn delivery_retries_real_failures_until_one_succeeds() {
    let (url, got) = receiver(vec![500, 502]).await;
    let policy = RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        deadline: Duration::from_secs(10),
    };
    let mut attempts = Vec::new();
    let tries = deliver(&webhook(url, None), &notification(), policy, |a| {
        attempts.push(a.clone());
    })
    .await
    .unwrap();
    assert_eq!(tries, 3);
    assert_eq!(got.lock().unwrap().len(), 3);
    assert!(attempts[0].error.is_some() && attempts[2].error.is_none());
}

/// An integration that fails `failures` times, then succeeds.
struct Flaky {
    failures: Mutex<u32>,
    permanent: bool,
}

#[async_trait::async_trait]
impl Integration for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    fn send_resolved(&self) -> bool {
        true
    }
    async fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
        let mut left = self.failures.lock().unwrap();
        if *left == 0 {
            return Ok(());
        }
        *left -= 1;
        Err(match self.permanent {
            true => NotifyError::Permanent("bad request".into()),
            false => NotifyError::Retryable("down".into()),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_stops_at_the_deadline_and_permanent_errors_at_once() {
    let policy = RetryPolicy {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
        deadline: Duration::from_secs(60),
    };
    let down = Flaky {
        failures: Mutex::new(u32::MAX),
        permanent: false,
    };
    let started = Instant::now();
    let mut waits = 0;
    let err = deliver(&down, &notification(), policy, |_| waits += 1)
        .await
        .unwrap_err();
    assert_eq!(err, NotifyError::Retryable("down".into()));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // full jitter: each wait at most the doubled ceiling, capped at 8 s,
    // so a minute holds at least 60/8 tries
    assert!(waits >= 8, "{waits}");

    let refused = Flaky {
        failures: Mutex::new(1),
        permanent: true,
    };
    let mut tries = 0;
    let err = deliver(&refused, &notification(), policy, |_| tries += 1)
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Permanent(_)));
    assert_eq!(tries, 1);

    let recovers = Flaky {
        failures: Mutex::new(3),
        permanent: false,
    };
    assert_eq!(
        deliver(&recovers, &notification(), policy, |_| ()).await,
        Ok(4)
    );
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_notifications() {
    let limiter = RateLimiter::new(Duration::from_secs(2));
    let started = Instant::now();
    for _ in 0..4 {
        limiter.acquire().await;
    }
    assert_eq!(started.elapsed(), Duration::from_secs(6));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle = Instant::now();
    limiter.acquire().await;
    assert_eq!(
        idle.elapsed(),
        Duration::ZERO,
        "no wait after an idle spell"
    );
}

#[tokio::test]
async fn slack_messages_have_one_attachment_coloured_by_status() {
    let (url, got) = receiver(vec![]).await;
    let slack = Slack {
        api_url: format!("{url}/services/T0/B0/X"),
        channel: Some("#alerts".into()),
        username: Some("steward".into()),
        title: DEFAULT_TITLE.into(),
        title_link: "{{ .ExternalURL }}/alerts".into(),
        text: DEFAULT_TEXT.into(),
        fallback: DEFAULT_TITLE.into(),
        color: slack::DEFAULT_COLOR.into(),
        send_resolved: true,
        timeout: Duration::from_secs(5),
        renderer: Renderer::default(),
        client: reqwest::Client::new(),
    };
    slack.notify(&notification()).await.unwrap();
    let body = got.lock().unwrap()[0].1.clone();
    assert_eq!(body["channel"], "#alerts");
    assert_eq!(body["username"], "steward");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["title"], "[FIRING:1] TaskErrors");
    assert_eq!(attachment["title_link"], "http://steward:7400/alerts");
    assert_eq!(attachment["color"], "danger");
    assert_eq!(
        attachment["mrkdwn_in"],
        json!(["fallback", "pretext", "text"])
    );
    let mut resolved = notification();
    resolved.alerts.remove(0);
    assert_eq!(slack.payload(&resolved)["attachments"][0]["color"], "good");
}

#[tokio::test]
async fn pagerduty_events_trigger_and_resolve_one_dedup_key() {
    let (url, got) = receiver(vec![]).await;
    let pd = PagerDuty {
        url: format!("{url}/v2/enqueue"),
        routing_key: "R0UTINGKEY".into(),
        description: DEFAULT_TITLE.into(),
        severity: "{{ .CommonLabels.severity }}".into(),
        client: "steward".into(),
        client_url: "{{ .ExternalURL }}".into(),
        details: BTreeMap::from([(
            "runbook".to_owned(),
            "{{ .CommonAnnotations.runbook_url }}".to_owned(),
        )]),
        send_resolved: true,
        timeout: Duration::from_secs(5),
        renderer: Renderer::default(),
        client_http: reqwest::Client::new(),
    };
    let firing = notification();
    let mut resolved = firing.clone();
    resolved.alerts.remove(0);
    pd.notify(&firing).await.unwrap();
    pd.notify(&resolved).await.unwrap();
    let got = got.lock().unwrap();
    let (trigger, resolve) = (&got[0].1, &got[1].1);
    assert_eq!(trigger["routing_key"], "R0UTINGKEY");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);
    assert_eq!(trigger["dedup_key"].as_str().unwrap().len(), 64);
    assert_eq!(trigger["payload"]["summary"], "[FIRING:1] TaskErrors");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "steward");
    assert_eq!(trigger["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(
        trigger["payload"]["custom_details"]["runbook"],
        "https://runbooks.example/tasks"
    );
    assert_eq!(trigger["client_url"], "http://steward:7400");
}

#[tokio::test]
async fn teams_cards_and_opsgenie_alerts_follow_their_formats() {
    let (url, got) = receiver(vec![]).await;
    let teams = MsTeams {
        webhook_url: format!("{url}/webhookb2/x"),
        title: DEFAULT_TITLE.into(),
        text: DEFAULT_TEXT.into(),
        send_resolved: true,
        timeout: Duration::from_secs(5),
        renderer: Renderer::default(),
        client: reqwest::Client::new(),
    };
    teams.notify(&notification()).await.unwrap();
    let card = got.lock().unwrap()[0].1.clone();
    assert_eq!(card["type"], "MessageCard");
    assert_eq!(card["@context"], "http://schema.org/extensions");
    assert_eq!(card["themeColor"], "8C1A1A");
    assert_eq!(card["title"], "[FIRING:1] TaskErrors");

    let (url, got) = receiver(vec![]).await;
    let genie = Opsgenie {
        api_url: format!("{url}/"),
        api_key: "k3y".into(),
        message: DEFAULT_TITLE.into(),
        description: DEFAULT_TEXT.into(),
        source: "{{ .ExternalURL }}".into(),
        priority: "P2".into(),
        details: BTreeMap::new(),
        send_resolved: true,
        timeout: Duration::from_secs(5),
        renderer: Renderer::default(),
        client: reqwest::Client::new(),
    };
    let firing = notification();
    genie.notify(&firing).await.unwrap();
    let mut resolved = firing.clone();
    resolved.alerts.remove(0);
    genie.notify(&resolved).await.unwrap();
    let (url_of_create, _) = genie.request(&firing);
    assert!(url_of_create.ends_with("/v2/alerts"));
    let (url_of_close, _) = genie.request(&resolved);
    assert!(url_of_close.ends_with(&format!(
        "/v2/alerts/{}/close?identifierType=alias",
        firing.hashed_key()
    )));
    let got = got.lock().unwrap();
    let (headers, create) = &got[0];
    assert_eq!(headers["authorization"], "GenieKey k3y");
    assert_eq!(create["alias"], firing.hashed_key());
    assert_eq!(create["message"], "[FIRING:1] TaskErrors");
    assert_eq!(create["priority"], "P2");
    assert_eq!(create["details"]["severity"], "critical");
    assert_eq!(got[1].1, json!({"source": "http://steward:7400"}));
}
