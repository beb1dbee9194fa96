#!/usr/bin/env bash
# A private PostgreSQL server for the DuckLake tests (a data folder of its own, loopback only, trust auth).
# `bash scripts/postgres.sh` starts it (installing Debian's postgresql when missing and run as root) and
# prints its libpq connection string: export it as CRM_TEST_POSTGRES. `bash scripts/postgres.sh stop` stops it.
set -euo pipefail
PORT="${CRM_TEST_POSTGRES_PORT:-55432}"
DIR="${CRM_TEST_POSTGRES_DIR:-/tmp/crm-pipeline-postgres}"
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
BIN="$(find_bin)"
if [ "${1:-}" = stop ] && [ -z "$BIN" ]; then exit 0; fi
if [ -z "$BIN" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q postgresql; } >&2
    BIN="$(find_bin)"
  fi
  [ -n "$BIN" ] || { echo "postgres.sh: PostgreSQL not installed (apt-get install postgresql)" >&2; exit 1; }
fi
AS=()  # PostgreSQL refuses to run as root: root runs it as the postgres user the package created
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); fi
if [ "${1:-}" = stop ]; then
  "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
  exit 0
fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
  "${AS[@]}" "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >&2
fi
if ! "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
fi
echo "host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
