#!/usr/bin/env bash
# Benchmarks steward's log store against the physical limits on the same
# machine and the same data (the log store issue's benchmark): ingest
# through Loki's push API against appending the same lines to files, and
# LogQL queries against ripgrep over the raw files. Targets: ingest at
# least half the raw append rate (with the same durability); a line-filter
# query over all of it no slower than ripgrep; a query selecting one
# service's stream under a tenth of ripgrep's time.
#
# What it runs:
#   1. The dataset (scripts/bench/logs/generate.py), generated once and
#      kept in target/bench/logs-data-SIZE/: SIZE bytes of an agent
#      system's logs as `docker compose logs` shows them (every line
#      `<service> | <line>`), in 8 files (hosts), six services interleaved
#      (gateway, planner 15% of the lines, worker, tool-runner, memory,
#      scheduler): JSON lines with task, trace and span ids, durations,
#      token counts, tools and models; logfmt; plain text; errors and
#      multi-line tracebacks; a rare needle in 23 lines.
#   2. The client (scripts/bench/logs/pusher, a standalone Rust program
#      with its own workspace) cuts the files into batches of BATCH_BYTES
#      (1 MiB) at line ends, file i to connection i mod CONNECTIONS (8).
#      Baseline: each connection appends its batches, as they are in the
#      files, to its own file with write + fdatasync per batch (the same
#      durability as a push's 204); for context also one shared file
#      (O_APPEND) and no fsync at all.
#   3. steward up with no services, a [logs] max_memory of MAX_MEMORY
#      (1GiB) and the API's rate limit off; the client pushes the same
#      batches, each a snappy-compressed protobuf PushRequest with one
#      stream per service in it, labelled {host, service}, the line being
#      what follows the prefix (all bodies are encoded before the clock
#      starts). Lines are dated over the 50 minutes before the push.
#   4. Queries, each best of 3 after one warm-up run (so the page cache is
#      warm on both sides), steward through /loki/api/v1/query_range or
#      /query with curl, ripgrep over the 8 raw files with its output
#      piped to wc -l (to /dev/null, rg would stop at the first match):
#        rare needle   {service=~".+"} |= NEEDLE (limit 10000: all of
#                      them)                    vs rg -F NEEDLE
#        common word   {service=~".+"} |= "cache" (limit 10000, Loki's
#                      most: the newest)        vs rg -F cache (all)
#        word counted  sum(count_over_time({service=~".+"} |= "cache" [1h]))
#                                               vs rg -c -F cache
#        one service   {service="planner"} (limit 10000)
#                                               vs rg '^planner +\| '
#        service counted sum(count_over_time({service="planner"}[1h]))
#                                               vs rg -c '^planner +\| '
#        errors by service sum by (service) (count_over_time(
#                      {service=~".+"} |= "error" [1h]))   vs rg -c -F error
#      Counts are checked against the generator's (a query that misses
#      lines fails the run).
#   5. With --index, after steward is stopped: the index measurement
#      (scripts/bench/logs/index, a standalone Rust program with its own
#      workspace) on the same lines, the two ways to skip what cannot
#      match a line filter: a tantivy index (Quickwit's approach: words,
#      the service and timestamp as fast fields) against per-chunk bloom
#      filters of 4-grams (Loki's and steward's, reimplemented there):
#      build time, size on disk, and the queries above (and substrings
#      that are not words); with --index-ngram also a tantivy index of
#      4-grams. Its counts are checked against a scan of the lines.
#
# Results: target/bench/logs.json (under .index: the index measurement),
# and a table followed by the JSON document on one line (--output json:
# only the JSON) on stdout; progress on stderr. Exit status 0: measured
# (whether or not the targets are met; see .targets); 1: a count was
# wrong; 2: it could not run.
#
# Usage: scripts/bench/logs.sh [--size 1G] [--output table|json]
#                              [--no-build] [--keep] [--index]
#                              [--index-ngram]
#   --size S       the dataset's size (K, M or G: powers of 1024; at least
#                  8M); generated once per size
#   --output F     table (default: the table, then the JSON on one line)
#                  or json
#   --no-build     use the steward binary already in target/$PROFILE (the
#                  client is still built when it is missing)
#   --keep         keep the temporary directory (steward's store, its log)
#   --index        also the index measurement (step 5)
#   --index-ngram  the same, with the ngram index too (minutes at 1G)
# Environment: PROFILE (release), CONNECTIONS (8), BATCH_BYTES (1048576),
#   MAX_MEMORY (1GiB), BIN_DIR, CARGO_TARGET_DIR.
#
# Needs: cargo, curl, jq, python3, ripgrep (installed with apt-get when
# missing and run as root). The machine should be otherwise idle.
set -euo pipefail

cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
# exit status 1 is kept for a wrong count
die() { log "error: $*"; exit 2; }

PROFILE=${PROFILE:-release}
CONNECTIONS=${CONNECTIONS:-8}
BATCH_BYTES=${BATCH_BYTES:-1048576}
MAX_MEMORY=${MAX_MEMORY:-1GiB}
size_arg=1G
output=table
build=true
keep=false
index=false
index_args=()

bytes_of() { # bytes_of 512M|1G|100K|12345
    [[ $1 =~ ^([0-9]+)([KMG]?)$ ]] || return 1
    case "${BASH_REMATCH[2]}" in
        K) echo $((10#${BASH_REMATCH[1]} << 10)) ;;
        M) echo $((10#${BASH_REMATCH[1]} << 20)) ;;
        G) echo $((10#${BASH_REMATCH[1]} << 30)) ;;
        *) echo $((10#${BASH_REMATCH[1]})) ;;
    esac
}

while [ $# -gt 0 ]; do
    case "$1" in
        --size)
            [ $# -ge 2 ] || die "--size needs a value"
            size_arg=$2
            shift ;;
        --output)
            [ $# -ge 2 ] || die "--output needs a value"
            case "$2" in table | json) output=$2 ;; *) die "--output $2: expected table or json" ;; esac
            shift ;;
        --no-build) build=false ;;
        --keep) keep=true ;;
        --index) index=true ;;
        --index-ngram) index=true; index_args=(--ngram) ;;
        -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
size=$(bytes_of "$size_arg") || die "--size $size_arg: expected bytes, or a number with K, M or G"
[ "$size" -ge $((8 << 20)) ] || die "--size must be at least 8M"

# --- tools --------------------------------------------------------------------
for tool in cargo curl jq python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
rg=${RG:-$(command -v rg || true)}
if [ -z "$rg" ]; then
    [ "$(id -u)" -eq 0 ] || die "ripgrep is not installed (apt-get install ripgrep, as root)"
    log "installing ripgrep (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ripgrep >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ripgrep >/dev/null; } ||
        die "cannot install ripgrep with apt-get"
    rg=$(command -v rg)
fi
rg_version=$("$rg" --version | sed -n 1p)
steward_binaries "$build" steward-only
pusher_dir=${CARGO_TARGET_DIR:-$repo/target}/bench-logs-pusher
pusher=$pusher_dir/release/steward-bench-logs-pusher
if $build || [ ! -x "$pusher" ]; then
    log "building the client (scripts/bench/logs/pusher)"
    cargo build --release --quiet --manifest-path scripts/bench/logs/pusher/Cargo.toml --target-dir "$pusher_dir"
fi
indexer_dir=${CARGO_TARGET_DIR:-$repo/target}/bench-logs-index
indexer=$indexer_dir/release/steward-bench-logs-index
if $index && { $build || [ ! -x "$indexer" ]; }; then
    log "building the index measurement (scripts/bench/logs/index; tantivy takes minutes the first time)"
    cargo build --release --quiet --manifest-path scripts/bench/logs/index/Cargo.toml --target-dir "$indexer_dir"
fi

# --- the dataset ------------------------------------------------------------------
results=$repo/target/bench
dataset=$results/logs-data-$size_arg
mkdir -p "$results"
if [ ! -f "$dataset/manifest.json" ]; then
    log "generating $size_arg of logs in $dataset (once; later runs reuse it)"
    python3 scripts/bench/logs/generate.py --dir "$dataset" --size "$size" ||
        die "the dataset could not be generated"
fi
manifest=$dataset/manifest.json
mapfile -t files < <(jq -r --arg d "$dataset" '.files[] | "\($d)/\(.)"' "$manifest")
needle=$(jq -r .needle "$manifest")
data_bytes=$(jq .size "$manifest")
log "dataset: $(jq .lines "$manifest") lines, $data_bytes bytes in ${#files[@]} files"

# --- temporary directory and cleanup -------------------------------------------
bench=$(mktemp -d /tmp/steward-bench-logs.XXXXXX)
mkdir -p "$bench/data" "$bench/append" "$bench/out"
chmod 700 "$bench/data"
config=$bench/steward.toml
steward_pid=

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    stop "$steward_pid" steward
    [ -f "$bench/steward.log" ] && cp "$bench/steward.log" "$results/logs-steward.log"
    if $keep; then
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

# the dataset in the page cache, for the client and ripgrep alike
cat "${files[@]}" >/dev/null

