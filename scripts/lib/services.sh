# Sourced by scripts that need throwaway database servers (scripts/test.sh,
# scripts/bench/*.sh). `start_services` installs what is missing from
# Debian's packages (PostgreSQL, MariaDB, promtool), starts a PostgreSQL
# cluster and a MariaDB server on free loopback ports in a temporary
# directory, removes them when the calling script exits, and exports
# STEWARD_TEST_POSTGRES_URL, STEWARD_TEST_MYSQL_URL, STEWARD_TEST_PROMTOOL,
# STEWARD_TEST_PROMETHEUS (the prometheus server, for remote write/read),
# STEWARD_TEST_ALERTMANAGER (the alertmanager binary: tests start their own
# with a temporary configuration; the Debian package's own service is not
# used), STEWARD_TEST_AMTOOL (the same package's amtool, which the API's
# tests run against steward and the routing cases are compared with),
# STEWARD_NODE_EXPORTER (a node_exporter started on a free port) and
# STEWARD_TEST_PYTHON_OTEL (a Python with the OpenTelemetry SDK and its
# OTLP/HTTP exporter, in a virtualenv kept between runs) and
# STEWARD_TEST_PYTHON_SMTP (the same Python, which also has aiosmtpd: the
# email notifier's tests run an SMTP server with STARTTLS on it).
# The caller defines `log`.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

mariadbd_bin() {
    for candidate in /usr/sbin/mariadbd /usr/sbin/mysqld "$(command -v mariadbd 2>/dev/null)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return; }
    done
}

# A virtualenv with the OpenTelemetry Python SDK and its OTLP/HTTP exporter,
# for the OTLP receiver's integration test, and aiosmtpd, for the email
# notifier's. Kept between runs (created, and
# the packages installed from PyPI, only when missing); a virtualenv because
# Debian's python3 refuses `pip install` outside one.
otel_venv_python() {
    local venv="${STEWARD_OTEL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/steward/otel-venv}"
    if [ ! -x "$venv/bin/python" ]; then
        if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        fi
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv" >&2
    fi
    if ! "$venv/bin/python" -c 'import opentelemetry.sdk.metrics, opentelemetry.exporter.otlp.proto.http.metric_exporter, opentelemetry.exporter.otlp.proto.http._log_exporter, aiosmtpd, logging_loki' >/dev/null 2>&1; then
        log "installing the OpenTelemetry Python SDK, python-logging-loki and aiosmtpd in $venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
            opentelemetry-sdk opentelemetry-exporter-otlp-proto-http aiosmtpd python-logging-loki >&2
    fi
    echo "$venv/bin/python"
}

