#!/usr/bin/env bash
# Installs what Caravan's tests need on a fresh Debian 12 machine, skipping what is there:
# Slurm 22.05 (controller, node daemon, clients, libslurm) and munge, from Debian, and Chromium,
# which renders report.html headlessly in the report test.
# Swift itself is expected on PATH (see README).
set -euo pipefail

need=()
packages=()
for tool in slurmctld slurmd sbatch munged; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -f /usr/include/slurm/slurm.h ] || need+=("slurm.h")
[ ${#need[@]} -eq 0 ] || packages+=(slurmctld slurmd slurm-client munge libslurm-dev)
if ! command -v chromium >/dev/null 2>&1; then
  need+=("chromium")
  # fonts-liberation: text in the screenshot, as Debian recommends it for chromium.
  packages+=(chromium fonts-liberation)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: missing ${need[*]}; installing ${packages[*]} from Debian" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
fi
command -v swift >/dev/null 2>&1 || { echo "install-deps: swift is not on PATH (Swift 6.1 or later is required)" >&2; exit 1; }