# --- baseline: appending the same batches to files ------------------------------
append() { # append NAME [--shared] [--no-sync]
    local name=$1
    shift
    log "append baseline: $name"
    "$pusher" append --dir "$bench/append" --connections "$CONNECTIONS" --batch-bytes "$BATCH_BYTES" \
        "$@" "${files[@]}" >"$bench/out/append-$name.json" || die "the append baseline ($name) failed"
    rm -f "$bench/append"/*.log
    sync
}
sync
append fdatasync
append shared --shared
append nosync --no-sync

# --- steward ----------------------------------------------------------------------
api_port=$(free_port)
cat >"$config" <<TOML
# scripts/bench/logs.sh: no services; the log store under data/logstore
[server]
listen = "127.0.0.1:$api_port"
data_dir = "$bench/data"
# one client pushing back to back; the default (50 requests per second
# per client address) would refuse most of it
rate_limit_per_second = 0

[metrics]
scrape_self = false
scrape_replicas = false

[logs]
collect_replicas = false
max_memory = "$MAX_MEMORY"
TOML
"$steward" check-config "$config" >/dev/null 2>"$bench/check.err" ||
    { cat "$bench/check.err" >&2; die "the generated configuration $config is invalid"; }

log "starting steward on 127.0.0.1:$api_port"
NO_COLOR=1 STEWARD_LOG=warn "$steward" up "$config" >"$bench/steward.log" 2>&1 &
steward_pid=$!
token_file=$bench/data/admin.token
base=http://127.0.0.1:$api_port/loki/api/v1
ready=false
for _ in $(seq 1 600); do
    kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited while starting"; }
    if [ -f "$token_file" ] &&
        curl -fsS -H "Authorization: Bearer $(cat "$token_file")" "$base/labels" >/dev/null 2>&1; then
        ready=true
        break
    fi
    sleep 0.1
done
$ready || { show_log "$bench/steward.log"; die "steward's $base/labels did not answer within 60 s"; }
token=$(cat "$token_file")

# --- ingest -----------------------------------------------------------------------
span=3000
end_ns=$(date +%s%N)
log "pushing $data_bytes bytes to steward ($CONNECTIONS connections)"
"$pusher" push --url "$base/push" --token-file "$token_file" --connections "$CONNECTIONS" \
    --batch-bytes "$BATCH_BYTES" --span-secs "$span" --end-ns "$end_ns" --pid "$steward_pid" \
    "${files[@]}" >"$bench/out/push.json" || { show_log "$bench/steward.log"; die "the push failed"; }
kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited during the push"; }
# wait for the flusher: the frozen heads written as segments and their WAL
# files gone (one WAL file is the head's); queries then read segments
# (and the last, unflushed part of the head)
flushed_after=0
t0=$(date +%s%N)
for _ in $(seq 1 1200); do
    [ "$(find "$bench/data/logstore/wal" -type f | wc -l)" -le 1 ] && break
    sleep 0.1
done
flushed_after=$(python3 -c "print(($(date +%s%N) - $t0) / 1e9)")
store_bytes=$(du -sb "$bench/data/logstore/segments" | cut -f1)
wal_bytes=$(du -sb "$bench/data/logstore/wal" | cut -f1)
segment_files=$(find "$bench/data/logstore/segments" -name '*.seg' | wc -l)
log "the segments take $store_bytes bytes ($wal_bytes in the WAL), $flushed_after s after the last push"

# --- queries ----------------------------------------------------------------------
start_s=$(((end_ns / 1000000000) - span - 60))
end_s=$(((end_ns / 1000000000) + 60))
query_time=$(((end_ns / 1000000000) + 1))

now() { date +%s%N; }
best_of_3() { # best_of_3 FILE CMD...: runs CMD four times, the first untimed; writes the best seconds to FILE.time
    local file=$1 best='' t s
    shift
    "$@" >"$file" || return 1
    for _ in 1 2 3; do
        t=$(now)
        "$@" >"$file" || return 1
        s=$(( $(now) - t ))
        if [ -z "$best" ] || [ "$s" -lt "$best" ]; then best=$s; fi
    done
    python3 -c "print($best / 1e9)" >"$file.time"
}
loki_range() { # loki_range QUERY LIMIT
    curl -fsS -G -H "Authorization: Bearer $token" "$base/query_range" \
        --data-urlencode "query=$1" --data-urlencode "limit=$2" \
        --data-urlencode "start=$start_s" --data-urlencode "end=$end_s" --data-urlencode "direction=backward"
}
loki_instant() { # loki_instant QUERY
    curl -fsS -G -H "Authorization: Bearer $token" "$base/query" \
        --data-urlencode "query=$1" --data-urlencode "time=$query_time"
}
rg_lines() { "$rg" --no-filename "$@" "${files[@]}" | wc -l; }
rg_count() { "$rg" --no-filename -c "$@" "${files[@]}" | awk '{ s += $1 } END { print s + 0 }'; }
streams_count='[.data.result[].values | length] | add // 0'
vector_sum='[.data.result[].value[1] | tonumber] | add // 0'

declare -A steward_q rg_q
steward_q[rare]='{service=~".+"} |= "'$needle'"'
steward_q[common]='{service=~".+"} |= "cache"'
steward_q[common_count]='sum(count_over_time({service=~".+"} |= "cache" [1h]))'
steward_q[service]='{service="planner"}'
steward_q[service_count]='sum(count_over_time({service="planner"}[1h]))'
steward_q[errors]='sum by (service) (count_over_time({service=~".+"} |= "error" [1h]))'
rg_q[rare]="rg -F $needle"
rg_q[common]="rg -F cache"
rg_q[common_count]="rg -c -F cache"
rg_q[service]="rg '^planner +\\| '"
rg_q[service_count]="rg -c '^planner +\\| '"
rg_q[errors]="rg -c -F error"

run_query() { # run_query NAME
    local name=$1 q=${steward_q[$1]} o=$bench/out/q-$1
    log "query $name: ${steward_q[$name]}  vs  ${rg_q[$name]}"
    case "$name" in
        rare) best_of_3 "$o.steward" loki_range "$q" 10000 && best_of_3 "$o.rg" rg_lines -F "$needle" ;;
        common) best_of_3 "$o.steward" loki_range "$q" 10000 && best_of_3 "$o.rg" rg_lines -F cache ;;
        common_count) best_of_3 "$o.steward" loki_instant "$q" && best_of_3 "$o.rg" rg_count -F cache ;;
        service) best_of_3 "$o.steward" loki_range "$q" 10000 && best_of_3 "$o.rg" rg_lines '^planner +\| ' ;;
        service_count) best_of_3 "$o.steward" loki_instant "$q" && best_of_3 "$o.rg" rg_count '^planner +\| ' ;;
        errors) best_of_3 "$o.steward" loki_instant "$q" && best_of_3 "$o.rg" rg_count -F error ;;
    esac || { show_log "$bench/steward.log"; die "query $name failed"; }
    local got
    case "$name" in
        rare | common | service) got=$(jq "$streams_count" "$o.steward") ;;
        *) got=$(jq "$vector_sum" "$o.steward") ;;
    esac
    jq -n --arg name "$name" --arg q "$q" --arg rgq "${rg_q[$name]}" \
        --argjson st "$(cat "$o.steward.time")" --argjson rt "$(cat "$o.rg.time")" \
        --argjson sn "$got" --argjson rn "$(cat "$o.rg")" \
        '{name: $name, query: $q, rg: $rgq, steward_seconds: $st, rg_seconds: $rt,
          steward_results: $sn, rg_results: $rn}' >"$o.json"
    jq -c '.data.result | map({metric, value: (.value[1] // null), entries: (if .values then (.values | length) else null end)})' \
        "$o.steward" >"$o.result" 2>/dev/null || true
}
for name in rare common common_count service service_count errors; do
    run_query "$name"
done
kill -0 "$steward_pid" 2>/dev/null || { show_log "$bench/steward.log"; die "steward exited during the queries"; }

# --- the index measurement (--index) ----------------------------------------------
report_index=()
if $index; then
    # the machine to itself (steward's exit status is not what is measured)
    stop "$steward_pid" steward || true
    steward_pid=
    log "index measurement: tantivy against per-chunk 4-gram bloom filters on the same lines"
    index_status=0
    "$indexer" --data "$dataset" --work "$bench/index" --output json "${index_args[@]}" \
        >"$bench/out/index.json" || index_status=$?
    # 1: a count was wrong, which report.py reports (from the JSON)
    [ "$index_status" -le 1 ] || die "the index measurement failed"
    report_index=(--index "$bench/out/index.json")
fi

# --- report -----------------------------------------------------------------------
status=0
python3 scripts/bench/logs/report.py --manifest "$manifest" --output "$output" --out "$results/logs.json" \
    --append "$bench/out/append-fdatasync.json" --append "$bench/out/append-shared.json" \
    --append "$bench/out/append-nosync.json" --push "$bench/out/push.json" \
    --store-bytes "$store_bytes" --wal-bytes "$wal_bytes" --segments "$segment_files" --flushed-after "$flushed_after" --rg-version "$rg_version" \
    --errors-by-service "$bench/out/q-errors.result" "${report_index[@]}" \
    "$bench"/out/q-*.json || status=$?
[ "$status" -gt 1 ] || log "results in target/bench/logs.json ($(nproc) cores)"
exit "$status"
