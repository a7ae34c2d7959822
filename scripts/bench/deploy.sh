#!/usr/bin/env bash
# Benchmarks steward's deployments under load: does a rolling and a
# blue-green deployment drop requests, how much do they cost on top of the
# replicas' own start time, and what does the usual alternative,
# `docker compose up -d` recreating a container, drop meanwhile.
#
# What it runs, in one temporary directory (/tmp/steward-bench-deploy.*):
#   1. `steward up` on a generated steward.toml: one service `agent`, 4
#      replicas (REPLICAS) of steward-demo-agent on the process backend
#      behind steward's proxy (20 ms LLM call, 2 ms tool call per task),
#      health check GET /healthz every 500ms, rollout verify_window 2s,
#      drain_timeout 10s, max_surge 1, max_unavailable 0. steward deploys
#      1.0.0 by itself ([deploy] initial_version); the script waits until
#      `steward status` shows it running.
#   2. Load: wrk (Debian package `wrk`, installed when missing) with
#      CONNECTIONS keep-alive connections (default 16) on THREADS threads
#      (default 2) sending POST /v1/tasks {"prompt":"bench"} without pause
#      to the service's proxy port, in three phases:
#        steady     STEADY_SECONDS (default 10) with nothing happening;
#        rolling    from LEAD_SECONDS before `steward deploy 1.1.0 --wait`
#                   until TAIL_SECONDS after it returns;
#        blue_green the same around `steward deploy 1.2.0 --wait`, after the
#                   file's rollout.strategy was set to "blue_green" (steward
#                   reads the file again at deploy time).
#   3. The anchor: one container of the same agent (images bench-agent:1
#      and bench-agent:2 built FROM steward-base:local, which
#      scripts/docker/base-image.sh makes from the host's libraries)
#      published on a host port by docker compose (`docker compose` when
#      the plugin exists, else docker-compose v1). Phases:
#        compose_steady  STEADY_SECONDS of the same load on the container;
#        compose         the image tag in the compose file's environment
#                        switches from 1 to 2 and `up -d` recreates the
#                        container, load from LEAD_SECONDS before until the
#                        new container answers and COMPOSE_TAIL_SECONDS
#                        (default 3) more.
#      Compose has one container and no proxy here, so failures are
#      expected: that is the comparison.
#
# Per phase:
#   requests  wrk's responses plus its failed attempts;
#   failed    responses with status >= 400 plus socket errors (connect,
#             read, write, timeout). wrk counts each failed attempt and
#             reconnects at once, so while nothing listens this counts
#             attempts in a tight loop, not users;
#   p50/p99   latency of the responses, and relative to the baseline phase
#             (steady for steward's phases, compose_steady for compose);
#   probe     beside wrk, a Python prober (standard library) sends one
#             request at a time on a new connection every 10 ms: how many
#             failed, and longest_outage_ms, the longest span from the last
#             successful probe before failures to the first one after.
#
# Overhead of a rolling deployment (target: < 50 ms per replica), from
#   - `steward deployments show ID -o json`: step started_at/finished_at,
#     RFC 3339 with nanoseconds;
#   - the journal's deploy.* events of that deployment (`steward events
#     list --kind deploy -o json`): times in whole milliseconds, stamped
#     when the journal's writer takes the event, which can be a few ms late
#     when it is still writing the one before;
#   - steward's log (STEWARD_LOG=info, microseconds): "draining upstream"
#     when an old replica leaves the proxy, "replica stopped" when the
#     backend saw it exit.
# Terms:
#   update_ms   finished_at - started_at of the step update_services:agent
#               (the verify window is a step of its own, verify_health, not
#               in here);
#   batch_ms    per batch of replicas started together (consecutive
#               deploy.replica.healthy events; with max_surge 1, one
#               replica each) the largest after_ms: steward's own measure
#               of spawn to first passing probe (whole ms, truncated),
#               probed every 25 ms until the replica first answers;
#   drain_ms    per old replica, its deploy.replica.drained event minus
#               its "draining upstream" log line: waiting for the requests
#               it still had in flight (the log line gives how many);
#   stop_ms     its "replica stopped" log line minus drained: SIGTERM to
#               exit; retire_ms = drain_ms + stop_ms is exact (log times),
#               the split between the two has the journal's ms precision;
#   overhead_per_replica_ms = (update_ms - sum(batch_ms) - sum(drain_ms))
#                             / replicas
#     what steward adds to the replicas' own start-to-healthy and drain
#     times: spawning, proxy changes, journal and state writes, and
#     stopping the old replicas;
#   bookkeeping_per_replica_ms = (update_ms - sum(batch_ms)
#                                 - sum(retire_ms)) / replicas
#     the same without the old replicas' exit, from exact times only.
# The deployment's whole span (created_at to finished_at, minus the
# verify_health step) is reported too, as deployment_minus_verify_ms.
# Without the log lines (another log format), drain_ms falls back to
# drained minus the deploy.replica.added before it (journal times only).
#
# Results: target/bench/deploy.json, a summary on stdout, steward's log
# (STEWARD_LOG=info) kept as target/bench/deploy-steward.log.
#
# Usage: scripts/bench/deploy.sh [--no-build] [--no-compose]
#   --no-build    use the binaries already in target/$PROFILE
#   --no-compose  skip the docker compose anchor
# Environment: PROFILE (release; debug for target/debug), REPLICAS (4), CONNECTIONS (16),
#   THREADS (2), STEADY_SECONDS (10), LEAD_SECONDS (2), TAIL_SECONDS (2),
#   COMPOSE_TAIL_SECONDS (3), KEEP_TMP (0: 1 keeps the temporary directory),
#   BIN_DIR (binaries from this directory instead; implies --no-build).
#
# Needs: docker and docker compose (or docker-compose) for the anchor, curl,
# jq, python3 (standard library only), wrk. Cleans up on exit: steward
# gets SIGTERM (it stops its replicas; leftovers are killed by the pids in
# its replica records), wrk is stopped, the compose project is taken down,
# and the bench images are removed (steward-base:local too when this run
# made it).
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

