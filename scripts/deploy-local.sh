#!/usr/bin/env bash
# The production layout on loopback: one PostgreSQL, N Streamlit processes (production settings from
# .streamlit/config.toml), nginx in front with sticky sessions. Runs until stopped (Ctrl-C / SIGTERM),
# then stops everything it started.
#   scripts/deploy-local.sh [--port 8080] [--processes 2] [--address 127.0.0.1]
# FSM_DATABASE_URL: use that PostgreSQL; unset, a throwaway one is started in a temporary folder.
# Extra Streamlit options for every process go after --, e.g. -- --secrets.files /path/secrets.toml
set -euo pipefail
cd "$(dirname "$0")/.."

port=8080; processes=2; address=127.0.0.1; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --processes) processes=$2; shift 2 ;;
    --address) address=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v nginx >/dev/null || { echo "nginx is not installed (scripts/setup.sh --tests installs it)" >&2; exit 3; }

work=$(mktemp -d /tmp/fsm-deploy.XXXXXX)
chmod 755 "$work"
pids=()
pg_stop=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$pg_stop" ] && eval "$pg_stop"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PostgreSQL (Debian's), throwaway, unless FSM_DATABASE_URL names one
if [ -z "${FSM_DATABASE_URL:-}" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  pgport=$(free_port)
  run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  run_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
  run_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-h 127.0.0.1 -p $pgport -k $work/pg" start >/dev/null
  pg_stop="run_pg $pgbin/pg_ctl -D $work/pg/data -m fast stop >/dev/null 2>&1"
  run_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres fsm
  export FSM_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$pgport/fsm"
fi

# schema and seed once, before the processes start (no race between them)
.venv/bin/python -m directory data build >/dev/null
.venv/bin/python -m directory seed >/dev/null

upstreams=""
for i in $(seq 1 "$processes"); do
  p=$(free_port)
  .venv/bin/python -m streamlit run serve.py --server.port "$p" --server.address 127.0.0.1 \
    --server.headless true "${extra[@]}" >"$work/streamlit-$i.log" 2>&1 &
  pids+=($!)
  upstreams+="        server 127.0.0.1:$p max_fails=0;"$'\n'
  echo "streamlit process $i: pid $! on 127.0.0.1:$p (log $work/streamlit-$i.log)"
done
for i in $(seq 1 "$processes"); do
  p=$(echo "$upstreams" | sed -n "${i}p" | sed 's/.*127.0.0.1:\([0-9]*\).*/\1/')
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$p/_stcore/health" >/dev/null 2>&1 && break
    kill -0 "${pids[$((i-1))]}" 2>/dev/null || { cat "$work/streamlit-$i.log" >&2; exit 1; }
    sleep 0.2
  done
done

limit_mb=${FSM_UPLOAD_LIMIT_MB:-20}
body_mb=$(.venv/bin/python -c "import math; print(math.ceil(float('$limit_mb')) + 5)")
mkdir -p "$work/nginx"
PREFIX="$work/nginx" LISTEN="$address:$port" BODY_MB="$body_mb" UPSTREAMS="$upstreams" .venv/bin/python -c '
import os, sys
t = open("deploy/nginx.conf").read()
for k in ("PREFIX", "LISTEN", "BODY_MB", "UPSTREAMS"):
    t = t.replace("@" + k + "@", os.environ[k].rstrip())
sys.stdout.write(t)' > "$work/nginx/nginx.conf"
nginx -t -q -c "$work/nginx/nginx.conf" -p "$work/nginx"
# something else on the port would answer the health check below in nginx's place
.venv/bin/python -c "import socket; socket.create_server(('$address', $port)).close()" 2>/dev/null || {
  echo "port $address:$port is already in use: stop what listens there or choose another --port" >&2; exit 1; }
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
pids+=($nginx_pid)
up=
for _ in $(seq 1 100); do
  kill -0 "$nginx_pid" 2>/dev/null || { echo "nginx stopped:" >&2; cat "$work/nginx/error.log" >&2; exit 1; }
  curl -fs "http://$address:$port/_stcore/health" >/dev/null 2>&1 && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "nginx does not answer on $address:$port" >&2; cat "$work/nginx/error.log" >&2; exit 1; }
echo "nginx: config and access log in $work/nginx"
echo "ready: http://$address:$port ($processes Streamlit processes behind nginx, database $FSM_DATABASE_URL)"
wait
