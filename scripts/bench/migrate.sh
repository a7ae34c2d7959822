#!/usr/bin/env bash
# Benchmarks steward's migration engine against sqlx-cli, in one run, on the
# same files: N small migrations (default 1000, sqlx's layout, which
# steward reads unchanged) applied to a fresh SQLite file and a fresh
# PostgreSQL database.
#
# Reports, per engine, the median of REPS runs (default 3) of
#   - sqlx-cli (`sqlx migrate run`),
#   - steward with one backup per run (`--backup per-run`),
#   - steward with a backup before each migration (`--backup per-migration`),
# and the ratios steward/sqlx and per-migration/per-run. Target: steward
# with backups per run within 1.5x of sqlx-cli. Results also go to
# target/bench/migrate.json.
#
# Installs sqlx-cli when missing (cargo install, several minutes) and starts
# its own throwaway PostgreSQL (scripts/lib/services.sh).
set -euo pipefail

cd "$(dirname "$0")/../.."
# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mbench:\033[0m %s\n' "$*" >&2
    else
        printf 'bench: %s\n' "$*" >&2
    fi
}

N=${N:-1000}
REPS=${REPS:-3}

if ! command -v sqlx >/dev/null 2>&1; then
    log "installing sqlx-cli"
    cargo install sqlx-cli --no-default-features --features sqlite,postgres,rustls --locked
fi
log "building steward (release)"
cargo build --release -p steward --quiet
steward=$PWD/target/release/steward

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh
start_services

bench=$(mktemp -d /tmp/steward-bench.XXXXXX)
trap 'rm -rf "$bench"; cleanup' EXIT
mkdir -p "$bench/migrations"
log "writing $N migrations"
for i in $(seq 1 "$N"); do
    version=$(printf '%014d' "$i")
    printf 'CREATE TABLE m%d (id INTEGER PRIMARY KEY, note TEXT NOT NULL);\nINSERT INTO m%d (id, note) VALUES (1, %s);\n' \
        "$i" "$i" "'row $i'" >"$bench/migrations/${version}_m$i.sql"
done

# fresh_url <engine> <tag>: a new empty database, printed as a URL.
fresh_url() {
    case "$1" in
        sqlite)
            rm -f "$bench/$2.db" "$bench/$2.db-wal" "$bench/$2.db-shm"
            echo "sqlite://$bench/$2.db?mode=rwc"
            ;;
        postgres)
            local name="bench_$2_$RANDOM$RANDOM"
            psql -q "$STEWARD_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
            echo "${STEWARD_TEST_POSTGRES_URL%/*}/$name"
            ;;
    esac
}

# seconds <command...>: wall time of a command, in seconds.
seconds() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>"$bench/last.err" || { cat "$bench/last.err" >&2; return 1; }
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", (e - s) / 1e9 }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

run_sqlx() {
    sqlx migrate run --source "$bench/migrations" --database-url "$1"
}

run_steward() {
    rm -rf "$bench/backups"
    "$steward" migrate --url "$1" --dir "$bench/migrations" --backup-dir "$bench/backups" --backup "$2" apply
}

results=()
printf '%-9s %10s %12s %8s %16s %10s\n' engine sqlx-cli steward-run ratio steward-per-mig extra >&2
for engine in sqlite postgres; do
    sqlx_times=() run_times=() each_times=()
    for rep in $(seq 1 "$REPS"); do
        sqlx_times+=("$(seconds run_sqlx "$(fresh_url "$engine" "sqlx$rep")")")
        run_times+=("$(seconds run_steward "$(fresh_url "$engine" "run$rep")" per-run)")
        each_times+=("$(seconds run_steward "$(fresh_url "$engine" "each$rep")" per-migration)")
    done
    sqlx_s=$(median "${sqlx_times[@]}")
    run_s=$(median "${run_times[@]}")
    each_s=$(median "${each_times[@]}")
    ratio=$(awk -v a="$run_s" -v b="$sqlx_s" 'BEGIN { printf "%.2f", a / b }')
    extra=$(awk -v a="$each_s" -v b="$run_s" 'BEGIN { printf "%.2f", a / b }')
    printf '%-9s %9ss %11ss %7sx %15ss %9sx\n' "$engine" "$sqlx_s" "$run_s" "$ratio" "$each_s" "$extra" >&2
    results+=("{\"engine\":\"$engine\",\"migrations\":$N,\"sqlx_cli_s\":$sqlx_s,\"steward_per_run_s\":$run_s,\"ratio\":$ratio,\"steward_per_migration_s\":$each_s,\"per_migration_over_per_run\":$extra}")
done

mkdir -p target/bench
printf '[%s]\n' "$(IFS=,; echo "${results[*]}")" >target/bench/migrate.json
log "wrote target/bench/migrate.json"
