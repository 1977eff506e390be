#!/usr/bin/env bash
# Install drive and what it needs, skipping everything already in place (reruns take seconds).
#   bash scripts/install.sh          runtime dependencies
#   bash scripts/install.sh --dev    also the test tools and the headless browser for the viewer tests
# torch: a CPU build of torch 2.13.0 is pinned when no torch is installed yet; a GPU user installs the
# CUDA build of torch first (docs/install.md) and this script keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
dev=0
[ "${1:-}" = "--dev" ] && dev=1

stamp=".install-stamp"
want="$(cat pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)-dev$dev"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PYTHON" -c "import drive, torch, waymo_open_dataset" 2>/dev/null; then
  exit 0
fi

torch_pin=()
"$PYTHON" -c "import torch" 2>/dev/null || torch_pin=("torch==2.13.0")
extra=""
[ $dev = 1 ] && extra="[dev]"
"$PYTHON" -m pip install -q --disable-pip-version-check "${torch_pin[@]}" -e ".$extra"
# Their own pins conflict with this stack; their protos / metric functions need nothing more than we have.
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps "waymo-open-dataset-tf-2-12-0==1.6.7"
if [ $dev = 1 ]; then
  "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps "av2==0.3.6"
  if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "install.sh: chromium could not be installed; the viewer's browser tests will skip" >&2
  fi
fi
echo "$want" > "$stamp"
