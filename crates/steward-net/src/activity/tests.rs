//! The TCP idle timeout under tokio's paused clock.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, duplex},
    time::Instant,
};

use crate::Activity;

#[tokio::test(start_paused = true)]
async fn tcp_activity_pushes_the_idle_deadline_on() {
    let activity = Arc::new(Activity::new());
    let (a, mut b) = duplex(64);
    let mut watched = activity.watch(a);
    let started = Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        b.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let reader = async {
        let mut buf = [0u8; 1];
        watched.read_exact(&mut buf).await.unwrap();
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = reader => unreachable!(),
        () = activity.idle(Some(Duration::from_secs(5))) => {}
    }
    assert_eq!(started.elapsed(), Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn without_a_timeout_a_tcp_connection_is_never_idle() {
    let activity = Activity::new();
    let idle = tokio::time::timeout(Duration::from_secs(3600), activity.idle(None)).await;
    assert!(idle.is_err());
}
