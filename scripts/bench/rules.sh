#!/usr/bin/env bash
# The acceptance check of steward's rule engine: the same rule file
# (scripts/bench/rules/rules.yml) evaluated by Prometheus 2.42 (Debian's
# `prometheus` package) and by steward over the same scraped targets for
# several minutes gives the same recorded series and the same alert state
# changes, each change less than one evaluation interval apart.
#
# What it runs, in one temporary directory (/tmp/steward-bench-rules.*):
#   1. Two scripted targets (scripts/bench/rules/targets.py): request
#      counters and a latency histogram (job bench-shop), queue depths,
#      temperatures and a build info gauge (job bench-queues). Time is cut
#      into 10 s slots; values change only from one slot to the next, and
#      every slot's samples are served, stamped with the slot's start,
#      during the slot before, so both stores hold every slot's samples
#      before it begins: whenever a system scrapes, an evaluation at t sees
#      the slots begun by t. The script makes alerts go pending, fire,
#      resolve, keep firing through a dip (keep_firing_for), change
#      severity with their value, and go before firing.
#   2. `steward up` with no services: [metrics] scraping both targets every
#      5 s (scrape_self and scrape_replicas off), [rules] the rule file
#      with evaluation_interval 5s and external label cluster="bench".
#   3. Prometheus with the same scrape jobs, rule file, interval and
#      external label.
#   4. scripts/bench/rules/compare.py plan: once both evaluated every
#      group, the targets' first slot is placed so that no evaluation falls
#      within 0.3 s of a slot boundary (the two systems shift each group's
#      evaluations by different hashes; see compare.py).
#   5. DURATION (default 4m) of data; once a slot, after both systems
#      evaluated it, both /api/v1/alerts are read (compare.py watch).
#   6. compare.py report, over the slots after the first minute (the
#      longest range of the rule file, while its windows fill): the
#      scraped inputs (identical samples), every recorded series (same
#      series in the same slots, values within a relative 1e-9, one sample
#      per evaluation), every alert's state changes from ALERTS (same
#      order, less than the group's interval apart), ALERTS_FOR_STATE,
#      steward's journal (alert.pending/firing/resolved: exactly its
#      ALERTS changes), and the /api/v1/alerts snapshots (labels, state,
#      value, expanded annotations, activeAt). Exit 1 on any difference.
#
# Results: target/bench/rules.json, and a table (or with --output json the
# JSON document) on stdout; progress on stderr. Exit status 0: everything
# agrees; 1: a difference; 2 (or other): the check could not run.
#
# Usage: scripts/bench/rules.sh [--duration 4m] [--output table|json]
#                               [--no-build]
#   --duration D   data to compare, from the targets' start (s, m or
#                  plain seconds; at least 3m, the first minute and more
#                  being warm-up; 4m covers one whole scripted cycle)
#   --output F     table (default) or json
#   --no-build     use the binaries already in target/$PROFILE
# Environment: PROFILE (release), LEAD_SECONDS (15: time from planning to
#   the targets' start), KEEP_TMP (0: 1 keeps the temporary directory),
#   BIN_DIR, CARGO_TARGET_DIR, PROMETHEUS, HOLD_ON_FAILURE (0: 1 keeps
#   everything running after a failed report, to look at both by hand),
#   STEWARD_RULES (a different rule file for steward alone, to see the
#   check fail).
#
# Needs: curl, jq, python3 (standard library only), prometheus (installed
# with apt-get when missing and run as root).
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
# exit status 1 is kept for a difference found
die() { log "error: $*"; exit 2; }

PROFILE=${PROFILE:-release}
LEAD_SECONDS=${LEAD_SECONDS:-15}
KEEP_TMP=${KEEP_TMP:-0}
SLOT=10
duration=240
output=table
build=true

