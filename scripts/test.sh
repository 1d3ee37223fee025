#!/usr/bin/env bash
# The whole test suite: system packages, .venv with test extras, then pytest on SQLite and
# again on a real PostgreSQL server started on loopback for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/setup.sh test
.venv/bin/python -m pytest "$@"
