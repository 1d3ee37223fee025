#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server on 127.0.0.1 (Debian's postgresql binaries),
# exporting CLOSETCHAT_TEST_DATABASE_URL; the server and its files are removed afterwards.
set -euo pipefail
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PORT="${PGPORT_TEST:-55432}"
DIR="$(mktemp -d /tmp/closetchat-pg.XXXXXX)"
chmod 755 "$DIR"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$DIR"
  RUN_AS=(runuser -u postgres --)
fi
cleanup() {
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${RUN_AS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
"${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -w -l "$DIR/log" \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
export CLOSETCHAT_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
"$@"
