#!/usr/bin/env bash
# The whole check: system packages, .venv with the train and test extras, ruff, then pytest on SQLite and the
# database-backed tests (tests/backend) again on a real PostgreSQL server started on loopback for the
# run (scripts/with-postgres.sh), then the write, chat and history tests with the
# photos in a real S3 server (SeaweedFS, tests/seaweed.py). Extra arguments go to every pytest run.
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
# (learning from corrections trains a model: the database plays no part, so it runs once, above;
# the browser tests drive the same routes as tests/backend through a page, and a second pass of them
# cost about five minutes and doubled their exposure to a loaded machine's timing for no query of
# their own: they run once, on SQLite)
bash scripts/with-postgres.sh .venv/bin/python -m pytest "$@" tests/backend \
    --ignore=tests/backend/test_learn_from_corrections.py
echo "== photos in a bucket (SeaweedFS) =="
# tests/backend/test_object_storage.py ran above; these flows run again with every photo in the bucket.
# The whole backend suite runs that way too (74 s here against 56 s on the folder, not slow ones):
# CLOSETCHAT_TEST_STORAGE=s3 .venv/bin/python -m pytest tests/backend -m "not slow"
CLOSETCHAT_TEST_STORAGE=s3 .venv/bin/python -m pytest "$@" tests/backend/test_writes.py \
    tests/backend/test_same_photo_at_once.py tests/backend/test_chat.py tests/backend/test_history.py
