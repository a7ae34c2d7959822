//! Segment files: a flushed head, compressed, with its index.
//!
//! Layout of `<dir>/segments/<wal seq>.seg`:
//!
//! ```text
//! "SLOGSEG2"
//! per chunk: snappy(entries) then the chunk's bloom filter
//! index: wal seq, streams (labels, chunks: offset, length, crc32,
//!        bloom offset and length, min and max ts, lines, raw bytes)
//! footer: index offset u64, index length u64, index crc32 u32, "SLOGSEG2"
//! ```
//!
//! The version in the magic is that of the bloom filters' layout
//! ([`Probes`]): "SLOGSEG1" segments, the same but for their filters, are
//! still read.
//!
//! A segment holds one or more chunks per stream, each of about
//! `chunk_bytes` of lines in time order; the index (labels and chunk
//! metadata, without the blooms) is read into memory at open, and blooms
//! and chunks are read with `pread` when a query needs them, so memory
//! does not grow with the data kept. A segment is written to a temporary
//! file, fsync'd, then renamed: a crash leaves either no segment or a
//! whole one (a leftover temporary file is removed at open).

use std::{
    fs::{File, OpenOptions},
    io::Write,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use steward_metrics::Labels;

use crate::{
    Entry, Error, Result,
    store::{
        bloom::{Bloom, Probes},
        codec::{Reader, put_entries, put_labels, put_uvarint, put_varint},
        files,
        head::{Block, Head},
    },
};

const MAGIC: &[u8; 8] = b"SLOGSEG2";
const MAGIC_V1: &[u8; 8] = b"SLOGSEG1";
const FOOTER: usize = 8 + 8 + 4 + 8;

/// Where a chunk is and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMeta {
    offset: u64,
    len: u32,
    crc: u32,
    bloom_offset: u64,
    bloom_len: u32,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    pub(crate) lines: u32,
    pub(crate) raw_bytes: u64,
}

/// One stream's chunks in a segment.
#[derive(Debug)]
pub(crate) struct SegmentStream {
    pub(crate) labels: Labels,
    pub(crate) chunks: Vec<ChunkMeta>,
}

/// An open segment: its index in memory, its file for chunk reads.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) wal_seq: u64,
    /// The layout of its bloom filters.
    probes: Probes,
    pub(crate) streams: Vec<SegmentStream>,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    pub(crate) size: u64,
}

/// The path of the segment that covers WAL files up to `seq`.
pub(crate) fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

/// Writes a sealed head as the segment covering WAL files up to
/// `wal_seq`, cutting each stream into chunks of about `chunk_bytes`.
pub(crate) fn write(dir: &Path, wal_seq: u64, head: &Head, chunk_bytes: usize) -> Result<Segment> {
    write_version(dir, wal_seq, head, chunk_bytes, Probes::Blocked)
}

