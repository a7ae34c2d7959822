#!/usr/bin/env python3
"""The log benchmark's report (scripts/bench/logs.sh): the client's
ingest and append runs and the timed queries as one JSON document (written
to --out) and a table on stdout, followed by the document on one line
(--output json: only the document).

With --index, the index measurement (scripts/bench/logs/index: tantivy
against per-chunk 4-gram bloom filters) goes under "index" and in a second
table; its counts, checked there, count here too.

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
    parser.add_argument("--index", help="the index measurement's JSON (scripts/bench/logs/index)")
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
    if args.index:
        doc["index"] = load(args.index)
        wrong += [f"index: {w}" for w in doc["index"].get("counts_wrong", [])]
        doc["counts_wrong"] = wrong
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    if args.output == "table":
        print(table(doc, manifest))
        if "index" in doc:
            print()
            print(index_table(doc["index"]))
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


def index_table(index):
    """The index measurement: builds (time, size) and queries, tantivy
    against the bloom filters."""
    rows = [
        f"Index measurement ({index['tantivy']['version']}): skipping what cannot match a line filter",
        "",
        "| build | wall s | CPU s | MB/s | on disk MB | vs data | segments / chunks |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def build_row(name, b, parts, rate=True):
        # the rate only for what reads the lines (not for merges)
        mb_per_s = f"{b['mb_per_s']:.1f}" if rate else "-"
        return (f"| {name} | {b['wall_seconds']:.2f} | {b['cpu_seconds']:.2f} | {mb_per_s} | "
                f"{b['bytes'] / 1e6:,.1f} | {b['vs_data']:.2f}x | {parts} |")

    def tantivy_rows(what, t):
        return [
            build_row(f"{what}: index, commit ({t['threads']} threads, {t['memory_budget_bytes'] >> 20} MB budget)",
                      t["commit"], t["commit"]["segments"]),
            build_row(f"{what}: the merge policy's merges", t["merge_policy"], t["merge_policy"]["segments"], False),
            build_row(f"{what}: merged into one segment", t["one_segment"], t["one_segment"]["segments"], False),
        ]

    rows += tantivy_rows("tantivy", index["tantivy"]["build"])
    b = index["bloom"]["build"]
    rows.append(build_row(f"bloom: snappy chunks {b['chunk_bytes'] / 1e6:,.1f} MB + "
                          f"4-gram filters {b['filter_bytes'] / 1e6:,.1f} MB", b, b["chunks"]))
    n = (index.get("ngram") or {}).get("build")
    if n and n.get("finished"):
        rows += tantivy_rows("tantivy ngram(4,4)", n)
    elif n:
        rows.append(f"| tantivy ngram(4,4): given up after {n['gave_up_after_seconds']:.0f} s, "
                    f"{n['lines_indexed']:,} of {n['lines']:,} lines indexed | | | | | | |")
    rows.append("")
    spaces = (("tantivy", index["tantivy"].get("space")),
              ("tantivy ngram(4,4)", (index.get("ngram") or {}).get("space")))
    for what, space in spaces:
        if space:
            rows.append(f"{what}, one segment, MB: stored lines {space['store'] / 1e6:,.1f}, "
                        f"postings {space['postings'] / 1e6:,.1f}, positions {space['positions'] / 1e6:,.1f}, "
                        f"terms {space['terms'] / 1e6:,.1f}, fast fields {space['fast_fields'] / 1e6:,.1f}, "
                        f"field norms {space['fieldnorms'] / 1e6:,.1f}")
    rows += [
        "",
        "| query (best of 3, warm, one thread) | tantivy ms | tantivy results | bloom ms | bloom results "
        "| bloom chunks read | scan |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = index["bloom"]["chunks"]
    for q in index["queries"]:
        t, bl, want = q.get("tantivy"), q.get("bloom"), q["expected"]["results"]
        tantivy = "- | -"
        if t:
            differs = " (differs)" if not t["exact"] and t["results"] != want else ""
            candidates = t.get("candidates", t["results"])
            of = f" of {candidates:,} candidates" if candidates != t["results"] else ""
            tantivy = f"{t['seconds'] * 1e3:.3f} | {t['results']:,}{of}{differs}"
        bloom = "- | - | -"
        if bl:
            bloom = f"{bl['seconds'] * 1e3:.3f} | {bl['results']:,} | {bl['chunks_read']} / {total}"
        label = q["label"].replace("|", "\\|")
        rows.append(f"| {label} | {tantivy} | {bloom} | {want:,} |")
    rows.append("")
    rows += [f"- {q['label']}: {q['note']}" for q in index["queries"]]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
