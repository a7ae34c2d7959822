#!/usr/bin/env python3
"""The log benchmark's report (scripts/bench/logs.sh): the client's
ingest and append runs and the timed queries as one JSON document (written
to --out) and a table on stdout, followed by the document on one line
(--output json: only the document).

Checks every count against the generator's manifest; exit status 1 when
one is wrong, 0 otherwise (whether or not the targets are met).
"""

import argparse
import json
import sys

LIMIT = 10000

LABELS = {
    "rare": "line filter, rare needle (all matches)",
    "common": "line filter, common word (limit 10,000)",
    "common_count": "common word counted (count_over_time)",
    "service": "one service's stream (limit 10,000)",
    "service_count": "one service counted (count_over_time)",
    "errors": 'errors by service (count_over_time |= "error")',
}
ORDER = ["rare", "common", "common_count", "service", "service_count", "errors"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument("--out", required=True)
    parser.add_argument("--append", action="append", default=[])
    parser.add_argument("--push", required=True)
    parser.add_argument("--store-bytes", type=int, required=True)
    parser.add_argument("--wal-bytes", type=int, default=0)
    parser.add_argument("--segments", type=int, default=0)
    parser.add_argument("--flushed-after", type=float, required=True)
    parser.add_argument("--rg-version", default="")
    parser.add_argument("--errors-by-service")
    parser.add_argument("queries", nargs="+")
    args = parser.parse_args()

    manifest = load(args.manifest)
    push = load(args.push)
    appends = {}
    for path in args.append:
        a = load(path)
        key = ("shared" if a["files"] == "shared" else "per_connection") if a["sync"] != "none" else "no_sync"
        appends[key] = a
    queries = {q["name"]: q for q in map(load, args.queries)}

    expect = manifest["expect"]
    planner = manifest["lines_by_service"]["planner"]
    want = {
        "rare": (expect["needle"], expect["needle"]),
        "common": (min(LIMIT, expect["cache"]), expect["cache"]),
        "common_count": (expect["cache"], expect["cache"]),
        "service": (min(LIMIT, planner), planner),
        "service_count": (planner, planner),
        "errors": (expect["error"], expect["error"]),
    }
    wrong = []
    for name, q in queries.items():
        ws, wr = want[name]
        q["expected"] = {"steward": ws, "rg": wr}
        q["ratio"] = q["steward_seconds"] / q["rg_seconds"] if q["rg_seconds"] else None
        if q["steward_results"] != ws:
            wrong.append(f"{name}: steward found {q['steward_results']}, expected {ws}")
        if q["rg_results"] != wr:
            wrong.append(f"{name}: ripgrep found {q['rg_results']}, expected {wr}")

    base = appends["per_connection"]
    ingest_ratio = push["mb_per_s"] / base["mb_per_s"]
    targets = {
        "ingest_half_of_append": {
            "met": ingest_ratio >= 0.5, "ratio": ingest_ratio,
            "text": "ingest >= 0.5x appending with fdatasync (one file per connection)"},
        "line_filter_no_slower_than_rg": {
            "met": all(queries[n]["ratio"] <= 1.0 for n in ("rare", "common")),
            "ratio": max(queries[n]["ratio"] for n in ("rare", "common")),
            "text": "line filter over everything (rare needle, common word) <= 1x ripgrep"},
        "one_service_under_tenth_of_rg": {
            "met": queries["service"]["ratio"] < 0.1, "ratio": queries["service"]["ratio"],
            "text": "one service's stream < 0.1x ripgrep over all the files"},
    }
    doc = {
        "dataset": {k: manifest[k] for k in ("size", "lines", "hosts", "lines_by_service", "needle", "expect")},
        "ripgrep": args.rg_version,
        "ingest": {
            "steward_push": push,
            "append": appends,
            "flushed_after_seconds": args.flushed_after,
            "segments": args.segments,
            "segment_bytes": args.store_bytes,
            "wal_bytes": args.wal_bytes,
        },
        "queries": [queries[n] for n in ORDER if n in queries],
        "targets": targets,
        "counts_wrong": wrong,
    }
    if args.errors_by_service:
        try:
            doc["errors_by_service"] = load(args.errors_by_service)
        except (OSError, ValueError):
            pass
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    if args.output == "table":
        print(table(doc, manifest))
    print(json.dumps(doc, separators=(",", ":")))
    for w in wrong:
        print(f"report.py: wrong count: {w}", file=sys.stderr)
    return 1 if wrong else 0


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def table(doc, manifest):
    ing = doc["ingest"]
    push, appends = ing["steward_push"], ing["append"]
    base = appends["per_connection"]
    mb = manifest["size"] / 1e6
    rows = [
        f"Dataset: {mb:,.0f} MB, {manifest['lines']:,} lines, {manifest['hosts']} files; "
        f"{push['connections']} connections, batches of {push['batch_bytes'] // 1024} KiB ({push['batches']:,})",
        "",
        "| ingest | MB/s | lines/s | s | vs append (fdatasync) | batch p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def ingest_row(name, r):
        return (f"| {name} | {r['mb_per_s']:,.1f} | {r['lines_per_s']:,.0f} | {r['seconds']:.2f} | "
                f"{r['mb_per_s'] / base['mb_per_s']:.2f}x | {r['latency_p50_ms']:.1f} / {r['latency_p99_ms']:.1f} |")

    rows.append(ingest_row("steward push (snappy protobuf, 204 when durable)", push))
    rows.append(ingest_row("append + fdatasync, one file per connection", base))
    if "shared" in appends:
        rows.append(ingest_row("append + fdatasync, one shared file", appends["shared"]))
    if "no_sync" in appends:
        rows.append(ingest_row("append, no fsync", appends["no_sync"]))
    server = push.get("server_cpu_seconds")
    rows += [
        "",
        f"steward: {server:.1f} CPU s for the push ({server / push['seconds']:.2f} cores); "
        f"429 retries {push['retries_429']}; client {push['client_cpu_seconds']:.1f} CPU s "
        f"(bodies encoded beforehand in {push['encode_seconds']:.1f} s, {push['body_bytes'] / 1e6:,.0f} MB); "
        f"then {ing['segments']} segments of {ing['segment_bytes'] / 1e6:,.0f} MB in all and "
        f"{ing['wal_bytes'] / 1e6:,.0f} MB of WAL (the head not yet flushed), "
        f"{ing['flushed_after_seconds']:.1f} s after the last 204",
        "",
        "| query (best of 3, warm) | steward s | ripgrep s | steward / rg | results steward / rg |",
        "|---|---:|---:|---:|---:|",
    ]
    for q in doc["queries"]:
        rows.append(f"| {LABELS[q['name']]} | {q['steward_seconds']:.3f} | {q['rg_seconds']:.3f} | "
                    f"{q['ratio']:.2f}x | {q['steward_results']:,} / {q['rg_results']:,} |")
    rows += ["", "| target | measured | met |", "|---|---:|:-:|"]
    for t in doc["targets"].values():
        rows.append(f"| {t['text']} | {t['ratio']:.2f}x | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
