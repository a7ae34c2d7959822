//! The log benchmark's client (scripts/bench/logs.sh), two modes over the
//! same batches of the dataset (files of `<service> | <line>` lines, one
//! per host, from scripts/bench/logs/generate.py):
//!
//! - `push`: each batch as a snappy-compressed `logproto.PushRequest` to
//!   Loki's push API, one stream per service in it labelled
//!   `{host="<file's name>", service="<service>"}`, the line what follows
//!   the prefix. The bodies are all encoded before the clock starts, so
//!   the client only sends during the measurement. A 429 is retried after
//!   250 ms (and counted).
//! - `append`: each batch's bytes, as they are in the file, appended to a
//!   file with `write` and then `fdatasync` (or not, `--no-sync`): one file
//!   per connection, or one shared file (`--shared`, opened with
//!   `O_APPEND`).
//!
//! In both, the files are cut into batches of about `--batch-bytes` at line
//! ends, file i goes to connection i mod N, and each connection sends its
//! batches one after another. A line's timestamp is spread over the
//! `--span-secs` before `--end-ns` by its place in its file, so every
//! stream is pushed in time order.
//!
//! Prints one JSON object: bytes and lines of the dataset, seconds, rates,
//! request latency, retries, the client's CPU and the server's (`--pid`).

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    sync::{Arc, Barrier, Mutex},
    time::{Duration, Instant},
};

const PREFIX: usize = 14; // "<service, 12 columns>| "

struct Args {
    mode: String,
    url: String,
    token: String,
    connections: usize,
    batch_bytes: usize,
    span_secs: i64,
    end_ns: i64,
    dir: PathBuf,
    sync: bool,
    shared: bool,
    pid: Option<u32>,
    files: Vec<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: pusher push --url URL --token-file F [--connections N] [--batch-bytes B] [--span-secs S] [--end-ns NS] [--pid P] FILES...\n       pusher append --dir D [--connections N] [--batch-bytes B] [--no-sync] [--shared] FILES..."
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    if mode != "push" && mode != "append" {
        usage();
    }
    let mut args = Args {
        mode,
        url: String::new(),
        token: String::new(),
        connections: 8,
        batch_bytes: 1 << 20,
        span_secs: 3000,
        end_ns: now_ns(),
        dir: PathBuf::from("."),
        sync: true,
        shared: false,
        pid: None,
        files: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--url" => args.url = value(),
            "--token-file" => {
                args.token = std::fs::read_to_string(value())
                    .expect("the token file")
                    .trim()
                    .to_owned();
            }
            "--connections" => args.connections = value().parse().unwrap_or_else(|_| usage()),
            "--batch-bytes" => args.batch_bytes = value().parse().unwrap_or_else(|_| usage()),
            "--span-secs" => args.span_secs = value().parse().unwrap_or_else(|_| usage()),
            "--end-ns" => args.end_ns = value().parse().unwrap_or_else(|_| usage()),
            "--pid" => args.pid = Some(value().parse().unwrap_or_else(|_| usage())),
            "--dir" => args.dir = PathBuf::from(value()),
            "--no-sync" => args.sync = false,
            "--shared" => args.shared = true,
            s if s.starts_with("--") => usage(),
            _ => args.files.push(PathBuf::from(arg)),
        }
    }
    if args.files.is_empty() || args.connections == 0 {
        usage();
    }
    args
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// A file's contents and where its batches end.
struct Data {
    host: String,
    bytes: Vec<u8>,
    lines: usize,
    /// `(start, end, first line's index)` of each batch.
    batches: Vec<(usize, usize, usize)>,
}

