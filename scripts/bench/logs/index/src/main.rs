//! The log benchmark's index measurement (scripts/bench/logs.sh --index):
//! on the same lines, what it costs to skip what cannot match a line
//! filter (`|= "literal"`, a case-sensitive substring of the line), the
//! two ways the log store issue asked to compare:
//!
//! - tantivy, Quickwit's approach: an index of the lines, `line` a TEXT
//!   field (the default tokenizer: split at every character that is not
//!   alphanumeric, tokens over 40 bytes dropped, lowercased) and stored,
//!   `service` a STRING fast (and stored) field, `ts` a fast i64 (ns).
//!   Built with the writer's default threads and a 256 MB memory budget;
//!   timed to its commit, then waiting for the merges the default merge
//!   policy started, then merged into one segment (queried as such).
//! - per-chunk bloom filters of 4-grams, Loki's approach and steward's log
//!   store (crates/steward-logs/src/store/bloom.rs and segment.rs),
//!   reimplemented minimally here for a like-for-like cost: each stream's
//!   lines (one stream per file and service, as the pusher labels them
//!   {host, service}) cut into chunks of about 512 KiB, each
//!   snappy-compressed into one file with, after it, a bloom filter of
//!   the 4-grams of its lines (two probes per gram, one bit per byte of
//!   lines to start with, folded in half while at most 30% of its bits
//!   would be set). A query reads the filter words a literal's grams need
//!   (`pread`), then decompresses the chunks that may hold it and looks
//!   for it with memchr's memmem.
//! - with `--ngram`, tantivy again with an ngram(4, 4) tokenizer (case
//!   kept, document ids only): what a word index needs to answer
//!   substrings that are not whole words. Given up (and said so) when it
//!   takes more than `--ngram-budget` seconds (300).
//!
//! The lines are every line of the dataset's files (scripts/bench/logs/
//! generate.py, `<service, 12 columns>| <line>`), the line being what
//! follows the prefix; timestamps are spread over 50 minutes by a line's
//! place in its file, as the pusher does. Queries run on one thread,
//! each best of 3 after one warm-up run (the page cache warm for both):
//! the rare needle (all its lines), the common word "cache" (the newest
//! 10,000 lines, and counted), "error" counted by service, and
//! substrings that are not whole words. Every count is checked against a
//! plain scan of the lines in memory.
//!
//! Prints a table (`--output json`: one JSON document). Exit status 0:
//! measured; 1: a count that should be exact was not; 2: it could not run.
//!
//! Usage: index --data DIR [--output table|json] [--ngram] [--ngram-budget S]
//!              [--work DIR] [--keep]

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    error::Error,
    fs::File,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    time::Instant,
};

use memchr::memmem;
use serde_json::{Value, json};
use tantivy::{
    DocAddress, Index, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term,
    aggregation::{AggregationCollector, agg_req::Aggregations, agg_result::AggregationResults},
    collector::{Count, DocSetCollector, TopDocs},
    query::{BooleanQuery, EmptyQuery, PhraseQuery, Query, RegexQuery, TermQuery},
    schema::{
        FAST, Field, IndexRecordOption, STORED, STRING, Schema, TEXT, TextFieldIndexing,
        TextOptions, Value as _,
    },
    tokenizer::NgramTokenizer,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// `<service, 12 columns>| `
const PREFIX: usize = 14;
/// The lines' timestamps: the 50 minutes before 2025-06-01T12:50:00Z.
const SPAN_NS: i64 = 3000 * 1_000_000_000;
const END_NS: i64 = (1_748_779_200 + 3000) * 1_000_000_000;
/// Lines a log query returns at most (Loki's largest limit).
const LIMIT: usize = 10_000;
const CHUNK_BYTES: usize = 512 << 10;
const MEMORY_BUDGET: usize = 256 << 20;
/// Substrings that are not whole words: part of a common word, part of an id.
const SUBSTRINGS: [&str; 2] = ["ache", "3a9c2e"];
/// How long the ngram index may take to build, by default.
const NGRAM_BUDGET_SECS: f64 = 300.0;

struct Args {
    data: PathBuf,
    json: bool,
    ngram: bool,
    ngram_budget: f64,
    work: Option<PathBuf>,
    keep: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: index --data DIR [--output table|json] [--ngram] [--ngram-budget S] [--work DIR] [--keep]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        data: PathBuf::new(),
        json: false,
        ngram: false,
        ngram_budget: NGRAM_BUDGET_SECS,
        work: None,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--data" => args.data = PathBuf::from(value()),
            "--output" => match value().as_str() {
                "json" => args.json = true,
                "table" => args.json = false,
                _ => usage(),
            },
            "--ngram" => args.ngram = true,
            "--ngram-budget" => args.ngram_budget = value().parse().unwrap_or_else(|_| usage()),
            "--work" => args.work = Some(PathBuf::from(value())),
            "--keep" => args.keep = true,
            _ => usage(),
        }
    }
    if args.data.as_os_str().is_empty() {
        usage();
    }
    args
}

fn main() {
    let args = parse_args();
    match run(&args) {
        Ok(wrong) => std::process::exit(i32::from(wrong)),
        Err(err) => {
            eprintln!("index: {err}");
            std::process::exit(2)
        }
    }
}

// --- the lines ------------------------------------------------------------------

struct Line<'a> {
    file: u16,
    service: u16,
    ts: i64,
    text: &'a str,
}

