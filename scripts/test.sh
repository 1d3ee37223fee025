#!/usr/bin/env bash
# The whole check: system packages, .venv with the train and test extras, ruff, then pytest on SQLite and the
# database-backed tests (tests/backend, tests/browser) again on a real PostgreSQL server started on
# loopback for the run (scripts/with-postgres.sh). Extra arguments go to both pytest runs.
# While working: .venv/bin/python -m pytest -m "not slow" (browser, kill -9, schemathesis, serving left out).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/setup.sh train,test
echo "== ruff =="
.venv/bin/ruff check --no-cache .
echo "== test suite on SQLite =="
.venv/bin/python -m pytest "$@"
echo "== database tests on PostgreSQL =="
# (learning from corrections trains a model: the database plays no part, so it runs once, above)
bash scripts/with-postgres.sh .venv/bin/python -m pytest "$@" tests/backend tests/browser \
    --ignore=tests/backend/test_learn_from_corrections.py
