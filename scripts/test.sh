#!/usr/bin/env bash
# The test command: install what is missing, lint, run the whole suite on all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
bash scripts/install.sh --dev
"$PYTHON" -m ruff check .
"$PYTHON" -m pytest -n "${DRIVE_TEST_WORKERS:-auto}" -q "$@"
