#!/usr/bin/env python3
"""Two scripted scrape targets for scripts/bench/rules.sh.

Serves GET /metrics on two ports: SHOP_PORT (an HTTP service: request
counters by service and code, a latency histogram) and QUEUES_PORT (queue
depths, temperatures, a build info gauge), in the text format 0.0.4 with
an explicit timestamp on every sample.

Time is cut into slots of SLOT seconds from START (set by POST /start).
Every value is a function of the slot only, and a scrape during slot n
already serves slot n+1, stamped with its start: a sample is in both
stores before its slot begins (the scrape interval is shorter than a
slot), so an evaluation at any time t sees exactly the samples of the
slots that began at or before t, whichever system evaluates and whenever
it scraped. Before START-SLOT the exposition is empty (a comment).

The script (slot n, k = (n - CYCLE_START) mod CYCLE once n >= CYCLE_START;
before that every family is at its baseline, while range windows fill):
  k 0-3    the api service answers 23% errors instead of 1%
  k 2-4    sensor rack-1 at 85 C; k 5 a dip to 75 C; k 6-7 at 90 C
  k 3-10   queue email: 80, 130, 170, 210, 250, 230, 150, 60
  k 5-8    the api service slows down (p99 from 0.45 s to over 1 s)
  k 11     sensor rack-2 spikes to 82.5 C for one slot

POST /start?at=UNIX sets START (once); GET /info answers {"start",
"slot", "served", "cycle_start", "cycle"} as JSON (served: the slot index
served now, or null). Only the standard library is used.
"""

import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CYCLE_START = 8
CYCLE = 14

LE = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
# requests per slot in each bucket (not cumulative; nothing above 2.5 s)
FAST = {"api": [550, 300, 120, 25, 4, 1], "web": [220, 120, 48, 10, 2, 0]}
SLOW = [100, 200, 300, 200, 150, 50]
# the duration each bucket's requests add to _sum
TYPICAL = [0.03, 0.07, 0.17, 0.35, 0.7, 1.6]

QUEUE_EMAIL = {3: 80, 4: 130, 5: 170, 6: 210, 7: 250, 8: 230, 9: 150, 10: 60}


def phase(n):
    """k, the slot's place in the cycle, or None before the first cycle."""
    return None if n < CYCLE_START else (n - CYCLE_START) % CYCLE


def request_increments(n):
    k = phase(n)
    bump = k is not None and k < 4
    return {
        ("api", "200"): 1000,
        ("api", "500"): 300 if bump else 10,
        ("web", "200"): 400,
        ("web", "500"): 2 + n % 3,
    }


def bucket_increments(n, service):
    k = phase(n)
    if service == "api" and k is not None and 5 <= k < 9:
        return SLOW
    return FAST[service]


def shop(n, ts_ms):
    """The shop target's exposition of slot n (n >= 0)."""
    # counters: an offset plus every slot's increment since slot 1, so the
    # first sample is far from zero (rate() never clamps its extrapolation
    # at a counter's zero)
    counters = {key: 0 for key in request_increments(0)}
    offsets = {("api", "200"): 1_000_000, ("api", "500"): 10_000, ("web", "200"): 500_000, ("web", "500"): 1_000}
    buckets = {s: [0] * len(FAST[s]) for s in FAST}
    sums = {s: 0.0 for s in FAST}
    for i in range(1, n + 1):
        for key, inc in request_increments(i).items():
            counters[key] += inc
        for s in FAST:
            incs = bucket_increments(i, s)
            for b, c in enumerate(incs):
                buckets[s][b] += c
            sums[s] += sum(c * d for c, d in zip(incs, TYPICAL))
    ts = f" {ts_ms}\n"
    out = ["# HELP bench_http_requests_total Requests answered.\n# TYPE bench_http_requests_total counter\n"]
    for (service, code), v in counters.items():
        out.append(f'bench_http_requests_total{{service="{service}",code="{code}"}} {offsets[(service, code)] + v}{ts}')
    out.append("# HELP bench_http_request_duration_seconds Request latency.\n"
               "# TYPE bench_http_request_duration_seconds histogram\n")
    for s in FAST:
        cumulative = 0
        for b, le in enumerate(LE):
            cumulative += buckets[s][b] if b < len(buckets[s]) else 0
            out.append(f'bench_http_request_duration_seconds_bucket{{service="{s}",le="{le}"}} {cumulative}{ts}')
        out.append(f'bench_http_request_duration_seconds_sum{{service="{s}"}} {sums[s]!r}{ts}')
        out.append(f'bench_http_request_duration_seconds_count{{service="{s}"}} {cumulative}{ts}')
    return "".join(out).encode()


