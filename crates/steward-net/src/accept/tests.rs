//! The connection cap, with real sockets on loopback.

use std::{
    net::SocketAddr,
    task::{Context, Poll, Waker},
    time::Duration,
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::{Acceptor, Slot, Slots};

/// An acceptor of at most one connection on loopback, its address, and
/// the connection it holds (the client's end and its slot).
async fn holding_one(shutdown: &CancellationToken) -> (Acceptor, SocketAddr, TcpStream, Slot) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acceptor = Acceptor::new(listener, 1, "test");
    let client = TcpStream::connect(addr).await.unwrap();
    let (_, _, slot) = acceptor.next(shutdown).await.unwrap();
    (acceptor, addr, client, slot)
}

#[test]
fn a_slot_is_free_again_once_dropped_and_zero_is_no_limit() {
    let mut cx = Context::from_waker(Waker::noop());
    let mut slots = Slots::new(1);
    let Poll::Ready(slot) = slots.poll_take(&mut cx) else {
        panic!("the first slot is free");
    };
    assert!(slots.poll_take(&mut cx).is_pending(), "a second slot");
    drop(slot);
    assert!(slots.poll_take(&mut cx).is_ready(), "the slot was freed");

    let mut unlimited = Slots::new(0);
    let held: Vec<_> = (0..10_000)
        .map(|_| match unlimited.poll_take(&mut cx) {
            Poll::Ready(slot) => slot,
            Poll::Pending => panic!("no limit, yet no slot"),
        })
        .collect();
    assert_eq!(held.len(), 10_000);
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_a_connection_waits_in_the_backlog_until_a_slot_frees() {
    let shutdown = CancellationToken::new();
    let (mut acceptor, addr, _first, slot) = holding_one(&shutdown).await;
    // The kernel completes the connection; steward does not accept it.
    let second = TcpStream::connect(addr).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(60), acceptor.next(&shutdown)).await;
    assert!(waited.is_err(), "accepted beyond the cap");
    drop(slot);
    let (_, peer, _) = acceptor.next(&shutdown).await.unwrap();
    assert_eq!(peer, second.local_addr().unwrap());
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_an_acceptor_waiting_for_a_slot() {
    let shutdown = CancellationToken::new();
    let (mut acceptor, _, _client, _slot) = holding_one(&shutdown).await;
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            shutdown.cancel();
        }
    });
    assert!(acceptor.next(&shutdown).await.is_none());
}
