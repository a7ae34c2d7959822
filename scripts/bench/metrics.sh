#!/usr/bin/env bash
# Benchmarks steward's metrics subsystem side by side with Prometheus 2.42
# (Debian's `prometheus` package) in one run: both scrape the same targets
# for several minutes, then both query APIs answer the same 20 queries,
# which must agree, and a table compares ingestion, disk, memory and query
# latency.
#
# What it runs, in one temporary directory (/tmp/steward-bench-metrics.*):
#   1. A generated exposition of 117,000 series (scripts/bench/metrics/
#      exposition.py: counters with resets, histograms, gauges, 3,000
#      service/instance pairs). Every sample carries the start of its
#      10-second slot (SLOT) as its timestamp and a value that depends only
#      on the series and the slot, so two scrapers that honour timestamps
#      (both do by default) and scrape at least once a slot store the same
#      samples whatever their scrape offsets. It stays empty until its
#      start, about LEAD_SECONDS after both scrapers run.
#   2. `steward up` on the example agent system (examples/agent-system/
#      steward.toml with its listen address, ports and data directory
#      rewritten: the gateway and two agent-worker replicas of
#      steward-demo-agent on the process backend, under light load), plus
#      [metrics] scrape_interval 5s and a static job `bench` for the
#      exposition.
#   3. Prometheus 2.42 scraping the same: the exposition (job `bench`) and
#      every replica steward scrapes, with the labels steward gives them
#      (read from steward's /prometheus/api/v1/targets), every 5 s, with
#      its default storage settings (WAL compression on).
#   4. SCRAPE_SECONDS (default 300) of scraping from the exposition's
#      start, watching both processes (resident memory every 5 s, CPU time
#      from /proc).
#   5. scripts/bench/metrics/compare.py report: the 20 queries of
#      scripts/bench/metrics/queries.txt through both APIs at T, the
#      newest slot both hold (instant at T, range over T-2m..T step 15s),
#      compared series by series (values within a relative 1e-9), then
#      ROUNDS (default 10) timed rounds of every query on each, alternating.
#
# Figures, per system:
#   samples ingested per second  bench samples stored / seconds of data;
#                                the same for both when both keep up
#   samples per CPU second       every sample the store took during the
#                                watch / the process' CPU seconds then (the
#                                ingestion capacity; steward's process also
#                                runs its deployment engine, proxies, health
#                                checks and resource collection)
#   bytes per sample on disk     `du -sb` of the data directory / samples
#                                stored (in a few minutes neither store cuts
#                                a block: steward's WAL, Prometheus' WAL and
#                                memory-mapped head chunks)
#   memory per active series     median resident memory of the last minute
#                                / head series (/api/v1/status/tsdb)
#   query latency                median and p99 of every timed query
#
# Results: target/bench/metrics.json and a table on stdout. Exit 1 when an
# answer differs.
#
# Usage: scripts/bench/metrics.sh [--no-build]
#   --no-build    use the binaries already in target/$PROFILE
# Environment: PROFILE (release), SCRAPE_SECONDS (300), LEAD_SECONDS (30),
#   SLOT (10), ROUNDS (10), SERVICES (50) and INSTANCES (60) of the
#   exposition, KEEP_TMP (0: 1 keeps the temporary directory), BIN_DIR,
#   HOLD_ON_FAILURE (0: 1 keeps everything running when the report fails,
#   to run compare.py report again by hand).
#
# Needs: curl, jq, python3 (standard library only), prometheus (installed
# with apt-get when missing and run as root).
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

PROFILE=${PROFILE:-release}
SCRAPE_SECONDS=${SCRAPE_SECONDS:-300}
LEAD_SECONDS=${LEAD_SECONDS:-30}
SLOT=${SLOT:-10}
ROUNDS=${ROUNDS:-10}
SERVICES=${SERVICES:-50}
INSTANCES=${INSTANCES:-60}
KEEP_TMP=${KEEP_TMP:-0}

