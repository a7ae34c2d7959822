//! The email notifier against a real SMTP server: aiosmtpd (from PyPI,
//! in the Python `STEWARD_TEST_PYTHON_SMTP` names) with STARTTLS required
//! on a certificate made for the test, and authentication required over
//! TLS. Each message it accepts is written as a JSON line: envelope,
//! whether the session was encrypted and authenticated, and the data.
//! A wrong password is answered 535, or, for the timeout's test, not at
//! all (aiosmtpd's `AuthResult(handled=True)` means "already answered",
//! so it says nothing: the silence that used to hang the notifier).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use steward_alert::notify::{
    Integration, Notification, NotifiedAlert, NotifyError, RetryPolicy, Status, deliver,
    email::{DEFAULT_HTML, DEFAULT_SUBJECT, Email, Security},
    template::{DEFAULT_TEXT, Renderer},
};

const SERVER: &str = r#"
import json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

cert, key, port, out, on_wrong_password = sys.argv[1:6]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
                "data": envelope.content.decode("utf-8", "replace"),
            }) + "\n")
        return "250 OK"

def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == (b"alerts", b"s3cret")
    return AuthResult(success=ok, handled=on_wrong_password == "silent")

controller = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
                        require_starttls=True, authenticator=authenticate, auth_require_tls=True)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// The SMTP server, stopped (stdin closed, then killed) when dropped.
struct Smtp {
    child: Child,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::print_stdout)] // the skip line is the point
fn python() -> Option<String> {
    let python = std::env::var("STEWARD_TEST_PYTHON_SMTP")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        println!("skipping the SMTP tests: STEWARD_TEST_PYTHON_SMTP is not set");
    }
    python
}

/// How the server treats a wrong password.
#[derive(Clone, Copy)]
enum OnWrongPassword {
    /// `535 5.7.8 Authentication credentials invalid`.
    Refuse,
    /// No answer at all.
    Silent,
}

fn start(python: &str, dir: &Path) -> (Smtp, String) {
    start_with(python, dir, OnWrongPassword::Refuse)
}

fn start_with(python: &str, dir: &Path, on_wrong_password: OnWrongPassword) -> (Smtp, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(python)
        .arg("-c")
        .arg(SERVER)
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .arg(port.to_string())
        .arg(dir.join("mail.jsonl"))
        .arg(match on_wrong_password {
            OnWrongPassword::Refuse => "refuse",
            OnWrongPassword::Silent => "silent",
        })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
    (Smtp { child, port }, cert_pem)
}

fn notification() -> Notification {
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    Notification {
        receiver: "oncall-mail".into(),
        group_key: "{}:{alertname=\"TaskErrors\"}".into(),
        group_labels: labels(&[("alertname", "TaskErrors")]),
        alerts: vec![NotifiedAlert {
            status: Status::Firing,
            labels: labels(&[("alertname", "TaskErrors"), ("service", "agent-worker")]),
            annotations: labels(&[("summary", "<b>30%</b> of tasks fail")]),
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
            ends_at: None,
            generator_url: "http://steward:7400/graph".into(),
            fingerprint: "0123456789abcdef".into(),
        }],
        external_url: "http://steward:7400".into(),
    }
}

fn email(port: u16, ca: Option<&str>, security: Security, password: &str) -> Email {
    Email {
        to: vec!["oncall@example.com".into(), "lead@example.com".into()],
        from: "steward@example.com".into(),
        host: "127.0.0.1".into(),
        port,
        security,
        server_name: Some("localhost".into()),
        ca_pem: ca.map(|pem| pem.as_bytes().to_vec()),
        insecure_skip_verify: false,
        auth: Some(("alerts".into(), password.into())),
        hello: Some("steward.test".into()),
        subject: DEFAULT_SUBJECT.into(),
        text: DEFAULT_TEXT.into(),
        html: DEFAULT_HTML.into(),
        send_resolved: false,
        timeout: Duration::from_secs(10),
        renderer: Renderer::default(),
    }
}

fn received(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("mail.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn mail_goes_out_over_starttls_authenticated_with_text_and_html() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (smtp, ca) = start(&python, dir.path());
    email(smtp.port, Some(&ca), Security::StartTls, "s3cret")
        .notify(&notification())
        .await
        .unwrap();
    let mail = received(dir.path());
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["tls"], true, "sent after STARTTLS");
    assert_eq!(mail[0]["authenticated"], true);
    assert_eq!(mail[0]["from"], "steward@example.com");
    assert_eq!(
        mail[0]["to"],
        serde_json::json!(["oncall@example.com", "lead@example.com"])
    );
    let data = mail[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: [FIRING:1] TaskErrors"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    assert!(
        data.contains("&lt;b&gt;30%&lt;/b&gt;"),
        "the HTML part escapes: {data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_permanent_and_unverifiable_servers_are_not_trusted() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (smtp, _ca) = start(&python, dir.path());
    // the server requires STARTTLS: a client that does not ask is refused
    let mut clear = email(smtp.port, None, Security::None, "s3cret");
    clear.auth = None;
    let refused = clear.notify(&notification()).await.unwrap_err();
    assert!(matches!(refused, NotifyError::Permanent(_)), "{refused}");
    // a certificate from no trusted CA: nothing is sent
    let untrusted = email(smtp.port, None, Security::StartTls, "s3cret")
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(
        untrusted.to_string().to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    assert!(received(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_each_attempt_as_an_authentication_failure_and_is_retried() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (smtp, ca) = start(&python, dir.path());
    let wrong = email(smtp.port, Some(&ca), Security::StartTls, "wrong");
    let policy = RetryPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        deadline: Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let mut attempts = Vec::new();
    let err = deliver(&wrong, &notification(), policy, |a| {
        attempts.push(a.clone());
    })
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "within the timeout"
    );
    assert_eq!(
        err,
        NotifyError::Retryable(
            "authentication failed: permanent error (535): 5.7.8 Authentication credentials invalid"
                .into()
        )
    );
    // retried until the policy's deadline, each attempt refused the same way
    assert!(attempts.len() > 1, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.error.as_ref() == Some(&err)));
    assert!(received(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_fails_the_attempt_within_the_timeout() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (smtp, ca) = start_with(&python, dir.path(), OnWrongPassword::Silent);
    let mut wrong = email(smtp.port, Some(&ca), Security::StartTls, "wrong");
    wrong.timeout = Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let err = wrong.notify(&notification()).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        err,
        NotifyError::Retryable("the SMTP server did not answer within 1.5s".into())
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // the right password still gets through on the same server
    email(smtp.port, Some(&ca), Security::StartTls, "s3cret")
        .notify(&notification())
        .await
        .unwrap();
    assert_eq!(received(dir.path()).len(), 1);
}
