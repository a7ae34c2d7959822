#!/usr/bin/env python3
"""The load, the measurements and the report of scripts/bench/alerts.sh.

  load.py run --system NAME --url URL [--token-file F] --mode saturate|steady
      [--rate R] --duration S --hooks FILE --pid PID --starts-at UNIX
      --group-wait S --out PHASE.json
      sends alerts to URL (an Alertmanager API v2 base: URL/api/v2/alerts)
      for S seconds and writes what it measured.
  load.py report --phase PHASE.json ... [--output table|json] --out FILE
      puts the phases of both systems side by side.

The load is what Prometheus sends an Alertmanager: POST /api/v2/alerts
with batches of up to 64 alerts (Prometheus' maxBatchSize), every firing
alert re-sent periodically with the same labels and startsAt and an
endsAt 4 minutes ahead (Prometheus: 4 x its 1 m resend delay). The pool
holds ALERTS (10,000) distinct label sets: 40 alert names x 200 services
(group_by [alertname, service] gives 200 groups of 50), each alert with
its instance, job, namespace, cluster and severity labels, summary,
description and runbook annotations and a generator URL, about 600 bytes
of JSON.

  saturate  first one pass over the pool (new alerts: timed apart, not
            counted), then CLIENTS (16) connections each POST the pool's
            batches in turn, a new request as soon as the last one is
            answered, for S seconds: the rate of alerts answered 2xx is
            the sustained ingestion rate; p50/p99 of the POSTs' latency.
  steady    4 connections send the pool's batches at R alerts per second
            (an open schedule: a late request is sent as soon as it can).

In both modes a probe alert with a new service label (so a new group of
its own) is POSTed alone every PROBE_INTERVAL (0.1 s) on its own
connection. The receiver (receiver.py) logs when each group's first
notification arrives; a probe's notification latency is arrival -
(the moment its POST was sent + group_wait), including the POST itself.
After the S seconds the run waits up to group_wait + 30 s for the last
probes' notifications; a probe never notified counts as missing.

CPU seconds of the system's process (/proc/PID/stat) and of this
process are taken over the timed window, to show which side is busy.
Only the standard library is used (asyncio streams, HTTP/1.1 keep-alive).
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.parse
from datetime import datetime, timezone

BATCH = 64
ALERT_NAMES = 40
SERVICES = 200
PLACEHOLDER = b"2000-01-01T00:00:00.000Z"  # endsAt, replaced per request
ENDS_AHEAD = 240.0
STEADY_CONNECTIONS = 4


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


assert len(rfc3339(time.time())) == len(PLACEHOLDER)


def pool_alert(i, starts_at):
    name = f"BenchAlert{i % ALERT_NAMES:02d}"
    instance = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:9100"
    return {
        "labels": {
            "alertname": name,
            "service": f"svc-{i % SERVICES:03d}",
            "instance": instance,
            "job": "node",
            "namespace": f"ns-{i % 20:02d}",
            "cluster": "bench",
            "severity": "critical" if i % 4 == 0 else "warning",
        },
        "annotations": {
            "summary": f"{name} on {instance}",
            "description": f"{name} has been firing on {instance} for more than 5 minutes "
                           f"(value {i % 97 + 0.5:.1f}, threshold 50).",
            "runbook_url": f"https://runbooks.example.com/{name.lower()}",
        },
        "startsAt": starts_at,
        "endsAt": PLACEHOLDER.decode(),
        "generatorURL": f"http://prometheus.bench:9090/graph?g0.expr=bench_metric%7Balert%3D%22{name}%22%7D+%3E+50",
    }


def pool_batches(count, starts_at):
    alerts = [pool_alert(i, rfc3339(starts_at)) for i in range(count)]
    return [json.dumps(alerts[k:k + BATCH], separators=(",", ":")).encode()
            for k in range(0, count, BATCH)]


def probe_body(service, now):
    alert = {
        "labels": {"alertname": "BenchProbe", "service": service, "instance": "probe:9100",
                   "job": "bench", "cluster": "bench", "severity": "warning"},
        "annotations": {"summary": f"probe {service}"},
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + ENDS_AHEAD),
        "generatorURL": "http://prometheus.bench:9090/graph?g0.expr=probe",
    }
    return json.dumps([alert], separators=(",", ":")).encode()


class Ends:
    """endsAt as the request goes out: now + 4 min, formatted once a second."""

    def __init__(self):
        self.second = None
        self.text = None

    def now(self):
        s = int(time.time())
        if s != self.second:
            self.second, self.text = s, rfc3339(s + ENDS_AHEAD).encode()
        return self.text


class Conn:
    """One keep-alive HTTP/1.1 connection POSTing to one path."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        path = u.path.rstrip("/") + "/api/v2/alerts"
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                     f"User-Agent: steward-bench/alerts\r\nContent-Type: application/json\r\n"
                     f"{auth}Content-Length: ").encode()
        self.reader = self.writer = None

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def post(self, body):
        """Sends body; returns the status (0: the connection failed)."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
            line = await self.reader.readline()
            if not line:
                raise ConnectionResetError("closed by the server")
            status = int(line.split()[1])
            length, chunked, close = 0, False, False
            while True:
                h = await self.reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.partition(b":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value:
                    chunked = True
                elif name == b"connection" and value == b"close":
                    close = True
            if chunked:
                while True:
                    size = int((await self.reader.readline()).split(b";")[0], 16)
                    await self.reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await self.reader.readexactly(length)
            if close:
                await self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def machine_busy():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu():
    t = os.times()
    return t.user + t.system


def quantile(values, q):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Stats:
    def __init__(self):
        self.ok_alerts = 0
        self.ok_requests = 0
        self.statuses = {}
        self.latencies = []
        self.per_second = {}

    def add(self, status, alerts, seconds, t_end, window):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if window is None or not window[0] <= t_end <= window[1]:
            return
        if 200 <= status < 300:
            self.ok_alerts += alerts
            self.ok_requests += 1
            self.latencies.append(seconds)
            sec = int(t_end - window[0])
            self.per_second[sec] = self.per_second.get(sec, 0) + alerts


async def run(args):
    token = None
    if args.token_file:
        with open(args.token_file, encoding="ascii") as f:
            token = f.read().strip()
    batches = pool_batches(args.alerts, args.starts_at)
    sizes = [min(BATCH, args.alerts - k * BATCH) for k in range(len(batches))]
    ends = Ends()
    stats = Stats()
    state = {"window": None, "stop": False, "next": 0}

    def body_of(k):
        return batches[k].replace(PLACEHOLDER, ends.now())

    # one pass over the pool: new alerts, and the groups created (saturate
    # only; steady finds them from the saturate run)
    prime = None
    if args.mode == "saturate":
        t0 = time.perf_counter()
        queue = list(range(len(batches)))

        async def prime_worker():
            conn = Conn(args.url, token)
            while queue:
                k = queue.pop()
                status = await conn.post(body_of(k))
                if not 200 <= status < 300:
                    raise SystemExit(f"{args.system}: priming POST answered {status}")
            await conn.close()

        await asyncio.gather(*(prime_worker() for _ in range(args.clients)))
        spent = time.perf_counter() - t0
        prime = {"alerts": args.alerts, "seconds": round(spent, 3),
                 "alerts_per_second": round(args.alerts / spent, 1)}
        print(f"bench: {args.system}: first pass, {args.alerts} new alerts in {spent:.2f} s", file=sys.stderr)

    async def saturating_client():
        conn = Conn(args.url, token)
        while not state["stop"]:
            k = state["next"] % len(batches)
            state["next"] += 1
            body = body_of(k)
            t = time.perf_counter()
            status = await conn.post(body)
            t_end = time.perf_counter()
            stats.add(status, sizes[k], t_end - t, t_end, state["window"])
            if status == 0:
                await asyncio.sleep(0.05)  # refused or reset: don't spin
        await conn.close()

    async def scheduled_client(i):
        conn = Conn(args.url, token)
        interval = STEADY_CONNECTIONS * BATCH / args.rate
        due = time.perf_counter() + i * interval / STEADY_CONNECTIONS
        while not state["stop"]:
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:
                due = now  # more than a second late: no burst to catch up
            due += interval
            k = state["next"] % len(batches)
            state["next"] += 1
            body = body_of(k)
            t = time.perf_counter()
            status = await conn.post(body)
            t_end = time.perf_counter()
            stats.add(status, sizes[k], t_end - t, t_end, state["window"])
        await conn.close()

    probes = []  # (service, sent at (Unix), status, POST seconds)

    async def prober():
        conn = Conn(args.url, token)
        n = 0
        run_id = f"{int(time.time()) % 1000000:06d}"  # probes of earlier runs in the same log
        due = time.perf_counter()
        while not state["stop"]:
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            due += args.probe_interval
            service = f"probe-{args.system}-{args.mode}-{run_id}-{n:05d}"
            n += 1
            sent = time.time()
            t = time.perf_counter()
            status = await conn.post(probe_body(service, sent))
            probes.append((service, sent, status, time.perf_counter() - t))
        await conn.close()

    cpu0 = cpu_seconds(args.pid)
    own0 = own_cpu()
    busy0 = machine_busy()
    t0 = time.perf_counter()
    state["window"] = (t0, t0 + args.duration)
    if args.mode == "saturate":
        workers = [saturating_client() for _ in range(args.clients)]
    else:
        workers = [scheduled_client(i) for i in range(STEADY_CONNECTIONS)]
    tasks = [asyncio.ensure_future(w) for w in workers + [prober()]]
    await asyncio.sleep(args.duration)
    cpu1 = cpu_seconds(args.pid)
    own1 = own_cpu()
    busy1 = machine_busy()
    rss = rss_bytes(args.pid)
    state["stop"] = True
    await asyncio.gather(*tasks)

    # the probes' notifications
    deadline = time.time() + args.group_wait + 30
    wanted = {p[0] for p in probes if 200 <= p[2] < 300}
    arrivals = {}
    while True:
        arrivals = read_arrivals(args.hooks, wanted)
        if len(arrivals) == len(wanted) or time.time() > deadline:
            break
        await asyncio.sleep(0.5)
    latencies, after_answer = [], []
    for service, sent, status, post in probes:
        if service in arrivals:
            latencies.append(arrivals[service] - (sent + args.group_wait))
            after_answer.append(arrivals[service] - (sent + post + args.group_wait))
    missing = sorted(wanted - arrivals.keys())

    ok = stats.ok_alerts
    out = {
        "system": args.system,
        "mode": args.mode,
        "url": args.url,
        "duration_seconds": args.duration,
        "pool_alerts": args.alerts,
        "batch": BATCH,
        "connections": args.clients if args.mode == "saturate" else STEADY_CONNECTIONS,
        "rate_asked": args.rate if args.mode == "steady" else None,
        "first_pass": prime,
        "ingestion": {
            "alerts_2xx": ok,
            "requests_2xx": stats.ok_requests,
            "alerts_per_second": round(ok / args.duration, 1),
            "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
            "post_ms_p50": ms(quantile(stats.latencies, 0.5)),
            "post_ms_p99": ms(quantile(stats.latencies, 0.99)),
            "post_ms_max": ms(max(stats.latencies) if stats.latencies else None),
            "per_second": [stats.per_second.get(s, 0) for s in range(int(args.duration))],
        },
        "cpu": {
            "system_seconds": round(cpu1 - cpu0, 2),
            "system_cores": round((cpu1 - cpu0) / args.duration, 2),
            "load_generator_cores": round((own1 - own0) / args.duration, 2),
            # everything else: the receiver, the idle system, and whatever
            # else runs on the machine (a build would skew the figures)
            "other_cores": round((busy1 - busy0 - (cpu1 - cpu0) - (own1 - own0)) / args.duration, 2),
            "alerts_per_cpu_second": round(ok / (cpu1 - cpu0), 1) if cpu1 > cpu0 else None,
        },
        "rss_bytes": rss,
        "notification": {
            "group_wait_seconds": args.group_wait,
            "probes": len(probes),
            "probes_2xx": len(wanted),
            "notified": len(latencies),
            "missing": missing[:20],
            "missing_count": len(missing),
            "latency_ms_p50": ms(quantile(latencies, 0.5)),
            "latency_ms_p99": ms(quantile(latencies, 0.99)),
            "latency_ms_min": ms(min(latencies) if latencies else None),
            "latency_ms_max": ms(max(latencies) if latencies else None),
            "probe_post_ms_p50": ms(quantile([p[3] for p in probes], 0.5)),
            # the same from the moment the probe's POST was answered: the
            # group timer and the notifier alone
            "after_answer_ms_p50": ms(quantile(after_answer, 0.5)),
            "after_answer_ms_p99": ms(quantile(after_answer, 0.99)),
        },
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    n = out["notification"]
    print(f"bench: {args.system} {args.mode}: {ok / args.duration:,.0f} alerts/s 2xx "
          f"(statuses {out['ingestion']['statuses']}), POST p50 {out['ingestion']['post_ms_p50']} ms; "
          f"{n['notified']}/{n['probes_2xx']} probes notified, latency p50 {n['latency_ms_p50']} ms "
          f"p99 {n['latency_ms_p99']} ms", file=sys.stderr)


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def read_arrivals(path, wanted):
    """The first notification's arrival of each wanted group (by service)."""
    arrivals = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line being written
                service = (rec.get("group_labels") or {}).get("service")
                if service in wanted and rec.get("status") == "firing" and service not in arrivals:
                    arrivals[service] = rec["t"]
    except FileNotFoundError:
        pass
    return arrivals