def queues(n, ts_ms):
    """The queues target's exposition of slot n (n >= 0)."""
    k = phase(n)
    email = QUEUE_EMAIL.get(k, 20 + n % 4) if k is not None else 20 + n % 4
    sms = 5 + n % 3
    if k in (2, 3, 4):
        rack1 = 85.0
    elif k == 5:
        rack1 = 75.0
    elif k in (6, 7):
        rack1 = 90.0
    else:
        rack1 = 60.0 + (n % 5) * 0.5
    rack2 = 82.5 if k == 11 else 70.0 + (n % 2) * 0.25
    ts = f" {ts_ms}\n"
    return "".join([
        "# HELP bench_queue_depth Messages waiting.\n# TYPE bench_queue_depth gauge\n",
        f'bench_queue_depth{{queue="email"}} {email}{ts}',
        f'bench_queue_depth{{queue="sms"}} {sms}{ts}',
        "# HELP bench_temperature_celsius Sensor temperature.\n# TYPE bench_temperature_celsius gauge\n",
        f'bench_temperature_celsius{{sensor="rack-1"}} {rack1!r}{ts}',
        f'bench_temperature_celsius{{sensor="rack-2"}} {rack2!r}{ts}',
        "# HELP bench_build_info The build.\n# TYPE bench_build_info gauge\n",
        f'bench_build_info{{version="1.4.2"}} 1{ts}',
    ]).encode()


class Clock:
    """START, once set, and the slot served at a time."""

    def __init__(self, slot):
        self.slot = slot
        self.start = None
        self.lock = threading.Lock()
        self.cache = {}

    def served(self, now):
        if self.start is None:
            return None
        n = int((now - self.start) // self.slot) + 1
        return n if n >= 0 else None

    def body(self, target, n):
        with self.lock:
            key = (target, n)
            if key not in self.cache:
                ts_ms = round((self.start + n * self.slot) * 1000)
                self.cache = {k: v for k, v in self.cache.items() if k[1] >= n - 1}
                self.cache[key] = (shop if target == "shop" else queues)(n, ts_ms)
            return self.cache[key]


def serve(port, target, clock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith("/metrics"):
                n = clock.served(time.time())
                body = clock.body(target, n) if n is not None else b"# bench: not started\n"
                self.reply(200, body, "text/plain; version=0.0.4; charset=utf-8")
            elif self.path == "/info":
                info = {"start": clock.start, "slot": clock.slot, "served": clock.served(time.time()),
                        "cycle_start": CYCLE_START, "cycle": CYCLE}
                self.reply(200, json.dumps(info).encode(), "application/json")
            else:
                self.reply(404, b"not found\n", "text/plain")

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/start":
                self.reply(404, b"not found\n", "text/plain")
                return
            at = urllib.parse.parse_qs(url.query).get("at", [None])[0]
            with clock.lock:
                if clock.start is None and at is not None:
                    clock.start = float(at)
                ok = clock.start is not None and at is not None and clock.start == float(at)
            self.reply(200 if ok else 409, b"started\n" if ok else b"already started at another time\n",
                       "text/plain")

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shop-port", type=int, required=True)
    p.add_argument("--queues-port", type=int, required=True)
    p.add_argument("--slot", type=float, default=10.0)
    a = p.parse_args()
    clock = Clock(a.slot)
    threading.Thread(target=serve, args=(a.queues_port, "queues", clock), daemon=True).start()
    serve(a.shop_port, "shop", clock)


if __name__ == "__main__":
    main()
