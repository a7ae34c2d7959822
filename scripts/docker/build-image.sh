#!/usr/bin/env bash
# Builds steward's container image, steward:local, from this checkout
# without pulling anything: builds the steward and steward-demo-agent
# binaries with cargo when they are missing, makes the base image
# (scripts/docker/base-image.sh), stages the binaries, the image's
# configuration (docker/steward.toml) and the demo agent's migrations in a
# temporary build context, and runs `docker build -f docker/Dockerfile` on it.
#
# Usage: scripts/docker/build-image.sh [--profile debug|release] [--bin-dir DIR] [--tag IMAGE]
#   --profile  which cargo profile's binaries go in (default: debug; release
#              builds with --release); binaries that exist are not rebuilt
#   --bin-dir  take steward and steward-demo-agent from DIR instead of
#              target/<profile> (nothing is built)
#   --tag      the image's name (default: steward:local)
# Run it with: docker compose -f docker/compose.yaml up -d
#          (or docker-compose -f docker/compose.yaml up -d)
set -euo pipefail

caller_dir=$PWD
cd "$(dirname "$0")/../.."
# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mbuild-image.sh:\033[0m %s\n' "$*" >&2
    else
        printf 'build-image.sh: %s\n' "$*" >&2
    fi
}
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

profile=debug
bin_dir=
tag=steward:local
while [ $# -gt 0 ]; do
    case "$1" in
        --profile)
            [ $# -ge 2 ] || { log "error: --profile needs a value (debug or release)"; usage; }
            profile=$2
            shift
            ;;
        --bin-dir)
            [ $# -ge 2 ] || { log "error: --bin-dir needs a directory"; usage; }
            case "$2" in /*) bin_dir=$2 ;; *) bin_dir=$caller_dir/$2 ;; esac
            shift
            ;;
        --tag)
            [ $# -ge 2 ] || { log "error: --tag needs a value"; usage; }
            tag=$2
            shift
            ;;
        -h | --help) usage ;;
        *) log "error: unknown argument $1"; usage ;;
    esac
    shift
done
case "$profile" in
    debug) cargo_flags=() ;;
    release) cargo_flags=(--release) ;;
    *) die "--profile must be debug or release, not $profile" ;;
esac

command -v docker >/dev/null 2>&1 || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (\`docker info\` fails); is it running, and may this user use it?"

# --- the binaries -------------------------------------------------------------
if [ -n "$bin_dir" ]; then
    [ -d "$bin_dir" ] || die "--bin-dir $bin_dir is not a directory"
    steward="$bin_dir/steward"
    demo_agent="$bin_dir/steward-demo-agent"
    [ -x "$steward" ] || die "$steward is missing (or not executable)"
    [ -x "$demo_agent" ] || die "$demo_agent is missing (or not executable)"
fi
target_dir=${CARGO_TARGET_DIR:-target}
steward=${steward:-$target_dir/$profile/steward}
demo_agent=${demo_agent:-$target_dir/$profile/steward-demo-agent}
if [ ! -x "$steward" ] || [ ! -x "$demo_agent" ]; then
    command -v cargo >/dev/null 2>&1 || die "$steward or $demo_agent is missing and cargo is not installed to build them"
    log "building steward and steward-demo-agent ($profile)"
    cargo build "${cargo_flags[@]}" -p steward -p steward-demo-agent
fi
[ -x "$steward" ] || die "cargo did not produce $steward"
[ -x "$demo_agent" ] || die "cargo did not produce $demo_agent"

# --- the base image -------------------------------------------------------------
scripts/docker/base-image.sh "$steward" "$demo_agent"

# --- the image ------------------------------------------------------------------
# The context holds only what the Dockerfile copies, at its paths in the
# repository (whose .dockerignore leaves target/ out, for the top-level Dockerfile).
context=$(mktemp -d "${TMPDIR:-/tmp}/steward-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/target/$profile" "$context/docker" "$context/crates/steward-demo-agent" "$context/examples/agent-system"
cp "$steward" "$demo_agent" "$context/target/$profile/"
cp docker/steward.toml "$context/docker/"
cp -R crates/steward-demo-agent/migrations "$context/crates/steward-demo-agent/"
cp -R examples/agent-system/rules examples/agent-system/log-rules "$context/examples/agent-system/"

log "building $tag from $steward"
docker build -f docker/Dockerfile -t "$tag" \
    --build-arg "BINARY=target/$profile/steward" \
    --build-arg "DEMO_AGENT_BINARY=target/$profile/steward-demo-agent" \
    "$context"
log "built $tag ($(docker image inspect -f '{{ .Size }}' "$tag") bytes)"
