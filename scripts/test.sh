#!/usr/bin/env bash
# Runs steward's whole test suite on a fresh machine.
#
# Installs what the tests need when it is missing (PostgreSQL and
# Prometheus' promtool from Debian's packages), starts a throwaway
# PostgreSQL cluster on a free loopback port, exports the variables that
# turn the service-backed tests on, and runs every test of the workspace.
# The tests it enables never skip here: if a service cannot be provided,
# this script fails instead.
#
# Extra arguments go to the test runner, e.g. `scripts/test.sh -p steward-store`.
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '\033[1mtest.sh:\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# --- install what is missing -------------------------------------------------
packages=()
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || packages+=(postgresql)
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
if [ ${#packages[@]} -gt 0 ]; then
    log "installing ${packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# --- throwaway PostgreSQL ----------------------------------------------------
workdir=$(mktemp -d /tmp/steward-test.XXXXXX)
pg_ctl_as=()
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres "$workdir"
    pg_ctl_as=(runuser -u postgres --)
fi
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cleanup() {
    status=$?
    if [ -f "$workdir/data/postmaster.pid" ]; then
        "${pg_ctl_as[@]}" "$(pg_bindir)/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$workdir"
    exit $status
}
trap cleanup EXIT INT TERM

pg_port=$(free_port)
log "starting PostgreSQL on 127.0.0.1:$pg_port"
"${pg_ctl_as[@]}" "$(pg_bindir)/initdb" -D "$workdir/data" -U steward -A trust -E UTF8 --no-sync >"$workdir/initdb.log" 2>&1 ||
    { cat "$workdir/initdb.log" >&2; exit 1; }
# fsync off: this cluster lives for one test run; durability is tested on
# SQLite and by the engines themselves.
"${pg_ctl_as[@]}" "$(pg_bindir)/pg_ctl" -D "$workdir/data" -l "$workdir/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$workdir/postgres.log" >&2; exit 1; }

export STEWARD_TEST_POSTGRES_URL="postgres://steward@127.0.0.1:$pg_port/postgres"
export STEWARD_TEST_PROMTOOL
STEWARD_TEST_PROMTOOL=$(command -v promtool)
log "STEWARD_TEST_POSTGRES_URL=$STEWARD_TEST_POSTGRES_URL"
log "STEWARD_TEST_PROMTOOL=$STEWARD_TEST_PROMTOOL"

# --- run the tests -------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
