//! The write-ahead log: every push is appended and fsync'd here before it
//! is acknowledged, and replayed into the head after a crash.
//!
//! Files are `<dir>/wal/<seq>.wal`, one per head: the writer starts a new
//! file when it freezes the head for a flush, so a segment covers whole
//! WAL files and names the last one it covers; files up to that one are
//! deleted, at once or at the next open (a crash between the segment's
//! rename and the deletion must not replay them: that would duplicate
//! lines). A record is `[len: u32 LE][crc32 of payload: u32 LE][payload]`,
//! the payload a push in `codec`'s encoding, or, when the top bit of `len`
//! is set ([`LOKI_PROTOBUF`]), the body of a Loki push exactly as it came
//! (a snappy-compressed `PushRequest`): a third of the bytes to write and
//! no encoding, and replaying it decodes it as the push did (without the
//! limits: they were checked when it was accepted). A torn or corrupt record ends
//! the file: it and what follows were never acknowledged (the fsync that
//! would have acknowledged them did not return), so they are cut off.

use std::{
    fs::{File, OpenOptions},
    io::{IoSlice, Read, Write},
    path::{Path, PathBuf},
};

use bytes::Bytes;

use crate::{
    Error, PushStream, Result,
    ingest::{Limits, loki},
    store::codec::{Reader, put_push},
};

/// Largest record replay accepts (a push is bounded far below this).
const MAX_RECORD: u32 = 1 << 30;
/// The bit of a record's length that says its payload is a Loki push body.
const LOKI_PROTOBUF: u32 = 1 << 31;

/// A push framed as a WAL record, made by the pusher (in parallel) so the
/// writer only writes.
#[derive(Debug)]
pub(crate) enum Record {
    /// A record of `codec`'s encoding, header included.
    Framed(Vec<u8>),
    /// The header of a Loki push body, and the body.
    LokiProtobuf { header: [u8; 8], body: Bytes },
}

impl Record {
    /// The record of `streams` in `codec`'s encoding.
    pub(crate) fn encoded(streams: &[PushStream]) -> Record {
        let mut buf = Vec::new();
        frame(&mut buf, streams);
        Record::Framed(buf)
    }

    /// The record of a Loki push's body (a snappy-compressed
    /// `PushRequest`, the one that decoded into what is pushed).
    pub(crate) fn loki_protobuf(body: Bytes) -> Record {
        let mut header = [0; 8];
        header[..4].copy_from_slice(&(body.len() as u32 | LOKI_PROTOBUF).to_le_bytes());
        header[4..].copy_from_slice(&crc32fast::hash(&body).to_le_bytes());
        Record::LokiProtobuf { header, body }
    }

    /// Whether a Loki push body of `len` bytes can be a record.
    pub(crate) fn fits(len: usize) -> bool {
        len <= MAX_RECORD as usize
    }

    fn slices(&self) -> [&[u8]; 2] {
        match self {
            Record::Framed(bytes) => [bytes, &[]],
            Record::LokiProtobuf { header, body } => [header, body],
        }
    }
}

/// The path of WAL file `seq`.
pub(crate) fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// The WAL files in `dir`, by sequence number.
pub(crate) fn files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| Error::io(dir, err))?;
    for entry in entries {
        let entry = entry.map_err(|err| Error::io(dir, err))?;
        let path = entry.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            files.push((seq, path));
        }
    }
    files.sort();
    Ok(files)
}

/// Appends a framed record of `streams` to `buf`.
pub(crate) fn frame(buf: &mut Vec<u8>, streams: &[PushStream]) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 8]);
    put_push(buf, streams);
    let len = (buf.len() - start - 8) as u32;
    let crc = crc32fast::hash(&buf[start + 8..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads every intact record of the file at `path`, calling `visit` with
/// each push, and cuts the file after the last intact one.
pub(crate) fn replay(path: &Path, visit: &mut dyn FnMut(Vec<PushStream>)) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|err| Error::io(path, err))?;
    let mut at = 0usize;
    let mut damage = None;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else {
            damage = Some("a torn record header");
            break;
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let raw = len & LOKI_PROTOBUF != 0;
        let len = len & !LOKI_PROTOBUF;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            damage = Some("a record length out of range");
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len as usize) else {
            damage = Some("a torn record");
            break;
        };
        if crc32fast::hash(payload) != crc {
            damage = Some("a record whose checksum does not match");
            break;
        }
        let decoded = if raw {
            loki::decode_protobuf(payload, &Limits::unbounded()).ok()
        } else {
            let mut reader = Reader::new(payload);
            reader.push().ok().filter(|_| reader.is_empty())
        };
        match decoded {
            Some(streams) => visit(streams),
            None => {
                damage = Some("a record that does not decode");
                break;
            }
        }
        at += 8 + len as usize;
    }
    if let Some(what) = damage {
        tracing::warn!(
            path = %path.display(),
            offset = at,
            cut = bytes.len() - at,
            "wal ends with {what}; cutting it there (it was never acknowledged)"
        );
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|err| Error::io(path, err))?;
        file.set_len(at as u64)
            .and_then(|()| file.sync_all())
            .map_err(|err| Error::io(path, err))?;
    }
    Ok(())
}

/// The WAL file being written.
#[derive(Debug)]
pub(crate) struct WalFile {
    seq: u64,
    path: PathBuf,
    file: File,
}

impl WalFile {
    /// Creates WAL file `seq` in `dir` (and syncs the directory, so the
    /// file survives a crash with its records).
    pub(crate) fn create(dir: &Path, seq: u64) -> Result<Self> {
        let path = path(dir, seq);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|err| Error::io(&path, err))?;
        super::files::private_file(&path)?;
        super::files::sync_dir(dir)?;
        Ok(WalFile { seq, path, file })
    }

    /// Its sequence number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Appends records and makes them durable.
    pub(crate) fn append_sync(&mut self, records: &[Record]) -> Result<()> {
        let mut slices: Vec<IoSlice<'_>> = records
            .iter()
            .flat_map(Record::slices)
            .filter(|s| !s.is_empty())
            .map(IoSlice::new)
            .collect();
        write_all_vectored(&mut self.file, &mut slices)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| Error::io(&self.path, err))
    }
}

/// Writes every slice, as `Write::write_all_vectored` (unstable) does.
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
