#!/usr/bin/env bash
# Benchmarks steward's AlertManager side by side with Alertmanager 0.25
# (Debian's `prometheus-alertmanager`) in one run, with the same
# Alertmanager configuration and the same load (issue 13's acceptance:
# steward at least 2x Alertmanager's ingestion rate, and its notification
# latency after the group timer no worse).
#
# What it runs, in one temporary directory (/tmp/steward-bench-alerts.*):
#   1. A webhook receiver on loopback (scripts/bench/alerts/receiver.py)
#      logging when each notification arrives and for which group.
#   2. One alertmanager.yml: route group_by [alertname, service],
#      group_wait GROUP_WAIT (1s), group_interval 1m, repeat_interval 4h,
#      an inhibition rule, one webhook receiver (the one above).
#   3. Alertmanager with it (own storage directory, clustering off:
#      --cluster.listen-address=), and `steward up` with no services and
#      [alerts] config = "alertmanager.yml" (API v2 under /alertmanager,
#      behind the admin token; its own scrape and its per-client rate
#      limit off).
#   4. scripts/bench/alerts/load.py run, four phases of DURATION each:
#      saturate Alertmanager, saturate steward, then steady Alertmanager
#      and steady steward. The load is Prometheus': POST /api/v2/alerts
#      with batches of 64 alerts from a pool of ALERTS (10,000) distinct
#      label sets (200 groups of 50), re-sent with their startsAt and an
#      endsAt 4 minutes ahead. saturate: after one pass over the pool,
#      CLIENTS (16) connections POST back to back; alerts answered 2xx per
#      second, POST latency p50/p99. steady: the pool at STEADY_RATE
#      alerts per second (default: half the lower of the two saturated
#      rates, so both keep up). In both a probe alert with a new group is
#      POSTed alone every 0.1 s; its notification latency is its first
#      notification's arrival - (POST sent + group_wait).
#   5. load.py report: both side by side.
#
# Results: target/bench/alerts.json, and a table (or with --output json the
# JSON document) on stdout; progress on stderr. Exit status 0: measured
# (whether or not steward meets the targets; see .targets in the JSON);
# 1: a probe's notification never arrived; 2 (or other): it could not run.
#
# Usage: scripts/bench/alerts.sh [--duration 60s] [--output table|json]
#                                [--no-build]
#   --duration D   each of the four phases (s, m or plain seconds; at
#                  least 10 s)
#   --output F     table (default) or json
#   --no-build     use the binaries already in target/$PROFILE
# Environment: PROFILE (release), CLIENTS (16), ALERTS (10000), GROUP_WAIT
#   (1, seconds), STEADY_RATE (alerts/s), KEEP_TMP (0: 1 keeps the
#   temporary directory), BIN_DIR, CARGO_TARGET_DIR, ALERTMANAGER (the
#   binary; default Debian's /usr/bin/prometheus-alertmanager).
#
# Needs: curl, jq, python3 (standard library only), prometheus-alertmanager
# (installed with apt-get when missing and run as root). The machine
# should be otherwise idle: the table shows the CPU anything else used.
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
# exit status 1 is kept for a lost notification
die() { log "error: $*"; exit 2; }

PROFILE=${PROFILE:-release}
CLIENTS=${CLIENTS:-16}
ALERTS=${ALERTS:-10000}
GROUP_WAIT=${GROUP_WAIT:-1}
KEEP_TMP=${KEEP_TMP:-0}
duration=60
output=table
build=true

