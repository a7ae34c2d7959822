//! The write-ahead log: numbered segment files of CRC-checked records, and
//! checkpoints that replace the segments a persisted block made redundant.
//!
//! A record is `len: u32 LE | crc32(payload): u32 LE | payload`. The payload
//! starts with a type byte: series records give new series their ids
//! (`ref, labels`), sample records carry `(ref, t, v)` triples with the
//! value's bits as written, so staleness markers replay bit-exact.
//!
//! On open the log is replayed from the newest checkpoint through the
//! segments after it. A torn or corrupt record ends the replay: its segment
//! is cut at the last good record and later segments are removed, each with
//! a warning, so a crash mid-write never stops the store from starting.

use super::fsutil::{get_uvarint, put_uvarint};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::tsdb::fsutil::{create_private, io, private_dir, sync_dir};
use crate::{Labels, Result, Sample};

const REC_SERIES: u8 = 1;
const REC_SAMPLES: u8 = 2;
/// A record longer than this is taken for garbage.
const MAX_RECORD: u32 = 256 << 20;
/// A segment grows to about this size before the next one starts.
pub(crate) const SEGMENT_SIZE: u64 = 128 << 20;

/// When the log is flushed to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalSync {
    /// `fdatasync` before `append` returns: acknowledged samples survive a
    /// power loss as well as a crash.
    #[default]
    EveryBatch,
    /// Written to the OS only: acknowledged samples survive a crash of the
    /// process (`kill -9`) but not of the machine.
    Never,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// New series and their ids.
    Series(Vec<(u64, Labels)>),
    /// Samples of known series.
    Samples(Vec<(u64, Sample)>),
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn get_str(buf: &[u8], pos: &mut usize) -> Option<String> {
    let n = usize::try_from(get_uvarint(buf, pos)?).ok()?;
    let bytes = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    String::from_utf8(bytes.to_vec()).ok()
}

fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let bytes: [u8; 8] = buf.get(*pos..*pos + 8)?.try_into().ok()?;
    *pos += 8;
    Some(u64::from_le_bytes(bytes))
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Frames a payload built by `fill` (which writes the type byte first) onto
/// `out`.
fn frame(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    fill(out);
    let payload = &out[start + 8..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a series record to `out`.
pub(crate) fn encode_series<'a>(
    out: &mut Vec<u8>,
    series: impl Iterator<Item = (u64, &'a Labels)>,
) {
    frame(out, |b| {
        b.push(REC_SERIES);
        for (r, labels) in series {
            put_uvarint(b, r);
            put_uvarint(b, labels.len() as u64);
            for l in labels {
                put_str(b, &l.name);
                put_str(b, &l.value);
            }
        }
    });
}

/// Appends a samples record to `out`.
pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[(u64, Sample)]) {
    let Some(base) = samples.first().map(|s| s.1.t) else {
        return;
    };
    frame(out, |b| {
        b.push(REC_SAMPLES);
        b.extend_from_slice(&base.to_le_bytes());
        for (r, s) in samples {
            put_uvarint(b, *r);
            put_uvarint(b, zigzag(s.t.wrapping_sub(base)));
            b.extend_from_slice(&s.v.to_bits().to_le_bytes());
        }
    });
}

/// Decodes a payload whose CRC matched; `None` when it is malformed.
pub(crate) fn decode(payload: &[u8]) -> Option<Record> {
    let (&kind, _) = payload.split_first()?;
    let mut pos = 1;
    match kind {
        REC_SERIES => {
            let mut out = Vec::new();
            while pos < payload.len() {
                let r = get_uvarint(payload, &mut pos)?;
                let n = get_uvarint(payload, &mut pos)?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    pairs.push((get_str(payload, &mut pos)?, get_str(payload, &mut pos)?));
                }
                out.push((r, Labels::from_pairs(pairs)));
            }
            Some(Record::Series(out))
        }
        REC_SAMPLES => {
            let base = get_u64(payload, &mut pos)? as i64;
            let mut out = Vec::new();
            while pos < payload.len() {
                let r = get_uvarint(payload, &mut pos)?;
                let t = base.wrapping_add(unzigzag(get_uvarint(payload, &mut pos)?));
                let v = f64::from_bits(get_u64(payload, &mut pos)?);
                out.push((r, Sample::new(t, v)));
            }
            Some(Record::Samples(out))
        }
        _ => None,
    }
}

