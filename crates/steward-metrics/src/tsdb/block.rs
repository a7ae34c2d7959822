//! Persisted blocks: the samples of a time range `[mint, maxt)` in a
//! directory of three files, written to a temporary directory and renamed
//! into place so a block is either whole or absent.
//!
//! - `chunks`: the chunks' bytes back to back;
//! - `index`: the series in label order, each with its chunks' time ranges,
//!   offsets, lengths and CRC32s, the whole file ending in its own CRC32;
//! - `meta.json`: the range, counts, compaction level and the blocks it
//!   replaced (so a crash between writing a compacted block and removing
//!   its parents is repaired on open).
//!
//! The index is loaded in memory on open; chunks are read with positioned
//! reads on demand (no mmap: the workspace forbids `unsafe`).

use super::fsutil::{get_uvarint, put_uvarint};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::tsdb::chunk::{ChunkIter, encode_chunks};
use crate::tsdb::fsutil::{create_private, disk_usage, io, private_dir, sync_dir};
use crate::tsdb::postings::Postings;
use crate::{Error, Labels, Matcher, Result, Sample, matcher::matches_all};

const INDEX_MAGIC: &[u8; 5] = b"STIX1";

/// A block's `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BlockMeta {
    pub(crate) mint: i64,
    /// Exclusive end.
    pub(crate) maxt: i64,
    pub(crate) num_series: u64,
    pub(crate) num_chunks: u64,
    pub(crate) num_samples: u64,
    /// 1 for a block cut from the head, higher for compacted blocks.
    pub(crate) level: u32,
    /// The blocks this one replaces.
    pub(crate) parents: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct ChunkMeta {
    min_t: i64,
    max_t: i64,
    offset: u64,
    len: u32,
    crc: u32,
}

#[derive(Debug)]
struct BlockSeries {
    labels: Arc<Labels>,
    chunks: Vec<ChunkMeta>,
}

/// An open block.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) meta: BlockMeta,
    /// Bytes on disk.
    pub(crate) size: u64,
    series: Vec<BlockSeries>,
    postings: Postings,
    chunks: File,
}

fn get_str(buf: &[u8], pos: &mut usize) -> Option<String> {
    let n = usize::try_from(get_uvarint(buf, pos)?).ok()?;
    let bytes = buf.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    String::from_utf8(bytes.to_vec()).ok()
}

/// A block name that sorts by start time and is unique.
fn block_name(mint: i64, maxt: i64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // flipping the sign bit makes negative times sort first
    format!(
        "b-{:016x}-{:016x}-{nanos:x}",
        (mint as u64) ^ (1 << 63),
        (maxt as u64) ^ (1 << 63)
    )
}