fn load(path: &Path, batch_bytes: usize) -> Data {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let host = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let mut batches = Vec::new();
    let (mut start, mut lines, mut first) = (0, 0, 0);
    let mut pos = 0;
    while pos < bytes.len() {
        let end = memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i + 1);
        lines += 1;
        pos = end;
        if pos - start >= batch_bytes || pos == bytes.len() {
            batches.push((start, pos, first));
            start = pos;
            first = lines;
        }
    }
    Data {
        host,
        bytes,
        lines,
        batches,
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One batch as a snappy-compressed `logproto.PushRequest`, and its lines.
fn encode(
    data: &Data,
    batch: (usize, usize, usize),
    end_ns: i64,
    span_ns: i64,
) -> (Vec<u8>, usize) {
    let (start, end, first) = batch;
    // streams in order of first appearance: (service, entries)
    let mut streams: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut index = first;
    let mut lines = 0;
    let mut entry = Vec::with_capacity(512);
    let mut ts = Vec::with_capacity(16);
    for line in data.bytes[start..end].split(|&c| c == b'\n') {
        if line.is_empty() {
            continue;
        }
        let (service, text) = if line.len() >= PREFIX && &line[PREFIX - 2..PREFIX] == b"| " {
            (trim_end(&line[..PREFIX - 2]), &line[PREFIX..])
        } else {
            (&b"unknown"[..], line)
        };
        let t =
            end_ns - span_ns + (index as i128 * span_ns as i128 / data.lines.max(1) as i128) as i64;
        index += 1;
        lines += 1;
        ts.clear();
        varint(&mut ts, 1 << 3);
        varint(&mut ts, t.div_euclid(1_000_000_000) as u64);
        varint(&mut ts, 2 << 3);
        varint(&mut ts, t.rem_euclid(1_000_000_000) as u64);
        entry.clear();
        field_bytes(&mut entry, 1, &ts);
        field_bytes(&mut entry, 2, text);
        let at = match streams.iter().position(|(s, _)| *s == service) {
            Some(at) => at,
            None => {
                streams.push((service, Vec::with_capacity(end - start)));
                streams.len() - 1
            }
        };
        field_bytes(&mut streams[at].1, 2, &entry);
    }
    let mut request = Vec::with_capacity(end - start + 1024);
    let mut stream = Vec::new();
    for (service, entries) in &streams {
        stream.clear();
        let labels = format!(
            "{{host=\"{}\", service=\"{}\"}}",
            data.host,
            String::from_utf8_lossy(service)
        );
        field_bytes(&mut stream, 1, labels.as_bytes());
        stream.extend_from_slice(entries);
        field_bytes(&mut request, 1, &stream);
    }
    let body = snap::raw::Encoder::new()
        .compress_vec(&request)
        .expect("snappy");
    (body, lines)
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut n = s.len();
    while n > 0 && s[n - 1] == b' ' {
        n -= 1;
    }
    &s[..n]
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, s)| s);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // after the command: state is field 3, utime 14 and stime 15 (1-based)
    (ticks(11) + ticks(12)) / 100.0
}

struct Conn {
    addr: String,
    host: String,
    path: String,
    stream: Option<(TcpStream, BufReader<TcpStream>)>,
}

impl Conn {
    fn new(url: &str) -> Conn {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Conn {
            addr: addr.to_owned(),
            host: addr.to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
            stream: None,
        }
    }

