#!/usr/bin/env bash
# Write requirements.lock: the exact versions a serve-profile install (with the s3 extra: boto3, for
# photos in a bucket) resolves to today, for reproducible installs (`pip install -c requirements.lock .`,
# as the Dockerfile does). Run after changing the dependencies in pyproject.toml; it installs into a
# throwaway venv, not .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d /tmp/closetchat-lock.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
cp -r pyproject.toml README.md backend ml frontend alembic "$tmp/"
"$tmp/venv/bin/pip" install -q "$tmp[s3]"
{
  echo "# The serve profile's exact versions (scripts/lock.sh wrote this; do not edit by hand)."
  echo "# Use as constraints: pip install -c requirements.lock ."
  "$tmp/venv/bin/pip" freeze --exclude closetchat | LC_ALL=C sort -f
} > requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) packages"
