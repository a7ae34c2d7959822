#!/usr/bin/env bash
# Makes steward's container base image, steward-base:local, without pulling
# anything from a registry.
#
# The steward binary is linked dynamically against the host's glibc, so the
# base is the smallest root filesystem that runs it: the shared libraries
# that `ldd` lists for the binaries given (and the dynamic loader), an
# /etc/passwd and /etc/group with an unprivileged `steward` user (uid and
# gid 10001), /etc/nsswitch.conf, a world-writable /tmp, /var/lib/steward
# owned by steward, and the host's CA bundle when it has one. The tree is
# made in a temporary directory and `docker import`ed.
#
# Usage: scripts/docker/base-image.sh [--rebuild] BINARY...
#   e.g. scripts/docker/base-image.sh target/debug/steward target/debug/steward-demo-agent
#
# Idempotent: when the image exists and already holds every library the
# binaries need (the image's label lists them), nothing is done; --rebuild
# makes it again regardless.
set -euo pipefail

IMAGE=steward-base:local
LIBS_LABEL=org.steward.base.libs
STEWARD_UID=10001

# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mbase-image.sh:\033[0m %s\n' "$*" >&2
    else
        printf 'base-image.sh: %s\n' "$*" >&2
    fi
}
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

rebuild=false
binaries=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rebuild) rebuild=true ;;
        -h | --help) usage ;;
        -*) log "error: unknown option $1"; usage ;;
        *) binaries+=("$1") ;;
    esac
    shift
done
[ ${#binaries[@]} -gt 0 ] || { log "error: give at least one binary to collect shared libraries from"; usage; }

command -v docker >/dev/null 2>&1 || die "docker is not installed"
command -v ldd >/dev/null 2>&1 || die "ldd is not installed (package libc-bin)"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (\`docker info\` fails); is it running, and may this user use it?"

# --- the libraries the binaries need ------------------------------------------
# ldd prints `name => /path (addr)` for libraries, `/path (addr)` for the
# loader, and `name (addr)` for the vDSO (which is not a file).
libs=()
for binary in "${binaries[@]}"; do
    [ -f "$binary" ] || die "$binary does not exist (build it first, e.g. cargo build -p steward)"
    [ -x "$binary" ] || die "$binary is not executable"
    if ! out=$(ldd "$binary" 2>&1); then
        case "$out" in
            *"not a dynamic executable"* | *"statically linked"*) continue ;;
            *) die "ldd $binary failed: $out" ;;
        esac
    fi
    missing=$(printf '%s\n' "$out" | awk '$2 == "=>" && $3 == "not" { printf "%s ", $1 }')
    [ -z "$missing" ] || die "$binary needs libraries this machine does not have: $missing"
    while IFS= read -r lib; do
        libs+=("$lib")
    done < <(printf '%s\n' "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u | sed '/^$/d')

# --- skip when the image already has them ------------------------------------
if ! $rebuild && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    have=" $(docker image inspect -f "{{ index .Config.Labels \"$LIBS_LABEL\" }}" "$IMAGE") "
    lacking=()
    for lib in "${libs[@]}"; do
        case "$have" in *" $lib "*) ;; *) lacking+=("$lib") ;; esac
    done
    if [ ${#lacking[@]} -eq 0 ]; then
        log "$IMAGE exists and has every library the binaries need; skipping (--rebuild to make it again)"
        exit 0
    fi
    log "$IMAGE lacks ${lacking[*]}; rebuilding it"
fi

# --- the root filesystem -------------------------------------------------------
workdir=$(mktemp -d "${TMPDIR:-/tmp}/steward-base.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
root="$workdir/rootfs"
umask 022
mkdir -p "$root"/{etc,tmp,usr/local/bin,var/lib/steward}
chmod 1777 "$root/tmp"
chmod 0750 "$root/var/lib/steward"

for lib in "${libs[@]}"; do
    # Copies the file the path resolves to, at the path the loader asks for.
    install -D -m 0755 "$lib" "$root$lib"
done

cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
steward:x:$STEWARD_UID:$STEWARD_UID:steward:/var/lib/steward:/sbin/nologin
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
steward:x:$STEWARD_UID:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

env_changes=(--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin')
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    env_changes+=(--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt')
else
    log "warning: /etc/ssl/certs/ca-certificates.crt is missing on this machine; the image has no CA bundle"
fi

# Owned by root, except steward's data directory; numeric owners so that
# this works without root and whatever the host's users are.
tar -C "$root" --numeric-owner --owner=0 --group=0 --exclude=./var/lib/steward \
    -cf "$workdir/rootfs.tar" .
tar -C "$root" --numeric-owner --owner="$STEWARD_UID" --group="$STEWARD_UID" \
    -rf "$workdir/rootfs.tar" ./var/lib/steward

log "importing $IMAGE (${#libs[@]} libraries from ${binaries[*]})"
docker import \
    "${env_changes[@]}" \
    --change "LABEL $LIBS_LABEL=\"${libs[*]}\"" \
    --change 'LABEL org.opencontainers.image.description="minimal glibc root filesystem for steward, made by scripts/docker/base-image.sh"' \
    "$workdir/rootfs.tar" "$IMAGE" >/dev/null
log "made $IMAGE ($(docker image inspect -f '{{ .Size }}' "$IMAGE") bytes)"
