#!/usr/bin/env python3
"""Measurements and query comparison for scripts/bench/metrics.sh.

  compare.py watch --pid NAME=PID ... --seconds N --out FILE
      samples each process' resident memory every 5 s and its CPU time at
      the start and the end of N seconds (from /proc), and writes them.
  compare.py report --steward URL --token-file F --prometheus URL
      --exposition URL --queries FILE --watch FILE --data NAME=DIR ...
      --rounds R --out FILE
      picks T, the newest slot of the generated exposition that both stores
      hold, asks both query APIs every query of FILE (instant at T, range
      over [T-2m, T] step 15s), compares the answers (same series, same
      timestamps, values equal within a relative 1e-9), times R more rounds
      of each query on each system (alternating), measures what each store
      holds, and prints a table; exits 1 when an answer differs.
Only the standard library is used.
"""

import argparse
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

REL_TOL = 1e-9
ABS_TOL = 1e-12
RANGE_SECONDS = 120
RANGE_STEP = 15
MAX_REACH_SECONDS = 240


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat (1-based), after the name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watch(args):
    pids = dict(p.split("=", 1) for p in args.pid)
    start = {n: proc_cpu_seconds(p) for n, p in pids.items()}
    rss = {n: [] for n in pids}
    t0 = time.time()
    last_note = t0
    while time.time() - t0 < args.seconds:
        for n, p in pids.items():
            rss[n].append((time.time() - t0, proc_rss_bytes(p)))
        if time.time() - last_note >= 30:
            last_note = time.time()
            now = ", ".join(f"{n} {r[-1][1] / 1048576:.0f} MiB" for n, r in rss.items())
            print(f"bench: {time.time() - t0:.0f}/{args.seconds:.0f} s scraped; resident: {now}",
                  file=sys.stderr, flush=True)
        time.sleep(min(5.0, max(0.0, args.seconds - (time.time() - t0))))
    end = {n: proc_cpu_seconds(p) for n, p in pids.items()}
    out = {
        "start": t0,
        "end": time.time(),
        "seconds": time.time() - t0,
        "cpu_seconds": {n: end[n] - start[n] for n in pids},
        "rss": rss,
    }
    with open(args.out, "w") as f:
        json.dump(out, f)


