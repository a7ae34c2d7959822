#!/usr/bin/env bash
# Builds a container image of the demo agent without pulling anything:
# FROM steward-base:local (made first by base-image.sh when missing) with
# the given steward-demo-agent binary as its entrypoint, followed by any
# arguments given after `--`.
#
# Usage: scripts/docker/demo-agent-image.sh TAG BINARY [-- ARG...]
#   e.g. scripts/docker/demo-agent-image.sh agent:2 target/debug/steward-demo-agent -- --listen 0.0.0.0
set -euo pipefail

# Bold name only on a terminal, and never with NO_COLOR (no-color.org).
log() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\033[1mdemo-agent-image.sh:\033[0m %s\n' "$*" >&2
    else
        printf 'demo-agent-image.sh: %s\n' "$*" >&2
    fi
}
die() { log "error: $*"; exit 1; }

[ $# -ge 2 ] || die "usage: $0 TAG BINARY [-- ARG...]"
tag=$1
binary=$2
shift 2
if [ "${1:-}" = "--" ]; then shift; fi
[ -x "$binary" ] || die "$binary is not an executable file"

here=$(cd "$(dirname "$0")" && pwd)
"$here/base-image.sh" "$binary"

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/steward-demo-agent"
entrypoint='"/usr/local/bin/steward-demo-agent"'
for arg in "$@"; do
    # JSON-quote each argument (backslashes and double quotes).
    escaped=${arg//\\/\\\\}
    escaped=${escaped//\"/\\\"}
    entrypoint+=", \"$escaped\""
done
cat >"$context/Dockerfile" <<DOCKERFILE
FROM steward-base:local
COPY steward-demo-agent /usr/local/bin/steward-demo-agent
ENTRYPOINT [$entrypoint]
DOCKERFILE
docker build -q -t "$tag" "$context" >/dev/null || die "docker build of $tag failed"
log "built $tag"