/// What a query found: matching lines, by service, the oldest timestamp
/// among those returned (newest-first queries), chunks read.
#[derive(Default, Clone)]
struct Found {
    count: u64,
    by_service: Vec<u64>,
    oldest_ts: Option<i64>,
    chunks_read: usize,
    candidates: Option<u64>,
}

/// Every line holding `literal`, by a plain scan (the reference counts).
fn scan(lines: &[Line], services: usize, literal: &str) -> Found {
    let finder = memmem::Finder::new(literal);
    let mut found = Found {
        by_service: vec![0; services],
        ..Found::default()
    };
    for line in lines {
        if finder.find(line.text.as_bytes()).is_some() {
            found.count += 1;
            found.by_service[usize::from(line.service)] += 1;
        }
    }
    found
}

/// The newest `LIMIT` lines holding `literal`: how many, and the oldest
/// timestamp among them.
fn scan_newest(lines: &[Line], literal: &str) -> Found {
    let finder = memmem::Finder::new(literal);
    let mut ts: Vec<i64> = lines
        .iter()
        .filter(|l| finder.find(l.text.as_bytes()).is_some())
        .map(|l| l.ts)
        .collect();
    ts.sort_unstable_by(|a, b| b.cmp(a));
    ts.truncate(LIMIT);
    Found {
        count: ts.len() as u64,
        oldest_ts: ts.last().copied(),
        ..Found::default()
    }
}

// --- measuring ------------------------------------------------------------------

/// CPU seconds (user + system) of the process, every thread.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    fn stop(&self) -> (f64, f64) {
        (self.wall.elapsed().as_secs_f64(), cpu_seconds() - self.cpu)
    }
}

/// Runs `f` once untimed, then three times: the best seconds and the
/// last result.
fn best_of_3<T>(mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    f()?;
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let r = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    Ok((best, last.expect("three runs")))
}

/// Bytes of the files in `dir` and below.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn build_json(wall: f64, cpu: f64, bytes: u64, data_bytes: u64) -> Value {
    json!({
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "mb_per_s": data_bytes as f64 / 1e6 / wall,
        "bytes": bytes,
        "vs_data": bytes as f64 / data_bytes as f64,
    })
}

// --- tantivy --------------------------------------------------------------------

struct Tantivy {
    index: Index,
    line: Field,
    service: Field,
}

/// An index of the lines in `dir`: the default tokenizer, or ngram(4, 4).
/// Its build figures; `None` as the index when it was given up after
/// `budget` seconds.
fn build_tantivy(
    dir: &Path,
    lines: &[Line],
    services: &[String],
    ngram: bool,
    budget: Option<f64>,
    data_bytes: u64,
) -> Result<(Option<Tantivy>, Value)> {
    std::fs::create_dir_all(dir)?;
    let mut schema = Schema::builder();
    let line = if ngram {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer("ngram4")
            .set_index_option(IndexRecordOption::Basic);
        schema.add_text_field(
            "line",
            TextOptions::default()
                .set_indexing_options(indexing)
                .set_stored(),
        )
    } else {
        schema.add_text_field("line", TEXT | STORED)
    };
    let service = schema.add_text_field("service", STRING | FAST | STORED);
    let ts = schema.add_i64_field("ts", FAST);
    let index = Index::create_in_dir(dir, schema.build())?;
    if ngram {
        index
            .tokenizers()
            .register("ngram4", NgramTokenizer::new(4, 4, false)?);
    }
    // what Index::writer picks for the default
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));

    let clock = Clock::start();
    let mut writer: IndexWriter = index.writer(MEMORY_BUDGET)?;
    for (i, l) in lines.iter().enumerate() {
        if let Some(budget) = budget
            && i % 4096 == 0
            && clock.wall.elapsed().as_secs_f64() > budget
        {
            writer.rollback()?;
            let (wall, cpu) = clock.stop();
            return Ok((
                None,
                json!({
                    "finished": false,
                    "gave_up_after_seconds": wall,
                    "cpu_seconds": cpu,
                    "lines_indexed": i,
                    "lines": lines.len(),
                }),
            ));
        }
        let mut doc = TantivyDocument::new();
        doc.add_text(line, l.text);
        doc.add_text(service, &services[usize::from(l.service)]);
        doc.add_i64(ts, l.ts);
        writer.add_document(doc)?;
    }
    writer.commit()?;
    let (wall, cpu) = clock.stop();
    let mut commit = build_json(wall, cpu, dir_bytes(dir), data_bytes);
    commit["segments"] = json!(index.searchable_segment_ids()?.len());

    // the merges the default merge policy started after the commit
    let clock = Clock::start();
    writer.wait_merging_threads()?;
    let (wall, cpu) = clock.stop();
    let mut merges = build_json(wall, cpu, dir_bytes(dir), data_bytes);
    merges["segments"] = json!(index.searchable_segment_ids()?.len());

    let clock = Clock::start();
    let mut writer: IndexWriter = index.writer(MEMORY_BUDGET)?;
    let ids = index.searchable_segment_ids()?;
    if ids.len() > 1 {
        writer.merge(&ids).wait()?;
    }
    writer.garbage_collect_files().wait()?;
    writer.wait_merging_threads()?;
    let (wall, cpu) = clock.stop();
    let mut merged = build_json(wall, cpu, dir_bytes(dir), data_bytes);
    merged["segments"] = json!(index.searchable_segment_ids()?.len());

    let doc = json!({
        "finished": true,
        "threads": threads,
        "memory_budget_bytes": MEMORY_BUDGET,
        "tokenizer": if ngram { "ngram(4,4), case kept, doc ids only" } else { "default (words, lowercased)" },
        "commit": commit,
        "merge_policy": merges,
        "one_segment": merged,
    });
    Ok((
        Some(Tantivy {
            index,
            line,
            service,
        }),
        doc,
    ))
}

