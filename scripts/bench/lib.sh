# What the benchmark scripts share (sourced, not run): messages, a free
# port, stopping a process, and building or finding steward's binaries.
# shellcheck shell=bash

# log MESSAGE: "bench: MESSAGE" on stderr, the name in bold only on a
# terminal and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mbench:\033[0m %s\n' "$*" >&2
    else
        printf 'bench: %s\n' "$*" >&2
    fi
}
die() { log "error: $*"; exit 1; }

# stop PID NAME: SIGTERM, then SIGKILL after 30 s; nothing when PID is
# empty or gone.
stop() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        log "$2 did not stop within 30 s; SIGKILL"
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# steward_binaries BUILD [steward-only]: builds steward and
# steward-demo-agent (only steward with steward-only) in $PROFILE when
# BUILD is true (and BIN_DIR is unset), then sets bin_dir to where they
# are ($BIN_DIR, else $CARGO_TARGET_DIR/$PROFILE, else target/$PROFILE)
# and steward to its binary.
steward_binaries() {
    local build=$1 only=${2:-} profile_dir names="steward and steward-demo-agent"
    local packages=(-p steward -p steward-demo-agent)
    [ "$only" != steward-only ] || { packages=(-p steward); names=steward; }
    [ -z "${BIN_DIR:-}" ] || build=false
    if $build; then
        log "building $names ($PROFILE)"
        case "$PROFILE" in
            debug | dev) cargo build "${packages[@]}" --quiet ;;
            *) cargo build --profile "$PROFILE" "${packages[@]}" --quiet ;;
        esac
    fi
    case "$PROFILE" in
        debug | dev) profile_dir=${CARGO_TARGET_DIR:-$repo/target}/debug ;;
        *) profile_dir=${CARGO_TARGET_DIR:-$repo/target}/$PROFILE ;;
    esac
    bin_dir=$(cd "${BIN_DIR:-$profile_dir}" 2>/dev/null && pwd) ||
        die "${BIN_DIR:-$profile_dir} does not exist (build first, or drop --no-build)"
    steward=$bin_dir/steward
    [ -x "$steward" ] || die "$steward is missing (build it, or drop --no-build)"
    [ "$only" = steward-only ] || [ -x "$bin_dir/steward-demo-agent" ] || die "$bin_dir/steward-demo-agent is missing (build it, or drop --no-build)"
}

# prometheus_binary: sets prometheus to $PROMETHEUS, else the one on PATH,
# else installs Debian's package (as root) and stops the system service
# it starts (the benchmarks run their own), and prom_version to its
# version line.
prometheus_binary() {
    prometheus=${PROMETHEUS:-$(command -v prometheus || true)}
    if [ -z "$prometheus" ]; then
        [ "$(id -u)" -eq 0 ] || die "prometheus is not installed (apt-get install prometheus, as root)"
        log "installing prometheus (Debian package)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
            die "cannot install prometheus with apt-get"
        systemctl stop prometheus >/dev/null 2>&1 || service prometheus stop >/dev/null 2>&1 || true
        prometheus=$(command -v prometheus)
    fi
    prom_version=$("$prometheus" --version 2>&1 | head -1)
}

# alertmanager_binary: sets alertmanager to $ALERTMANAGER, else Debian's
# /usr/bin/prometheus-alertmanager (or `alertmanager` on PATH), else
# installs Debian's package (as root) and stops the system service it
# starts (the benchmarks run their own), and am_version to its version
# line.
alertmanager_binary() {
    alertmanager=${ALERTMANAGER:-$(command -v prometheus-alertmanager || command -v alertmanager || true)}
    if [ -z "$alertmanager" ]; then
        [ "$(id -u)" -eq 0 ] || die "alertmanager is not installed (apt-get install prometheus-alertmanager, as root)"
        log "installing prometheus-alertmanager (Debian package)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; } ||
            die "cannot install prometheus-alertmanager with apt-get"
        systemctl stop prometheus-alertmanager >/dev/null 2>&1 || service prometheus-alertmanager stop >/dev/null 2>&1 || true
        alertmanager=$(command -v prometheus-alertmanager)
    fi
    am_version=$("$alertmanager" --version 2>&1 | head -1)
}