/// [`write`] with the filters of another version (tests read old ones).
pub(crate) fn write_version(
    dir: &Path,
    wal_seq: u64,
    head: &Head,
    chunk_bytes: usize,
    probes: Probes,
) -> Result<Segment> {
    let magic = match probes {
        Probes::Spread => MAGIC_V1,
        Probes::Blocked => MAGIC,
    };
    let final_path = path(dir, wal_seq);
    let tmp = dir.join(format!("{wal_seq:020}.seg.tmp"));
    let mut streams: Vec<_> = head.blocks().collect();
    streams.sort_by(|a, b| a.0.cmp(b.0));
    let encoded =
        encode_streams(&streams, chunk_bytes, probes).map_err(|reason| Error::Corrupt {
            path: tmp.clone(),
            reason,
        })?;
    let io = |err| Error::io(&tmp, err);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io)?;
    files::private_file(&tmp)?;
    // The chunks go to the file as they are, not copied into one buffer
    // first: a segment is a third of the head, and that copy (with the
    // fresh pages it touches) was a tenth of a flush.
    let mut out = Counted::new(file);
    out.write_all(magic).map_err(io)?;
    let mut index = Vec::new();
    put_uvarint(&mut index, wal_seq);
    put_uvarint(&mut index, streams.len() as u64);
    let mut metas = Vec::with_capacity(streams.len());
    for ((labels, _), encoded) in streams.into_iter().zip(encoded) {
        let mut chunks = Vec::with_capacity(encoded.len());
        for chunk in encoded {
            let offset = out.written;
            out.write_all(&chunk.compressed).map_err(io)?;
            let bloom_offset = out.written;
            out.write_all(&chunk.bloom).map_err(io)?;
            chunks.push(ChunkMeta {
                offset,
                bloom_offset,
                ..chunk.meta
            });
        }
        put_labels(&mut index, labels);
        put_uvarint(&mut index, chunks.len() as u64);
        for c in &chunks {
            put_uvarint(&mut index, c.offset);
            put_uvarint(&mut index, u64::from(c.len));
            put_uvarint(&mut index, u64::from(c.crc));
            put_uvarint(&mut index, c.bloom_offset);
            put_uvarint(&mut index, u64::from(c.bloom_len));
            put_varint(&mut index, c.min_ts);
            put_varint(&mut index, c.max_ts);
            put_uvarint(&mut index, u64::from(c.lines));
            put_uvarint(&mut index, c.raw_bytes);
        }
        metas.push(SegmentStream {
            labels: labels.clone(),
            chunks,
        });
    }
    let index_offset = out.written;
    let mut footer = Vec::with_capacity(FOOTER);
    footer.extend_from_slice(&index_offset.to_le_bytes());
    footer.extend_from_slice(&(index.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    footer.extend_from_slice(magic);
    out.write_all(&index)
        .and_then(|()| out.write_all(&footer))
        .map_err(io)?;
    let size = out.written;
    let file = out.inner.into_inner().map_err(|err| io(err.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, &final_path).map_err(|err| Error::io(&final_path, err))?;
    files::sync_dir(dir)?;
    Segment::from_parts(final_path, wal_seq, probes, metas, size)
}

/// A buffered file that counts the bytes written to it (the offsets the
/// index records).
struct Counted {
    inner: std::io::BufWriter<File>,
    written: u64,
}

impl Counted {
    fn new(file: File) -> Counted {
        Counted {
            // Chunks and filters are larger than the buffer and go
            // through it unbuffered; it gathers the small pieces.
            inner: std::io::BufWriter::with_capacity(64 << 10, file),
            written: 0,
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// A chunk compressed, with its filter, before its place in the file is
/// known (`meta`'s offsets are set when it is placed).
struct Encoded {
    compressed: Vec<u8>,
    bloom: Vec<u8>,
    meta: ChunkMeta,
}

/// Every stream's chunks, encoded on as many threads as there are cores:
/// compressing and building filters is most of a flush's work, and the
/// streams are independent.
fn encode_streams(
    streams: &[(&Labels, &[Arc<Block>])],
    chunk_bytes: usize,
    probes: Probes,
) -> std::result::Result<Vec<Vec<Encoded>>, String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(streams.len());
    if threads <= 1 {
        return streams
            .iter()
            .map(|(_, blocks)| encode_stream(blocks, chunk_bytes, probes))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, std::result::Result<Vec<Encoded>, String>)> =
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((_, blocks)) = streams.get(i) else {
                                return mine;
                            };
                            mine.push((i, encode_stream(blocks, chunk_bytes, probes)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
    if done.len() != streams.len() {
        return Err("a thread encoding chunks failed".to_owned());
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, encoded)| encoded).collect()
}

/// One stream's entries in time order, cut into chunks of about
/// `chunk_bytes` of lines, each compressed and with its filter.
fn encode_stream(
    blocks: &[Arc<Block>],
    chunk_bytes: usize,
    probes: Probes,
) -> std::result::Result<Vec<Encoded>, String> {
    let mut entries: Vec<&Entry> = blocks.iter().flat_map(|b| b.entries.iter()).collect();
    // Blocks are sorted runs, mostly in order one after the other: the
    // stable sort merges them in about linear time.
    entries.sort_by_key(|e| e.ts);
    let mut chunks = Vec::new();
    let mut payload = Vec::new();
    let mut from = 0;
    while from < entries.len() {
        let mut to = from;
        let mut raw = 0usize;
        while to < entries.len() && (raw < chunk_bytes || to == from) {
            raw += entries[to].line.len();
            to += 1;
        }
        let part = &entries[from..to];
        payload.clear();
        put_entries(&mut payload, part.iter().copied(), part[0].ts);
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&payload)
            .map_err(|err| format!("cannot compress a chunk: {err}"))?;
        let bloom = Bloom::build(probes, part.iter().map(|e| e.line.as_bytes()), raw).to_bytes();
        chunks.push(Encoded {
            meta: ChunkMeta {
                offset: 0,
                len: compressed.len() as u32,
                crc: crc32fast::hash(&compressed),
                bloom_offset: 0,
                bloom_len: bloom.len() as u32,
                min_ts: part[0].ts,
                max_ts: part[part.len() - 1].ts,
                lines: part.len() as u32,
                raw_bytes: raw as u64,
            },
            compressed,
            bloom,
        });
        from = to;
    }
    Ok(chunks)
}

impl Segment {
    fn from_parts(
        path: PathBuf,
        wal_seq: u64,
        probes: Probes,
        streams: Vec<SegmentStream>,
        size: u64,
    ) -> Result<Segment> {
        let file = File::open(&path).map_err(|err| Error::io(&path, err))?;
        let chunks = streams.iter().flat_map(|s| &s.chunks);
        let min_ts = chunks.clone().map(|c| c.min_ts).min().unwrap_or(0);
        let max_ts = chunks.map(|c| c.max_ts).max().unwrap_or(0);
        Ok(Segment {
            path,
            file,
            wal_seq,
            probes,
            streams,
            min_ts,
            max_ts,
            size,
        })
    }

    /// Opens a segment file and reads its index.
    pub(crate) fn open(path: &Path) -> Result<Arc<Segment>> {
        let corrupt = |reason: &str| Error::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let file = File::open(path).map_err(|err| Error::io(path, err))?;
        let size = file.metadata().map_err(|err| Error::io(path, err))?.len();
        if size < (MAGIC.len() + FOOTER) as u64 {
            return Err(corrupt("shorter than a header and a footer"));
        }
        let mut footer = [0u8; FOOTER];
        file.read_exact_at(&mut footer, size - FOOTER as u64)
            .map_err(|err| Error::io(path, err))?;
        let probes = match &footer[20..] {
            m if m == MAGIC => Probes::Blocked,
            m if m == MAGIC_V1 => Probes::Spread,
            _ => return Err(corrupt("no footer")),
        };
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&footer[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let (index_offset, index_len) = (u64_at(0), u64_at(8));
        let index_crc = u32::from_le_bytes([footer[16], footer[17], footer[18], footer[19]]);
        if index_offset.checked_add(index_len) != Some(size - FOOTER as u64) {
            return Err(corrupt("index out of the file's bounds"));
        }
        let mut index = vec![0u8; index_len as usize];
        file.read_exact_at(&mut index, index_offset)
            .map_err(|err| Error::io(path, err))?;
        if crc32fast::hash(&index) != index_crc {
            return Err(corrupt("index checksum does not match"));
        }
        let parse = || -> std::result::Result<_, super::codec::Truncated> {
            let mut r = Reader::new(&index);
            let wal_seq = r.uvarint()?;
            let n = r.count()?;
            let mut streams = Vec::with_capacity(n);
            for _ in 0..n {
                let labels = r.labels()?;
                let m = r.count()?;
                let mut chunks = Vec::with_capacity(m);
                for _ in 0..m {
                    chunks.push(ChunkMeta {
                        offset: r.uvarint()?,
                        len: r.uvarint()? as u32,
                        crc: r.uvarint()? as u32,
                        bloom_offset: r.uvarint()?,
                        bloom_len: r.uvarint()? as u32,
                        min_ts: r.varint()?,
                        max_ts: r.varint()?,
                        lines: r.uvarint()? as u32,
                        raw_bytes: r.uvarint()?,
                    });
                }
                streams.push(SegmentStream { labels, chunks });
            }
            Ok((wal_seq, streams))
        };
        let (wal_seq, streams) = parse().map_err(|_| corrupt("index does not decode"))?;
        for chunk in streams.iter().flat_map(|s| &s.chunks) {
            let end = chunk.offset + u64::from(chunk.len);
            let bloom_end = chunk.bloom_offset + u64::from(chunk.bloom_len);
            if end > index_offset || bloom_end > index_offset {
                return Err(corrupt("a chunk out of the file's bounds"));
            }
        }
        drop(file);
        Segment::from_parts(path.to_owned(), wal_seq, probes, streams, size).map(Arc::new)
    }

    /// Whether the chunk may hold a line containing every literal
    /// (`false` only when its bloom filter rules one out). Reads only the
    /// filter's words the literals' grams fall in.
    pub(crate) fn may_contain(&self, chunk: &ChunkMeta, literals: &[String]) -> Result<bool> {
        let bits = chunk.bloom_len as usize * 8;
        if !bits.is_power_of_two() || bits < 64 {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                reason: format!("bloom filter at {} has a bad size", chunk.bloom_offset),
            });
        }
        let mut words: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
        for literal in literals {
            for bit in Bloom::positions(self.probes, literal.as_bytes(), bits) {
                let index = bit / 64;
                let word = match words.get(&index) {
                    Some(word) => *word,
                    None => {
                        let mut bytes = [0u8; 8];
                        self.file
                            .read_exact_at(&mut bytes, chunk.bloom_offset + index as u64 * 8)
                            .map_err(|err| Error::io(&self.path, err))?;
                        let word = u64::from_le_bytes(bytes);
                        words.insert(index, word);
                        word
                    }
                };
                if word & (1 << (bit % 64)) == 0 {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The chunk's decompressed payload (`codec` entries).
    pub(crate) fn read_chunk(&self, chunk: &ChunkMeta) -> Result<Vec<u8>> {
        let mut compressed = vec![0u8; chunk.len as usize];
        self.file
            .read_exact_at(&mut compressed, chunk.offset)
            .map_err(|err| Error::io(&self.path, err))?;
        let corrupt = |reason: String| Error::Corrupt {
            path: self.path.clone(),
            reason,
        };
        if crc32fast::hash(&compressed) != chunk.crc {
            return Err(corrupt(format!(
                "chunk at {} checksum does not match",
                chunk.offset
            )));
        }
        snap::raw::Decoder::new()
            .decompress_vec(&compressed)
            .map_err(|err| {
                corrupt(format!(
                    "chunk at {} does not decompress: {err}",
                    chunk.offset
                ))
            })
    }
}
