//! The byte encoding of entries and label sets shared by the WAL and the
//! segments: LEB128 varints, zigzag timestamp deltas, length-prefixed
//! strings.
//!
//! Decoding never trusts a length: every read is checked against what is
//! left, so a damaged record is an error, never a panic or a huge
//! allocation.

use steward_metrics::Labels;

use crate::{Entry, PushStream};

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zigzag-encoded, so small negative deltas stay short.
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a label set: its length, then name and value of each label.
pub(crate) fn put_labels(buf: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(buf, labels.len() as u64);
    for label in labels {
        put_bytes(buf, label.name.as_bytes());
        put_bytes(buf, label.value.as_bytes());
    }
}

/// Appends entries, each timestamp as the delta from the previous one
/// (`prev` is the reference for the first).
pub(crate) fn put_entries<'a>(
    buf: &mut Vec<u8>,
    entries: impl ExactSizeIterator<Item = &'a Entry>,
    mut prev: i64,
) {
    put_uvarint(buf, entries.len() as u64);
    for entry in entries {
        put_varint(buf, entry.ts.wrapping_sub(prev));
        prev = entry.ts;
        put_bytes(buf, entry.line.as_bytes());
        put_uvarint(buf, entry.metadata.len() as u64);
        for (name, value) in &entry.metadata {
            put_bytes(buf, name.as_bytes());
            put_bytes(buf, value.as_bytes());
        }
    }
}

/// Appends a push: its streams, each with its labels and entries.
pub(crate) fn put_push(buf: &mut Vec<u8>, streams: &[PushStream]) {
    put_uvarint(buf, streams.len() as u64);
    for stream in streams {
        put_labels(buf, &stream.labels);
        put_entries(buf, stream.entries.iter(), 0);
    }
}

/// A reader over an encoded buffer; every method fails instead of reading
/// past the end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

type Res<T> = std::result::Result<T, Truncated>;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn uvarint(&mut self) -> Res<u64> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err(Truncated)
    }

    pub(crate) fn varint(&mut self) -> Res<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A count of items that each take at least one byte: bounded by
    /// what is left, so a damaged count cannot make a huge allocation.
    pub(crate) fn count(&mut self) -> Res<usize> {
        let n = self.uvarint()?;
        if n > self.buf.len() as u64 {
            return Err(Truncated);
        }
        Ok(n as usize)
    }

    pub(crate) fn bytes(&mut self) -> Res<&'a [u8]> {
        let n = self.count()?;
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn string(&mut self) -> Res<String> {
        // Lines are UTF-8 when they come in (the decoders check), so a
        // lossy decode only ever replaces bytes a damaged file changed.
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    pub(crate) fn labels(&mut self) -> Res<Labels> {
        let n = self.count()?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.string()?, self.string()?));
        }
        Ok(Labels::from_pairs(pairs))
    }

    pub(crate) fn entries(&mut self, prev: i64) -> Res<Vec<Entry>> {
        self.entries_where(prev, i64::MIN, i64::MAX, &|_| true)
    }

    /// The entries within `[start, end)` whose line `keep` accepts: lines
    /// left out are never copied out of the buffer.
    pub(crate) fn entries_where(
        &mut self,
        mut prev: i64,
        start: i64,
        end: i64,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> Res<Vec<Entry>> {
        let n = self.count()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let ts = prev.wrapping_add(self.varint()?);
            prev = ts;
            let line = self.bytes()?;
            let m = self.count()?;
            if ts < start || ts >= end || !keep(line) {
                for _ in 0..m {
                    self.bytes()?;
                    self.bytes()?;
                }
                continue;
            }
            let mut metadata = Vec::with_capacity(m);
            for _ in 0..m {
                metadata.push((self.string()?, self.string()?));
            }
            // `from_utf8` first: the lossy decode's chunked walk was a
            // tenth of a limited query's time, and lines are valid UTF-8.
            let line = match std::str::from_utf8(line) {
                Ok(line) => line.to_owned(),
                Err(_) => String::from_utf8_lossy(line).into_owned(),
            };
            entries.push(Entry { ts, line, metadata });
        }
        Ok(entries)
    }

    pub(crate) fn push(&mut self) -> Res<Vec<PushStream>> {
        let n = self.count()?;
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            let labels = self.labels()?;
            let entries = self.entries(0)?;
            streams.push(PushStream { labels, entries });
        }
        Ok(streams)
    }
}
