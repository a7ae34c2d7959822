//! The write-ahead log: every push is appended and fsync'd here before it
//! is acknowledged, and replayed into the head after a crash.
//!
//! Files are `<dir>/wal/<seq>.wal`, one per head: the writer starts a new
//! file when it freezes the head for a flush, so a segment covers whole
//! WAL files and names the last one it covers; files up to that one are
//! deleted, at once or at the next open (a crash between the segment's
//! rename and the deletion must not replay them: that would duplicate
//! lines). A record is `[len: u32 LE][crc32 of payload: u32 LE][payload]`,
//! the payload a push in `codec`'s encoding. A torn or corrupt record ends
//! the file: it and what follows were never acknowledged (the fsync that
//! would have acknowledged them did not return), so they are cut off.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

use crate::{
    Error, PushStream, Result,
    store::codec::{Reader, put_push},
};

/// Largest record replay accepts (a push is bounded far below this).
const MAX_RECORD: u32 = 1 << 30;

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
        let mut reader = Reader::new(payload);
        match reader.push() {
            Ok(streams) if reader.is_empty() => visit(streams),
            _ => {
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

    /// Appends framed records and makes them durable.
    pub(crate) fn append_sync(&mut self, framed: &[u8]) -> Result<()> {
        self.file
            .write_all(framed)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| Error::io(&self.path, err))
    }
}
