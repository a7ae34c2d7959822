//! Tests of how the client reports requests that fail.

use std::time::Duration;

use steward_server::api_types::Status;

use super::{Client, ClientError};

fn client(base: String, timeout: Duration) -> Client {
    Client {
        http: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("client"),
        base,
        token: "secret".to_owned(),
        timeout,
    }
}

#[tokio::test]
async fn a_server_that_accepts_but_does_not_answer_is_a_timeout_not_an_outage() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts, reads nothing, answers nothing: a busy steward.
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            connections.push(stream);
        }
    });
    let client = client(format!("http://{addr}"), Duration::from_millis(300));
    let err = client
        .get::<Status>("/api/v1/status", &[])
        .await
        .expect_err("no answer");
    let message = err.to_string();
    assert!(
        matches!(err.downcast_ref(), Some(ClientError::Timeout { .. })),
        "{message}"
    );
    assert!(
        message.contains("timed out after 300ms waiting for an answer"),
        "{message}"
    );
    assert!(!message.contains("cannot reach"), "{message}");
    held.abort();
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = client(format!("http://{addr}"), Duration::from_secs(5));
    let err = client
        .get::<Status>("/api/v1/status", &[])
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(err.downcast_ref(), Some(ClientError::Unreachable { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("cannot reach steward"), "{err}");
}
