//! A connection's phases and their deadlines, on in-memory streams under
//! tokio's paused clock.

use std::{
    io,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex},
    time::Instant,
};

use crate::{BusyBody, Connection, Error, FirstHead, Watchdog, Watched};

fn secs(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n))
}

/// A connection accepted now with a 2 s header and a 60 s idle timeout:
/// its watched stream, the client's end, and the connection.
fn connection(first_head: FirstHead) -> (Watched<DuplexStream>, DuplexStream, Arc<Connection>) {
    let (server, client) = duplex(1024);
    let connection = Watchdog::new(secs(2), secs(60), first_head).connection();
    (connection.watch(server), client, connection)
}

const HEADER: Error = Error::HeaderTimeout(Duration::from_secs(2));
const IDLE: Error = Error::IdleTimeout(Duration::from_secs(60));

/// Reads until the stream fails; with what.
async fn read_until_error(io: &mut Watched<DuplexStream>) -> io::Error {
    let mut buf = [0u8; 64];
    loop {
        match io.read(&mut buf).await {
            Ok(n) => assert!(n > 0, "the client closed"),
            Err(err) => return err,
        }
    }
}

/// The limit that expired, from a failed read.
fn reason(err: &io::Error) -> Error {
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    *err.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .expect("the error says which limit expired")
}

/// Reads until the stream fails, which must be because of `expected`,
/// exactly its timeout from now.
async fn expires(io: &mut Watched<DuplexStream>, expected: Error) {
    let started = Instant::now();
    let err = read_until_error(io).await;
    assert_eq!(reason(&err), expected);
    let (Error::HeaderTimeout(timeout) | Error::IdleTimeout(timeout) | Error::BodyTimeout(timeout)) =
        expected;
    assert_eq!(started.elapsed(), timeout, "{expected}");
}

/// The client sends `bytes`, and the server reads them.
async fn send(client: &mut DuplexStream, io: &mut Watched<DuplexStream>, bytes: &[u8]) {
    client.write_all(bytes).await.unwrap();
    let mut buf = vec![0u8; bytes.len()];
    io.read_exact(&mut buf).await.unwrap();
}

/// Reads for `long`: neither a byte nor an error comes.
async fn stays_open(io: &mut Watched<DuplexStream>, long: Duration) {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(long, io.read(&mut buf)).await;
    assert!(read.is_err(), "{read:?}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_gets_the_header_timeout_from_its_accept() {
    let (mut io, _client, _) = connection(FirstHead::FromAccept);
    expires(&mut io, HEADER).await;
}

#[tokio::test(start_paused = true)]
async fn from_the_first_byte_a_silent_connection_is_idle_until_it_sends() {
    // Silent: the idle timeout.
    let (mut io, _client, _) = connection(FirstHead::FromFirstByte);
    expires(&mut io, IDLE).await;

    // Silent for longer than the header timeout, then trickling: the
    // header timeout runs from the first byte.
    let (mut io, mut client, _) = connection(FirstHead::FromFirstByte);
    tokio::time::sleep(Duration::from_secs(30)).await;
    client.write_all(b"G").await.unwrap();
    expires(&mut io, HEADER).await;
}

#[tokio::test(start_paused = true)]
async fn a_served_request_has_no_deadline_and_idleness_after_it_gets_the_idle_timeout() {
    let (mut io, mut client, connection) = connection(FirstHead::FromAccept);
    send(&mut client, &mut io, b"GET / HTTP/1.1\r\n\r\n").await;
    let busy = connection.begin();
    // Served for longer than either timeout: nothing fails meanwhile.
    stays_open(&mut io, Duration::from_secs(120)).await;
    // The response ends; the connection is idle from now.
    drop(busy);
    expires(&mut io, IDLE).await;
}

#[tokio::test(start_paused = true)]
async fn the_next_head_gets_the_header_timeout_from_its_first_byte() {
    let (mut io, mut client, connection) = connection(FirstHead::FromAccept);
    drop(connection.begin());
    tokio::time::sleep(Duration::from_secs(30)).await;
    client.write_all(b"G").await.unwrap();
    expires(&mut io, HEADER).await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_stays_busy_until_its_last_request_in_flight_ends() {
    // Two requests at once (HTTP/2), and a response body that outlives
    // its handler.
    let (mut io, mut client, connection) = connection(FirstHead::FromFirstByte);
    let first = connection.begin();
    let body = BusyBody::new(Full::new(Bytes::from_static(b"ok")), connection.begin());
    drop(first);
    // Bytes from the client while a request is in flight start no head.
    send(&mut client, &mut io, b"x").await;
    stays_open(&mut io, Duration::from_secs(120)).await;
    assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
    expires(&mut io, IDLE).await;
}

#[tokio::test(start_paused = true)]
async fn expiries_are_reported_with_their_reason() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watchdog = Watchdog::new(secs(2), secs(60), FirstHead::FromFirstByte).on_expired({
        let seen = Arc::clone(&seen);
        move |why| seen.lock().unwrap().push(why)
    });
    let (server, _client) = duplex(64);
    read_until_error(&mut watchdog.connection().watch(server)).await;
    let (server, mut client) = duplex(64);
    client.write_all(b"G").await.unwrap();
    read_until_error(&mut watchdog.connection().watch(server)).await;
    assert_eq!(*seen.lock().unwrap(), [IDLE, HEADER]);
}

#[tokio::test(start_paused = true)]
async fn without_timeouts_a_connection_never_expires() {
    for first_head in [FirstHead::FromAccept, FirstHead::FromFirstByte] {
        let (server, mut client) = duplex(64);
        let mut io = Watchdog::new(None, None, first_head)
            .connection()
            .watch(server);
        send(&mut client, &mut io, b"G").await;
        stays_open(&mut io, Duration::from_secs(3600)).await;
    }
}
