#!/usr/bin/env bash
# Runs every Caravan test: installs missing system packages and the pinned Python packages of
# the llama.cpp engine (.venv), starts the private local Slurm cluster (scripts/local-cluster.sh),
# builds, runs `swift test`, and stops the cluster again.
#
#   scripts/test.sh                   # everything
#   scripts/test.sh --filter Render   # extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# llama.cpp's server and the tiny test model's writer, for the tests on a real engine.
CARAVAN_PYTHON=$(scripts/inference-venv.sh)
export CARAVAN_PYTHON
# Leave a cluster that was already running (a developer's) as it was; stop one started here.
if ! scripts/local-cluster.sh status >/dev/null 2>&1; then
  trap 'scripts/local-cluster.sh stop || true' EXIT
fi
eval "$(scripts/local-cluster.sh start)"
echo "test: Slurm cluster up (SLURM_CONF=$SLURM_CONF)" >&2

swift build --explicit-target-dependency-import-check error
swift test "$@"
