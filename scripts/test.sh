#!/usr/bin/env bash
# Runs every Caravan test: installs missing system packages, starts the private local Slurm
# cluster (scripts/local-cluster.sh), builds, runs `swift test`, and stops the cluster again.
#
#   scripts/test.sh                   # everything
#   scripts/test.sh --filter Render   # extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
eval "$(scripts/local-cluster.sh start)"
trap 'scripts/local-cluster.sh stop || true' EXIT
echo "test: Slurm cluster up (SLURM_CONF=$SLURM_CONF)" >&2

swift build
swift test "$@"
