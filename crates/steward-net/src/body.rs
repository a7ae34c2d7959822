//! The body read timeout: the longest pause a client may make inside a
//! request body.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::Error;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that fails with [`Error::BodyTimeout`] when the client
/// sends nothing for the timeout while the body is waited on. The clock
/// runs only from a read that found nothing to the next frame: while the
/// reader is slow to take what was read (an upstream, a handler), the
/// client is not waited for.
pub struct TimedBody<B> {
    inner: B,
    timeout: Option<Duration>,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
    timed_out: Arc<AtomicBool>,
}

impl<B> TimedBody<B> {
    /// `inner`, with at most `timeout` (`None`: no limit) between frames.
    /// `timed_out` is set when the timeout passes, so that whoever sees
    /// the body's error second-hand (through the failure of a request that
    /// sent it on) can tell it from another failure.
    pub fn new(inner: B, timeout: Option<Duration>, timed_out: Arc<AtomicBool>) -> Self {
        TimedBody {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: false,
            timed_out,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.timed_out.load(Ordering::SeqCst) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let Some(timeout) = this.timeout else {
                    return Poll::Pending;
                };
                if !this.armed {
                    this.sleep.as_mut().reset(Instant::now() + timeout);
                    this.armed = true;
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out.store(true, Ordering::SeqCst);
                        Poll::Ready(Some(Err(Box::new(Error::BodyTimeout(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
