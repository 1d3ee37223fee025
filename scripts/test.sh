#!/usr/bin/env bash
# The whole test suite: system packages, .venv with test extras, then pytest on SQLite and
# again on a real PostgreSQL server started on loopback for the run (scripts/with-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/setup.sh test
echo "== test suite on SQLite =="
.venv/bin/python -m pytest "$@"
echo "== test suite on PostgreSQL =="
bash scripts/with-postgres.sh .venv/bin/python -m pytest "$@"