    /// POSTs `body`; the status and `Retry-After`.
    fn post(&mut self, token: &str, body: &[u8]) -> std::io::Result<u16> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            let r = BufReader::with_capacity(64 << 10, s.try_clone()?);
            self.stream = Some((s, r));
        }
        let (stream, reader) = self.stream.as_mut().unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.host,
            token,
            body.len()
        );
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(body);
        stream.write_all(&request)?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let (mut length, mut chunked, mut close) = (0usize, false, false);
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            let (name, value) = (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value == "close",
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        if status != 204 && status != 429 {
            eprintln!("pusher: {status}: {}", String::from_utf8_lossy(&body));
        }
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args = parse_args();
    let data: Vec<Arc<Data>> = args
        .files
        .iter()
        .map(|p| Arc::new(load(p, args.batch_bytes)))
        .collect();
    let total_bytes: usize = data.iter().map(|d| d.bytes.len()).sum();
    let total_lines: usize = data.iter().map(|d| d.lines).sum();
    let n = args.connections;
    // each connection's files, in order
    let plan: Vec<Vec<Arc<Data>>> = (0..n)
        .map(|k| data.iter().skip(k).step_by(n).cloned().collect())
        .collect();
    let batches: usize = data.iter().map(|d| d.batches.len()).sum();

    let mut out = serde_like::Obj::default();
    out.str("mode", &args.mode);
    out.num("connections", n as f64);
    out.num("batch_bytes", args.batch_bytes as f64);
    out.num("bytes", total_bytes as f64);
    out.num("lines", total_lines as f64);
    out.num("batches", batches as f64);
    let me = std::process::id().to_string();

    if args.mode == "push" {
        let span_ns = args.span_secs * 1_000_000_000;
        let encode_started = Instant::now();
        // the bodies of each connection, encoded on every core
        let bodies: Vec<Vec<(Vec<u8>, usize)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .iter()
                .map(|files| {
                    scope.spawn(move || {
                        files
                            .iter()
                            .flat_map(|d| d.batches.iter().map(move |b| (d, *b)))
                            .map(|(d, b)| encode(d, b, args.end_ns, span_ns))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        out.num("encode_seconds", encode_started.elapsed().as_secs_f64());
        let compressed: usize = bodies.iter().flatten().map(|(b, _)| b.len()).sum();
        out.num("body_bytes", compressed as f64);
        let barrier = Barrier::new(n + 1);
        let latencies = Mutex::new(Vec::with_capacity(batches));
        let retries = Mutex::new(0u64);
        let cpu0 = cpu_seconds(&me);
        let server0 = args.pid.map(|p| cpu_seconds(&p.to_string()));
        let mut started = Instant::now();
        std::thread::scope(|scope| {
            for bodies in &bodies {
                let (barrier, latencies, retries, url, token) =
                    (&barrier, &latencies, &retries, &args.url, &args.token);
                scope.spawn(move || {
                    let mut conn = Conn::new(url);
                    let mut mine = Vec::with_capacity(bodies.len());
                    let mut tries = 0;
                    barrier.wait();
                    for (body, _) in bodies {
                        loop {
                            let t = Instant::now();
                            let status = conn.post(token, body).unwrap_or_else(|e| {
                                eprintln!("pusher: {e}");
                                std::process::exit(1)
                            });
                            match status {
                                204 => {
                                    mine.push(t.elapsed().as_secs_f64() * 1000.0);
                                    break;
                                }
                                429 => {
                                    tries += 1;
                                    std::thread::sleep(Duration::from_millis(250));
                                }
                                _ => std::process::exit(1),
                            }
                        }
                    }
                    latencies.lock().unwrap().extend(mine);
                    *retries.lock().unwrap() += tries;
                });
            }
            barrier.wait();
            started = Instant::now();
        });
        let seconds = started.elapsed().as_secs_f64();
        let mut lat = latencies.into_inner().unwrap();
        lat.sort_by(f64::total_cmp);
        out.num("seconds", seconds);
        out.num("mb_per_s", total_bytes as f64 / 1e6 / seconds);
        out.num("lines_per_s", total_lines as f64 / seconds);
        out.num("retries_429", *retries.lock().unwrap() as f64);
        out.num("latency_p50_ms", percentile(&lat, 0.5));
        out.num("latency_p99_ms", percentile(&lat, 0.99));
        out.num("client_cpu_seconds", cpu_seconds(&me) - cpu0);
        if let (Some(p), Some(s0)) = (args.pid, server0) {
            out.num("server_cpu_seconds", cpu_seconds(&p.to_string()) - s0);
        }
        out.int("end_ns", args.end_ns);
        out.num("span_secs", args.span_secs as f64);
    } else {
        std::fs::create_dir_all(&args.dir).expect("the append directory");
        let shared = args.shared.then(|| {
            Arc::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(args.dir.join("append-shared.log"))
                    .expect("the shared append file"),
            )
        });
        let files: Vec<Arc<File>> = (0..n)
            .map(|k| match &shared {
                Some(f) => f.clone(),
                None => Arc::new(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(args.dir.join(format!("append-{k}.log")))
                        .expect("an append file"),
                ),
            })
            .collect();
        let barrier = Barrier::new(n + 1);
        let latencies = Mutex::new(Vec::with_capacity(batches));
        let cpu0 = cpu_seconds(&me);
        let mut started = Instant::now();
        std::thread::scope(|scope| {
            for (k, files_of) in plan.iter().enumerate() {
                let (barrier, latencies, file, sync) = (&barrier, &latencies, &files[k], args.sync);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    let mut f: &File = file;
                    barrier.wait();
                    for d in files_of {
                        for &(start, end, _) in &d.batches {
                            let t = Instant::now();
                            f.write_all(&d.bytes[start..end]).expect("append");
                            if sync {
                                f.sync_data().expect("fdatasync");
                            }
                            mine.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                    latencies.lock().unwrap().extend(mine);
                });
            }
            barrier.wait();
            started = Instant::now();
        });
        let seconds = started.elapsed().as_secs_f64();
        let mut lat = latencies.into_inner().unwrap();
        lat.sort_by(f64::total_cmp);
        out.str(
            "files",
            if args.shared {
                "shared"
            } else {
                "per-connection"
            },
        );
        out.str("sync", if args.sync { "fdatasync" } else { "none" });
        out.num("seconds", seconds);
        out.num("mb_per_s", total_bytes as f64 / 1e6 / seconds);
        out.num("lines_per_s", total_lines as f64 / seconds);
        out.num("latency_p50_ms", percentile(&lat, 0.5));
        out.num("latency_p99_ms", percentile(&lat, 0.99));
        out.num("client_cpu_seconds", cpu_seconds(&me) - cpu0);
    }
    println!("{}", out.finish());
}

/// Just enough JSON for one flat object.
mod serde_like {
    #[derive(Default)]
    pub struct Obj(Vec<String>);

    impl Obj {
        pub fn str(&mut self, k: &str, v: &str) {
            self.0.push(format!(
                "\"{k}\":\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
        pub fn num(&mut self, k: &str, v: f64) {
            if v.fract() == 0.0 && v.abs() < 9e15 {
                self.0.push(format!("\"{k}\":{}", v as i64));
            } else {
                self.0.push(format!("\"{k}\":{v:.6}"));
            }
        }
        pub fn int(&mut self, k: &str, v: i64) {
            self.0.push(format!("\"{k}\":{v}"));
        }
        pub fn finish(self) -> String {
            format!("{{{}}}", self.0.join(","))
        }
    }
}
