#!/usr/bin/env bash
# Set up (first run only) and serve ClosetChat on http://127.0.0.1:8000 with SQLite in ./var.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/closetchat serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
