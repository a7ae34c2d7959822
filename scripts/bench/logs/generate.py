#!/usr/bin/env python3
"""Writes the log benchmark's dataset (scripts/bench/logs.sh): an agent
system's logs as `docker compose logs` shows them, one file per host.

Every line is `<service> | <line>` (the service name padded to 12
columns, as compose prefixes each container's output), the lines of six
services interleaved: gateway, planner, worker, tool-runner, memory and
scheduler. What follows the prefix is what the service wrote: JSON lines
(level, msg, task_id, trace_id, span_id, durations, token counts, tool
and model names), logfmt, and plain text, with occasional errors and
multi-line Python tracebacks (each of their lines prefixed, as compose
does). The pusher sends what follows the prefix as the line, labelled
{host, service}; the baselines read and write the files as they are.

Queries look for:
  - the rare needle: NEEDLE, in NEEDLES lines spread over the data;
  - the common word: "cache", in about a tenth of the lines;
  - "error": error lines (level error) and some messages.

Usage: generate.py --dir DIR --size BYTES [--hosts 8] [--seed 7]
Writes DIR/host-NN.log and DIR/manifest.json (sizes, lines per service,
expected counts) last, so a DIR with a manifest is complete.
"""

import argparse
import json
import multiprocessing
import os
import random
import sys
import time

SERVICES = ["gateway", "planner", "worker", "tool-runner", "memory", "scheduler"]
WEIGHTS = [15, 15, 30, 20, 10, 10]
NEEDLE = "quokka-7f3a9c2e"
NEEDLES = 23

TOOLS = ["web_search", "python", "read_file", "write_file", "sql_query", "http_get",
         "vector_search", "shell", "calendar", "email_send", "browser", "summarize"]
MODELS = ["gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b", "mistral-large", "gpt-4o"]
AGENTS = ["researcher", "coder", "reviewer", "planner", "support", "analyst"]
PATHS = ["/v1/tasks", "/v1/chat", "/v1/agents/run", "/v1/tools/call", "/healthz", "/v1/memory/search"]
ERRORS = [
    ("ToolTimeout", "tool call exceeded its deadline"),
    ("RateLimitError", "upstream model returned 429"),
    ("ValidationError", "tool arguments do not match the schema"),
    ("ConnectionResetError", "connection reset by peer"),
    ("KeyError", "'embedding'"),
]

MESSAGES = {
    "gateway": [
        ("info", "request served"), ("info", "request served"), ("info", "request served"),
        ("debug", "auth token verified"), ("info", "websocket session opened"),
        ("warn", "slow upstream response"), ("info", "response cache lookup"),
    ],
    "planner": [
        ("info", "plan created"), ("info", "step scheduled"), ("debug", "prompt rendered"),
        ("info", "model call finished"), ("warn", "plan revised after tool failure"),
        ("info", "plan cache lookup"), ("debug", "context window trimmed"),
    ],
    "worker": [
        ("info", "step started"), ("info", "step finished"), ("info", "model call finished"),
        ("debug", "tool result parsed"), ("info", "tool call finished"),
        ("warn", "retrying step"), ("info", "result cache lookup"),
    ],
    "tool-runner": [
        ("info", "tool call started"), ("info", "tool call finished"), ("debug", "sandbox ready"),
        ("warn", "tool output truncated"), ("info", "sandbox cache lookup"),
    ],
    "memory": [
        ("info", "vector search"), ("info", "memory written"), ("debug", "embedding computed"),
        ("info", "embedding cache lookup"), ("warn", "index compaction slow"),
    ],
    "scheduler": [
        ("info", "task queued"), ("info", "task dispatched"), ("debug", "lease renewed"),
        ("info", "queue depth"), ("warn", "lease expired, requeueing"),
    ],
}

TRACEBACK_FRAMES = [
    ('/app/agent/runtime.py', 'run_step'),
    ('/app/agent/tools/__init__.py', 'call'),
    ('/usr/lib/python3.11/asyncio/tasks.py', 'wait_for'),
    ('/app/agent/llm/client.py', 'complete'),
    ('/app/agent/memory/store.py', 'search'),
    ('/usr/lib/python3/dist-packages/httpx/_client.py', 'send'),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--size", type=int, required=True, help="total bytes, at least")
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    manifest_path = os.path.join(args.dir, "manifest.json")
    if os.path.exists(manifest_path):
        os.remove(manifest_path)
    rnd = random.Random(args.seed)
    per_host = args.size // args.hosts + 1
    # the needles go at these (host, approximate byte offset) places
    needle_at = [(rnd.randrange(args.hosts), rnd.randrange(per_host)) for _ in range(NEEDLES)]
    jobs = [(args.dir, host, per_host, args.seed, sorted(off for h, off in needle_at if h == host))
            for host in range(args.hosts)]
    with multiprocessing.Pool(min(args.hosts, os.cpu_count() or 1)) as pool:
        results = pool.map(write_host, jobs)
    lines_by_service = {s: sum(r["services"][s] for r in results) for s in SERVICES}
    expect = {k: sum(r[k] for r in results) for k in ("needle", "cache", "error")}
    manifest = {
        "size": sum(r["bytes"] for r in results),
        "lines": sum(r["lines"] for r in results),
        "hosts": args.hosts,
        "files": [f"host-{h:02d}.log" for h in range(args.hosts)],
        "services": SERVICES,
        "lines_by_service": lines_by_service,
        "needle": NEEDLE,
        "expect": expect,
        "seed": args.seed,
    }
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)