seconds_of() { # seconds_of 4m|240s|240
    [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || return 1
    case "${BASH_REMATCH[2]}" in
        m) echo $((10#${BASH_REMATCH[1]} * 60)) ;;
        h) echo $((10#${BASH_REMATCH[1]} * 3600)) ;;
        *) echo $((10#${BASH_REMATCH[1]})) ;;
    esac
}

while [ $# -gt 0 ]; do
    case "$1" in
        --duration)
            [ $# -ge 2 ] || die "--duration needs a value"
            duration=$(seconds_of "$2") || die "--duration $2: expected seconds, or a number with s, m or h"
            shift ;;
        --output)
            [ $# -ge 2 ] || die "--output needs a value"
            case "$2" in table | json) output=$2 ;; *) die "--output $2: expected table or json" ;; esac
            shift ;;
        --no-build) build=false ;;
        -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[ "$duration" -ge 180 ] || die "--duration must be at least 3m (the first 70 s are warm-up)"

# --- tools --------------------------------------------------------------------
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
prometheus_binary
promtool=$(dirname "$prometheus")/promtool
steward_binaries "$build"
rules=$repo/scripts/bench/rules/rules.yml
# another rule file for steward only: to see the check catch a difference
steward_rules=$(realpath "${STEWARD_RULES:-$rules}") || die "${STEWARD_RULES:-} does not exist"
[ "$steward_rules" = "$rules" ] || log "steward evaluates $steward_rules, not $rules: expect differences"
compare=(python3 "$repo/scripts/bench/rules/compare.py")

# --- temporary directory and cleanup -------------------------------------------
bench=$(mktemp -d /tmp/steward-bench-rules.XXXXXX)
results=$repo/target/bench
mkdir -p "$results" "$bench/data" "$bench/prometheus"
chmod 700 "$bench/data"
config=$bench/steward.toml
steward_pid= prom_pid= targets_pid=

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    stop "$prom_pid" prometheus
    stop "$steward_pid" steward
    stop "$targets_pid" targets
    [ -f "$bench/steward.log" ] && cp "$bench/steward.log" "$results/rules-steward.log"
    [ -f "$bench/prometheus.log" ] && cp "$bench/prometheus.log" "$results/rules-prometheus.log"
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

api_port=$(free_port) prom_port=$(free_port) shop_port=$(free_port) queues_port=$(free_port)

# --- the targets ---------------------------------------------------------------------
python3 scripts/bench/rules/targets.py --shop-port "$shop_port" --queues-port "$queues_port" \
    --slot "$SLOT" >"$bench/targets.log" 2>&1 &
targets_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$shop_port/info" >/dev/null 2>&1 &&
        curl -fsS "http://127.0.0.1:$queues_port/info" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$queues_port/info" >/dev/null || { show_log "$bench/targets.log"; die "the targets did not start"; }

# --- steward ------------------------------------------------------------------------
cat >"$config" <<TOML
# scripts/bench/rules.sh: no services; the two targets and the rule file
[server]
listen = "127.0.0.1:$api_port"
data_dir = "$bench/data"

[metrics]
scrape_interval = "5s"
scrape_timeout = "5s"
scrape_self = false
scrape_replicas = false

[[metrics.scrape]]
job = "bench-shop"
targets = ["127.0.0.1:$shop_port"]

[[metrics.scrape]]
job = "bench-queues"
targets = ["127.0.0.1:$queues_port"]

[rules]
files = ["$steward_rules"]
evaluation_interval = "5s"
external_labels = { cluster = "bench" }
TOML
"$steward" check-config "$config" >/dev/null 2>"$bench/check.err" ||
    { cat "$bench/check.err" >&2; die "the generated configuration $config is invalid"; }

log "starting steward on 127.0.0.1:$api_port"
NO_COLOR=1 STEWARD_LOG=warn "$steward" up "$config" >"$bench/steward.log" 2>&1 &
steward_pid=$!
token_file=$bench/data/admin.token
for _ in $(seq 1 600); do
    kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited while starting"; }
    [ -f "$token_file" ] &&
        curl -fsS -H "Authorization: Bearer $(cat "$token_file")" \
            "http://127.0.0.1:$api_port/prometheus/api/v1/rules" >/dev/null 2>&1 && break
    sleep 0.1
done
[ -f "$token_file" ] || { show_log "$bench/steward.log"; die "steward did not write its admin token within 60 s"; }

# --- Prometheus ------------------------------------------------------------------
cat >"$bench/prometheus.yml" <<YAML
# scripts/bench/rules.sh: the same scrape jobs, rule file and interval as steward
global:
  scrape_interval: 5s
  scrape_timeout: 5s
  evaluation_interval: 5s
  external_labels:
    cluster: bench
rule_files:
  - $rules
scrape_configs:
  - job_name: bench-shop
    static_configs:
      - targets: ["127.0.0.1:$shop_port"]
  - job_name: bench-queues
    static_configs:
      - targets: ["127.0.0.1:$queues_port"]
YAML
if [ -x "$promtool" ]; then
    "$promtool" check config "$bench/prometheus.yml" >"$bench/promtool.out" 2>&1 ||
        { cat "$bench/promtool.out" >&2; die "promtool refuses $bench/prometheus.yml"; }
fi
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

apis=(--steward "http://127.0.0.1:$api_port/prometheus" --token-file "$token_file"
    --prometheus "http://127.0.0.1:$prom_port")

# --- the run ----------------------------------------------------------------------
log "waiting for both to evaluate every group once"
start=$("${compare[@]}" plan "${apis[@]}" --rules "$rules" --slot "$SLOT" --lead "$LEAD_SECONDS" \
    --out "$bench/plan.json") || die "planning failed"
for port in "$shop_port" "$queues_port"; do
    curl -fsS -X POST "http://127.0.0.1:$port/start?at=$start" >/dev/null || die "the targets did not take their start"
done
end=$(python3 -c "print($start + $duration)")
log "targets start at $(date -d "@$start" +%T.%N | cut -c1-12); data until $(date -d "@$end" +%T) ($duration s)"
"${compare[@]}" watch "${apis[@]}" --plan "$bench/plan.json" --until "$end" --out "$bench/watch.json"
kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited during the run"; }
kill -0 "$prom_pid" 2>/dev/null || { show_log "$bench/prometheus.log"; die "prometheus exited during the run"; }

log "comparing"
status=0
"${compare[@]}" report "${apis[@]}" --plan "$bench/plan.json" --watch "$bench/watch.json" \
    --steward-api "http://127.0.0.1:$api_port" --output "$output" --out "$results/rules.json" || status=$?
if [ "$status" -ne 0 ] && [ "${HOLD_ON_FAILURE:-0}" = 1 ]; then
    log "the report failed; steward and prometheus keep running until this script is interrupted"
    log "token $token_file, steward http://127.0.0.1:$api_port/prometheus, prometheus http://127.0.0.1:$prom_port"
    log "targets http://127.0.0.1:$shop_port/metrics and http://127.0.0.1:$queues_port/metrics, plan $bench/plan.json"
    while :; do sleep 60; done
fi
[ "$status" -gt 1 ] || log "results in target/bench/rules.json ($prom_version; $(nproc) cores)"
exit "$status"