impl Tantivy {
    /// Bytes of each part of the index (all its segments).
    fn space(searcher: &Searcher) -> Result<Value> {
        let usage = searcher.space_usage()?;
        let mut parts = [0u64; 6];
        for segment in usage.segments() {
            parts[0] += segment.store().total().get_bytes();
            parts[1] += segment.postings().total().get_bytes();
            parts[2] += segment.positions().total().get_bytes();
            parts[3] += segment.termdict().total().get_bytes();
            parts[4] += segment.fast_fields().total().get_bytes();
            parts[5] += segment.fieldnorms().total().get_bytes();
        }
        Ok(json!({
            "store": parts[0],
            "postings": parts[1],
            "positions": parts[2],
            "terms": parts[3],
            "fast_fields": parts[4],
            "fieldnorms": parts[5],
        }))
    }

    fn searcher(&self) -> Result<Searcher> {
        let reader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(reader.searcher())
    }

    /// What a word index makes of a literal: its words, one term or a
    /// phrase of them.
    fn word_query(&self, literal: &str) -> Result<Box<dyn Query>> {
        let mut analyzer = self.index.tokenizer_for_field(self.line)?;
        let mut stream = analyzer.token_stream(literal);
        let mut terms = Vec::new();
        while stream.advance() {
            terms.push(Term::from_field_text(self.line, &stream.token().text));
        }
        Ok(match terms.len() {
            0 => Box::new(EmptyQuery),
            1 => Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::Basic)),
            _ => Box::new(PhraseQuery::new(terms)),
        })
    }

    /// The lines holding a token that contains `literal` (lowercased):
    /// a regular expression over the whole term dictionary, the only way
    /// a word index finds part of a word. `None` when the literal is not
    /// all alphanumeric (it would span tokens).
    fn regex_query(&self, literal: &str) -> Result<Option<Box<dyn Query>>> {
        if !literal.chars().all(char::is_alphanumeric) {
            return Ok(None);
        }
        let pattern = format!(".*{}.*", literal.to_lowercase());
        Ok(Some(Box::new(RegexQuery::from_pattern(
            &pattern, self.line,
        )?)))
    }

    /// For an ngram(4, 4) index: every 4-gram of the literal.
    fn gram_query(&self, literal: &str) -> Option<Box<dyn Query>> {
        let mut grams: Vec<&str> = (0..literal.len().checked_sub(3)?)
            .filter_map(|i| literal.get(i..i + 4))
            .collect();
        grams.sort_unstable();
        grams.dedup();
        let terms: Vec<Box<dyn Query>> = grams
            .into_iter()
            .map(|g| {
                Box::new(TermQuery::new(
                    Term::from_field_text(self.line, g),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>
            })
            .collect();
        Some(Box::new(BooleanQuery::intersection(terms)))
    }

    fn stored<'a>(doc: &'a TantivyDocument, field: Field) -> &'a str {
        doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("")
    }

    /// The newest `LIMIT` matches of `query`, their stored lines fetched
    /// and checked for `literal`.
    fn newest(&self, searcher: &Searcher, query: &dyn Query, literal: &str) -> Result<Found> {
        let top = searcher.search(
            query,
            &TopDocs::with_limit(LIMIT).order_by_fast_field::<i64>("ts", Order::Desc),
        )?;
        let finder = memmem::Finder::new(literal);
        let mut found = Found {
            candidates: Some(top.len() as u64),
            ..Found::default()
        };
        let mut lines = Vec::with_capacity(top.len());
        for (ts, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = Self::stored(&doc, self.line);
            if finder.find(text.as_bytes()).is_some() {
                found.count += 1;
                found.oldest_ts = ts;
                lines.push(text.to_owned());
            }
        }
        Ok(found)
    }

    fn count(&self, searcher: &Searcher, query: &dyn Query) -> Result<Found> {
        Ok(Found {
            count: searcher.search(query, &Count)? as u64,
            ..Found::default()
        })
    }

    /// The matches of `query` counted by service: a terms aggregation
    /// over the service fast field.
    fn count_by_service(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        services: &[String],
    ) -> Result<Found> {
        let request: Aggregations = serde_json::from_value(json!({
            "by_service": {"terms": {"field": "service", "size": 1000}}
        }))?;
        let collector = AggregationCollector::from_aggs(request, Default::default());
        let result: AggregationResults = searcher.search(query, &collector)?;
        let result = serde_json::to_value(result)?;
        let mut found = Found {
            by_service: vec![0; services.len()],
            ..Found::default()
        };
        for bucket in result["by_service"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let n = bucket["doc_count"].as_u64().unwrap_or(0);
            found.count += n;
            if let Some(i) = services.iter().position(|s| bucket["key"] == s.as_str()) {
                found.by_service[i] += n;
            }
        }
        Ok(found)
    }

    /// Every match of `query` whose stored line holds `literal` (the
    /// line filter's own, case-sensitive semantics), by service.
    fn verified(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        literal: &str,
        services: &[String],
    ) -> Result<Found> {
        let mut addresses: Vec<DocAddress> = searcher
            .search(query, &DocSetCollector)?
            .into_iter()
            .collect();
        addresses.sort_unstable();
        let finder = memmem::Finder::new(literal);
        let mut found = Found {
            by_service: vec![0; services.len()],
            candidates: Some(addresses.len() as u64),
            ..Found::default()
        };
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            if finder
                .find(Self::stored(&doc, self.line).as_bytes())
                .is_some()
            {
                found.count += 1;
                let service = Self::stored(&doc, self.service);
                if let Some(i) = services.iter().position(|s| s == service) {
                    found.by_service[i] += 1;
                }
            }
        }
        Ok(found)
    }
}