def write_host(job):
    """Writes one host's file; returns what it holds."""
    directory, host, per_host, seed, needles = job
    rnd = random.Random(seed * 1000 + host)
    counts = {"needle": 0, "cache": 0, "error": 0, "lines": 0, "bytes": 0,
              "services": {s: 0 for s in SERVICES}}
    prefix = {s: f"{s:<12}| " for s in SERVICES}
    ts = 1748779200.0  # 2025-06-01T12:00:00Z, the time in the lines
    started = time.time()
    path = os.path.join(directory, f"host-{host:02d}.log")
    hostname = f"node-{host:02d}"
    written = 0
    out = []
    out_bytes = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        while written < per_host:
            service = rnd.choices(SERVICES, WEIGHTS)[0]
            ts += rnd.random() * 0.004
            lines = make_lines(rnd, service, ts, hostname)
            if needles and written >= needles[0]:
                needles.pop(0)
                lines = [f'{{"ts":"{iso(ts)}","level":"warn","service":"{service}",'
                         f'"msg":"unexpected marker {NEEDLE} in tool output","task_id":"t-{hexid(rnd, 12)}"}}']
            for line in lines:
                text = prefix[service] + line + "\n"
                out.append(text)
                n = len(text)  # ASCII
                out_bytes += n
                written += n
                counts["services"][service] += 1
                counts["lines"] += 1
                counts["needle"] += NEEDLE in line
                counts["cache"] += "cache" in line
                counts["error"] += "error" in line
            if out_bytes >= 1 << 20:
                f.write("".join(out))
                out.clear()
                out_bytes = 0
        f.write("".join(out))
    counts["bytes"] = written
    print(f"generate.py: {path}: {written} bytes in {time.time() - started:.0f} s", file=sys.stderr)
    return counts


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def hexid(rnd, n):
    return f"{rnd.getrandbits(n * 4):0{n}x}"


def make_lines(rnd, service, ts, hostname):
    level, msg = rnd.choice(MESSAGES[service])
    roll = rnd.random()
    if roll < 0.004:
        return traceback(rnd, service, ts)
    if roll < 0.02:
        level = "error"
        kind, detail = rnd.choice(ERRORS)
        msg = f"{msg} failed: {kind}: {detail}"
    task = hexid(rnd, 12)
    trace = hexid(rnd, 32)
    span = hexid(rnd, 16)
    duration = round(rnd.lognormvariate(3, 1.2), 3)
    fmt = rnd.random()
    if fmt < 0.6:
        fields = [f'"ts":"{iso(ts)}"', f'"level":"{level}"', f'"service":"{service}"', f'"msg":"{msg}"',
                  f'"task_id":"t-{task}"', f'"trace_id":"{trace}"', f'"span_id":"{span}"',
                  f'"duration_ms":{duration}']
        if service in ("planner", "worker"):
            fields += [f'"model":"{rnd.choice(MODELS)}"', f'"tokens_in":{rnd.randrange(200, 16000)}',
                       f'"tokens_out":{rnd.randrange(10, 2000)}', f'"agent":"{rnd.choice(AGENTS)}"']
        elif service == "tool-runner":
            fields += [f'"tool":"{rnd.choice(TOOLS)}"', f'"exit_code":{0 if level != "error" else 1}',
                       f'"output_bytes":{rnd.randrange(0, 65536)}']
        elif service == "gateway":
            fields += [f'"method":"{rnd.choice(["GET", "POST", "POST"])}"', f'"path":"{rnd.choice(PATHS)}"',
                       f'"status":{500 if level == "error" else rnd.choice([200, 200, 200, 201, 204, 404])}',
                       f'"client":"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"']
        elif service == "memory":
            fields += [f'"collection":"{rnd.choice(AGENTS)}-memories"', f'"k":{rnd.choice([4, 8, 16])}',
                       f'"hits":{rnd.randrange(0, 16)}']
        else:
            fields += [f'"queue":"{rnd.choice(AGENTS)}"', f'"depth":{rnd.randrange(0, 500)}']
        if "cache" in msg:
            fields.append(f'"cache":"{rnd.choice(["hit", "miss"])}"')
        return ["{" + ",".join(fields) + "}"]
    if fmt < 0.85:
        extra = ""
        if service in ("planner", "worker"):
            extra = f" model={rnd.choice(MODELS)} tokens_in={rnd.randrange(200, 16000)} tokens_out={rnd.randrange(10, 2000)}"
        elif service == "tool-runner":
            extra = f" tool={rnd.choice(TOOLS)} sandbox=sb-{hexid(rnd, 6)}"
        if "cache" in msg:
            extra += f" cache={rnd.choice(['hit', 'miss'])}"
        return [f'ts={iso(ts)} level={level} service={service} host={hostname} msg="{msg}" '
                f'task_id=t-{task} trace_id={trace} duration_ms={duration}{extra}']
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f",{int(ts % 1 * 1000):03d}"
    return [f"{when} {level.upper():<5} [{service}] {msg} (task t-{task}, {duration} ms)"]


def traceback(rnd, service, ts):
    kind, detail = rnd.choice(ERRORS)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f",{int(ts % 1 * 1000):03d}"
    lines = [f"{when} ERROR [{service}] unhandled error in task t-{hexid(rnd, 12)}",
             "Traceback (most recent call last):"]
    for _ in range(rnd.randrange(3, 9)):
        path, func = rnd.choice(TRACEBACK_FRAMES)
        lines.append(f'  File "{path}", line {rnd.randrange(20, 900)}, in {func}')
        lines.append(f"    result = await self.{func}(request, timeout={rnd.randrange(5, 120)})")
    lines.append(f"{kind}: {detail}")
    return lines


if __name__ == "__main__":
    main()
