#!/usr/bin/env bash
# Runs steward's whole test suite on a fresh machine.
#
# Installs what the tests need when it is missing (PostgreSQL, MariaDB and
# Prometheus' promtool from Debian's packages, the OpenTelemetry Python SDK
# from PyPI in a virtualenv), starts a throwaway
# PostgreSQL cluster and a throwaway MariaDB server on free loopback ports,
# exports the variables that turn the service-backed tests on (and, once
# `docker info` works, starting dockerd if needed, STEWARD_TEST_DOCKER for
# the Docker backend and container image tests),
# runs every test of the workspace, and then fuzzes the HTTP API against its
# OpenAPI document (scripts/check/api-fuzz.sh).
# The tests it enables never skip here: if a service cannot be provided,
# this script fails instead.
#
# Extra arguments go to the test runner, e.g. `scripts/test.sh -p steward-store`.
# `scripts/test.sh --serve` only starts the services, prints the variables
# to export, and keeps them running until interrupted (for development).
set -euo pipefail

cd "$(dirname "$0")/.."
# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mtest.sh:\033[0m %s\n' "$*" >&2
    else
        printf 'test.sh: %s\n' "$*" >&2
    fi
}

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh

# The Docker backend and container image tests need a Docker engine they
# can build and run on; start the daemon when it is installed but down.
if ! docker info >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1; then
    log "starting dockerd (log in /tmp/steward-dockerd.log)"
    (dockerd >/tmp/steward-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
fi
docker info >/dev/null 2>&1 ||
    { log "error: \`docker info\` fails; the Docker tests need a usable Docker engine"; exit 1; }
export STEWARD_TEST_DOCKER=1

start_services

if [ "${1:-}" = "--serve" ]; then
    echo "export STEWARD_TEST_POSTGRES_URL='$STEWARD_TEST_POSTGRES_URL'"
    echo "export STEWARD_TEST_MYSQL_URL='$STEWARD_TEST_MYSQL_URL'"
    echo "export STEWARD_TEST_PROMTOOL='$STEWARD_TEST_PROMTOOL'"
    echo "export STEWARD_NODE_EXPORTER='$STEWARD_NODE_EXPORTER'"
    echo "export STEWARD_TEST_PYTHON_OTEL='$STEWARD_TEST_PYTHON_OTEL'"
    echo "export STEWARD_TEST_PYTHON_SMTP='$STEWARD_TEST_PYTHON_SMTP'"
    echo "export STEWARD_TEST_PROMETHEUS='$STEWARD_TEST_PROMETHEUS'"
    echo "export STEWARD_TEST_ALERTMANAGER='$STEWARD_TEST_ALERTMANAGER'"
    echo "export STEWARD_TEST_AMTOOL='$STEWARD_TEST_AMTOOL'"
    echo "export STEWARD_TEST_DOCKER=1"
    log "services are up; interrupt to stop them"
    while true; do sleep 3600; done
fi

# --- run the tests -------------------------------------------------------------
status=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
    cargo test --workspace --no-fail-fast "$@" || status=$?
fi

# --- fuzz the API against its OpenAPI document -----------------------------------
# With the whole suite only (not with a selection such as `-p steward-store`);
# run even after failed tests, so that one run reports both.
if [ $# -eq 0 ]; then
    log "fuzzing the API against its OpenAPI document (scripts/check/api-fuzz.sh)"
    scripts/check/api-fuzz.sh || status=1
fi
exit "$status"
