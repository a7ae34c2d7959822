#!/usr/bin/env python3
"""A generated Prometheus exposition of 100k+ series for scripts/bench/metrics.sh.

Serves GET /metrics in the text format 0.0.4 with an explicit timestamp on
every sample: the start of the current slot (SLOT seconds long, counted
from START). Values are a function of the series and the slot only, so two
scrapers that honour timestamps and scrape at least once per slot store
exactly the same samples, whatever their scrape offsets: the benchmark can
then ask both the same queries and expect the same answers. Before START
the exposition is empty (a comment), so neither scraper stores a partial
first slot. The exposition of a slot is rendered once, ahead of time, and
served from memory to every scrape of that slot.

GET /slot answers {"start": START, "slot": SLOT, "series": N, "now": slot
index or -1 before START} as JSON.

Families (S services x I instances, defaults 50 x 60):
  bench_http_requests_total{service,instance,method,code}       counter, 4 per pair;
      every 7th series resets to 0 every 20 slots
  bench_http_request_duration_seconds{service,instance,method}  histogram, 2 methods,
      12 buckets + _sum + _count
  bench_queue_depth{service,instance}                            gauge (integers)
  bench_memory_bytes{service,instance}                           gauge (grows, large)
  bench_temperature_celsius{service,instance}                    gauge (fractional)
  bench_tokens_total{service,instance,model}                     counter, 4 models
Only the standard library is used.
"""

import argparse
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
# Share of requests at or below each bucket's bound (cumulative, ends at 1).
SHARES = [0.02, 0.05, 0.12, 0.25, 0.45, 0.7, 0.85, 0.93, 0.97, 0.99, 0.998, 1.0]
METHODS = ["GET", "POST"]
CODES = ["200", "500"]
MODELS = ["model-a", "model-b", "model-c", "model-d"]


def pairs(services, instances):
    for s in range(services):
        for i in range(instances):
            yield s * instances + i, f'service="svc-{s:02d}",instance="i-{i:02d}"'


def render(n, ts_ms, services, instances):
    """The exposition of slot n (n >= 0) stamped ts_ms."""
    out = []
    ts = f" {ts_ms}\n"
    out.append("# HELP bench_http_requests_total Requests served.\n# TYPE bench_http_requests_total counter\n")
    for k, base in pairs(services, instances):
        for m, method in enumerate(METHODS):
            for c, code in enumerate(CODES):
                idx = (k * 4 + m * 2 + c)
                # a distinct rate per series, so sums and topk have no ties
                rate = (1.0 + (idx % 997) * 0.37 + idx * 1e-6) * (0.05 if code == "500" else 1.0)
                slots = n % 20 if idx % 7 == 0 else n
                out.append(f'bench_http_requests_total{{{base},method="{method}",code="{code}"}} {rate * slots * 10.0!r}{ts}')
    out.append("# HELP bench_http_request_duration_seconds Request latency.\n# TYPE bench_http_request_duration_seconds histogram\n")
    for k, base in pairs(services, instances):
        for m, method in enumerate(METHODS):
            per_slot = 20 + (k * 2 + m) % 113
            count = per_slot * n
            # each series leans its own way: shift the shares a little
            tilt = ((k * 2 + m) % 11) / 100.0
            for b, le in enumerate(BUCKETS):
                share = 1.0 if le == "+Inf" else min(1.0, SHARES[b] + tilt * (1.0 - SHARES[b]))
                out.append(f'bench_http_request_duration_seconds_bucket{{{base},method="{method}",le="{le}"}} {math.floor(count * share)}{ts}')
            out.append(f'bench_http_request_duration_seconds_sum{{{base},method="{method}"}} {count * (0.08 + tilt)!r}{ts}')
            out.append(f'bench_http_request_duration_seconds_count{{{base},method="{method}"}} {count}{ts}')
    out.append("# TYPE bench_queue_depth gauge\n")
    for k, base in pairs(services, instances):
        out.append(f"bench_queue_depth{{{base}}} {(k * 7919 + n * 31) % 1009}{ts}")
    out.append("# TYPE bench_memory_bytes gauge\n")
    for k, base in pairs(services, instances):
        out.append(f"bench_memory_bytes{{{base}}} {(200 + k % 300) * 1048576 + n * (4096 + k)}{ts}")
    out.append("# TYPE bench_temperature_celsius gauge\n")
    for k, base in pairs(services, instances):
        out.append(f"bench_temperature_celsius{{{base}}} {40.0 + 20.0 * math.sin(n / 7.0 + k) + k * 1e-6!r}{ts}")
    out.append("# TYPE bench_tokens_total counter\n")
    for k, base in pairs(services, instances):
        for j, model in enumerate(MODELS):
            out.append(f'bench_tokens_total{{{base},model="{model}"}} {(k % 50 + 10 * j + 1) * 13.5 * n!r}{ts}')
    return "".join(out).encode()


def series_count(services, instances):
    pairs_n = services * instances
    return pairs_n * (4 + 2 * (len(BUCKETS) + 2) + 3 + len(MODELS))


class Slots:
    """The rendered expositions of the current and the next slot."""

    def __init__(self, start, slot, services, instances):
        self.start, self.slot = start, slot
        self.services, self.instances = services, instances
        self.cache = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.ahead, daemon=True).start()

    def index(self, now):
        return -1 if now < self.start else int((now - self.start) // self.slot)

    def get(self, n):
        with self.lock:
            body = self.cache.get(n)
            if body is None:
                body = render(n, int((self.start + n * self.slot) * 1000), self.services, self.instances)
                self.cache = {k: v for k, v in self.cache.items() if k >= n - 1}
                self.cache[n] = body
            return body

    def ahead(self):
        # render the next slot before it starts, so no scrape waits for it
        while True:
            n = self.index(time.time())
            self.get(max(n, 0) + 1 if n >= 0 else 0)
            time.sleep(max(0.2, self.slot / 4))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--start", type=float, required=True, help="unix time of slot 0")
    p.add_argument("--slot", type=float, default=10.0)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--instances", type=int, default=60)
    a = p.parse_args()
    slots = Slots(a.start, a.slot, a.services, a.instances)
    total = series_count(a.services, a.instances)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            n = slots.index(time.time())
            if self.path.startswith("/metrics"):
                body = slots.get(n) if n >= 0 else b"# bench: not started\n"
                ctype = "text/plain; version=0.0.4; charset=utf-8"
            elif self.path == "/slot":
                body = json.dumps({"start": a.start, "slot": a.slot, "series": total, "now": n}).encode()
                ctype = "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