/// Writes a block of `series` (sorted by labels, samples sorted and within
/// `[mint, maxt)`) under `blocks_dir`; `None` when there is no sample.
pub(crate) fn write_block(
    blocks_dir: &Path,
    mint: i64,
    maxt: i64,
    level: u32,
    parents: Vec<String>,
    series: impl Iterator<Item = Result<(Arc<Labels>, Vec<Sample>)>>,
) -> Result<Option<Block>> {
    let name = block_name(mint, maxt);
    let tmp = blocks_dir.join(format!("{name}.tmp"));
    private_dir(&tmp)?;
    let result = write_files(&tmp, mint, maxt, level, parents, series);
    let meta = match result {
        Ok(Some(meta)) => meta,
        Ok(None) => {
            fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
            return Ok(None);
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    debug_assert!(meta.num_series > 0);
    let dst = blocks_dir.join(&name);
    fs::rename(&tmp, &dst).map_err(io(&dst))?;
    sync_dir(blocks_dir)?;
    Block::open(&dst).map(Some)
}

fn write_files(
    dir: &Path,
    mint: i64,
    maxt: i64,
    level: u32,
    parents: Vec<String>,
    series: impl Iterator<Item = Result<(Arc<Labels>, Vec<Sample>)>>,
) -> Result<Option<BlockMeta>> {
    let chunks_path = dir.join("chunks");
    let mut chunks = BufWriter::with_capacity(1 << 20, create_private(&chunks_path)?);
    let mut index = INDEX_MAGIC.to_vec();
    let mut body = Vec::new();
    let mut meta = BlockMeta {
        mint,
        maxt,
        num_series: 0,
        num_chunks: 0,
        num_samples: 0,
        level,
        parents,
    };
    let mut offset = 0u64;
    for item in series {
        let (labels, samples) = item?;
        if samples.is_empty() {
            continue;
        }
        let encoded = encode_chunks(&samples);
        meta.num_series += 1;
        meta.num_samples += samples.len() as u64;
        meta.num_chunks += encoded.len() as u64;
        put_uvarint(&mut body, labels.len() as u64);
        for l in labels.iter() {
            for s in [&l.name, &l.value] {
                put_uvarint(&mut body, s.len() as u64);
                body.extend_from_slice(s.as_bytes());
            }
        }
        put_uvarint(&mut body, encoded.len() as u64);
        for c in &encoded {
            let bytes = c.bytes();
            chunks.write_all(&bytes).map_err(io(&chunks_path))?;
            body.extend_from_slice(&c.min_t().to_le_bytes());
            put_uvarint(&mut body, c.max_t().wrapping_sub(c.min_t()) as u64);
            put_uvarint(&mut body, offset);
            put_uvarint(&mut body, bytes.len() as u64);
            body.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
            offset += bytes.len() as u64;
        }
    }
    if meta.num_series == 0 {
        return Ok(None);
    }
    let chunks = chunks
        .into_inner()
        .map_err(|e| io(&chunks_path)(e.into_error()))?;
    chunks.sync_all().map_err(io(&chunks_path))?;
    put_uvarint(&mut index, meta.num_series);
    index.extend_from_slice(&body);
    let crc = crc32fast::hash(&index);
    index.extend_from_slice(&crc.to_le_bytes());
    write_synced(&dir.join("index"), &index)?;
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Corrupt {
        path: dir.join("meta.json"),
        reason: e.to_string(),
    })?;
    write_synced(&dir.join("meta.json"), &json)?;
    sync_dir(dir)?;
    Ok(Some(meta))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = create_private(path)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

fn parse_index(buf: &[u8]) -> Option<Vec<BlockSeries>> {
    let (body, crc) = buf.split_at_checked(buf.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let mut pos = INDEX_MAGIC.len();
    if body.get(..pos)? != INDEX_MAGIC {
        return None;
    }
    let n = get_uvarint(body, &mut pos)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let nl = get_uvarint(body, &mut pos)?;
        let mut pairs = Vec::new();
        for _ in 0..nl {
            pairs.push((get_str(body, &mut pos)?, get_str(body, &mut pos)?));
        }
        let nc = get_uvarint(body, &mut pos)?;
        let mut chunks = Vec::new();
        for _ in 0..nc {
            let min_t = i64::from_le_bytes(body.get(pos..pos + 8)?.try_into().ok()?);
            pos += 8;
            let max_t = min_t.wrapping_add(get_uvarint(body, &mut pos)? as i64);
            let offset = get_uvarint(body, &mut pos)?;
            let len = u32::try_from(get_uvarint(body, &mut pos)?).ok()?;
            let crc = u32::from_le_bytes(body.get(pos..pos + 4)?.try_into().ok()?);
            pos += 4;
            chunks.push(ChunkMeta {
                min_t,
                max_t,
                offset,
                len,
                crc,
            });
        }
        out.push(BlockSeries {
            labels: Arc::new(Labels::from_pairs(pairs)),
            chunks,
        });
    }
    Some(out)
}

impl Block {
    /// Opens a block directory, checking its index.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            path: dir.to_path_buf(),
            reason,
        };
        let meta_path = dir.join("meta.json");
        let meta: BlockMeta =
            serde_json::from_slice(&fs::read(&meta_path).map_err(io(&meta_path))?)
                .map_err(|e| corrupt(format!("bad meta.json: {e}")))?;
        let index_path = dir.join("index");
        let index = fs::read(&index_path).map_err(io(&index_path))?;
        let series = parse_index(&index).ok_or_else(|| corrupt("bad or damaged index".into()))?;
        let mut postings = Postings::default();
        for (i, s) in series.iter().enumerate() {
            postings.add(i as u64, &s.labels);
        }
        let chunks_path = dir.join("chunks");
        let chunks = File::open(&chunks_path).map_err(io(&chunks_path))?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            meta,
            size: disk_usage(dir),
            series,
            postings,
            chunks,
        })
    }

    /// Whether the block holds times in `[mint, maxt]`.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.mint <= maxt && mint < self.meta.maxt
    }

    /// The indexes of the series matching `matchers`.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Vec<usize> {
        let ids: Box<dyn Iterator<Item = usize>> = match self.postings.candidates(matchers) {
            Some(ids) => Box::new(ids.into_iter().map(|i| i as usize)),
            None => Box::new(0..self.series.len()),
        };
        ids.filter(|i| {
            self.series
                .get(*i)
                .is_some_and(|s| matches_all(matchers, &s.labels))
        })
        .collect()
    }

    /// The labels of series `i`.
    pub(crate) fn labels(&self, i: usize) -> &Arc<Labels> {
        &self.series[i].labels
    }

    fn read_chunk(&self, c: &ChunkMeta) -> Result<Vec<u8>> {
        let mut buf = vec![0; c.len as usize];
        let path = self.dir.join("chunks");
        self.chunks
            .read_exact_at(&mut buf, c.offset)
            .map_err(io(&path))?;
        if crc32fast::hash(&buf) != c.crc {
            return Err(Error::Corrupt {
                path,
                reason: format!("chunk checksum mismatch at offset {}", c.offset),
            });
        }
        Ok(buf)
    }

    fn decode(&self, c: &ChunkMeta, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let bytes = self.read_chunk(c)?;
        let mut it = ChunkIter::new(&bytes);
        out.extend(it.by_ref().filter(|s| s.t >= mint && s.t <= maxt));
        if it.corrupt() {
            return Err(Error::Corrupt {
                path: self.dir.join("chunks"),
                reason: format!("undecodable chunk at offset {}", c.offset),
            });
        }
        Ok(())
    }

    /// The samples of series `i` in `[mint, maxt]`.
    pub(crate) fn samples(&self, i: usize, mint: i64, maxt: i64) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        for c in &self.series[i].chunks {
            if c.min_t <= maxt && mint <= c.max_t {
                self.decode(c, mint, maxt, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Whether series `i` has a sample in `[mint, maxt]`.
    pub(crate) fn has_sample_in(&self, i: usize, mint: i64, maxt: i64) -> Result<bool> {
        for c in &self.series[i].chunks {
            if c.min_t >= mint && c.max_t <= maxt {
                return Ok(true);
            }
            if c.min_t <= maxt && mint <= c.max_t {
                let mut buf = Vec::new();
                self.decode(c, mint, maxt, &mut buf)?;
                if !buf.is_empty() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// Merges `blocks` (sorted by time) into one block of level `level`.
pub(crate) fn merge(blocks_dir: &Path, blocks: &[Arc<Block>], level: u32) -> Result<Option<Block>> {
    let mint = blocks.iter().map(|b| b.meta.mint).min().unwrap_or(0);
    let maxt = blocks.iter().map(|b| b.meta.maxt).max().unwrap_or(0);
    let mut all: std::collections::BTreeMap<Arc<Labels>, Vec<(usize, usize)>> = Default::default();
    for (bi, b) in blocks.iter().enumerate() {
        for (si, s) in b.series.iter().enumerate() {
            all.entry(s.labels.clone()).or_default().push((bi, si));
        }
    }
    let parents = blocks.iter().map(|b| b.name.clone()).collect();
    let series = all.into_iter().map(|(labels, at)| {
        let mut samples = Vec::new();
        for (bi, si) in &at {
            samples.extend(blocks[*bi].samples(*si, i64::MIN, i64::MAX)?);
        }
        if at.len() > 1 {
            samples.sort_by_key(|s: &Sample| s.t);
            samples.dedup_by_key(|s| s.t);
        }
        Ok((labels, samples))
    });
    write_block(blocks_dir, mint, maxt, level, parents, series)
}

#[cfg(test)]
mod tests;
