#!/usr/bin/env bash
# Install everything the tests need, start a throwaway PostgreSQL on loopback,
# run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests

# PostgreSQL from Debian's packages, on 127.0.0.1, data in a temporary folder.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$pgbin" ] && [ -z "${FSM_TEST_DATABASE_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/fsm-pg.XXXXXX)
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
  run_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-h 127.0.0.1 -p $port -k $pgdir -c fsync=off" start >/dev/null
  trap 'run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
  run_pg "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres fsm_test
  export FSM_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/fsm_test"
  echo "PostgreSQL on 127.0.0.1:$port for the storage tests"
fi

set +e
# Test files run in parallel, one worker per core (FSM_TEST_WORKERS to choose; 0 runs them in this process):
# each worker has its own session directory, app server and Chromium; a file's tests stay on one worker.
.venv/bin/python -m pytest -n "${FSM_TEST_WORKERS:-auto}" --dist loadfile "$@"
status=$?
set -e
if [ $status = 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit $status
