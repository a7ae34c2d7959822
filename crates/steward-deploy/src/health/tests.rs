//! Threshold and timing tests of the health state machine, on paused time.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

use super::{HealthParams, STARTUP_PROBE_INTERVAL, stays_healthy, wait_healthy};

fn params() -> HealthParams {
    HealthParams {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        healthy_threshold: 2,
        unhealthy_threshold: 3,
        start_period: Duration::from_secs(5),
    }
}

/// Times at which a probe was called.
type Calls = Arc<Mutex<Vec<Duration>>>;

/// A probe that fails until `ready_after` has passed since the test began,
/// recording when it was called.
fn probe_ready_after(
    ready_after: Option<Duration>,
) -> (
    impl FnMut() -> std::future::Ready<Result<(), String>>,
    Calls,
) {
    let begin = Instant::now();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let probe = move || {
        let elapsed = begin.elapsed();
        seen.lock().unwrap().push(elapsed);
        std::future::ready(match ready_after {
            Some(ready) if elapsed >= ready => Ok(()),
            _ => Err(format!("not ready at {elapsed:?}")),
        })
    };
    (probe, calls)
}

#[tokio::test(start_paused = true)]
async fn a_replica_joins_soon_after_it_answers_then_needs_its_threshold() {
    let (probe, calls) = probe_ready_after(Some(Duration::from_millis(300)));
    let begin = Instant::now();
    wait_healthy(&params(), probe).await.expect("healthy");
    // First success within one startup interval of 300 ms, the second
    // (threshold 2) one configured interval later.
    let took = begin.elapsed();
    assert!(took >= Duration::from_millis(2300), "{took:?}");
    assert!(
        took <= Duration::from_millis(2300) + STARTUP_PROBE_INTERVAL,
        "{took:?}"
    );
    let calls = calls.lock().unwrap();
    assert!(
        calls.len() > 10,
        "probed fast while starting: {}",
        calls.len()
    );
}

#[tokio::test(start_paused = true)]
async fn failures_count_once_per_interval_and_not_in_the_start_period() {
    let (probe, _) = probe_ready_after(None);
    let begin = Instant::now();
    let err = wait_healthy(&params(), probe)
        .await
        .expect_err("never healthy");
    assert!(err.starts_with("not ready"), "{err}");
    // Counted failures at 5 s, 7 s and 9 s: unhealthy at 9 s, not at
    // 3 x 25 ms.
    let took = begin.elapsed();
    assert!(took >= Duration::from_secs(9), "{took:?}");
    assert!(
        took < Duration::from_secs(9) + Duration::from_millis(100),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_start_period_three_failures_take_two_intervals() {
    let mut params = params();
    params.start_period = Duration::ZERO;
    let (probe, _) = probe_ready_after(None);
    let begin = Instant::now();
    wait_healthy(&params, probe).await.expect_err("unhealthy");
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_millis(4100),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn staying_healthy_fails_on_consecutive_failures_only() {
    let params = params();
    // Fails every other probe: never three in a row.
    let mut count = 0;
    let flapping = move || {
        count += 1;
        std::future::ready(if count % 2 == 0 {
            Err("flap".to_owned())
        } else {
            Ok(())
        })
    };
    let begin = Instant::now();
    stays_healthy(&params, Duration::from_secs(10), flapping)
        .await
        .expect("never three failures in a row");
    assert_eq!(begin.elapsed(), Duration::from_secs(10));

    let (failing, calls) = probe_ready_after(None);
    let begin = Instant::now();
    let err = stays_healthy(&params, Duration::from_secs(60), failing)
        .await
        .expect_err("fails");
    assert!(err.starts_with("not ready"));
    assert_eq!(calls.lock().unwrap().len(), 3);
    assert_eq!(begin.elapsed(), Duration::from_secs(4));
}

#[tokio::test]
async fn a_tcp_probe_fails_when_the_port_closes_the_connection_at_once() {
    use tokio::net::TcpListener;
    let prober = super::Prober::new();
    let check: steward_config::HealthCheck =
        serde_json::from_value(serde_json::json!({"tcp": true})).expect("check");
    // A listener that keeps connections open: healthy.
    let open = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let open_addr = open.local_addr().expect("addr");
    let keeper = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = open.accept().await {
            held.push(stream);
        }
    });
    prober
        .probe_addr(Some(&check), open_addr, Duration::from_secs(1))
        .await
        .expect("an open connection is healthy");
    // A forwarder with nothing behind it: accepts, then closes.
    let closing = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closing_addr = closing.local_addr().expect("addr");
    let closer = tokio::spawn(async move {
        while let Ok((stream, _)) = closing.accept().await {
            drop(stream);
        }
    });
    let err = prober
        .probe_addr(Some(&check), closing_addr, Duration::from_secs(1))
        .await
        .expect_err("closed at once");
    assert!(
        err.contains("closed the connection at once") || err.contains("reset"),
        "{err}"
    );
    // Nothing listening: refused.
    drop(keeper);
    closer.abort();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let err = prober
        .probe_addr(Some(&check), refused, Duration::from_secs(1))
        .await
        .expect_err("refused");
    assert!(err.starts_with("connect to"), "{err}");
}