/// How reading one file ended.
#[derive(Debug)]
pub(crate) struct ReadEnd {
    /// Bytes of whole, valid records.
    pub(crate) valid_len: u64,
    /// Why reading stopped before the end of the file, if it did.
    pub(crate) damage: Option<String>,
}

/// Reads the records of one WAL file, calling `f` for each.
pub(crate) fn read_file(path: &Path, mut f: impl FnMut(Record)) -> Result<ReadEnd> {
    let file = File::open(path).map_err(io(path))?;
    let total = file.metadata().map_err(io(path))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut valid = 0u64;
    let mut payload = Vec::new();
    loop {
        if valid == total {
            return Ok(ReadEnd {
                valid_len: valid,
                damage: None,
            });
        }
        let mut head = [0u8; 8];
        let damage = |what: String| ReadEnd {
            valid_len: valid,
            damage: Some(what),
        };
        if valid + 8 > total {
            return Ok(damage(format!("torn record header at offset {valid}")));
        }
        r.read_exact(&mut head).map_err(io(path))?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len == 0 || len > MAX_RECORD {
            return Ok(damage(format!("bad record length {len} at offset {valid}")));
        }
        if valid + 8 + u64::from(len) > total {
            return Ok(damage(format!("torn record at offset {valid}")));
        }
        payload.resize(len as usize, 0);
        r.read_exact(&mut payload).map_err(io(path))?;
        if crc32fast::hash(&payload) != crc {
            return Ok(damage(format!("checksum mismatch at offset {valid}")));
        }
        let Some(rec) = decode(&payload) else {
            return Ok(damage(format!("malformed record at offset {valid}")));
        };
        f(rec);
        valid += 8 + u64::from(len);
    }
}

fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

fn checkpoint_name(n: u64) -> String {
    format!("checkpoint.{n:08}")
}

/// The numbered segments and checkpoints of a WAL directory, sorted.
pub(crate) fn list(dir: &Path) -> Result<(Vec<u64>, Vec<u64>)> {
    let mut segs = Vec::new();
    let mut cps = Vec::new();
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("checkpoint.")
            .and_then(|n| n.parse().ok())
        {
            cps.push(n);
        } else if let Ok(n) = name.parse::<u64>() {
            segs.push(n);
        } else if name.ends_with(".tmp") {
            // a checkpoint a crash interrupted
            let _ = fs::remove_file(e.path());
        }
    }
    segs.sort_unstable();
    cps.sort_unstable();
    Ok((segs, cps))
}

/// Replays a WAL directory into `f`, repairing a damaged tail; returns the
/// number of the last segment seen (0 when none).
pub(crate) fn replay(dir: &Path, mut f: impl FnMut(Record)) -> Result<u64> {
    private_dir(dir)?;
    let (segs, cps) = list(dir)?;
    let mut last = 0;
    if let Some(&cp) = cps.last() {
        last = cp;
        let path = dir.join(checkpoint_name(cp));
        let end = read_file(&path, &mut f)?;
        if let Some(why) = end.damage {
            tracing::warn!(path = %path.display(), %why, "damaged WAL checkpoint: replayed up to the damage");
        }
    }
    let live: Vec<u64> = segs.iter().copied().filter(|s| *s > last).collect();
    for (i, &seg) in live.iter().enumerate() {
        last = seg;
        let path = dir.join(segment_name(seg));
        let end = read_file(&path, &mut f)?;
        if let Some(why) = end.damage {
            tracing::warn!(
                path = %path.display(), %why, kept_bytes = end.valid_len,
                dropped_segments = live.len() - i - 1,
                "torn or corrupt WAL tail: truncated at the last valid record"
            );
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io(&path))?;
            file.set_len(end.valid_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            for later in &live[i + 1..] {
                let p = dir.join(segment_name(*later));
                fs::remove_file(&p).map_err(io(&p))?;
            }
            break;
        }
    }
    // leftovers of an interrupted checkpoint
    for s in segs
        .iter()
        .filter(|s| cps.last().is_some_and(|cp| **s <= *cp))
    {
        let _ = fs::remove_file(dir.join(segment_name(*s)));
    }
    for cp in cps.iter().rev().skip(1) {
        let _ = fs::remove_file(dir.join(checkpoint_name(*cp)));
    }
    Ok(last)
}

