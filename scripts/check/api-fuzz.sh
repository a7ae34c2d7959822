#!/usr/bin/env bash
# Fuzzes steward's HTTP API with schemathesis (https://schemathesis.io)
# against a live server: every operation of /api/v1/openapi.json is called
# with an admin token, with the document's examples, with values at and
# past the edges of every schema (coverage) and with random ones
# (fuzzing), and every response is checked against the document. The
# script fails on any server error or any response that contradicts the
# document (a status, header, content type or body it does not describe,
# an invalid request accepted, a valid one refused).
#
# The server is `steward up` (the debug build) over a throwaway
# configuration in target/api-fuzz/server: no services (deployments are
# no-ops), one SQLite database with three migrations and their down files
# (so that apply, down, baseline, repair, backups and restore have
# something to work on), the per-client rate limit off (the fuzzer is one
# client sending as fast as it can), and a free loopback port.
#
# Installs schemathesis from PyPI when it is missing. Logs and reports go to
# target/api-fuzz/. Settings (environment):
#   API_FUZZ_MAX_EXAMPLES  random test cases per operation (default 100,
#                          about two minutes)
#   API_FUZZ_SEED          seed, to replay a run (default: random, printed)
# Extra arguments go to `schemathesis run`, e.g. `--continue-on-failure` or
# `--include-operation-id deploy`.
set -euo pipefail

cd "$(dirname "$0")/../.."
# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mapi-fuzz:\033[0m %s\n' "$*" >&2
    else
        printf 'api-fuzz: %s\n' "$*" >&2
    fi
}

# The version CI installs: a newer schemathesis may add checks, which
# should be taken up on purpose rather than break CI one morning.
SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
max_examples=${API_FUZZ_MAX_EXAMPLES:-100}
seed=${API_FUZZ_SEED:-$(((RANDOM << 15) | RANDOM))}

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-$PWD/target}")
out=$target_dir/api-fuzz
rm -rf "$out/report"
mkdir -p "$out"

# --- schemathesis ----------------------------------------------------------------
schemathesis=$(command -v schemathesis || true)
if [ -z "$schemathesis" ] && [ -x "$out/venv/bin/schemathesis" ]; then
    schemathesis=$out/venv/bin/schemathesis
fi
if [ -z "$schemathesis" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
    if python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >"$out/pip.log" 2>&1 &&
        command -v schemathesis >/dev/null 2>&1; then
        schemathesis=$(command -v schemathesis)
    else
        # A system Python that refuses global installs (PEP 668), or whose
        # scripts directory is not on PATH: a virtual environment of our own.
        python3 -m venv "$out/venv" >>"$out/pip.log" 2>&1 &&
            "$out/venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >>"$out/pip.log" 2>&1 ||
            { log "error: cannot install schemathesis (see $out/pip.log)"; exit 1; }
        schemathesis=$out/venv/bin/schemathesis
    fi
fi
log "using $("$schemathesis" --version)"

# --- steward -----------------------------------------------------------------------
log "building steward"
cargo build -p steward --quiet
steward=$target_dir/debug/steward

# The server's directory stays after the run, for a look at its journal.
work=$out/server
rm -rf "$work"
mkdir -p "$work"
steward_pid=
cleanup() {
    status=$?
    if [ -n "$steward_pid" ] && kill -0 "$steward_pid" 2>/dev/null; then
        kill -TERM "$steward_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$steward_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$steward_pid" 2>/dev/null || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$work/migrations"
cat >"$work/migrations/V1__tasks.sql" <<'SQL'
CREATE TABLE tasks (id INTEGER PRIMARY KEY, prompt TEXT NOT NULL);
SQL
echo 'DROP TABLE tasks;' >"$work/migrations/V1__tasks.down.sql"
cat >"$work/migrations/V2__runs.sql" <<'SQL'
CREATE TABLE runs (id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL REFERENCES tasks (id));
CREATE INDEX runs_task ON runs (task_id);
SQL
echo 'DROP TABLE runs;' >"$work/migrations/V2__runs.down.sql"
cat >"$work/migrations/V3__task_cost.sql" <<'SQL'
ALTER TABLE tasks ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
SQL
echo 'ALTER TABLE tasks DROP COLUMN cost_usd;' >"$work/migrations/V3__task_cost.down.sql"
cat >"$work/steward.toml" <<'TOML'
# Throwaway configuration of scripts/check/api-fuzz.sh.
[server]
listen = "127.0.0.1:0"
data_dir = "data"
# One client sending as fast as it can: the limit would answer most of its
# requests 429 and hide what the handlers answer.
rate_limit_per_second = 0

[[databases]]
name = "agents"
url = "sqlite://agents.db"
migrations = "migrations"
TOML

cat >"$work/schemathesis.toml" <<'TOML'
# A debug build applying migrations with backups can be slow on a busy
# machine; a request that takes this long counts as a failure.
request-timeout = 10

# Half of the calls on a database use the configured one, so that the
# migration endpoints are exercised beyond "no such database".
[dictionaries.databases]
values = ["agents"]

[parameters]
"path.name" = { dictionary = "databases", probability = 0.5 }

# The journal's event stream never ends: schemathesis reads it for this
# long (or until 20 frames), then checks the frames it got.
[[operations]]
include-operation-id = "stream_events"
request-timeout = 1
TOML

log "starting steward (log in $out/steward.log)"
"$steward" up "$work/steward.toml" >"$out/steward.log" 2>&1 &
steward_pid=$!
# It prints the address it bound (port 0 picks a free one) once it serves.
url=
for _ in $(seq 1 300); do
    url=$(sed -n 's/^steward .* listening on \(http:[^ ]*\).*/\1/p' "$out/steward.log" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$steward_pid" 2>/dev/null || { log "error: steward exited; see $out/steward.log"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { log "error: steward did not start listening; see $out/steward.log"; exit 1; }
for _ in $(seq 1 100); do
    "$steward" healthcheck --server "$url" >/dev/null 2>&1 && break
    sleep 0.1
done
"$steward" healthcheck --server "$url" >/dev/null || { log "error: $url/healthz does not answer"; exit 1; }
token=$(cat "$work/data/admin.token")

# --- the run -------------------------------------------------------------------------
# Every check applies to steward, so none is excluded: no server errors;
# statuses, content types, headers and bodies as documented; schema-invalid
# requests refused and schema-valid ones not refused as invalid; 405 with
# `Allow` for undocumented methods; no operation answering without its
# token. (use_after_free, ensure_resource_availability and
# object_level_authorization need the stateful phase or several tokens;
# the authorization matrix test covers roles.) One worker: deployments and
# migrations change shared state, and one worker keeps a run reproducible
# from its seed.
log "fuzzing $url/api/v1/openapi.json (seed $seed, $max_examples examples per operation)"
status=0
# Run from the work directory: schemathesis keeps a cache (`.schemathesis`)
# in its current directory, which belongs there, not in the source tree.
(cd "$work" && "$schemathesis" --config-file "$work/schemathesis.toml" run "$url/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --workers 1 \
    --phases examples,coverage,fuzzing \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-database none \
    --no-color \
    --report junit,har \
    --report-dir "$out/report" \
    "$@") 2>&1 | tee "$out/schemathesis.log" || status=$?
if [ "$status" -ne 0 ]; then
    log "error: schemathesis found failures (seed $seed): $out/schemathesis.log, reports in $out/report, server log $out/steward.log"
    exit 1
fi
log "ok: no failures (seed $seed); reports in $out/report"
