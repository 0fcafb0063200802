#!/usr/bin/env bash
# Run N shop processes on consecutive ports (SHOP_PORT, SHOP_PORT+1, ...) sharing MariaDB and
# Redis, with the Redis lock backend; Ctrl-C stops them all.
set -euo pipefail
N=${1:-3}
PY=${PY:-.venv/bin/python}
BASE=${SHOP_PORT:-8081}
export SHOP_REDIS_URL=${SHOP_REDIS_URL:-redis://127.0.0.1:6379/0}
export SHOP_LOCK_BACKEND=${SHOP_LOCK_BACKEND:-redis}

pids=()
stop() { kill -INT "${pids[@]}" 2>/dev/null || true; wait; }
trap stop INT TERM EXIT
for i in $(seq 0 $((N - 1))); do
  SHOP_PORT=$((BASE + i)) "$PY" -m shop serve &
  pids+=($!)
  echo "replica $((i + 1)) on :$((BASE + i)) (pid $!)"
done
wait -n "${pids[@]}"