/// Appends records to the current segment.
#[derive(Debug)]
pub(crate) struct WalWriter {
    dir: PathBuf,
    seg: u64,
    file: File,
    size: u64,
    sync: WalSync,
}

impl WalWriter {
    /// Starts a new segment after `last`.
    pub(crate) fn create(dir: &Path, last: u64, sync: WalSync) -> Result<Self> {
        let seg = last + 1;
        let path = dir.join(segment_name(seg));
        let file = create_private(&path)?;
        sync_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            seg,
            file,
            size: 0,
            sync,
        })
    }

    /// Writes framed records and syncs them per the policy. On failure the
    /// segment is cut back so no torn record sits before later ones.
    pub(crate) fn write(&mut self, framed: &[u8]) -> Result<()> {
        if framed.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(segment_name(self.seg));
        let res = self.file.write_all(framed).and_then(|()| match self.sync {
            WalSync::EveryBatch => self.file.sync_data(),
            WalSync::Never => Ok(()),
        });
        if let Err(e) = res {
            let _ = self.file.set_len(self.size);
            return Err(io(&path)(e));
        }
        self.size += framed.len() as u64;
        if self.size >= SEGMENT_SIZE {
            self.rotate()?;
        }
        Ok(())
    }

    /// Closes the current segment and starts the next; returns the number
    /// of the closed one.
    pub(crate) fn rotate(&mut self) -> Result<u64> {
        let closed = self.seg;
        let next = Self::create(&self.dir, closed, self.sync)?;
        *self = next;
        Ok(closed)
    }
}

/// Writes `checkpoint.upto` from the checkpoint and segments up to `upto`,
/// keeping what `keep` returns, then removes what it replaces.
pub(crate) fn checkpoint(
    dir: &Path,
    upto: u64,
    mut keep: impl FnMut(Record) -> Option<Record>,
) -> Result<()> {
    let (segs, cps) = list(dir)?;
    let tmp = dir.join(format!("{}.tmp", checkpoint_name(upto)));
    let mut out = BufWriter::new(create_private(&tmp)?);
    let mut buf = Vec::new();
    let mut sources: Vec<PathBuf> = cps
        .last()
        .filter(|cp| **cp <= upto)
        .map(|cp| dir.join(checkpoint_name(*cp)))
        .into_iter()
        .collect();
    let first_seg = cps.last().map_or(0, |cp| cp + 1);
    sources.extend(
        segs.iter()
            .filter(|s| **s >= first_seg && **s <= upto)
            .map(|s| dir.join(segment_name(*s))),
    );
    let mut write_err = None;
    for src in &sources {
        read_file(src, |rec| {
            buf.clear();
            match keep(rec) {
                Some(Record::Series(s)) if !s.is_empty() => {
                    encode_series(&mut buf, s.iter().map(|(r, l)| (*r, l)));
                }
                Some(Record::Samples(s)) => encode_samples(&mut buf, &s),
                _ => {}
            }
            if write_err.is_none()
                && let Err(e) = out.write_all(&buf)
            {
                write_err = Some(e);
            }
        })?;
    }
    if let Some(e) = write_err {
        return Err(io(&tmp)(e));
    }
    let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    let dst = dir.join(checkpoint_name(upto));
    fs::rename(&tmp, &dst).map_err(io(&dst))?;
    sync_dir(dir)?;
    for s in segs.iter().filter(|s| **s <= upto) {
        let p = dir.join(segment_name(*s));
        fs::remove_file(&p).map_err(io(&p))?;
    }
    for cp in cps.iter().filter(|cp| **cp < upto) {
        let p = dir.join(checkpoint_name(*cp));
        fs::remove_file(&p).map_err(io(&p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
