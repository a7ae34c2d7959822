//! Server-sent events as the CLI reads them: one decoder for every stream
//! it follows (the journal, a deployment). Frames are cut at blank lines in
//! the raw bytes and decoded as UTF-8 only when whole, so a character that
//! arrives split across two network reads is not garbled.

use std::collections::VecDeque;

use futures::{StreamExt, stream::BoxStream};

/// One frame of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Its `id` field, when it has a numeric one.
    pub(crate) id: Option<i64>,
    /// Its `event` field (`None`: the default, `message`).
    pub(crate) event: Option<String>,
    /// Its `data` lines, joined with newlines.
    pub(crate) data: String,
}

/// Cuts a byte stream into frames.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    buffer: Vec<u8>,
}

impl Decoder {
    /// Adds `bytes` and returns the frames they complete, in order.
    /// Comment-only frames (keep-alives) are skipped.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some((end, next)) = frame_end(&self.buffer) {
            let raw: Vec<u8> = self.buffer.drain(..next).collect();
            if let Some(frame) = parse(&String::from_utf8_lossy(&raw[..end])) {
                frames.push(frame);
            }
        }
        frames
    }
}

/// Where the first frame in `buffer` ends (before its blank line) and
/// where the next one starts, if a whole frame is there. Lines end with
/// `\n`, `\r\n` or `\r`, as the SSE specification allows.
fn frame_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut line_start = 0;
    while at < buffer.len() {
        let eol = match buffer[at] {
            b'\n' => 1,
            b'\r' if buffer.get(at + 1) == Some(&b'\n') => 2,
            // A `\r` that ends a blank line ends the frame, whatever
            // follows (a `\n` then is an empty frame, skipped).
            b'\r' if at == line_start => 1,
            // Otherwise, at the end of the buffer it may be the first half
            // of `\r\n`: wait for more.
            b'\r' if at + 1 == buffer.len() => return None,
            b'\r' => 1,
            _ => {
                at += 1;
                continue;
            }
        };
        if at == line_start {
            return Some((line_start, at + eol));
        }
        at += eol;
        line_start = at;
    }
    None
}

/// The fields of one frame; `None` when it has none (comments only).
fn parse(text: &str) -> Option<Frame> {
    let mut frame = Frame {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut has_field = false;
    for line in text.split("\r\n").flat_map(|line| line.split(['\n', '\r'])) {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        has_field = true;
        match field {
            "id" => frame.id = value.trim().parse().ok(),
            "event" => frame.event = Some(value.to_owned()),
            "data" => {
                if !frame.data.is_empty() {
                    frame.data.push('\n');
                }
                frame.data.push_str(value);
            }
            _ => {}
        }
    }
    has_field.then_some(frame)
}

/// The frames of a streaming HTTP response, until the connection ends.
pub(crate) struct Frames {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: Decoder,
    ready: VecDeque<Frame>,
}

impl Frames {
    /// Reads the frames of `response`.
    pub(crate) fn new(response: reqwest::Response) -> Self {
        Frames {
            body: response.bytes_stream().boxed(),
            decoder: Decoder::default(),
            ready: VecDeque::new(),
        }
    }

    /// The next frame; `None` once the connection has ended (closed by
    /// steward, or lost).
    pub(crate) async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Some(frame);
            }
            let chunk = self.body.next().await?.ok()?;
            self.ready.extend(self.decoder.push(&chunk));
        }
    }
}

#[cfg(test)]
mod tests;