# Debian names the binary prometheus-alertmanager; upstream's is alertmanager.
alertmanager_bin() {
    command -v prometheus-alertmanager 2>/dev/null || command -v alertmanager 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_services() {
    # --- install what is missing -------------------------------------------------
    packages=()
    [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || packages+=(postgresql)
    [ -n "$(mariadbd_bin)" ] && command -v mariadb-install-db >/dev/null 2>&1 || packages+=(mariadb-server mariadb-client)
    command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
    command -v prometheus-node-exporter >/dev/null 2>&1 || packages+=(prometheus-node-exporter)
    { alertmanager_bin >/dev/null && command -v amtool >/dev/null 2>&1; } || packages+=(prometheus-alertmanager)
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
    cleanup() {
        status=$?
        if [ -f "$workdir/data/postmaster.pid" ]; then
            "${pg_ctl_as[@]}" "$(pg_bindir)/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
        fi
        if [ -f "$workdir/mariadb.pid" ]; then
            # Read once: the server removes its pid file as it exits.
            local mariadb_pid
            mariadb_pid=$(cat "$workdir/mariadb.pid" 2>/dev/null || true)
            kill "$mariadb_pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$mariadb_pid" 2>/dev/null || break; sleep 0.1; done
        fi
        if [ -f "$workdir/node-exporter.pid" ]; then
            kill "$(cat "$workdir/node-exporter.pid")" 2>/dev/null || true
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

    # --- throwaway MariaDB -------------------------------------------------------------
    my_port=$(free_port)
    log "starting MariaDB on 127.0.0.1:$my_port"
    mariadb_user=()
    [ "$(id -u)" -eq 0 ] && mariadb_user=(--user=root)
    mkdir -p "$workdir/mariadb"
    mariadb-install-db --no-defaults --datadir="$workdir/mariadb" "${mariadb_user[@]}" \
        --auth-root-authentication-method=normal --skip-test-db >"$workdir/mariadb-install.log" 2>&1 ||
        { cat "$workdir/mariadb-install.log" >&2; exit 1; }
    # Durability settings off: this server lives for one test run.
    "$(mariadbd_bin)" --no-defaults --datadir="$workdir/mariadb" "${mariadb_user[@]}" \
        --socket="$workdir/mariadb.sock" --port="$my_port" --bind-address=127.0.0.1 \
        --pid-file="$workdir/mariadb.pid" --skip-log-bin --innodb-buffer-pool-size=64M \
        --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 --max-connections=300 \
        >"$workdir/mariadb.log" 2>&1 &
    for _ in $(seq 1 100); do
        mariadb-admin --no-defaults --socket="$workdir/mariadb.sock" -uroot ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    mariadb --no-defaults --socket="$workdir/mariadb.sock" -uroot -e \
        "CREATE USER 'steward'@'%' IDENTIFIED BY 'steward'; GRANT ALL PRIVILEGES ON *.* TO 'steward'@'%' WITH GRANT OPTION;" ||
        { cat "$workdir/mariadb.log" >&2; exit 1; }
    export STEWARD_TEST_MYSQL_URL="mysql://steward:steward@127.0.0.1:$my_port/"
    export STEWARD_TEST_PROMTOOL
    STEWARD_TEST_PROMTOOL=$(command -v promtool)
    # the prometheus server of the same package: remote write/read tests start their own
    export STEWARD_TEST_PROMETHEUS
    STEWARD_TEST_PROMETHEUS=$(command -v prometheus)
    # the notifier's integration test starts its own Alertmanager
    export STEWARD_TEST_ALERTMANAGER
    STEWARD_TEST_ALERTMANAGER=$(alertmanager_bin)
    # amtool (same package): queries alerts and manages silences through
    # steward's API v2, and `steward alerts routes test` is compared with it
    export STEWARD_TEST_AMTOOL
    STEWARD_TEST_AMTOOL=$(command -v amtool)

    # --- node_exporter, a real exporter for the scrape and resource tests ----------
    ne_port=$(free_port)
    log "starting node_exporter on 127.0.0.1:$ne_port"
    prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" >"$workdir/node-exporter.log" 2>&1 &
    echo $! >"$workdir/node-exporter.pid"
    export STEWARD_NODE_EXPORTER="http://127.0.0.1:$ne_port/metrics"
    for _ in $(seq 1 100); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$STEWARD_NODE_EXPORTER" 2>/dev/null && break
        sleep 0.1
    done
    python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$STEWARD_NODE_EXPORTER" ||
        { cat "$workdir/node-exporter.log" >&2; exit 1; }
    export STEWARD_TEST_PYTHON_OTEL STEWARD_TEST_PYTHON_SMTP
    STEWARD_TEST_PYTHON_OTEL=$(otel_venv_python)
    STEWARD_TEST_PYTHON_SMTP=$STEWARD_TEST_PYTHON_OTEL

    log "STEWARD_NODE_EXPORTER=$STEWARD_NODE_EXPORTER"
    log "STEWARD_TEST_POSTGRES_URL=$STEWARD_TEST_POSTGRES_URL"
    log "STEWARD_TEST_MYSQL_URL=mysql://steward:***@127.0.0.1:$my_port/"
    log "STEWARD_TEST_PROMTOOL=$STEWARD_TEST_PROMTOOL"
    log "STEWARD_TEST_PROMETHEUS=$STEWARD_TEST_PROMETHEUS"
    log "STEWARD_TEST_ALERTMANAGER=$STEWARD_TEST_ALERTMANAGER"
    log "STEWARD_TEST_AMTOOL=$STEWARD_TEST_AMTOOL"
    log "STEWARD_TEST_PYTHON_OTEL=$STEWARD_TEST_PYTHON_OTEL"
    log "STEWARD_TEST_PYTHON_SMTP=$STEWARD_TEST_PYTHON_SMTP"

}
