#!/usr/bin/env bash
# Create .venv in the repo root and install ClosetChat into it (idempotent, fast when done).
# No argument: the serve profile (ONNX Runtime, no torch). `bash scripts/setup.sh train,test`: also
# training (torch/torchvision pinned at 2.14.1 / 0.29.1, installed with pip) and the tests' tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.closetchat-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
  touch "$stamp"
fi