PROFILE=${PROFILE:-release}
REPLICAS=${REPLICAS:-4}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
STEADY_SECONDS=${STEADY_SECONDS:-10}
LEAD_SECONDS=${LEAD_SECONDS:-2}
TAIL_SECONDS=${TAIL_SECONDS:-2}
COMPOSE_TAIL_SECONDS=${COMPOSE_TAIL_SECONDS:-3}
KEEP_TMP=${KEEP_TMP:-0}

build=true
compose=true
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=false ;;
        --no-compose) compose=false ;;
        -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

script_start=$(date +%s%N)

# --- tools --------------------------------------------------------------------
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "wrk is not installed (apt-get install wrk, as root)"
    log "installing wrk (Debian package)"
    apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } ||
        die "cannot install wrk with apt-get"
fi
compose_cmd=()
if $compose; then
    command -v docker >/dev/null 2>&1 || die "docker is not installed (or run with --no-compose)"
    docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (docker info fails); is it running? (or run with --no-compose)"
    if docker compose version >/dev/null 2>&1; then
        compose_cmd=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        compose_cmd=(docker-compose)
    else
        die "neither \`docker compose\` nor docker-compose is installed (or run with --no-compose)"
    fi
fi

steward_binaries "$build"
agent=$bin_dir/steward-demo-agent