class Api:
    """One Prometheus-compatible query API on a kept-alive connection."""

    def __init__(self, base, token=None):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, path, params, method="POST"):
        """POST as Grafana sends queries; GET for the endpoints that take
        only GET in Prometheus (label values, status)."""
        body = urllib.parse.urlencode(params)
        for attempt in range(2):
            try:
                if method == "GET":
                    url = self.prefix + path + ("?" + body if body else "")
                    self.conn.request("GET", url, headers=self.headers)
                else:
                    self.conn.request("POST", self.prefix + path, body=body, headers=self.headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
        doc = json.loads(data)
        if doc.get("status") != "success":
            raise RuntimeError(f"{self.prefix}{path} {params}: {resp.status} {doc}")
        return doc["data"]

    def query(self, kind, expr, t):
        if kind == "instant":
            return self.call("/api/v1/query", {"query": expr, "time": t})
        return self.call("/api/v1/query_range", {
            "query": expr, "start": t - RANGE_SECONDS, "end": t, "step": RANGE_STEP})


def read_queries(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, expr = line.split(" ", 1)
            if kind not in ("instant", "range"):
                raise SystemExit(f"{path}: bad line {line!r}: starts with instant or range")
            out.append((kind, expr))
    return out


def close(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= max(ABS_TOL, REL_TOL * max(abs(x), abs(y)))


def key(metric):
    return tuple(sorted(metric.items()))


def diff(a, b):
    """None when the two answers agree, else what differs."""
    if a["resultType"] != b["resultType"]:
        return f"result types {a['resultType']} and {b['resultType']}"
    kind = a["resultType"]
    if kind in ("scalar", "string"):
        ok = a["result"][0] == b["result"][0] and close(a["result"][1], b["result"][1])
        return None if ok else f"{a['result']} vs {b['result']}"
    sa = {key(s["metric"]): s for s in a["result"]}
    sb = {key(s["metric"]): s for s in b["result"]}
    if sa.keys() != sb.keys():
        only_a = [dict(k) for k in sa.keys() - sb.keys()][:3]
        only_b = [dict(k) for k in sb.keys() - sa.keys()][:3]
        return f"series differ: {len(sa)} vs {len(sb)}; only in steward {only_a}; only in prometheus {only_b}"
    for k, s in sa.items():
        t = sb[k]
        pa = [s["value"]] if kind == "vector" else s["values"]
        pb = [t["value"]] if kind == "vector" else t["values"]
        if len(pa) != len(pb):
            return f"{dict(k)}: {len(pa)} vs {len(pb)} points"
        for (ta, va), (tb, vb) in zip(pa, pb):
            if ta != tb or not close(va, vb):
                return f"{dict(k)}: ({ta}, {va}) vs ({tb}, {vb})"
    return None


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def newest_common_slot(apis, slot):
    ts = []
    for api in apis.values():
        data = api.query("instant", "max(timestamp(bench_queue_depth))", time.time())
        if not data["result"]:
            raise SystemExit("a store holds no bench_queue_depth: did the scrapes run?")
        ts.append(float(data["result"][0]["value"][1]))
    # a slot both hold completely: the newest one may still be in a scrape
    return min(ts) - slot


def report(args):
    token = open(args.token_file).read().strip()
    apis = {"steward": Api(args.steward, token), "prometheus": Api(args.prometheus)}
    gen = Api(args.exposition)
    gen.conn.request("GET", "/slot")
    info = json.loads(gen.conn.getresponse().read())
    queries = read_queries(args.queries)
    t = newest_common_slot(apis, info["slot"])
    if t - info["start"] < MAX_REACH_SECONDS:
        raise SystemExit(f"only {t - info['start']:.0f}s of data before T; the queries reach "
                         f"{MAX_REACH_SECONDS}s back: scrape longer (SCRAPE_SECONDS)")
    rows, failures = [], 0
    for kind, expr in queries:
        answers = {n: api.query(kind, expr, t) for n, api in apis.items()}
        d = diff(answers["steward"], answers["prometheus"])
        n = len(answers["prometheus"]["result"]) if isinstance(answers["prometheus"]["result"], list) else 1
        if d:
            failures += 1
        print(f"bench: {'equal    ' if d is None else 'DIFFERENT'} {kind} {expr}" + (f": {d}" if d else ""),
              file=sys.stderr, flush=True)
        rows.append({"kind": kind, "expr": expr, "series": n, "equal": d is None, "difference": d})
    # latency: alternate the systems so neither always runs on a warmer cache
    lat = {n: [] for n in apis}
    for r in range(args.rounds):
        for row in rows:
            for n in (("steward", "prometheus") if r % 2 == 0 else ("prometheus", "steward")):
                t0 = time.perf_counter()
                apis[n].query(row["kind"], row["expr"], t)
                ms = (time.perf_counter() - t0) * 1000
                lat[n].append(ms)
                row.setdefault("ms", {}).setdefault(n, []).append(ms)
    w = json.load(open(args.watch))
    data_dirs = dict(d.split("=", 1) for d in args.data)
    systems = {}
    span = int(t - info["start"]) + 60
    for n, api in apis.items():
        samples = count_samples(api, lambda name: name.startswith("bench_"), f"{span}s", t + info["slot"])
        # every sample the store took while its CPU time was measured
        window = f"{max(1, int(w['end'] - w['start']))}s"
        all_samples = count_samples(api, lambda name: True, window, w["end"])
        head = head_series(api)
        scrape = api.query("instant", 'avg_over_time(scrape_duration_seconds{job="bench"}[2m])', t)
        last_min = [b for s, b in w["rss"][n] if s >= w["seconds"] - 65]
        rss = statistics.median(last_min) if last_min else 0
        disk = du_bytes(data_dirs[n])
        cpu = w["cpu_seconds"][n]
        systems[n] = {
            "bench_samples": samples,
            "all_samples": all_samples,
            "bench_samples_per_second": samples / max(1.0, t + info["slot"] - info["start"]),
            "cpu_seconds": cpu,
            "samples_per_cpu_second": all_samples / cpu if cpu else None,
            "disk_bytes": disk,
            "bytes_per_sample": disk / all_samples if all_samples else None,
            "head_series": head,
            "rss_bytes": rss,
            "rss_bytes_per_series": rss / head if head else None,
            "scrape_seconds": float(scrape["result"][0]["value"][1]) if scrape["result"] else None,
            "query_ms_median": statistics.median(lat[n]),
            "query_ms_p99": percentile(lat[n], 0.99),
        }
    for row in rows:
        row["ms_median"] = {n: statistics.median(v) for n, v in row.pop("ms").items()}
    out = {"t": t, "exposition": info, "rounds": args.rounds, "queries": rows, "systems": systems,
           "equal": len(rows) - failures, "differing": failures}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print_table(out)
    return 1 if failures else 0


def count_samples(api, wanted, window, at):
    """Samples of the metrics `wanted` accepts in `window` before `at`, one
    name at a time (count_over_time drops the name, so two metrics with the
    same other labels would collide in one query)."""
    names = api.call("/api/v1/label/__name__/values", {}, "GET")
    total = 0.0
    for name in names:
        if wanted(name):
            data = api.query("instant", f"sum(count_over_time({name}[{window}]))", at)
            total += float(data["result"][0]["value"][1]) if data["result"] else 0.0
    return total


def head_series(api):
    data = api.call("/api/v1/status/tsdb", {}, "GET")
    return data["headStats"]["numSeries"]


def print_table(out):
    s, p = out["systems"]["steward"], out["systems"]["prometheus"]
    print(f"\nqueries at T={out['t']:.0f}: {out['equal']} equal, {out['differing']} differing")
    for i, row in enumerate(out["queries"], 1):
        mark = "ok  " if row["equal"] else "DIFF"
        ms = row["ms_median"]
        print(f"  {i:2d} {mark} {row['kind']:7s} {row['series']:6d} series  steward {ms['steward']:8.1f} ms"
              f"  prometheus {ms['prometheus']:8.1f} ms  {row['expr']}")
        if row["difference"]:
            print(f"          {row['difference']}")

    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    lines = [
        ("samples ingested per second (bench target)", "bench_samples_per_second", ",.0f", "higher"),
        ("samples per CPU second (whole process)", "samples_per_cpu_second", ",.0f", "higher"),
        ("CPU seconds during the scrape phase", "cpu_seconds", ".1f", "lower"),
        ("scrape duration of the 117k-series target (s)", "scrape_seconds", ".3f", "lower"),
        ("bytes per sample on disk", "bytes_per_sample", ".2f", "lower"),
        ("head series", "head_series", ",d", ""),
        ("resident memory (MiB, median of last minute)", "rss_mib", ".1f", "lower"),
        ("resident memory per active series (bytes)", "rss_bytes_per_series", ",.0f", "lower"),
        ("query latency median (ms)", "query_ms_median", ".2f", "lower"),
        ("query latency p99 (ms)", "query_ms_p99", ".2f", "lower"),
    ]
    for sys_ in (s, p):
        sys_["rss_mib"] = sys_["rss_bytes"] / 1048576
    print(f"\n{'':48s} {'steward':>14s} {'prometheus':>14s}")
    for label, k, spec, better in lines:
        print(f"{label:48s} {fmt(s.get(k), spec):>14s} {fmt(p.get(k), spec):>14s}  {better}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--pid", action="append", required=True)
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--out", required=True)
    r = sub.add_parser("report")
    for a in ("--steward", "--token-file", "--prometheus", "--exposition", "--queries", "--watch", "--out"):
        r.add_argument(a, required=True)
    r.add_argument("--data", action="append", required=True)
    r.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    sys.exit(watch(args) if args.cmd == "watch" else report(args))


if __name__ == "__main__":
    main()
