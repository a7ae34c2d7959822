#!/usr/bin/env python3
"""Planning, watching and comparing for scripts/bench/rules.sh.

  compare.py plan --steward URL --token-file F --prometheus URL --rules FILE
      --slot S --lead L --out PLAN
      waits until both systems evaluated every group, reads each group's
      evaluation offset in its interval, and picks START, the targets'
      first slot: at least L seconds ahead, and placed so that every
      group's first evaluation in a slot comes at least MARGIN after the
      slot begins (never on the boundary, where a range's left end would
      meet a sample) and as early as possible (leaving the end of each
      slot, after every evaluation of both systems, for snapshots).
  compare.py watch --plan PLAN ... --until UNIX --out FILE
      once a slot, after both systems evaluated every group in it, takes
      /api/v1/alerts from both (pending and firing alerts with their
      expanded annotations).
  compare.py report --plan PLAN --watch FILE --steward-api URL ...
      [--output table|json] --out FILE
      compares, over the slots after the longest range of the rule file
      filled (the window), what both stores hold and both APIs serve; prints
      a table (or the JSON document) and exits 1 on any difference.

Why slots: the two systems evaluate a group at different offsets in its
interval (each shifts it by its own hash of the group), so their
evaluation timestamps differ. The targets change only at slot
boundaries, every slot's samples are stored before the slot begins (see
targets.py), and the rules are written so that a value depends only on
the slot an evaluation falls in (see rules.yml). So:
  recorded series  a sample of a system is compared by the slot of its
                   timestamp: both must hold the same series in the same
                   slots, with values equal within a relative 1e-9, and
                   one sample per evaluation (slot / interval per slot);
  alerts           ALERTS (raw samples: one per evaluation of a pending or
                   firing alert) gives each alert's states over time; a
                   change of state happens at the first evaluation after
                   the slot boundary where the data changed (or that plus
                   whole intervals, for `for` and `keep_firing_for`), so
                   the two systems' changes must be the same, in the same
                   order, each less than the group's interval apart;
                   steward's journal (alert.pending/firing/resolved) must
                   give exactly steward's ALERTS changes;
  snapshots        the alerts both APIs list in the same slot must have
                   the same labels, state, value and expanded annotations,
                   and activeAt less than an interval apart.
Only the standard library is used.
"""

import argparse
import calendar
import http.client
import json
import math
import re
import sys
import time
import urllib.parse

REL_TOL = 1e-9
ABS_TOL = 1e-12
MARGIN = 0.3  # seconds between a slot's start and a group's first evaluation in it
SNAPSHOT_AFTER = 0.5  # seconds after the last first-evaluation of a slot
SNAPSHOT_BEFORE_END = 0.3


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    """Stops with status 2: the comparison could not be made (1 is kept
    for differences)."""
    log(f"error: {msg}")
    sys.exit(2)


