//! Lines of a replica's stream turned into a [`PushStream`]: joined into
//! entries ([`multiline`](super::multiline)), each annotated with what the
//! line says of itself ([`parse`]), under the replica's
//! labels; and [`collect_file`], which runs that over a followed file.
//!
//! What a collector hands on is a [`Collected`]: the stream and the cursor
//! after its last entry. The receiver stores the stream and only then
//! saves the cursor, so a restart resumes after the last stored entry; an
//! entry still being joined is not in any `Collected`, and is read again
//! whole after a restart.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use steward_metrics::Labels;
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    follow::{Batch, Follower, Position},
    multiline::{Joined, Joiner, MultilineConfig},
    parse,
};
use crate::{Entry, Error, PushStream, Result};

/// Which output of a replica lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamName {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl StreamName {
    /// `stdout` or `stderr`, the `stream` label's value.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        }
    }
}

/// Where lines come from: one stream of one replica.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The service's name.
    pub service: String,
    /// The version the replica runs.
    pub version: String,
    /// The replica's id.
    pub replica: String,
    /// Its stdout or its stderr.
    pub stream: StreamName,
}

impl Origin {
    /// The stream's labels: `service`, `version`, `replica`, `stream`.
    pub fn labels(&self) -> Labels {
        Labels::from_pairs([
            ("service", self.service.as_str()),
            ("version", self.version.as_str()),
            ("replica", self.replica.as_str()),
            ("stream", self.stream.as_str()),
        ])
    }
}

/// Entries ready for the store and the cursor after the last of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected<C> {
    /// The origin's labels and its entries, in order.
    pub stream: PushStream,
    /// Save this once the store acknowledged `stream`.
    pub cursor: C,
}

/// Lines to entries for one origin; see the module's documentation.
#[derive(Debug)]
pub struct Pipeline<C> {
    labels: Labels,
    joiner: Joiner<C>,
    ready: Vec<Joined<C>>,
}

impl<C> Pipeline<C> {
    /// A pipeline for `origin`'s lines; an error when the multiline start
    /// pattern is not a valid regular expression.
    pub fn new(origin: &Origin, multiline: &MultilineConfig) -> Result<Self, regex::Error> {
        Ok(Pipeline {
            labels: origin.labels(),
            joiner: Joiner::new(multiline)?,
            ready: Vec::new(),
        })
    }

    /// Takes one line read at `ts` (ns), with the cursor after it.
    pub fn push(&mut self, ts: i64, line: &str, cursor: C) {
        self.joiner.push(ts, line, cursor, &mut self.ready);
    }

    /// When the entry being joined is complete unless a line comes.
    pub fn deadline(&self) -> Option<Instant> {
        self.joiner.deadline()
    }

    /// Completes the entry being joined if its deadline passed at `now`.
    pub fn flush_due(&mut self, now: Instant) {
        self.ready.extend(self.joiner.flush_due(now));
    }

    /// Completes the entry being joined, whatever its age.
    pub fn flush(&mut self) {
        self.ready.extend(self.joiner.flush());
    }

    /// The complete entries, annotated, with the cursor after the last;
    /// `None` when there are none.
    pub fn take(&mut self) -> Option<Collected<C>> {
        let last = self.ready.pop()?;
        let mut entries: Vec<Entry> = Vec::with_capacity(self.ready.len() + 1);
        entries.extend(self.ready.drain(..).map(|joined| joined.entry));
        entries.push(last.entry);
        for entry in &mut entries {
            parse::annotate(entry);
        }
        Some(Collected {
            stream: PushStream {
                labels: self.labels.clone(),
                entries,
            },
            cursor: last.cursor,
        })
    }
}

/// Follows a replica's log file with `follower` (made with
/// [`Start::At`](super::follow::Start::At) the cursor saved last) and sends the entries `pipeline`
/// joins to `tx`, looking at the file every `poll_interval` when nothing
/// was read, until `cancel` is cancelled or `tx`'s receiver is gone. A
/// full channel holds reading back. The entry being joined when it stops
/// is not sent: its lines are read again after a restart from the last
/// saved cursor.
pub async fn collect_file(
    follower: Follower,
    mut pipeline: Pipeline<Position>,
    poll_interval: Duration,
    tx: mpsc::Sender<Collected<Position>>,
    cancel: CancellationToken,
) -> Result<()> {
    let path = follower.path().to_owned();
    let mut follower = Some(follower);
    loop {
        let Some(taken) = follower.take() else {
            return Ok(());
        };
        // file IO off the runtime's threads
        let (back, batch) = tokio::task::spawn_blocking(move || {
            let mut taken = taken;
            let batch = taken.poll();
            (taken, batch)
        })
        .await
        .map_err(|err| Error::io(&path, std::io::Error::other(err)))?;
        follower = Some(back);
        let Batch { lines, more, .. } = batch?;
        for line in lines {
            pipeline.push(line.ts, &line.text, line.position);
        }
        pipeline.flush_due(Instant::now());
        if let Some(collected) = pipeline.take() {
            tokio::select! {
                sent = tx.send(collected) => if sent.is_err() { return Ok(()) },
                () = cancel.cancelled() => return Ok(()),
            }
        }
        if more {
            continue;
        }
        let wake = match pipeline.deadline() {
            Some(deadline) => deadline.min(Instant::now() + poll_interval),
            None => Instant::now() + poll_interval,
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = cancel.cancelled() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