seconds_of() { # seconds_of 1m|60s|60
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
[ "$duration" -ge 10 ] || die "--duration must be at least 10s"
[[ $GROUP_WAIT =~ ^[0-9]+$ ]] || die "GROUP_WAIT=$GROUP_WAIT: expected whole seconds"

# --- tools --------------------------------------------------------------------
for tool in curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
alertmanager_binary
am_name="Alertmanager $(sed -n 's/.*version \([^ ]*\).*/\1/p' <<<"$am_version")"
steward_binaries "$build"
load=(python3 "$repo/scripts/bench/alerts/load.py")

# --- temporary directory and cleanup -------------------------------------------
bench=$(mktemp -d /tmp/steward-bench-alerts.XXXXXX)
results=$repo/target/bench
mkdir -p "$results" "$bench/data" "$bench/alertmanager"
chmod 700 "$bench/data"
config=$bench/steward.toml
steward_pid= am_pid= receiver_pid=

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    stop "$am_pid" alertmanager
    stop "$steward_pid" steward
    stop "$receiver_pid" receiver
    [ -f "$bench/steward.log" ] && cp "$bench/steward.log" "$results/alerts-steward.log"
    [ -f "$bench/alertmanager.log" ] && cp "$bench/alertmanager.log" "$results/alerts-alertmanager.log"
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

api_port=$(free_port) am_port=$(free_port) receiver_port=$(free_port)

# --- the webhook receiver ---------------------------------------------------------
hooks=$bench/hooks.jsonl
python3 scripts/bench/alerts/receiver.py --port "$receiver_port" --log "$hooks" >"$bench/receiver.log" 2>&1 &
receiver_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$receiver_port/count" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$receiver_port/count" >/dev/null || { show_log "$bench/receiver.log"; die "the receiver did not start"; }

# --- the one Alertmanager configuration ------------------------------------------------
cat >"$bench/alertmanager.yml" <<YAML
# scripts/bench/alerts.sh: the configuration both systems run
global:
  resolve_timeout: 5m
route:
  receiver: webhook
  group_by: [alertname, service]
  group_wait: ${GROUP_WAIT}s
  group_interval: 1m
  repeat_interval: 4h
inhibit_rules:
  # never matches (no BenchOutage alert is sent), but every alert is checked
  - source_matchers: [alertname="BenchOutage"]
    target_matchers: [severity="warning"]
    equal: [cluster]
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:$receiver_port/hook
        send_resolved: true
YAML
amtool=$(dirname "$alertmanager")/amtool
if [ -x "$amtool" ]; then
    "$amtool" check-config "$bench/alertmanager.yml" >"$bench/amtool.out" 2>&1 ||
        { cat "$bench/amtool.out" >&2; die "amtool refuses $bench/alertmanager.yml"; }
fi

# --- Alertmanager ---------------------------------------------------------------------
log "starting $am_name on 127.0.0.1:$am_port"
"$alertmanager" --config.file="$bench/alertmanager.yml" --storage.path="$bench/alertmanager" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    --log.level=warn >"$bench/alertmanager.log" 2>&1 &
am_pid=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$am_port/-/ready" >/dev/null 2>&1 && break
    kill -0 "$am_pid" 2>/dev/null || { show_log "$bench/alertmanager.log"; die "alertmanager exited while starting"; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$am_port/-/ready" >/dev/null || die "alertmanager is not ready after 30 s"

# --- steward --------------------------------------------------------------------------
cat >"$config" <<TOML
# scripts/bench/alerts.sh: no services; the AlertManager on alertmanager.yml
[server]
listen = "127.0.0.1:$api_port"
data_dir = "$bench/data"
# Alertmanager limits nothing; steward's default (50 requests per second
# per client address) would answer most of the load 429
rate_limit_per_second = 0

[metrics]
# Alertmanager's process scrapes nothing either
scrape_self = false
scrape_replicas = false

[alerts]
config = "alertmanager.yml"
TOML
"$steward" check-config "$config" >/dev/null 2>"$bench/check.err" ||
    { cat "$bench/check.err" >&2; die "the generated configuration $config is invalid"; }

log "starting steward on 127.0.0.1:$api_port"
NO_COLOR=1 STEWARD_LOG=warn "$steward" up "$config" >"$bench/steward.log" 2>&1 &
steward_pid=$!
token_file=$bench/data/admin.token
ready=false
for _ in $(seq 1 600); do
    kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited while starting"; }
    if [ -f "$token_file" ] &&
        curl -fsS -H "Authorization: Bearer $(cat "$token_file")" \
            "http://127.0.0.1:$api_port/alertmanager/api/v2/status" >/dev/null 2>&1; then
        ready=true
        break
    fi
    sleep 0.1
done
$ready || { show_log "$bench/steward.log"; die "steward's /alertmanager/api/v2/status did not answer within 60 s"; }

# --- the phases -------------------------------------------------------------------------
starts_at=$(date +%s)
phase() { # phase SYSTEM MODE [--rate R]
    local system=$1 mode=$2 url pid token=()
    shift 2
    case "$system" in
        alertmanager) url=http://127.0.0.1:$am_port pid=$am_pid ;;
        steward) url=http://127.0.0.1:$api_port/alertmanager pid=$steward_pid token=(--token-file "$token_file") ;;
    esac
    log "$system: $mode for $duration s"
    "${load[@]}" run --system "$system" --url "$url" "${token[@]}" --mode "$mode" "$@" \
        --clients "$CLIENTS" --alerts "$ALERTS" --duration "$duration" --hooks "$hooks" --pid "$pid" \
        --starts-at "$starts_at" --group-wait "$GROUP_WAIT" --out "$bench/$system-$mode.json" ||
        die "the $mode phase of $system failed"
    kill -0 "$am_pid" 2>/dev/null || { show_log "$bench/alertmanager.log"; die "alertmanager exited during the run"; }
    kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited during the run"; }
    sleep 2 # let the last notifications go before the next phase
}
phase alertmanager saturate
phase steward saturate
rate=${STEADY_RATE:-$(jq -s 'map(.ingestion.alerts_per_second) | min / 2 | floor' \
    "$bench/alertmanager-saturate.json" "$bench/steward-saturate.json")}
[ "$rate" -gt 0 ] 2>/dev/null || die "no steady rate: a system took no alerts at saturation (rate $rate)"
phase alertmanager steady --rate "$rate"
phase steward steady --rate "$rate"

status=0
"${load[@]}" report --alertmanager-version "$am_name" --output "$output" --out "$results/alerts.json" \
    --phase "$bench/alertmanager-saturate.json" --phase "$bench/steward-saturate.json" \
    --phase "$bench/alertmanager-steady.json" --phase "$bench/steward-steady.json" || status=$?
[ "$status" -gt 1 ] || log "results in target/bench/alerts.json ($am_name; $(nproc) cores)"
exit "$status"
