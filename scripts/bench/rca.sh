#!/usr/bin/env bash
# Measures root-cause ranking (issue 15's acceptance): the scenario suite
# of scripts/bench/rca/scenarios.toml (22 scenarios: bad deployments of
# the failing service, of a dependency, of an unrelated service at the
# same time, configuration changes, a migration that slows writes, crash
# loops with no change at all...) run one by one on the example system
# with real processes (`steward up` of demo agents: gateway ->
# agent-worker -> the agents SQLite database, and an unrelated
# scheduler, under load). For each: the injected cause and steward's
# ranked candidates of the first incident. Prints precision@1 and
# precision@3 over the suite ("no change found" counts as right when
# the scenario injected none). Target: precision@1 >= 0.90.
#
# Each scenario takes about a minute (33 s for the first deployment to
# leave the 30 s root-cause window, the steps, detection); the suite
# about 25 minutes.
#
# Results: target/bench/rca.json, and a table (or with --output json the
# JSON document) on stdout; progress on stderr. Exit status 0: measured
# (whatever the precision); 2: it could not run.
#
# Usage: scripts/bench/rca.sh [--only NAME[,NAME]] [--output table|json]
#                             [--no-build]
# Environment: PROFILE (release), BIN_DIR, CARGO_TARGET_DIR, KEEP_TMP
#   (1 keeps each scenario's directory).
# Needs: python3 (3.11+, standard library only), pkill.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
# shellcheck source=lib.sh
. scripts/bench/lib.sh
PROFILE=${PROFILE:-release}
build=true only="" output=table
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
case "$output" in table | json) ;; *) die "--output is table or json" ;; esac
python3 -c 'import tomllib' 2>/dev/null || die "python3 3.11 or later is needed (tomllib)"
steward_binaries "$build"
mkdir -p target/bench
python3 scripts/bench/rca/run.py \
    --steward "$steward" --agent "$bin_dir/steward-demo-agent" \
    --migrations "$repo/crates/steward-demo-agent/migrations" \
    --out target/bench/rca.json --only "$only" --output "$output" || exit 2