def report(args):
    phases = {}
    for path in args.phase:
        with open(path, encoding="utf-8") as f:
            p = json.load(f)
        phases[(p["system"], p["mode"])] = p
    systems = ["steward", "alertmanager"]
    for s in systems:
        for m in ("saturate", "steady"):
            if (s, m) not in phases:
                raise SystemExit(f"report: no {m} phase of {s}")

    def get(s, m, *path):
        v = phases[(s, m)]
        for k in path:
            v = v[k]
        return v

    st_rate = get("steward", "saturate", "ingestion", "alerts_per_second")
    am_rate = get("alertmanager", "saturate", "ingestion", "alerts_per_second")
    st_p50 = get("steward", "steady", "notification", "latency_ms_p50")
    am_p50 = get("alertmanager", "steady", "notification", "latency_ms_p50")
    st_p99 = get("steward", "steady", "notification", "latency_ms_p99")
    am_p99 = get("alertmanager", "steady", "notification", "latency_ms_p99")
    ratio = round(st_rate / am_rate, 3) if am_rate else None
    # "no worse": within a millisecond or 10 % of Alertmanager's, whichever is larger
    def no_worse(a, b):
        return a is not None and b is not None and a <= max(b * 1.1, b + 1.0)
    missing = sum(get(s, m, "notification", "missing_count") for s in systems for m in ("saturate", "steady"))
    out = {
        "alertmanager_version": args.alertmanager_version,
        "cores": os.cpu_count(),
        "config": {
            "group_wait_seconds": get("steward", "steady", "notification", "group_wait_seconds"),
            "pool_alerts": get("steward", "saturate", "pool_alerts"),
            "batch": BATCH,
            "saturate_connections": get("steward", "saturate", "connections"),
            "duration_seconds": get("steward", "saturate", "duration_seconds"),
            "steady_rate": get("steward", "steady", "rate_asked"),
        },
        "systems": {s: {"saturate": phases[(s, "saturate")], "steady": phases[(s, "steady")]} for s in systems},
        "ingestion_ratio": ratio,
        "targets": {
            "ingestion_at_least_2x": ratio is not None and ratio >= 2.0,
            "notification_latency_no_worse": no_worse(st_p50, am_p50) and no_worse(st_p99, am_p99),
        },
        "missing_notifications": missing,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    if args.output == "json":
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        print_table(out, get)
    return 1 if missing else 0


def print_table(out, get):
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    c = out["config"]
    print(f"\nsteward vs {out['alertmanager_version']} ({out['cores']} cores): pool of {c['pool_alerts']:,} alerts "
          f"in batches of {c['batch']}, {c['duration_seconds']:g} s per phase, group_wait {c['group_wait_seconds']:g} s")
    rows = [
        ("saturate", f"saturation, {c['saturate_connections']} connections back to back", None, None, None),
        ("saturate", "  alerts accepted per second (2xx)", ("ingestion", "alerts_per_second"), ",.0f", "higher"),
        ("saturate", "  POST latency p50 (ms)", ("ingestion", "post_ms_p50"), ".2f", "lower"),
        ("saturate", "  POST latency p99 (ms)", ("ingestion", "post_ms_p99"), ".2f", "lower"),
        ("saturate", "  first pass, new alerts per second", ("first_pass", "alerts_per_second"), ",.0f", "higher"),
        ("saturate", "  CPU cores used by the system", ("cpu", "system_cores"), ".2f", ""),
        ("saturate", "  alerts per CPU second", ("cpu", "alerts_per_cpu_second"), ",.0f", "higher"),
        ("saturate", "  CPU cores used by the load generator", ("cpu", "load_generator_cores"), ".2f", ""),
        ("saturate", "  CPU cores used by anything else", ("cpu", "other_cores"), ".2f", ""),
        ("saturate", "  notification latency p50 (ms)", ("notification", "latency_ms_p50"), ".1f", "lower"),
        ("saturate", "  notification latency p99 (ms)", ("notification", "latency_ms_p99"), ".1f", "lower"),
        ("steady", f"steady load, {fmt(c['steady_rate'], ',.0f')} alerts/s, 4 connections", None, None, None),
        ("steady", "  notification latency p50 (ms)", ("notification", "latency_ms_p50"), ".1f", "lower"),
        ("steady", "  notification latency p99 (ms)", ("notification", "latency_ms_p99"), ".1f", "lower"),
        ("steady", "  the same from the POST's answer, p50 (ms)", ("notification", "after_answer_ms_p50"), ".1f", "lower"),
        ("steady", "  the same from the POST's answer, p99 (ms)", ("notification", "after_answer_ms_p99"), ".1f", "lower"),
        ("steady", "  probes notified", None, None, ""),
        ("steady", "  POST latency p50 (ms)", ("ingestion", "post_ms_p50"), ".2f", "lower"),
        ("steady", "  CPU cores used by the system", ("cpu", "system_cores"), ".2f", ""),
        ("steady", "  resident memory (MiB)", ("rss_bytes",), None, "lower"),
    ]
    print(f"\n{'':46s} {'steward':>13s} {'alertmanager':>13s}")
    for mode, label, path, spec, better in rows:
        if path is None and spec is None and better is None:
            print(label)
            continue
        cells = []
        for s in ("steward", "alertmanager"):
            if label.strip() == "probes notified":
                n = get(s, mode, "notification")
                cells.append(f"{n['notified']}/{n['probes_2xx']}")
            elif path == ("rss_bytes",):
                cells.append(f"{get(s, mode, 'rss_bytes') / 1048576:.1f}")
            else:
                try:
                    v = get(s, mode, *path)
                except (KeyError, TypeError):
                    v = None
                cells.append(fmt(v, spec))
        print(f"{label:46s} {cells[0]:>13s} {cells[1]:>13s}  {better}")
    print("notification latency: a probe group's first notification's arrival - (its POST sent + group_wait)")
    t = out["targets"]
    print(f"\nsteward / alertmanager ingestion: {fmt(out['ingestion_ratio'], '.2f')}x "
          f"(target 2x: {'met' if t['ingestion_at_least_2x'] else 'NOT met'}); "
          f"notification latency no worse: {'met' if t['notification_latency_no_worse'] else 'NOT met'}")
    if out["missing_notifications"]:
        print(f"MISSING: {out['missing_notifications']} probe groups were never notified")
    for s in ("steward", "alertmanager"):
        for m in ("saturate", "steady"):
            statuses = get(s, m, "ingestion", "statuses")
            bad = {k: v for k, v in statuses.items() if not k.startswith("2")}
            if bad:
                print(f"{s} {m}: non-2xx answers {bad} (0: connection failed)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--system", required=True)
    r.add_argument("--url", required=True, help="the API v2's base, e.g. http://127.0.0.1:9093")
    r.add_argument("--token-file")
    r.add_argument("--mode", choices=["saturate", "steady"], required=True)
    r.add_argument("--rate", type=float, help="alerts per second (steady)")
    r.add_argument("--clients", type=int, default=16)
    r.add_argument("--alerts", type=int, default=10000)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--probe-interval", type=float, default=0.1)
    r.add_argument("--hooks", required=True, help="the receiver's log")
    r.add_argument("--pid", type=int, required=True, help="the system's process")
    r.add_argument("--starts-at", type=float, required=True, help="the pool alerts' startsAt (Unix)")
    r.add_argument("--group-wait", type=float, required=True)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--phase", action="append", required=True)
    p.add_argument("--alertmanager-version", default="Alertmanager")
    p.add_argument("--output", choices=["table", "json"], default="table")
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "run":
        if args.mode == "steady" and not args.rate:
            ap.error("--mode steady needs --rate")
        asyncio.run(run(args))
        return 0
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