// --- bloom filters of 4-grams -------------------------------------------------

const MIN_BITS: usize = 1 << 10;
const MAX_BITS: usize = 1 << 22;
const MAX_FILL: f64 = 0.3;

fn probes(gram: u32) -> (usize, usize) {
    let h = u64::from(gram).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = h ^ (h >> 29);
    let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ((h >> 32) as usize, (h & 0xFFFF_FFFF) as usize)
}

fn grams(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .windows(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// The filter of every 4-gram of `lines` (`bytes` long in all): one bit
/// per byte to start with, folded in half while at most 30% would be set.
fn bloom(lines: &[&Line], bytes: usize) -> Vec<u64> {
    let bits = bytes.next_power_of_two().clamp(MIN_BITS, MAX_BITS);
    let mut words = vec![0u64; bits / 64];
    for line in lines {
        for gram in grams(line.text.as_bytes()) {
            let (a, b) = probes(gram);
            let (a, b) = (a & (bits - 1), b & (bits - 1));
            words[a / 64] |= 1 << (a % 64);
            words[b / 64] |= 1 << (b % 64);
        }
    }
    while words.len() * 64 > MIN_BITS {
        let half = words.len() / 2;
        let set: u64 = (0..half)
            .map(|i| u64::from((words[i] | words[half + i]).count_ones()))
            .sum();
        if set as f64 > MAX_FILL * (half * 64) as f64 {
            break;
        }
        for i in 0..half {
            words[i] |= words[half + i];
        }
        words.truncate(half);
    }
    words
}

fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn uvarint(buf: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    while let Some(&b) = buf.get(*at) {
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

struct Chunk {
    service: u16,
    offset: u64,
    len: u32,
    bloom_offset: u64,
    bloom_len: u32,
    max_ts: i64,
}

struct BloomStore {
    file: File,
    chunks: Vec<Chunk>,
    /// Chunks by their newest line, newest first.
    newest_first: Vec<usize>,
}

/// Each stream's chunks into one file, each chunk's payload
/// `lines, zigzag ts deltas, then the lines each ending in \n`.
fn build_bloom(path: &Path, lines: &[Line], data_bytes: u64) -> Result<(BloomStore, Value)> {
    let clock = Clock::start();
    let mut streams: BTreeMap<(u16, u16), Vec<&Line>> = BTreeMap::new();
    for line in lines {
        streams
            .entry((line.file, line.service))
            .or_default()
            .push(line);
    }
    let mut out = Vec::with_capacity(lines.len() * 40);
    let (mut chunks, mut filter_bytes) = (Vec::new(), 0u64);
    let mut payload = Vec::new();
    for ((_, service), entries) in &streams {
        let mut from = 0;
        while from < entries.len() {
            let (mut to, mut raw) = (from, 0);
            while to < entries.len() && (raw < CHUNK_BYTES || to == from) {
                raw += entries[to].text.len();
                to += 1;
            }
            let part = &entries[from..to];
            payload.clear();
            put_uvarint(&mut payload, part.len() as u64);
            let mut prev = part[0].ts;
            put_uvarint(&mut payload, prev as u64);
            for e in &part[1..] {
                let d = e.ts - prev;
                put_uvarint(&mut payload, ((d << 1) ^ (d >> 63)) as u64);
                prev = e.ts;
            }
            for e in part {
                payload.extend_from_slice(e.text.as_bytes());
                payload.push(b'\n');
            }
            let compressed = snap::raw::Encoder::new().compress_vec(&payload)?;
            let offset = out.len() as u64;
            out.extend_from_slice(&compressed);
            let words = bloom(part, raw);
            let bloom_offset = out.len() as u64;
            out.extend(words.iter().flat_map(|w| w.to_le_bytes()));
            filter_bytes += words.len() as u64 * 8;
            chunks.push(Chunk {
                service: *service,
                offset,
                len: compressed.len() as u32,
                bloom_offset,
                bloom_len: (words.len() * 8) as u32,
                max_ts: part[part.len() - 1].ts,
            });
            from = to;
        }
    }
    std::fs::write(path, &out)?;
    let file = File::open(path)?;
    file.sync_all()?;
    let (wall, cpu) = clock.stop();
    let mut newest_first: Vec<usize> = (0..chunks.len()).collect();
    newest_first.sort_by_key(|&i| Reverse(chunks[i].max_ts));
    let mut doc = build_json(wall, cpu, out.len() as u64, data_bytes);
    doc["chunks"] = json!(chunks.len());
    doc["streams"] = json!(streams.len());
    doc["chunk_bytes"] = json!(out.len() as u64 - filter_bytes);
    doc["filter_bytes"] = json!(filter_bytes);
    Ok((
        BloomStore {
            file,
            chunks,
            newest_first,
        },
        doc,
    ))
}

impl BloomStore {
    /// Whether the chunk may hold `literal`: false only when its filter
    /// rules out one of the literal's grams. Reads only the words the
    /// grams fall in.
    fn may_contain(&self, chunk: &Chunk, literal: &[u8]) -> Result<bool> {
        let mask = chunk.bloom_len as usize * 8 - 1;
        let mut words: Vec<(usize, u64)> = Vec::new();
        for gram in grams(literal) {
            let (a, b) = probes(gram);
            for bit in [a & mask, b & mask] {
                let index = bit / 64;
                let word = match words.iter().find(|(i, _)| *i == index) {
                    Some(&(_, w)) => w,
                    None => {
                        let mut bytes = [0u8; 8];
                        self.file
                            .read_exact_at(&mut bytes, chunk.bloom_offset + index as u64 * 8)?;
                        let w = u64::from_le_bytes(bytes);
                        words.push((index, w));
                        w
                    }
                };
                if word & (1 << (bit % 64)) == 0 {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The chunk decompressed: its timestamps, and its lines.
    fn read(&self, chunk: &Chunk) -> Result<(Vec<i64>, Vec<u8>)> {
        let mut compressed = vec![0u8; chunk.len as usize];
        self.file.read_exact_at(&mut compressed, chunk.offset)?;
        let mut payload = snap::raw::Decoder::new().decompress_vec(&compressed)?;
        let mut at = 0;
        let n = uvarint(&payload, &mut at) as usize;
        let mut ts = Vec::with_capacity(n);
        let mut prev = uvarint(&payload, &mut at) as i64;
        ts.push(prev);
        for _ in 1..n {
            let z = uvarint(&payload, &mut at);
            prev += (z >> 1) as i64 ^ -((z & 1) as i64);
            ts.push(prev);
        }
        payload.drain(..at);
        Ok((ts, payload))
    }

    /// Calls `f(line's index, line)` for each line of `text` holding the
    /// literal.
    fn matches(text: &[u8], finder: &memmem::Finder, mut f: impl FnMut(usize, &[u8])) {
        let (mut pos, mut line_no, mut counted_to) = (0, 0, 0);
        while let Some(i) = finder.find(&text[pos..]) {
            let at = pos + i;
            let start = memchr::memrchr(b'\n', &text[pos..at]).map_or(pos, |j| pos + j + 1);
            let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |j| at + j);
            line_no += memchr::memchr_iter(b'\n', &text[counted_to..start]).count();
            counted_to = start;
            f(line_no, &text[start..end]);
            pos = end + 1;
            if pos >= text.len() {
                break;
            }
        }
    }

    /// Every line holding `literal`, by service.
    fn scan(&self, literal: &str, services: usize) -> Result<Found> {
        let finder = memmem::Finder::new(literal);
        let mut found = Found {
            by_service: vec![0; services],
            ..Found::default()
        };
        for chunk in &self.chunks {
            if !self.may_contain(chunk, literal.as_bytes())? {
                continue;
            }
            found.chunks_read += 1;
            let (_, text) = self.read(chunk)?;
            let mut n = 0;
            // counting only: no line numbers needed
            let mut pos = 0;
            while let Some(i) = finder.find(&text[pos..]) {
                n += 1;
                pos =
                    memchr::memchr(b'\n', &text[pos + i..]).map_or(text.len(), |j| pos + i + j + 1);
                if pos >= text.len() {
                    break;
                }
            }
            found.count += n;
            found.by_service[usize::from(chunk.service)] += n;
        }
        Ok(found)
    }

    /// The newest `LIMIT` lines holding `literal`, copied out: chunks
    /// newest first, until the next chunk's newest line is older than the
    /// oldest kept.
    fn newest(&self, literal: &str) -> Result<Found> {
        let finder = memmem::Finder::new(literal);
        let mut kept: BinaryHeap<Reverse<(i64, Vec<u8>)>> = BinaryHeap::with_capacity(LIMIT + 1);
        let mut found = Found::default();
        for &i in &self.newest_first {
            let chunk = &self.chunks[i];
            if kept.len() == LIMIT && kept.peek().is_some_and(|o| chunk.max_ts < o.0.0) {
                break;
            }
            if !self.may_contain(chunk, literal.as_bytes())? {
                continue;
            }
            found.chunks_read += 1;
            let (ts, text) = self.read(chunk)?;
            Self::matches(&text, &finder, |n, line| {
                let t = ts.get(n).copied().unwrap_or(i64::MIN);
                if kept.len() < LIMIT {
                    kept.push(Reverse((t, line.to_vec())));
                } else if kept.peek().is_some_and(|o| t > o.0.0) {
                    kept.pop();
                    kept.push(Reverse((t, line.to_vec())));
                }
            });
        }
        found.count = kept.len() as u64;
        found.oldest_ts = kept.peek().map(|o| o.0.0);
        Ok(found)
    }
}

// --- the run --------------------------------------------------------------------

/// One query's row: what tantivy and the bloom filters found against a
/// plain scan. `exact`: the results must equal the scan's.
struct Row {
    name: String,
    label: String,
    tantivy: Option<(f64, Found, bool)>,
    bloom: Option<(f64, Found)>,
    expected: Found,
    note: String,
}

fn found_json(seconds: f64, f: &Found, services: &[String]) -> Value {
    let mut v = json!({"seconds": seconds, "results": f.count});
    if !f.by_service.is_empty() {
        v["by_service"] = Value::Object(
            services
                .iter()
                .cloned()
                .zip(f.by_service.iter().map(|&n| json!(n)))
                .collect(),
        );
    }
    if let Some(ts) = f.oldest_ts {
        v["oldest_ts_ns"] = json!(ts);
    }
    if let Some(c) = f.candidates {
        v["candidates"] = json!(c);
    }
    v
}

fn run(args: &Args) -> Result<bool> {
    let manifest: Value = serde_json::from_slice(&std::fs::read(args.data.join("manifest.json"))?)
        .map_err(|e| format!("{}/manifest.json: {e}", args.data.display()))?;
    let needle = manifest["needle"]
        .as_str()
        .ok_or("the manifest has no needle")?;
    let names: Vec<&str> = manifest["files"]
        .as_array()
        .ok_or("the manifest has no files")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let texts = names
        .iter()
        .map(|n| {
            let path = args.data.join(n);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect::<std::result::Result<Vec<String>, String>>()?;
    let data_bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();

    let mut services: Vec<String> = Vec::new();
    let mut service_of: HashMap<&str, u16> = HashMap::new();
    let mut lines = Vec::new();
    for (file, text) in texts.iter().enumerate() {
        let n = text.lines().count().max(1) as i128;
        for (i, raw) in text.lines().enumerate() {
            let (service, line) = match (raw.get(..PREFIX - 2), raw.get(PREFIX - 2..PREFIX)) {
                (Some(s), Some("| ")) => (s.trim_end(), &raw[PREFIX..]),
                _ => ("unknown", raw),
            };
            let s = *service_of.entry(service).or_insert_with(|| {
                services.push(service.to_owned());
                (services.len() - 1) as u16
            });
            lines.push(Line {
                file: file as u16,
                service: s,
                ts: END_NS - SPAN_NS + (i as i128 * i128::from(SPAN_NS) / n) as i64,
                text: line,
            });
        }
    }
    let ns = services.len();
    eprintln!(
        "index: {} lines, {data_bytes} bytes in {} files",
        lines.len(),
        texts.len()
    );

    let (work, temporary) = match &args.work {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("steward-bench-logs-index.{}", std::process::id())),
            true,
        ),
    };
    for sub in ["tantivy", "ngram", "bloom"] {
        let _ = std::fs::remove_dir_all(work.join(sub));
    }
    std::fs::create_dir_all(work.join("bloom"))?;
    let result = measure(args, &work, &lines, &services, needle, data_bytes, ns);
    if !args.keep {
        for sub in ["tantivy", "ngram", "bloom"] {
            let _ = std::fs::remove_dir_all(work.join(sub));
        }
        if temporary {
            let _ = std::fs::remove_dir(&work);
        }
    }
    let (mut doc, rows) = result?;
    doc["dataset"] = json!({
        "dir": args.data.display().to_string(),
        "bytes": data_bytes,
        "lines": lines.len(),
        "files": texts.len(),
        "services": services,
    });

    let mut wrong = Vec::new();
    let mut queries = Vec::new();
    for row in &rows {
        let mut q = json!({
            "name": row.name,
            "label": row.label,
            "expected": found_json(0.0, &row.expected, &services),
            "note": row.note,
        });
        if let Some(o) = q["expected"].as_object_mut() {
            o.remove("seconds");
        }
        let check = |who: &str, f: &Found, wrong: &mut Vec<String>| {
            if f.count != row.expected.count
                || (!row.expected.by_service.is_empty() && f.by_service != row.expected.by_service)
                || (row.expected.oldest_ts.is_some() && f.oldest_ts != row.expected.oldest_ts)
            {
                wrong.push(format!(
                    "{}: {who} found {}, a scan {}",
                    row.name, f.count, row.expected.count
                ));
            }
        };
        if let Some((s, f, exact)) = &row.tantivy {
            q["tantivy"] = found_json(*s, f, &services);
            q["tantivy"]["exact"] = json!(exact);
            if *exact {
                check("tantivy", f, &mut wrong);
            }
        }
        if let Some((s, f)) = &row.bloom {
            q["bloom"] = found_json(*s, f, &services);
            q["bloom"]["chunks_read"] = json!(f.chunks_read);
            check("bloom", f, &mut wrong);
        }
        queries.push(q);
    }
    doc["queries"] = json!(queries);
    doc["counts_wrong"] = json!(wrong);
    for w in &wrong {
        eprintln!("index: wrong count: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&doc)?);
    } else {
        println!("{}", table(&doc));
    }
    Ok(!wrong.is_empty())
}

fn measure(
    args: &Args,
    work: &Path,
    lines: &[Line],
    services: &[String],
    needle: &str,
    data_bytes: u64,
    ns: usize,
) -> Result<(Value, Vec<Row>)> {
    eprintln!("index: building the tantivy index");
    let (tantivy, tantivy_doc) = build_tantivy(
        &work.join("tantivy"),
        lines,
        services,
        false,
        None,
        data_bytes,
    )?;
    let tantivy = tantivy.expect("no budget, always built");
    eprintln!("index: building the bloom filters");
    let (bloom, bloom_doc) = build_bloom(&work.join("bloom/store"), lines, data_bytes)?;
    let total_chunks = bloom.chunks.len();
    let mut doc = json!({
        "tantivy": {"version": tantivy::version_string(), "build": tantivy_doc},
        "bloom": {"chunk_target_bytes": CHUNK_BYTES, "build": bloom_doc, "chunks": total_chunks},
    });

    eprintln!("index: queries");
    let searcher = tantivy.searcher()?;
    doc["tantivy"]["space"] = Tantivy::space(&searcher)?;
    let mut rows = Vec::new();
    let row = |name: &str, label: String, expected: Found| Row {
        name: name.to_owned(),
        label,
        tantivy: None,
        bloom: None,
        expected,
        note: String::new(),
    };

    // the rare needle: every line
    let mut r = row(
        "rare",
        format!("rare needle |= {needle:?}, every line"),
        scan(lines, ns, needle),
    );
    let q = tantivy.word_query(needle)?;
    let (s, f) = best_of_3(|| tantivy.verified(&searcher, q.as_ref(), needle, services))?;
    r.tantivy = Some((s, f, true));
    r.bloom = Some(best_of_3(|| bloom.scan(needle, ns))?);
    r.note = "tantivy: the phrase of its words, stored lines fetched and checked".into();
    rows.push(r);

    // the common word: the newest lines, and counted
    let mut r = row(
        "common",
        format!("common word |= \"cache\", newest {LIMIT} lines"),
        scan_newest(lines, "cache"),
    );
    let q = tantivy.word_query("cache")?;
    let (s, f) = best_of_3(|| tantivy.newest(&searcher, q.as_ref(), "cache"))?;
    r.tantivy = Some((s, f, true));
    r.bloom = Some(best_of_3(|| bloom.newest("cache"))?);
    r.note = "tantivy: top 10,000 by the ts fast field, stored lines fetched and checked".into();
    rows.push(r);

    let mut expected = scan(lines, ns, "cache");
    expected.by_service.clear();
    let mut r = row(
        "common_count",
        "common word \"cache\" counted".into(),
        expected,
    );
    let (s, f) = best_of_3(|| tantivy.count(&searcher, q.as_ref()))?;
    r.tantivy = Some((s, f, true));
    r.bloom = Some(best_of_3(|| {
        bloom.scan("cache", ns).map(|mut f| {
            f.by_service.clear();
            f
        })
    })?);
    r.note = "tantivy: the term's document count (word semantics)".into();
    rows.push(r);

    // "error" by service
    let q = tantivy.word_query("error")?;
    let mut r = row(
        "errors_word",
        "\"error\" by service, as a word (case folded)".into(),
        scan(lines, ns, "error"),
    );
    let (s, f) = best_of_3(|| tantivy.count_by_service(&searcher, q.as_ref(), services))?;
    r.tantivy = Some((s, f, false));
    r.note = "tantivy: a terms aggregation on service over the word; lowercased, it also \
              counts ERROR, which |= \"error\" does not"
        .into();
    rows.push(r);
    let mut r = row(
        "errors",
        "\"error\" by service (|= semantics)".into(),
        scan(lines, ns, "error"),
    );
    let (s, f) = best_of_3(|| tantivy.verified(&searcher, q.as_ref(), "error", services))?;
    r.tantivy = Some((s, f, true));
    r.bloom = Some(best_of_3(|| bloom.scan("error", ns))?);
    r.note =
        "tantivy: the word's matches, stored lines fetched and checked (case-sensitive)".into();
    rows.push(r);

    // substrings that are not words
    for sub in SUBSTRINGS {
        let mut expected = scan(lines, ns, sub);
        expected.by_service.clear();
        let mut r = row(
            &format!("substring_word_{sub}"),
            format!("substring |= {sub:?}, word index term"),
            expected.clone(),
        );
        let q = tantivy.word_query(sub)?;
        let (s, f) = best_of_3(|| tantivy.count(&searcher, q.as_ref()))?;
        r.tantivy = Some((s, f, false));
        r.bloom = Some(best_of_3(|| {
            bloom.scan(sub, ns).map(|mut f| {
                f.by_service.clear();
                f
            })
        })?);
        r.note = "tantivy: not a word of any line, so the word index finds nothing".into();
        rows.push(r);
        if let Some(q) = tantivy.regex_query(sub)? {
            let mut r = row(
                &format!("substring_regex_{sub}"),
                format!("substring |= {sub:?}, regex over the terms"),
                expected,
            );
            let (s, f) = best_of_3(|| tantivy.count(&searcher, q.as_ref()))?;
            r.tantivy = Some((s, f, true));
            r.note = format!(
                "tantivy: RegexQuery .*{sub}.* walks the whole term dictionary (parts of one \
                 word only; case folded)"
            );
            rows.push(r);
        }
    }
    drop(searcher);

    if args.ngram {
        eprintln!(
            "index: building the ngram(4,4) index (at most {} s)",
            args.ngram_budget
        );
        let (ngram, ngram_doc) = build_tantivy(
            &work.join("ngram"),
            lines,
            services,
            true,
            Some(args.ngram_budget),
            data_bytes,
        )?;
        doc["ngram"] = json!({"build": ngram_doc});
        if let Some(ngram) = ngram {
            let searcher = ngram.searcher()?;
            doc["ngram"]["space"] = Tantivy::space(&searcher)?;
            for literal in std::iter::once(needle).chain(SUBSTRINGS) {
                let Some(q) = ngram.gram_query(literal) else {
                    continue;
                };
                let mut expected = scan(lines, ns, literal);
                expected.by_service.clear();
                let mut r = row(
                    &format!("ngram_{literal}"),
                    format!("|= {literal:?}, ngram index"),
                    expected,
                );
                let (s, mut f) =
                    best_of_3(|| ngram.verified(&searcher, q.as_ref(), literal, services))?;
                f.by_service.clear();
                r.tantivy = Some((s, f, true));
                r.note = "tantivy ngram(4,4): every gram of the literal (AND), stored lines \
                          fetched and checked"
                    .into();
                rows.push(r);
            }
        }
    } else {
        doc["ngram"] = json!({"build": null});
    }
    Ok((doc, rows))
}

// --- the table ------------------------------------------------------------------

/// A count with thousands separated: 38,308.
fn thousands(v: &Value) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(doc: &Value) -> String {
    let d = &doc["dataset"];
    let mb = |v: &Value| v.as_f64().unwrap_or(0.0) / 1e6;
    let mut out = vec![
        format!(
            "Dataset: {:.0} MB, {} lines in {} files ({}); {}",
            mb(&d["bytes"]),
            thousands(&d["lines"]),
            d["files"],
            d["dir"].as_str().unwrap_or(""),
            doc["tantivy"]["version"].as_str().unwrap_or("")
        ),
        String::new(),
        "| build | wall s | CPU s | MB/s | on disk MB | vs data | segments / chunks |".into(),
        "|---|---:|---:|---:|---:|---:|---:|".into(),
    ];
    // the rate only for what reads the lines (not for merges)
    let build_row = |name: &str, b: &Value, parts: String, rate: bool| {
        format!(
            "| {name} | {:.2} | {:.2} | {} | {:.1} | {:.2}x | {parts} |",
            b["wall_seconds"].as_f64().unwrap_or(0.0),
            b["cpu_seconds"].as_f64().unwrap_or(0.0),
            if rate {
                format!("{:.1}", b["mb_per_s"].as_f64().unwrap_or(0.0))
            } else {
                "-".into()
            },
            mb(&b["bytes"]),
            b["vs_data"].as_f64().unwrap_or(0.0),
        )
    };
    let tantivy_rows = |out: &mut Vec<String>, what: &str, t: &Value| {
        out.push(build_row(
            &format!(
                "{what}: index, commit ({} threads, {} MB budget)",
                t["threads"],
                t["memory_budget_bytes"].as_u64().unwrap_or(0) >> 20
            ),
            &t["commit"],
            t["commit"]["segments"].to_string(),
            true,
        ));
        out.push(build_row(
            &format!("{what}: the merge policy's merges"),
            &t["merge_policy"],
            t["merge_policy"]["segments"].to_string(),
            false,
        ));
        out.push(build_row(
            &format!("{what}: merged into one segment"),
            &t["one_segment"],
            t["one_segment"]["segments"].to_string(),
            false,
        ));
    };
    tantivy_rows(&mut out, "tantivy", &doc["tantivy"]["build"]);
    let b = &doc["bloom"]["build"];
    out.push(build_row(
        &format!(
            "bloom: snappy chunks {:.1} MB + 4-gram filters {:.1} MB",
            mb(&b["chunk_bytes"]),
            mb(&b["filter_bytes"])
        ),
        b,
        b["chunks"].to_string(),
        true,
    ));
    let n = &doc["ngram"]["build"];
    if n["finished"] == true {
        tantivy_rows(&mut out, "tantivy ngram(4,4)", n);
    } else if n["finished"] == false {
        out.push(format!(
            "| tantivy ngram(4,4): given up after {:.0} s ({:.0} CPU s), {} of {} lines indexed | | | | | | |",
            n["gave_up_after_seconds"].as_f64().unwrap_or(0.0),
            n["cpu_seconds"].as_f64().unwrap_or(0.0),
            n["lines_indexed"],
            n["lines"]
        ));
    }
    out.push(String::new());
    for (what, space) in [
        ("tantivy", &doc["tantivy"]["space"]),
        ("tantivy ngram(4,4)", &doc["ngram"]["space"]),
    ] {
        if space.is_object() {
            out.push(format!(
                "{what}, one segment, MB: stored lines {:.1}, postings {:.1}, positions {:.1}, \
                 terms {:.1}, fast fields {:.1}, field norms {:.1}",
                mb(&space["store"]),
                mb(&space["postings"]),
                mb(&space["positions"]),
                mb(&space["terms"]),
                mb(&space["fast_fields"]),
                mb(&space["fieldnorms"])
            ));
        }
    }
    out.push(String::new());
    out.push(
        "| query (best of 3, warm, one thread) | tantivy ms | tantivy results | bloom ms | bloom results | bloom chunks read | scan |"
            .into(),
    );
    out.push("|---|---:|---:|---:|---:|---:|---:|".into());
    let total = doc["bloom"]["chunks"].as_u64().unwrap_or(0);
    for q in doc["queries"].as_array().into_iter().flatten() {
        let (ts, tr) = match q.get("tantivy") {
            Some(t) => (
                format!("{:.3}", t["seconds"].as_f64().unwrap_or(0.0) * 1e3),
                format!(
                    "{}{}{}",
                    thousands(&t["results"]),
                    match t.get("candidates") {
                        Some(c) if *c != t["results"] => {
                            format!(" of {} candidates", thousands(c))
                        }
                        _ => String::new(),
                    },
                    if t["exact"] == false && t["results"] != q["expected"]["results"] {
                        " (differs)"
                    } else {
                        ""
                    }
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        let (bs, br, bc) = match q.get("bloom") {
            Some(b) => (
                format!("{:.3}", b["seconds"].as_f64().unwrap_or(0.0) * 1e3),
                thousands(&b["results"]),
                format!("{} / {total}", b["chunks_read"]),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        out.push(format!(
            "| {} | {ts} | {tr} | {bs} | {br} | {bc} | {} |",
            q["label"].as_str().unwrap_or("").replace('|', "\\|"),
            thousands(&q["expected"]["results"])
        ));
    }
    out.push(String::new());
    for q in doc["queries"].as_array().into_iter().flatten() {
        out.push(format!(
            "- {}: {}",
            q["label"].as_str().unwrap_or(""),
            q["note"].as_str().unwrap_or("")
        ));
    }
    out.join("\n")
}