class Api:
    """A Prometheus-compatible HTTP API."""

    def __init__(self, base, token=None):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.headers = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def raw(self, method, path, params=None):
        body = urllib.parse.urlencode(params or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            if method == "GET":
                conn.request("GET", self.prefix + path + ("?" + body if body else ""), headers=self.headers)
            else:
                headers = dict(self.headers, **{"Content-Type": "application/x-www-form-urlencoded"})
                conn.request("POST", self.prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def call(self, path, params=None, method="GET"):
        status, data = self.raw(method, path, params)
        doc = json.loads(data)
        if doc.get("status") != "success":
            raise RuntimeError(f"{self.prefix}{path} {params}: {status} {doc}")
        return doc["data"]

    def raw_samples(self, selector, seconds, at):
        """Every stored sample of the series `selector` matches in the
        `seconds` before `at`, as {labels tuple: [(ms, value)]}."""
        data = self.call("/api/v1/query", {"query": f"{selector}[{int(seconds)}s]", "time": f"{at:.3f}"}, "POST")
        if data["resultType"] != "matrix":
            raise RuntimeError(f"{selector}: a {data['resultType']} instead of a matrix")
        out = {}
        for s in data["result"]:
            out[key(s["metric"])] = [(round(float(t) * 1000), float(v)) for t, v in s["values"]]
        return out


def apis(args):
    token = open(args.token_file).read().strip()
    return {"steward": Api(args.steward, token), "prometheus": Api(args.prometheus)}


def key(labels):
    return tuple(sorted(labels.items()))


def show(k):
    d = dict(k)
    name = d.pop("__name__", "")
    return name + "{" + ", ".join(f'{n}="{v}"' for n, v in sorted(d.items())) + "}"


def close(x, y):
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= max(ABS_TOL, REL_TOL * max(abs(x), abs(y)))


def parse_time(text):
    """Unix ms of an RFC 3339 time with up to nanoseconds (Go's format),
    None for Go's zero time."""
    if text.startswith("0001-01-01"):
        return None
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    ms = int((frac or "0")[:3].ljust(3, "0"))
    return secs * 1000 + ms


def groups_of(api):
    return api.call("/api/v1/rules")["groups"]


def longest_range_seconds(path):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    longest = 0.0
    for n, unit in re.findall(r"\[(\d+)(ms|s|m|h|d)\]", open(path).read()):
        longest = max(longest, int(n) * units[unit])
    return longest


# --- plan ---------------------------------------------------------------------


def plan(args):
    systems = apis(args)
    deadline = time.time() + 120
    while True:
        seen = {n: groups_of(api) for n, api in systems.items()}
        if all(g and all(parse_time(x["lastEvaluation"]) for x in g) for g in seen.values()):
            break
        if time.time() > deadline:
            die("the groups were not all evaluated within 120 s")
        time.sleep(0.5)
    slot_ms = round(args.slot * 1000)
    phases = []  # (system, group, interval ms, offset ms in its interval)
    for n, groups in seen.items():
        for g in groups:
            interval = round(float(g["interval"]) * 1000)
            if slot_ms % interval:
                die(f"group {g['name']} runs every {interval} ms, which does not divide the "
                                 f"{slot_ms} ms slot: its values would depend on its offset")
            phases.append((n, g["name"], interval, parse_time(g["lastEvaluation"]) % interval))
    # the origin (mod slot) placing every group's first evaluation of a
    # slot MARGIN or more after its start, with the latest one earliest
    margin = round(MARGIN * 1000)
    best = None
    for _, _, i, p in phases:
        for j in range(slot_ms // i):
            o = (p + j * i - margin) % slot_ms
            offsets = [(q - o) % iq for _, _, iq, q in phases]
            if min(offsets) >= margin and (best is None or max(offsets) < best[0]):
                best = (max(offsets), o, offsets)
    if best is None:
        die("no slot origin keeps every evaluation away from the slot boundaries")
    latest, origin, offsets = best
    earliest = round((time.time() + args.lead) * 1000)
    start_ms = earliest + (origin - earliest) % slot_ms
    snapshot_ms = latest + round(SNAPSHOT_AFTER * 1000)
    if snapshot_ms > slot_ms - round(SNAPSHOT_BEFORE_END * 1000):
        die(f"evaluations end {latest} ms into a slot: no time left for snapshots")
    warmup = math.ceil(longest_range_seconds(args.rules) / args.slot) + 1
    out = {
        "start": start_ms / 1000,
        "slot": args.slot,
        "warmup_slots": warmup,
        "snapshot_offset": snapshot_ms / 1000,
        "groups": [{"system": n, "group": g, "interval": i / 1000, "offset": o / 1000}
                   for (n, g, i, _), o in zip(phases, offsets)],
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    for g in out["groups"]:
        log(f"{g['system']:10s} group {g['group']:8s} every {g['interval']:g} s, "
            f"first evaluation {g['offset']:.3f} s into each slot")
    print(f"{start_ms / 1000:.3f}")
    return 0


# --- watch --------------------------------------------------------------------


def watch(args):
    systems = apis(args)
    p = json.load(open(args.plan))
    start, slot = p["start"], p["slot"]
    snapshots, skipped = [], 0
    n = max(0, math.ceil((time.time() - start - p["snapshot_offset"]) / slot))
    while True:
        at = start + n * slot + p["snapshot_offset"]
        if at > args.until:
            break
        time.sleep(max(0.0, at - time.time()))
        taken = {name: api.call("/api/v1/alerts")["alerts"] for name, api in systems.items()}
        # both must be read before the next slot's first evaluation
        if time.time() < start + (n + 1) * slot - SNAPSHOT_BEFORE_END:
            snapshots.append({"slot": n, "at": at, **taken})
        else:
            skipped += 1
        if n % 6 == 0:
            log(f"slot {n}: {len(taken['steward'])} alerts in steward, {len(taken['prometheus'])} in prometheus")
        n += 1
    with open(args.out, "w") as f:
        json.dump({"snapshots": snapshots, "skipped": skipped}, f)
    return 0


# --- report -------------------------------------------------------------------


def compare_rules(groups):
    """The two rule listings: same groups, intervals and rules, all healthy."""
    diffs = []
    by = {n: {g["name"]: g for g in gs} for n, gs in groups.items()}
    if by["steward"].keys() != by["prometheus"].keys():
        diffs.append(f"groups {sorted(by['steward'])} vs {sorted(by['prometheus'])}")
    for name in sorted(by["steward"].keys() & by["prometheus"].keys()):
        s, p = by["steward"][name], by["prometheus"][name]
        if float(s["interval"]) != float(p["interval"]):
            diffs.append(f"group {name}: interval {s['interval']} vs {p['interval']}")
        rs, rp = s["rules"], p["rules"]
        if [r["name"] for r in rs] != [r["name"] for r in rp]:
            diffs.append(f"group {name}: rules {[r['name'] for r in rs]} vs {[r['name'] for r in rp]}")
            continue
        for a, b in zip(rs, rp):
            for field in ("type", "labels", "duration", "keepFiringFor", "annotations"):
                if field in a and field in b and a[field] != b[field]:
                    diffs.append(f"rule {a['name']}: {field} {a[field]!r} vs {b[field]!r}")
            for n, r in (("steward", a), ("prometheus", b)):
                if r.get("health") != "ok" or r.get("lastError"):
                    diffs.append(f"rule {r['name']} in {n}: health {r.get('health')} {r.get('lastError')!r}")
    return diffs


def by_slot(samples, start_ms, slot_ms, lo, hi):
    """{slot: [values]} of the samples whose slot is in [lo, hi]."""
    out = {}
    for t, v in samples:
        n = (t - start_ms) // slot_ms
        if lo <= n <= hi:
            out.setdefault(n, []).append(v)
    return out


def compare_series(name, got, start_ms, slot_ms, lo, hi, per_slot):
    """Differences between two systems' series of one name, slot by slot."""
    diffs = []
    slotted = {n: {k: by_slot(s, start_ms, slot_ms, lo, hi) for k, s in series.items()} for n, series in got.items()}
    for n in slotted:
        slotted[n] = {k: s for k, s in slotted[n].items() if s}
    only = {n: set(slotted[n]) - set(slotted[o]) for n, o in (("steward", "prometheus"), ("prometheus", "steward"))}
    for n, ks in only.items():
        for k in sorted(ks)[:3]:
            diffs.append(f"only in {n}: {show(k)} (slots {min(slotted[n][k])}-{max(slotted[n][k])})")
        if len(ks) > 3:
            diffs.append(f"... and {len(ks) - 3} more series only in {n}")
    samples = {n: 0 for n in got}
    for k in sorted(set(slotted["steward"]) & set(slotted["prometheus"])):
        s, p = slotted["steward"][k], slotted["prometheus"][k]
        for n in sorted(set(s) | set(p)):
            vs, vp = s.get(n), p.get(n)
            if vs is None or vp is None:
                diffs.append(f"{show(k)}: slot {n} only in {'prometheus' if vs is None else 'steward'} "
                             f"({vp if vs is None else vs})")
                continue
            samples["steward"] += len(vs)
            samples["prometheus"] += len(vp)
            for sysname, vals in (("steward", vs), ("prometheus", vp)):
                if len(vals) != per_slot:
                    diffs.append(f"{show(k)}: slot {n}: {len(vals)} samples in {sysname}, "
                                 f"{per_slot} evaluations expected")
            if not all(close(a, b) for a in vs for b in vp):
                diffs.append(f"{show(k)}: slot {n} (t={(start_ms + n * slot_ms) / 1000:.0f}): "
                             f"steward {vs} vs prometheus {vp}")
    series = len(set(slotted["steward"]) | set(slotted["prometheus"]))
    return series, samples, diffs


def alert_states(samples):
    """{alert labels: {ms: state}} from the raw samples of ALERTS."""
    out = {}
    for k, values in samples.items():
        d = dict(k)
        state = d.pop("alertstate")
        d.pop("__name__", None)
        ident = key(d)
        for t, _ in values:
            prev = out.setdefault(ident, {}).get(t)
            out[ident][t] = state if prev is None else f"{prev}+{state}"
    return out


def transitions(states, interval_ms, last_eval_ms):
    """[(ms, state)]: each run of a state starts a change; a run followed by
    no sample one interval later ends with `inactive` then (unless that
    evaluation has not happened yet)."""
    out, prev_t, prev_s = [], None, None
    for t in sorted(states):
        s = states[t]
        if prev_t is not None and t - prev_t > interval_ms * 1.5:
            out.append((prev_t + interval_ms, "inactive"))
            prev_s = None
        if s != prev_s:
            out.append((t, s))
        prev_t, prev_s = t, s
    if prev_t is not None and prev_t + interval_ms <= last_eval_ms:
        out.append((prev_t + interval_ms, "inactive"))
    return out


def state_at(changes, t):
    state = "inactive"
    for ct, s in changes:
        if ct < t:
            state = s
    return state


def compare_alerts(changes, intervals, expected_delta, w0, w1):
    """Per alert: the same state at w0, then the same changes in [w0, w1),
    each less than the group's interval apart, and exactly the groups'
    offset difference apart (see report)."""
    rows, diffs = [], []
    for ident in sorted(set(changes["steward"]) | set(changes["prometheus"])):
        name = dict(ident)["alertname"]
        interval = intervals.get(name, 0)
        expected = expected_delta.get(name)
        cs = {n: [(t, s) for t, s in changes[n].get(ident, []) if w0 <= t < w1] for n in changes}
        init = {n: state_at(changes[n].get(ident, []), w0) for n in changes}
        if not cs["steward"] and not cs["prometheus"] and init["steward"] == init["prometheus"] == "inactive":
            continue
        row = {"alert": name, "labels": {k: v for k, v in ident if k != "alertname"},
               "initial": init, "interval": interval / 1000, "transitions": [], "differences": []}
        if init["steward"] != init["prometheus"]:
            row["differences"].append(f"state at the window's start: steward {init['steward']}, "
                                      f"prometheus {init['prometheus']}")
        if [s for _, s in cs["steward"]] != [s for _, s in cs["prometheus"]]:
            row["differences"].append(
                "changes steward " + ", ".join(f"{s}@{t / 1000:.3f}" for t, s in cs["steward"])
                + " vs prometheus " + ", ".join(f"{s}@{t / 1000:.3f}" for t, s in cs["prometheus"]))
        else:
            for (ts, s), (tp, _) in zip(cs["steward"], cs["prometheus"]):
                row["transitions"].append({"state": s, "steward_ms": ts, "prometheus_ms": tp, "delta_ms": ts - tp})
                if abs(ts - tp) >= interval:
                    row["differences"].append(f"{s}: steward at {ts / 1000:.3f}, prometheus at {tp / 1000:.3f}: "
                                              f"{abs(ts - tp)} ms apart, an interval is {interval} ms")
                elif expected is not None and ts - tp != expected:
                    row["differences"].append(
                        f"{s}: steward at {ts / 1000:.3f}, prometheus at {tp / 1000:.3f}: {ts - tp} ms apart, "
                        f"not the {expected} ms between the two systems' evaluations (another evaluation)")
        diffs += [f"{show(ident)}: {d}" for d in row["differences"]]
        rows.append(row)
    return rows, diffs


def journal_changes(api, since_ms):
    """steward's journaled alert state changes, {alert labels: [(ms, state)]}."""
    out, events, cursor = {}, 0, None
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since_ms / 1000))
    while True:
        params = {"kind": "alert", "order": "asc", "limit": 1000, "since": since}
        if cursor is not None:
            params["cursor"] = cursor
        status, body = api.raw("GET", "/api/v1/events", params)
        if status != 200:
            raise RuntimeError(f"/api/v1/events: {status} {body[:200]!r}")
        page = json.loads(body)
        for e in page["events"]:
            p = e["payload"]
            labels = dict(p["labels"])
            labels.setdefault("alertname", p["rule"])
            out.setdefault(key(labels), []).append((p["at_ms"], p["to"]))
            events += 1
        cursor = page.get("next_cursor")
        if cursor is None:
            return out, events


def compare_snapshots(watched, intervals, start_ms, lo):
    diffs, compared, alerts = [], 0, 0
    for snap in watched["snapshots"]:
        if snap["slot"] < lo:
            continue
        compared += 1
        got = {n: {key(a["labels"]): a for a in snap[n]} for n in ("steward", "prometheus")}
        where = f"slot {snap['slot']}"
        for n, o in (("steward", "prometheus"), ("prometheus", "steward")):
            for k in sorted(set(got[n]) - set(got[o])):
                diffs.append(f"{where}: {show(k)} listed only by {n}")
        for k in sorted(set(got["steward"]) & set(got["prometheus"])):
            alerts += 1
            s, p = got["steward"][k], got["prometheus"][k]
            interval = intervals.get(dict(k)["alertname"], 0)
            if s["state"] != p["state"]:
                diffs.append(f"{where}: {show(k)}: state {s['state']} vs {p['state']}")
            if s["annotations"] != p["annotations"]:
                for a in sorted(set(s["annotations"]) | set(p["annotations"])):
                    if s["annotations"].get(a) != p["annotations"].get(a):
                        diffs.append(f"{where}: {show(k)}: annotation {a}: steward "
                                     f"{s['annotations'].get(a)!r} vs prometheus {p['annotations'].get(a)!r}")
            if not close(float(s["value"]), float(p["value"])):
                diffs.append(f"{where}: {show(k)}: value {s['value']} vs {p['value']}")
            ta, tb = parse_time(s["activeAt"]), parse_time(p["activeAt"])
            # an alert active since before the data began became active when
            # each system started: nothing to compare
            if min(ta, tb) >= start_ms and abs(ta - tb) >= interval:
                diffs.append(f"{where}: {show(k)}: activeAt {s['activeAt']} vs {p['activeAt']}")
    return {"compared": compared, "skipped": watched["skipped"], "alerts": alerts, "differences": diffs}


def report(args):
    systems = apis(args)
    p = json.load(open(args.plan))
    start, slot = p["start"], p["slot"]
    start_ms, slot_ms = round(start * 1000), round(slot * 1000)
    # the newest complete slot: both evaluated every group in it
    now = time.time()
    current = math.floor((now - start) / slot)
    if now - (start + current * slot) < 1.0:
        time.sleep(1.0 - (now - (start + current * slot)))
        now = time.time()
    lo, hi = p["warmup_slots"], current - 1
    if hi < lo:
        die(f"no complete slot after the {lo} slots of warm-up: run longer")
    w0, w1 = start_ms + lo * slot_ms, start_ms + (hi + 1) * slot_ms
    span = now - start + 2 * slot
    out = {"start": start, "slot": slot, "window": {"from_slot": lo, "to_slot": hi,
                                                    "seconds": (hi + 1 - lo) * slot,
                                                    "from": w0 / 1000, "to": w1 / 1000},
           "prometheus_version": systems["prometheus"].call("/api/v1/status/buildinfo")["version"],
           "groups": p["groups"]}
    differences = 0

    groups = {n: groups_of(api) for n, api in systems.items()}
    rule_diffs = compare_rules(groups)
    out["rules"] = {"groups": len(groups["prometheus"]),
                    "rules": sum(len(g["rules"]) for g in groups["prometheus"]), "differences": rule_diffs}
    differences += len(rule_diffs)
    interval_of, group_of = {}, {}
    for g in groups["prometheus"]:
        for r in g["rules"]:
            interval_of[r["name"]] = round(float(g["interval"]) * 1000)
            group_of[r["name"]] = g["name"]

    # the scraped inputs: if these differ, nothing after them can agree
    inputs = {"series": 0, "samples": 0, "differences": []}
    for name in ("bench_http_requests_total", "bench_http_request_duration_seconds_bucket",
                 "bench_queue_depth", "bench_temperature_celsius"):
        got = {n: api.raw_samples(name, span, now) for n, api in systems.items()}
        series, samples, diffs = compare_series(name, got, start_ms, slot_ms, 0, hi, 1)
        inputs["series"] += series
        inputs["samples"] += samples["prometheus"]
        inputs["differences"] += diffs
    out["inputs"] = inputs
    differences += len(inputs["differences"])

    out["recorded"] = []
    offsets = {}  # system: group: {evaluation timestamp - start, modulo the interval (ms)}
    for g in groups["prometheus"]:
        for r in g["rules"]:
            if r["type"] != "recording":
                continue
            got = {n: api.raw_samples(f'{{__name__="{r["name"]}"}}', span, now) for n, api in systems.items()}
            for n, series in got.items():
                for samples in series.values():
                    offsets.setdefault(n, {}).setdefault(g["name"], set()).update(
                        (t - start_ms) % interval_of[r["name"]] for t, _ in samples if w0 <= t < w1)
            per_slot = slot_ms // interval_of[r["name"]]
            series, samples, diffs = compare_series(r["name"], got, start_ms, slot_ms, lo, hi, per_slot)
            out["recorded"].append({"name": r["name"], "group": g["name"], "interval": interval_of[r["name"]] / 1000,
                                    "series": series, "samples": samples, "differences": diffs})
            differences += len(diffs)

    # Each system evaluates a group on a lattice: timestamps start + offset
    # + multiples of the interval. A change of state caused by the data
    # changing at a slot boundary happens, in both, at the first evaluation
    # after it plus the same whole intervals (for, keep_firing_for): so,
    # beyond the acceptance's "less than an interval apart", steward's
    # change must come exactly (steward's offset - Prometheus' offset)
    # after Prometheus' (which tells an off-by-one-evaluation apart from the
    # phase difference).
    lattice = {"differences": [], "offsets": {}}
    expected_delta = {}
    for g in groups["prometheus"]:
        found = {n: sorted(offsets.get(n, {}).get(g["name"], ())) for n in systems}
        lattice["offsets"][g["name"]] = {n: [o / 1000 for o in v] for n, v in found.items()}
        if any(len(v) != 1 for v in found.values()):
            lattice["differences"].append(f"group {g['name']}: evaluation offsets (ms) steward {found['steward']}, "
                                          f"prometheus {found['prometheus']}: one each expected")
            continue
        expected_delta[g["name"]] = found["steward"][0] - found["prometheus"][0]
    out["lattice"] = lattice
    differences += len(lattice["differences"])
    for g in groups["prometheus"]:
        for r in g["rules"]:
            if g["name"] in expected_delta:
                expected_delta[r["name"]] = expected_delta[g["name"]]

    # alert state changes from ALERTS; the last evaluation each system made
    # bounds when a missing sample means "resolved"
    last_eval = {n: min(parse_time(g["lastEvaluation"]) for g in gs) for n, gs in groups.items()}
    raw = {n: api.raw_samples("ALERTS", span, now) for n, api in systems.items()}
    changes = {}
    for n, samples in raw.items():
        changes[n] = {ident: transitions(states, interval_of[dict(ident)["alertname"]], last_eval[n])
                      for ident, states in alert_states(samples).items()}
    rows, diffs = compare_alerts(changes, interval_of, expected_delta, w0, w1)
    out["alerts"] = rows
    differences += len(diffs)

    # ALERTS_FOR_STATE holds activeAt (s), for alerts that became active
    # inside the window: apart by the offset difference
    fs = {n: api.raw_samples("ALERTS_FOR_STATE", span, now) for n, api in systems.items()}
    for_state = {"series": 0, "differences": []}
    for k in sorted(set(fs["steward"]) | set(fs["prometheus"])):
        vals = {n: sorted({v for t, v in fs[n].get(k, []) if w0 <= t < w1 and v * 1000 >= w0}) for n in fs}
        if not vals["steward"] and not vals["prometheus"]:
            continue
        for_state["series"] += 1
        # both write activeAt in whole seconds (Go's Unix()), hence the 1 s
        expected = expected_delta.get(dict(k).get("alertname"), 0)
        if len(vals["steward"]) != len(vals["prometheus"]) or any(
                abs((a - b) * 1000 - expected) >= 1000 for a, b in zip(vals["steward"], vals["prometheus"])):
            for_state["differences"].append(f"{show(k)}: activeAt steward {vals['steward']} vs "
                                            f"prometheus {vals['prometheus']}")
    out["alerts_for_state"] = for_state
    differences += len(for_state["differences"])

    # steward's journal against steward's own ALERTS, to the millisecond
    token = open(args.token_file).read().strip()
    journaled, events = journal_changes(Api(args.steward_api, token), start_ms - 60_000)
    journal = {"events": events, "differences": []}
    for ident in sorted(set(journaled) | set(changes["steward"])):
        a = [(t, s) for t, s in journaled.get(ident, []) if w0 <= t < w1]
        b = [(t, s) for t, s in changes["steward"].get(ident, []) if w0 <= t < w1]
        if a != b:
            journal["differences"].append(
                f"{show(ident)}: journal " + ", ".join(f"{s}@{t / 1000:.3f}" for t, s in a)
                + " vs ALERTS " + ", ".join(f"{s}@{t / 1000:.3f}" for t, s in b))
    journal["in_window"] = sum(1 for v in journaled.values() for t, _ in v if w0 <= t < w1)
    out["journal"] = journal
    differences += len(journal["differences"])

    watched = json.load(open(args.watch))
    out["snapshots"] = compare_snapshots(watched, interval_of, start_ms, lo)
    differences += len(out["snapshots"]["differences"])

    out["differences"] = differences
    out["equal"] = differences == 0
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    if args.output == "json":
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        print_table(out)
    return 0 if out["equal"] else 1


def print_table(out):
    mark = lambda diffs: "ok  " if not diffs else "DIFF"  # noqa: E731
    w = out["window"]
    print(f"\nsteward vs Prometheus {out['prometheus_version']}: slots {w['from_slot']}-{w['to_slot']} "
          f"of {out['slot']:g} s ({w['seconds']:g} s, "
          f"{time.strftime('%H:%M:%S', time.gmtime(w['from']))}-{time.strftime('%H:%M:%S', time.gmtime(w['to']))} UTC)")
    for g in out["groups"]:
        print(f"  {g['system']:10s} evaluates {g['group']:8s} every {g['interval']:g} s, "
              f"{g['offset']:.3f} s into each slot")
    r = out["rules"]
    print(f"\n{mark(r['differences'])} rules: {r['groups']} groups, {r['rules']} rules, all healthy on both")
    for d in r["differences"][:10]:
        print(f"         {d}")
    i = out["inputs"]
    print(f"{mark(i['differences'])} scraped inputs: {i['series']} series, {i['samples']} samples each")
    for d in i["differences"][:10]:
        print(f"         {d}")
    print("\nrecorded series                                              group   series  samples (steward/prometheus)")
    for row in out["recorded"]:
        s = row["samples"]
        print(f"  {mark(row['differences'])} {row['name']:53s} {row['group']:7s} {row['series']:5d}"
              f"  {s['steward']:5d} / {s['prometheus']:<5d}")
        for d in row["differences"][:5]:
            print(f"         {d}")
        if len(row["differences"]) > 5:
            print(f"         ... {len(row['differences']) - 5} more")
    print("\nalert (ALERTS)                                                    at start   changes (state: steward - prometheus)")
    for row in out["alerts"]:
        # job and instance are the same for every alert of a target
        labels = ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items()) if k not in ("job", "instance"))
        name = f"{row['alert']}{{{labels}}}"
        init = row["initial"]["steward"] if row["initial"]["steward"] == row["initial"]["prometheus"] else "?"
        steps = ", ".join(f"{t['state']} {t['delta_ms'] / 1000:+.3f}s" for t in row["transitions"])
        print(f"  {mark(row['differences'])} {name[:58]:58s} {init:9s}  {steps}")
        for d in row["differences"]:
            print(f"         {d}")
    deltas = [abs(t["delta_ms"]) for row in out["alerts"] for t in row["transitions"]]
    print(f"  {len(deltas)} changes; largest |steward - prometheus| "
          f"{max(deltas) / 1000 if deltas else 0:.3f} s (must stay under the group's interval, and be the"
          f" offset difference)")
    lat = out["lattice"]
    print(f"{mark(lat['differences'])} evaluation lattice: "
          + "; ".join(f"{g} steward {o['steward']} s, prometheus {o['prometheus']} s"
                      for g, o in lat["offsets"].items()) + " after each slot start (mod the interval)")
    for d in lat["differences"]:
        print(f"         {d}")
    f = out["alerts_for_state"]
    print(f"\n{mark(f['differences'])} ALERTS_FOR_STATE: {f['series']} series, activeAt apart by the offset difference")
    for d in f["differences"][:10]:
        print(f"         {d}")
    j = out["journal"]
    print(f"{mark(j['differences'])} steward journal: {j['in_window']} alert events in the window, "
          f"the same changes as its ALERTS to the millisecond")
    for d in j["differences"][:10]:
        print(f"         {d}")
    s = out["snapshots"]
    print(f"{mark(s['differences'])} /api/v1/alerts: {s['compared']} snapshots ({s['skipped']} skipped), "
          f"{s['alerts']} alerts compared (labels, state, value, annotations, activeAt)")
    for d in s["differences"][:10]:
        print(f"         {d}")
    print(f"\n{'EQUAL' if out['equal'] else 'DIFFERENT'}: {out['differences']} differences")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    parsers = {c: sub.add_parser(c) for c in ("plan", "watch", "report")}
    for sp in parsers.values():
        for a in ("--steward", "--token-file", "--prometheus", "--out"):
            sp.add_argument(a, required=True)
    parsers["plan"].add_argument("--rules", required=True)
    parsers["plan"].add_argument("--slot", type=float, required=True)
    parsers["plan"].add_argument("--lead", type=float, required=True)
    parsers["watch"].add_argument("--plan", required=True)
    parsers["watch"].add_argument("--until", type=float, required=True)
    parsers["report"].add_argument("--plan", required=True)
    parsers["report"].add_argument("--watch", required=True)
    parsers["report"].add_argument("--steward-api", required=True, help="steward's own API (the journal)")
    parsers["report"].add_argument("--output", choices=("table", "json"), default="table")
    args = ap.parse_args()
    try:
        status = {"plan": plan, "watch": watch, "report": report}[args.cmd](args)
    except (OSError, RuntimeError, ValueError, KeyError) as err:
        die(f"{args.cmd}: {err!r}")
    sys.exit(status)


if __name__ == "__main__":
    main()