# --- temporary directory and cleanup -------------------------------------------
bench=$(mktemp -d /tmp/steward-bench-deploy.XXXXXX)
mkdir -p target/bench "$bench/data"
config=$bench/steward.toml
steward_log=$bench/steward.log
steward_pid=
wrk_pid=
probe_pid=
compose_file=
compose_project=stewardbench$$
made_images=()

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$wrk_pid" ] && kill -0 "$wrk_pid" 2>/dev/null; then
        kill -INT "$wrk_pid" 2>/dev/null
        wait "$wrk_pid" 2>/dev/null
    fi
    if [ -n "$probe_pid" ] && kill -0 "$probe_pid" 2>/dev/null; then
        kill -TERM "$probe_pid" 2>/dev/null
        wait "$probe_pid" 2>/dev/null
    fi
    if [ -n "$steward_pid" ] && kill -0 "$steward_pid" 2>/dev/null; then
        log "stopping steward (SIGTERM; it stops its replicas)"
        stop "$steward_pid" steward
    fi
    # Replicas steward left behind (it should leave none): their records
    # hold their process group ids.
    local record pid
    for record in "$bench"/data/replicas/*; do
        [ -f "$record" ] || continue
        pid=$(jq -r '.pid // empty' "$record" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            log "replica pid $pid still runs after steward stopped; killing its process group"
            kill -KILL -- "-$pid" 2>/dev/null
        fi
    done
    if [ -n "$compose_file" ]; then
        BENCH_AGENT_TAG=2 "${compose_cmd[@]}" -p "$compose_project" -f "$compose_file" down --timeout 5 >/dev/null 2>&1
    fi
    if [ ${#made_images[@]} -gt 0 ]; then
        docker image rm "${made_images[@]}" >/dev/null 2>&1
    fi
    [ -f "$steward_log" ] && cp "$steward_log" "$repo/target/bench/deploy-steward.log"
    if [ "$KEEP_TMP" = 1 ]; then
        log "kept $bench"
    else
        rm -rf "$bench"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ns() { date +%s%N; }
secs_since() { awk -v s="$1" -v e="$(now_ns)" 'BEGIN { printf "%.3f", (e - s) / 1e9 }'; }

# Steward's CLI against the benchmark's server.
st() { "$steward" --config "$config" "$@"; }

show_log() {
    log "last lines of steward's log ($steward_log):"
    tail -n "${1:-40}" "$steward_log" >&2 || true
}

# --- load generator -------------------------------------------------------------
# wrk's script: the POST body, and at the end one JSON line on stderr with
# the counts and percentiles (microseconds).
cat >"$bench/load.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"prompt":"bench"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.stderr:write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
EOF

# A prober beside wrk: one POST /v1/tasks at a time on a new connection,
# every 10 ms, recording each outcome; at SIGTERM it writes how many
# failed and the longest outage (from the last success before a run of
# failures to the first success after it), which wrk's counts of failed
# attempts do not tell.
cat >"$bench/probe.py" <<'EOF_PY'
import collections, http.client, json, signal, sys, time

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
body = b'{"prompt":"probe"}'
results = []  # (start, end, ok, error)
while not stop:
    start = time.monotonic()
    error = None
    try:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        conn.request("POST", "/v1/tasks", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if not 200 <= response.status < 300:
            error = f"status {response.status}"
    except Exception as err:  # noqa: BLE001 - every failure counts
        error = f"{type(err).__name__}: {err}"
    end = time.monotonic()
    results.append((start, end, error is None, error))
    time.sleep(max(0.0, 0.01 - (end - start)))

longest = 0.0
i = 0
while i < len(results):
    if results[i][2]:
        i += 1
        continue
    j = i
    while j < len(results) and not results[j][2]:
        j += 1
    begin = results[i - 1][1] if i > 0 else results[i][0]
    finish = results[j][0] if j < len(results) else results[j - 1][1]
    longest = max(longest, finish - begin)
    i = j
errors = collections.Counter(r[3] for r in results if not r[2])
with open(out, "w") as f:
    json.dump({
        "probes": len(results),
        "probe_failed": sum(1 for r in results if not r[2]),
        "longest_outage_ms": round(longest * 1000, 1),
        "probe_errors": dict(errors.most_common(3)),
    }, f)
EOF_PY

# load_start NAME URL [SECONDS]: wrk and the prober in the background
# (until load_stop; wrk for at most SECONDS, default 600).
load_start() {
    local hostport=${2#http://}
    hostport=${hostport%%/*}
    python3 "$bench/probe.py" "${hostport%:*}" "${hostport##*:}" "$bench/probe-$1.json" &
    probe_pid=$!
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${3:-600}s" --latency -s "$bench/load.lua" "$2" \
        >"$bench/wrk-$1.out" 2>"$bench/wrk-$1.err" &
    wrk_pid=$!
}

# load_stop NAME: stops wrk (SIGINT: it reports what it saw) and the
# prober, and appends the phase's JSON object to phases. Runs in the main
# shell (not in $(...)), whose children they are.
load_stop() {
    local name=$1 rc=0
    if kill -0 "$wrk_pid" 2>/dev/null; then
        kill -INT "$wrk_pid" 2>/dev/null || true
    fi
    wait "$wrk_pid" || rc=$?
    wrk_pid=
    kill -TERM "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" || true
    probe_pid=
    [ -s "$bench/probe-$name.json" ] || die "the prober ($name) wrote no result"
    local line
    line=$(grep '^{' "$bench/wrk-$name.err" | tail -n 1 || true)
    if [ -z "$line" ]; then
        cat "$bench/wrk-$name.out" "$bench/wrk-$name.err" >&2
        die "wrk ($name) ended with status $rc and no summary"
    fi
    phases+=("$(jq -c --arg phase "$name" --slurpfile probe "$bench/probe-$name.json" '{
        phase: $phase,
        seconds: (.duration_us / 1e6 * 1000 | round / 1000),
        requests: (.requests + .connect + .read + .write + .timeout),
        responses: .requests,
        failed: (.status + .connect + .read + .write + .timeout),
        errors: {status_4xx_5xx: .status, connect: .connect, read: .read, write: .write, timeout: .timeout},
        rps: (.requests / (.duration_us / 1e6) | round),
        p50_ms: (.p50_us / 10 | round / 100),
        p99_ms: (.p99_us / 10 | round / 100),
        max_ms: (.max_us / 10 | round / 100)
    } + $probe[0]' <<<"$line")")
}

# --- steward and its service ------------------------------------------------------
api_port=$(free_port)
svc_port=$(free_port)
while [ "$svc_port" = "$api_port" ]; do svc_port=$(free_port); done

# write_config STRATEGY
write_config() {
    cat >"$config.tmp" <<EOF
# Generated by scripts/bench/deploy.sh.
[server]
listen = "127.0.0.1:$api_port"
data_dir = "$bench/data"

[deploy]
backend = "process"
initial_version = "1.0.0"

[[services]]
name = "agent"
replicas = $REPLICAS
port = $svc_port
env = { DEMO_AGENT_LLM_LATENCY_MS = "20ms", DEMO_AGENT_TOOL_LATENCY_MS = "2ms", DEMO_AGENT_LLM_CALLS = "1", DEMO_AGENT_TOOL_CALLS = "1" }

[services.process]
command = ["$agent", "--port", "{port}", "--agent-version", "{version}"]

[services.health]
http = "/healthz"
interval = "500ms"
timeout = "250ms"

[services.rollout]
strategy = "$1"
max_surge = 1
max_unavailable = 0
verify_window = "2s"
drain_timeout = "10s"
EOF
    mv "$config.tmp" "$config"
}

write_config rolling
"$steward" check-config "$config" >/dev/null 2>"$bench/check.err" ||
    { cat "$bench/check.err" >&2; die "the generated configuration $config is invalid"; }

log "starting steward up (API 127.0.0.1:$api_port, service proxy 127.0.0.1:$svc_port, $REPLICAS replicas)"
NO_COLOR=1 STEWARD_LOG=info "$steward" up "$config" >"$steward_log" 2>&1 &
steward_pid=$!

# wait_running VERSION: until status shows the service running VERSION
# with every replica in the proxy and no deployment running.
wait_running() {
    local deadline=$((SECONDS + 120)) status=
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$steward_pid" 2>/dev/null || { show_log; die "steward exited while starting"; }
        if status=$(st status -o json 2>/dev/null) &&
            jq -e --arg v "$1" '.services[] | select(.name == "agent") | select(.state == "running" and .version == $v)' \
                <<<"$status" >/dev/null &&
            ! st deployments list -o json 2>/dev/null | jq -e '.[] | select(.status == "running" or .status == "rolling_back")' >/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    [ -n "$status" ] && jq '.services' <<<"$status" >&2
    show_log
    die "service agent did not run version $1 within 120 s"
}
wait_running 1.0.0
log "agent 1.0.0 runs ($REPLICAS replicas)"

# Sanity: one request through the proxy.
url=http://127.0.0.1:$svc_port/v1/tasks
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"prompt":"bench"}' "$url" >/dev/null ||
    { show_log; die "POST $url failed before any deployment"; }

phases=()

log "phase steady: ${STEADY_SECONDS}s of load"
load_start steady "$url" "$STEADY_SECONDS"
wait "$wrk_pid" || true
load_stop steady

# deploy_phase NAME VERSION: load around `steward deploy VERSION --wait`;
# sets deploy_s and deploy_id.
deploy_phase() {
    local name=$1 version=$2 start rc=0
    log "phase $name: deploying $version under load"
    load_start "$name" "$url"
    sleep "$LEAD_SECONDS"
    start=$(now_ns)
    st deploy "$version" --wait >"$bench/deploy-$name.out" 2>&1 || rc=$?
    deploy_s=$(secs_since "$start")
    sleep "$TAIL_SECONDS"
    load_stop "$name"
    deploy_id=$(st deployments list -o json | jq -r --arg v "$version" '[.[] | select(.version == $v)][0].id // empty')
    if [ "$rc" -ne 0 ]; then
        cat "$bench/deploy-$name.out" >&2
        show_log 80
        die "steward deploy $version failed (exit $rc)"
    fi
    log "deployment $deploy_id of $version took ${deploy_s}s (CLI wall time)"
}

deploy_phase rolling 1.1.0
rolling_id=$deploy_id rolling_s=$deploy_s
st deployments show "$rolling_id" -o json >"$bench/rolling-deployment.json"

write_config blue_green
deploy_phase blue_green 1.2.0
bg_id=$deploy_id bg_s=$deploy_s
st deployments show "$bg_id" -o json >"$bench/bg-deployment.json"
st events list --kind deploy --output json --limit 1000 >"$bench/events.json"

# Steward's log lines at warn or error during the run, for the report.
sed 's/\x1b\[[0-9;]*m//g' "$steward_log" | grep -E ' (WARN|ERROR) ' >"$bench/steward-warnings.log" || true

# --- the overhead of the rolling deployment ---------------------------------------------
python3 - "$bench/rolling-deployment.json" "$bench/events.json" "$steward_log" "$REPLICAS" >"$bench/overhead.json" <<'PY'
import calendar, json, re, sys

deployment = json.load(open(sys.argv[1]))
events = json.load(open(sys.argv[2]))["events"]
log_lines = open(sys.argv[3], errors="replace").read().splitlines()
replicas = int(sys.argv[4])
dep_id = deployment["id"]


def ns(ts):
    """RFC 3339 (any number of fractional digits, Z or +hh:mm) -> ns since the epoch."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", ts)
    if not m:
        raise SystemExit(f"cannot parse the time {ts!r}")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "")[:9].ljust(9, "0")
    off = m.group(8)
    offset = 0 if off == "Z" else (1 if off[0] == "+" else -1) * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    return (calendar.timegm((y, mo, d, h, mi, s)) - offset) * 10**9 + int(frac)


def digits(ts):
    m = re.search(r"\.(\d+)", ts)
    return len(m.group(1)) if m else 0


def ms(a, b):
    return (b - a) / 1e6


steps = deployment["plan"]["steps"]
update = next(s for s in steps if s["kind"] == "update_services")
verify = next((s for s in steps if s["kind"] == "verify_health"), None)
update_ms = ms(ns(update["started_at"]), ns(update["finished_at"]))
verify_ms = ms(ns(verify["started_at"]), ns(verify["finished_at"])) if verify else 0.0
deployment_ms = ms(ns(deployment["created_at"]), ns(deployment["finished_at"]))

# Steward's log (tracing, microseconds): when each old replica's drain
# began, and when the backend saw it exit.
ansi = re.compile(r"\x1b\[[0-9;]*m")
draining, stopped_log, in_flight = {}, {}, {}
for line in log_lines:
    line = ansi.sub("", line)
    m = re.match(r"(\S+Z)\s+INFO\s+\S+: draining upstream .*upstream=(\S+) in_flight=(\d+)", line)
    if m:
        draining[m.group(2)] = ns(m.group(1))
        in_flight[m.group(2)] = int(m.group(3))
        continue
    m = re.match(r"(\S+Z)\s+INFO\s+\S+: replica stopped replica=(\S+)", line)
    if m:
        stopped_log[m.group(2)] = ns(m.group(1))

mine = sorted((e for e in events if (e.get("payload") or {}).get("deployment") == dep_id), key=lambda e: e["id"])
batches, batch, last_added = [], None, None
retired = []  # per old replica: drain and stop times
for e in mine:
    kind, p = e["kind"], e.get("payload") or {}
    t = ns(e["time"])
    if kind == "deploy.replica.healthy":
        if batch is None:
            batch = []
            batches.append(batch)
        batch.append(p["after_ms"])
        continue
    if kind == "deploy.replica.started":
        continue
    batch = None
    if kind == "deploy.replica.added":
        last_added = t
    elif kind == "deploy.replica.drained":
        r = p.get("replica")
        if r in draining and r in stopped_log:
            retire = ms(draining[r], stopped_log[r])
            drain = min(ms(draining[r], t), retire)
            retired.append({"replica": r, "in_flight": in_flight[r], "drain_ms": round(drain, 1),
                            "stop_ms": round(retire - drain, 1), "retire_ms": round(retire, 3),
                            "source": "log+journal"})
        else:  # no log lines: journal times only (ms, stamped when written)
            retired.append({"replica": r, "drain_ms": round(ms(last_added, t), 1) if last_added else 0.0,
                            "stop_ms": None, "retire_ms": None, "source": "journal"})

batch_ms = [max(b) for b in batches]
started = sum(len(b) for b in batches)
sum_drain = sum(r["drain_ms"] for r in retired)
precise = all(r["retire_ms"] is not None for r in retired)
sum_retire = sum(r["retire_ms"] for r in retired) if precise else None
overhead = (update_ms - sum(batch_ms) - sum_drain) / replicas
bookkeeping = (update_ms - sum(batch_ms) - sum_retire) / replicas if precise else None
print(json.dumps({
    "deployment": dep_id,
    "replicas": replicas,
    "replicas_started": started,
    "deployment_ms": round(deployment_ms, 3),
    "verify_ms": round(verify_ms, 3),
    "deployment_minus_verify_ms": round(deployment_ms - verify_ms, 3),
    "update_ms": round(update_ms, 3),
    "batches": len(batch_ms),
    "batch_max_after_ms": batch_ms,
    "after_ms_all": [x for b in batches for x in b],
    "retired": retired,
    "sum_batch_ms": sum(batch_ms),
    "sum_drain_ms": round(sum_drain, 1),
    "sum_stop_ms": round(sum_retire - sum_drain, 1) if precise else None,
    "sum_retire_ms": round(sum_retire, 3) if precise else None,
    "overhead_per_replica_ms": round(overhead, 1),
    "bookkeeping_per_replica_ms": round(bookkeeping, 1) if precise else None,
    "target_ms": 50,
    "within_target": overhead < 50,
    "precision": {
        "step_timestamp_fraction_digits": digits(update["started_at"]),
        "event_time_fraction_digits": min((digits(e["time"]) for e in mine), default=0),
        "log_timestamps": "microseconds" if precise else "not found",
        "after_ms": "whole milliseconds, truncated",
    },
}))
PY
[ "$(jq '.replicas_started' "$bench/overhead.json")" -eq "$REPLICAS" ] ||
    log "warning: the rolling deployment's journal shows $(jq '.replicas_started' "$bench/overhead.json") replicas started, not $REPLICAS"

# --- the anchor: docker compose recreating a container ------------------------------------
compose_json=null
if $compose; then
    docker image inspect steward-base:local >/dev/null 2>&1 || made_images+=(steward-base:local)
    log "base image (scripts/docker/base-image.sh)"
    scripts/docker/base-image.sh "$steward" "$agent" 2>"$bench/base-image.err" ||
        { cat "$bench/base-image.err" >&2; die "scripts/docker/base-image.sh failed"; }
    mkdir -p "$bench/image"
    cp "$agent" "$bench/image/steward-demo-agent"
    for tag in 1 2; do
        cat >"$bench/image/Dockerfile.$tag" <<EOF
FROM steward-base:local
COPY steward-demo-agent /usr/local/bin/steward-demo-agent
USER steward
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/steward-demo-agent", "--listen", "0.0.0.0", "--port", "8080", "--agent-version", "$tag"]
EOF
        log "building bench-agent:$tag"
        made_images+=("bench-agent:$tag")
        docker build -q -f "$bench/image/Dockerfile.$tag" -t "bench-agent:$tag" "$bench/image" >/dev/null 2>"$bench/docker-build.err" ||
            { cat "$bench/docker-build.err" >&2; die "docker build of bench-agent:$tag failed"; }
    done

    host_port=$(free_port)
    compose_file=$bench/compose.yaml
    cat >"$compose_file" <<EOF
# Generated by scripts/bench/deploy.sh: the anchor, one container.
services:
  agent:
    image: bench-agent:\${BENCH_AGENT_TAG}
    ports:
      - "127.0.0.1:$host_port:8080"
    environment:
      DEMO_AGENT_LLM_LATENCY_MS: 20ms
      DEMO_AGENT_TOOL_LATENCY_MS: 2ms
      DEMO_AGENT_LLM_CALLS: "1"
      DEMO_AGENT_TOOL_CALLS: "1"
EOF
    compose() { BENCH_AGENT_TAG=$1 "${compose_cmd[@]}" -p "$compose_project" -f "$compose_file" "${@:2}"; }
    # wait_agent VERSION: until the container's /healthz answers 200 with VERSION.
    wait_agent() {
        local deadline=$((SECONDS + 60))
        while [ $SECONDS -lt $deadline ]; do
            if curl -fsS --max-time 1 "http://127.0.0.1:$host_port/healthz" 2>/dev/null |
                jq -e --arg v "$1" '.version == $v' >/dev/null 2>&1; then
                return 0
            fi
            sleep 0.05
        done
        compose "$1" logs >&2 || true
        die "the compose container did not answer /healthz with version $1 within 60 s"
    }
    log "compose (${compose_cmd[*]}): up -d with bench-agent:1 on 127.0.0.1:$host_port"
    compose 1 up -d >"$bench/compose-up1.log" 2>&1 || { cat "$bench/compose-up1.log" >&2; die "compose up (bench-agent:1) failed"; }
    wait_agent 1
    log "phase compose_steady: ${STEADY_SECONDS}s of load on the container"
    load_start compose_steady "http://127.0.0.1:$host_port/v1/tasks" "$STEADY_SECONDS"
    wait "$wrk_pid" || true
    load_stop compose_steady
    log "phase compose: switching to bench-agent:2 under load"
    load_start compose "http://127.0.0.1:$host_port/v1/tasks"
    sleep "$LEAD_SECONDS"
    start=$(now_ns)
    compose 2 up -d >"$bench/compose-up2.log" 2>&1 || { cat "$bench/compose-up2.log" >&2; die "compose up (bench-agent:2) failed"; }
    compose_up_s=$(secs_since "$start")
    wait_agent 2
    compose_ready_s=$(secs_since "$start")
    sleep "$COMPOSE_TAIL_SECONDS"
    load_stop compose
    log "compose recreated the container in ${compose_up_s}s; version 2 answered after ${compose_ready_s}s"
    compose_json=$(jq -nc --arg cmd "${compose_cmd[*]}" --argjson up "$compose_up_s" --argjson ready "$compose_ready_s" \
        '{command: $cmd, up_seconds: $up, answering_after_seconds: $ready}')
fi

# --- results ----------------------------------------------------------------------------
runtime_s=$(secs_since "$script_start")
# Each phase against its baseline: steward's phases against steady, the
# compose switch against compose_steady.
phases_json=$(printf '%s\n' "${phases[@]}" | jq -sc '
    (map({key: .phase, value: .}) | from_entries) as $by
    | map((if (.phase | startswith("compose")) then $by.compose_steady else $by.steady end) as $s
          | . + {baseline: $s.phase,
                 p50_vs_steady: (if $s.p50_ms > 0 then (.p50_ms / $s.p50_ms * 100 | round / 100) else null end),
                 p99_vs_steady: (if $s.p99_ms > 0 then (.p99_ms / $s.p99_ms * 100 | round / 100) else null end)})')
jq -n \
    --argjson phases "$phases_json" \
    --argjson overhead "$(cat "$bench/overhead.json")" \
    --argjson compose "$compose_json" \
    --arg rolling_id "$rolling_id" --argjson rolling_s "$rolling_s" \
    --arg bg_id "$bg_id" --argjson bg_s "$bg_s" \
    --argjson warnings "$(jq -R . "$bench/steward-warnings.log" | jq -s .)" \
    --argjson runtime "$runtime_s" \
    --arg profile "$PROFILE" --argjson replicas "$REPLICAS" \
    --argjson connections "$CONNECTIONS" --argjson threads "$THREADS" --arg bin_dir "$bin_dir" \
    '{
        settings: {profile: $profile, binaries: $bin_dir, replicas: $replicas, connections: $connections, threads: $threads,
                   load: "wrk, POST /v1/tasks {\"prompt\":\"bench\"}, keep-alive, no pause"},
        phases: $phases,
        deployments: {rolling: {id: $rolling_id, cli_seconds: $rolling_s},
                      blue_green: {id: $bg_id, cli_seconds: $bg_s}},
        rolling_overhead: $overhead,
        compose: $compose,
        steward_warnings: $warnings,
        runtime_seconds: $runtime
    }' >target/bench/deploy.json
log "wrote target/bench/deploy.json (steward's log: target/bench/deploy-steward.log)"

# Summary on stdout.
{
    printf '%-15s %7s %9s %7s %6s %7s %7s %7s %7s %12s %10s\n' \
        phase seconds requests failed req/s p50_ms p99_ms p50/base p99/base probe_failed outage_ms
    jq -r '.[] | [.phase, .seconds, .requests, .failed, .rps, .p50_ms, .p99_ms, .p50_vs_steady, .p99_vs_steady,
                  "\(.probe_failed)/\(.probes)", .longest_outage_ms] | @tsv' <<<"$phases_json" |
        while IFS=$'\t' read -r phase secs req failed rps p50 p99 r50 r99 pf outage; do
            printf '%-15s %7s %9s %7s %6s %7s %7s %7sx %7sx %12s %10s\n' \
                "$phase" "$secs" "$req" "$failed" "$rps" "$p50" "$p99" "$r50" "$r99" "$pf" "$outage"
        done
    echo "(failed: wrk's responses >= 400 and socket errors, counted per attempt; base: steady for steward's"
    echo " phases, compose_steady for compose; probe: one request at a time every 10 ms on a new connection,"
    echo " outage_ms: the longest span without a successful probe)"
    echo
    jq -r '"rolling deployment \(.deployment): update step \(.update_ms) ms for \(.replicas) replicas in \(.batches) batches; " +
           "replicas start-to-healthy (max per batch) \(.batch_max_after_ms | map(tostring) | join("+")) = \(.sum_batch_ms) ms; " +
           "old replicas drain \(.sum_drain_ms) ms (in flight at drain start: \([.retired[].in_flight // "?"] | map(tostring) | join(","))), " +
           "stop \(.sum_stop_ms) ms; verify window \(.verify_ms) ms; whole deployment minus verify \(.deployment_minus_verify_ms) ms\n" +
           "overhead per replica: \(.overhead_per_replica_ms) ms (target < 50 ms: \(if .within_target then "met" else "NOT met" end)); " +
           "bookkeeping alone (without the old replicas stopping): \(.bookkeeping_per_replica_ms) ms"' "$bench/overhead.json"
    steward_failed=$(jq '[.[] | select(.phase == "rolling" or .phase == "blue_green") | .failed + .probe_failed] | add' <<<"$phases_json")
    echo "zero downtime (no failed request during steward's deployments): $([ "$steward_failed" -eq 0 ] && echo yes || echo "NO ($steward_failed failed)")"
    [ -s "$bench/steward-warnings.log" ] && echo "steward logged $(wc -l <"$bench/steward-warnings.log") warning/error lines (in deploy.json)"
    echo "runtime: ${runtime_s}s"
}
