//! The body pause timeout under tokio's paused clock.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::{SinkExt, channel::mpsc};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::time::Instant;

use crate::{Error, TimedBody};

type FrameResult = Result<Frame<Bytes>, io::Error>;

fn channel_body() -> (
    mpsc::Sender<FrameResult>,
    StreamBody<mpsc::Receiver<FrameResult>>,
) {
    let (sender, receiver) = mpsc::channel(4);
    (sender, StreamBody::new(receiver))
}

#[tokio::test(start_paused = true)]
async fn a_body_fails_after_a_pause_longer_than_its_timeout_and_says_so() {
    let (mut sender, body) = channel_body();
    let timed_out = Arc::new(AtomicBool::new(false));
    let mut body = TimedBody::new(body, Some(Duration::from_secs(3)), Arc::clone(&timed_out));
    // Pauses shorter than the timeout, then one longer.
    tokio::spawn(async move {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            sender
                .send(Ok(Frame::data(Bytes::from_static(b"x"))))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(sender);
    });
    let started = Instant::now();
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
    }
    let err = body.frame().await.unwrap().unwrap_err();
    assert_eq!(
        err.downcast_ref::<Error>(),
        Some(&Error::BodyTimeout(Duration::from_secs(3))),
        "{err}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(9));
    assert!(timed_out.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_does_not_count_as_a_pause() {
    let (mut sender, body) = channel_body();
    let timed_out = Arc::new(AtomicBool::new(false));
    let mut body = TimedBody::new(body, Some(Duration::from_secs(3)), Arc::clone(&timed_out));
    for _ in 0..2 {
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"x"))))
            .await
            .unwrap();
    }
    drop(sender);
    // The client sent everything at once; the reader takes its time.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        body.frame().await.unwrap().unwrap();
    }
    assert!(body.frame().await.is_none());
    assert!(!timed_out.load(Ordering::SeqCst));
}