build=true
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=false ;;
        -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

# --- tools --------------------------------------------------------------------
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
prometheus_binary

steward_binaries "$build"

# --- temporary directory and cleanup -------------------------------------------
bench=$(mktemp -d /tmp/steward-bench-metrics.XXXXXX)
mkdir -p target/bench "$bench/data" "$bench/prometheus"
config=$bench/steward.toml
steward_pid= prom_pid= gen_pid= load_pid=

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    stop "$load_pid" load
    stop "$prom_pid" prometheus
    stop "$steward_pid" steward
    local record pid
    for record in "$bench"/data/replicas/*; do
        [ -f "$record" ] || continue
        pid=$(jq -r '.pid // empty' "$record" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            log "replica pid $pid still runs after steward stopped; killing its process group"
            kill -KILL -- "-$pid" 2>/dev/null
        fi
    done
    stop "$gen_pid" exposition
    [ -f "$bench/steward.log" ] && cp "$bench/steward.log" "$repo/target/bench/metrics-steward.log"
    [ -f "$bench/prometheus.log" ] && cp "$bench/prometheus.log" "$repo/target/bench/metrics-prometheus.log"
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

show_log() { log "last lines of $1:"; tail -n 20 "$1" >&2 || true; }
st() { "$steward" --config "$config" "$@"; }

api_port=$(free_port) gateway_port=$(free_port) worker_port=$(free_port)
gen_port=$(free_port) prom_port=$(free_port)

# --- the exposition -----------------------------------------------------------------
start=$(python3 -c "import math, time; print(math.ceil((time.time() + $LEAD_SECONDS) / $SLOT) * $SLOT)")
python3 scripts/bench/metrics/exposition.py --port "$gen_port" --start "$start" --slot "$SLOT" \
    --services "$SERVICES" --instances "$INSTANCES" >"$bench/exposition.log" 2>&1 &
gen_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$gen_port/slot" >/dev/null 2>&1 && break
    sleep 0.1
done
series=$(curl -fsS "http://127.0.0.1:$gen_port/slot" | jq .series) || { show_log "$bench/exposition.log"; die "the exposition did not start"; }
log "exposition of $series series on 127.0.0.1:$gen_port, slot $SLOT s, starting at $(date -d "@$start" +%T)"

# --- steward on the example -------------------------------------------------------------
example=$repo/examples/agent-system
sed -e "s|^listen = .*|listen = \"127.0.0.1:$api_port\"|" \
    -e "s|^data_dir = .*|data_dir = \"$bench/data\"|" \
    -e "s|^port = 8080$|port = $gateway_port|" \
    -e "s|^port = 8081$|port = $worker_port|" \
    -e "s|^migrations = \"\\(.*\\)\"|migrations = \"$example/\\1\"|" \
    -e "s|^url = \"sqlite://data/|url = \"sqlite://$bench/data/|" \
    "$example/steward.toml" >"$config"
grep -q "127.0.0.1:$api_port" "$config" && grep -q "port = $worker_port" "$config" ||
    die "could not rewrite $example/steward.toml (its listen or port lines changed?)"
cat >>"$config" <<TOML

[metrics]
scrape_interval = "5s"
scrape_timeout = "5s"

[[metrics.scrape]]
job = "bench"
targets = ["127.0.0.1:$gen_port"]
TOML
"$steward" check-config "$config" >/dev/null 2>"$bench/check.err" ||
    { cat "$bench/check.err" >&2; die "the generated configuration $config is invalid"; }

log "starting steward up on the example (API 127.0.0.1:$api_port)"
PATH=$bin_dir:$PATH NO_COLOR=1 STEWARD_LOG=warn "$steward" up "$config" >"$bench/steward.log" 2>&1 &
steward_pid=$!
token_file=$bench/data/admin.token

# The replicas steward scrapes, once both services run.
targets=
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
    kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited while starting"; }
    if [ -f "$token_file" ] &&
        targets=$(curl -fsS -H "Authorization: Bearer $(cat "$token_file")" \
            "http://127.0.0.1:$api_port/prometheus/api/v1/targets" 2>/dev/null) &&
        [ "$(jq '[.data.activeTargets[] | select(.labels.job == "agent-worker" or .labels.job == "gateway")] | length' <<<"$targets")" -ge 3 ]; then
        break
    fi
    targets=
    sleep 0.5
done
[ -n "$targets" ] || { show_log "$bench/steward.log"; die "steward did not scrape the example's 3 replicas within 120 s"; }
log "steward scrapes $(jq '.data.activeTargets | length' <<<"$targets") targets"

# --- Prometheus on the same targets ------------------------------------------------------
{
    cat <<YAML
global:
  scrape_interval: 5s
  scrape_timeout: 5s
  evaluation_interval: 1m
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: ["127.0.0.1:$gen_port"]
YAML
    # one job per replica, with steward's labels for it
    jq -r '.data.activeTargets[] | select(.labels.job == "agent-worker" or .labels.job == "gateway") |
        "  - job_name: replica-\(.labels.replica)\n    metrics_path: \(.scrapeUrl | capture("//[^/]+(?<p>/[^?]*)").p)\n    static_configs:\n      - targets: [\"\(.labels.instance)\"]\n        labels: \(.labels | del(.instance) | tojson)"' \
        <<<"$targets"
} >"$bench/prometheus.yml"
log "starting $prom_version on 127.0.0.1:$prom_port"
"$prometheus" --config.file="$bench/prometheus.yml" --storage.tsdb.path="$bench/prometheus" \
    --web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.retention.time=1d \
    --log.level=warn >"$bench/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || { show_log "$bench/prometheus.log"; die "prometheus exited while starting"; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null || die "prometheus is not ready after 30 s"

# Light load, so the demo agents' counters move.
(
    while :; do
        curl -fsS -X POST -H 'Content-Type: application/json' -d '{"prompt":"bench"}' \
            "http://127.0.0.1:$worker_port/v1/tasks" >/dev/null 2>&1 || true
        sleep 0.2
    done
) &
load_pid=$!

wait_s=$(python3 -c "import time; print(max(0.0, $start - time.time()))")
log "waiting ${wait_s%.*} s for the exposition's start"
sleep "$wait_s"

log "scraping for $SCRAPE_SECONDS s"
python3 scripts/bench/metrics/compare.py watch --pid "steward=$steward_pid" --pid "prometheus=$prom_pid" \
    --seconds "$SCRAPE_SECONDS" --out "$bench/watch.json"
kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited while scraping"; }
kill -0 "$prom_pid" 2>/dev/null || { show_log "$bench/prometheus.log"; die "prometheus exited while scraping"; }

log "comparing the queries and timing $ROUNDS rounds"
status=0
python3 scripts/bench/metrics/compare.py report \
    --steward "http://127.0.0.1:$api_port/prometheus" --token-file "$token_file" \
    --prometheus "http://127.0.0.1:$prom_port" --exposition "http://127.0.0.1:$gen_port" \
    --queries scripts/bench/metrics/queries.txt --watch "$bench/watch.json" \
    --data "steward=$bench/data/metrics" --data "prometheus=$bench/prometheus" \
    --rounds "$ROUNDS" --out target/bench/metrics.json || status=$?
if [ "$status" -ne 0 ] && [ "${HOLD_ON_FAILURE:-0}" = 1 ]; then
    log "the report failed; steward and prometheus keep running until this script is interrupted"
    log "token $token_file, steward http://127.0.0.1:$api_port/prometheus, prometheus http://127.0.0.1:$prom_port, exposition http://127.0.0.1:$gen_port"
    while :; do sleep 60; done
fi
log "results in target/bench/metrics.json ($prom_version; $(nproc) cores)"
exit "$status"
