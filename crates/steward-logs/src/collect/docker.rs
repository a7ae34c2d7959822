//! A container's stdout and stderr, streamed from the Docker engine
//! (`logs` with `follow` and `timestamps`), into the same pipeline as
//! files.
//!
//! The engine prefixes each line with its RFC 3339 timestamp, which
//! becomes the entry's, and splits lines longer than 16 KiB into messages
//! without a newline, which are joined back here. A [`DockerCursor`] (the
//! last timestamp handed on and how many lines had it) is what a caller
//! saves per stream; `since` only takes whole seconds, so the lines of
//! the resumed second that were handed on already are skipped.

use bollard::{Docker, container::LogOutput, query_parameters::LogsOptionsBuilder};
use chrono::DateTime;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use super::pipeline::{Collected, Pipeline};
use crate::{Error, Result};

/// Where a container stream was: the timestamp of the last line handed on
/// and how many lines with exactly that timestamp were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DockerCursor {
    /// The last line's timestamp, in ns since the epoch.
    pub ts: i64,
    /// Lines handed on with that timestamp.
    pub seen: u32,
}

/// One stream of a container: its pipeline and where to resume.
#[derive(Debug)]
pub struct ContainerStream {
    /// The stream's pipeline (its origin says stdout or stderr).
    pub pipeline: Pipeline<DockerCursor>,
    /// The cursor saved last; `None` reads the container's whole log.
    pub resume: Option<DockerCursor>,
}

/// Lines of one stream: timestamps read, long lines joined, lines handed
/// on before skipped.
#[derive(Debug)]
struct Lines {
    stream: ContainerStream,
    /// A line whose end has not come yet: its timestamp and text.
    partial: Option<(i64, String)>,
    cursor: DockerCursor,
}

impl Lines {
    fn new(stream: ContainerStream) -> Lines {
        Lines {
            cursor: stream.resume.unwrap_or_default(),
            stream,
            partial: None,
        }
    }

    /// Takes one message of the engine: `<timestamp> <text>`, ending with
    /// a newline unless the line goes on in the next message.
    fn message(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut pieces = text.split('\n').peekable();
        while let Some(piece) = pieces.next() {
            let last = pieces.peek().is_none();
            if last && piece.is_empty() {
                break;
            }
            let (ts, piece) = split_timestamp(piece);
            let (ts, line) = match self.partial.take() {
                Some((first_ts, mut line)) => {
                    line.push_str(piece);
                    (first_ts, line)
                }
                None => (ts, piece.to_owned()),
            };
            if last {
                self.partial = Some((ts, line));
            } else {
                self.line(ts, &line);
            }
        }
    }

    /// Hands on a complete line unless it was before.
    fn line(&mut self, ts: i64, line: &str) {
        if let Some(resume) = &mut self.stream.resume {
            if ts < resume.ts || ts == resume.ts && resume.seen > 0 {
                resume.seen = resume.seen.saturating_sub(u32::from(ts == resume.ts));
                return;
            }
            self.stream.resume = None;
        }
        if ts == self.cursor.ts {
            self.cursor.seen = self.cursor.seen.saturating_add(1);
        } else {
            self.cursor = DockerCursor { ts, seen: 1 };
        }
        self.stream.pipeline.push(ts, line, self.cursor);
    }

    /// The stream ended: a partial line is complete.
    fn finish(&mut self) {
        if let Some((ts, line)) = self.partial.take() {
            self.line(ts, &line);
        }
    }
}

/// The engine's timestamp at the start of `piece` and the text after it;
/// now and the whole piece when it has none.
fn split_timestamp(piece: &str) -> (i64, &str) {
    if let Some((stamp, rest)) = piece.split_once(' ')
        && let Ok(time) = DateTime::parse_from_rfc3339(stamp)
        && let Some(ns) = time.timestamp_nanos_opt()
    {
        return (ns, rest);
    }
    (chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0), piece)
}

/// Streams `container`'s stdout and stderr into their pipelines and sends
/// what they complete to `tx`, until the container's log ends (it
/// stopped), `cancel` is cancelled or `tx`'s receiver is gone. Entries
/// still being joined when the log ends are completed; when cancelled,
/// they are not sent (read again after a restart from the saved cursors).
pub async fn collect_container(
    docker: &Docker,
    container: &str,
    stdout: ContainerStream,
    stderr: ContainerStream,
    tx: mpsc::Sender<Collected<DockerCursor>>,
    cancel: CancellationToken,
) -> Result<()> {
    let since = [&stdout, &stderr]
        .iter()
        .map(|s| s.resume.map_or(0, |c| c.ts.div_euclid(1_000_000_000)))
        .min()
        .unwrap_or(0);
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since).unwrap_or(i32::MAX))
        .build();
    let mut logs = docker.logs(container, Some(options));
    let mut streams = [Lines::new(stdout), Lines::new(stderr)];
    loop {
        let wake = streams
            .iter()
            .filter_map(|s| s.stream.pipeline.deadline())
            .min();
        let next = tokio::select! {
            next = logs.next() => next,
            () = sleep_until(wake) => {
                for lines in &mut streams {
                    lines.stream.pipeline.flush_due(Instant::now());
                }
                if !send(&mut streams, &tx, &cancel).await {
                    return Ok(());
                }
                continue;
            }
            () = cancel.cancelled() => return Ok(()),
        };
        match next {
            None => {
                for lines in &mut streams {
                    lines.finish();
                    lines.stream.pipeline.flush();
                }
                send(&mut streams, &tx, &cancel).await;
                return Ok(());
            }
            Some(Err(err)) => {
                return Err(Error::io(
                    format!("docker:{container}"),
                    std::io::Error::other(err),
                ));
            }
            // a container with a terminal has one stream: its stdout
            Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                streams[0].message(&message);
            }
            Some(Ok(LogOutput::StdErr { message })) => streams[1].message(&message),
            Some(Ok(LogOutput::StdIn { .. })) => {}
        }
        for lines in &mut streams {
            lines.stream.pipeline.flush_due(Instant::now());
        }
        if !send(&mut streams, &tx, &cancel).await {
            return Ok(());
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends what the streams completed; `false` when the receiver is gone or
/// `cancel` was cancelled.
async fn send(
    streams: &mut [Lines; 2],
    tx: &mpsc::Sender<Collected<DockerCursor>>,
    cancel: &CancellationToken,
) -> bool {
    for lines in streams.iter_mut() {
        if let Some(collected) = lines.stream.pipeline.take() {
            tokio::select! {
                sent = tx.send(collected) => if sent.is_err() { return false },
                () = cancel.cancelled() => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests;
