#!/usr/bin/env bash
# The monitoring stack without Docker: Prometheus, Alertmanager, mysqld_exporter and
# redis_exporter from Debian's packages, running the same configuration files compose mounts.
#
#   observe.sh up        install what is missing, write the run directory, start, wait until ready
#   observe.sh down      stop what `up` started in this run directory (by the pids it recorded)
#   observe.sh targets   (re)write targets/shop.json and targets/locust.json only; Prometheus
#                        picks the change up by itself (file-based service discovery)
#   observe.sh status    print each process and whether it answers
#   observe.sh install   only install the Debian packages that are missing (promtool, amtool too)
#
# Settings (environment):
#   OBSERVE_DIR           run directory: configuration, targets, TSDB, logs, pids (.run/observe)
#   SHOP_URL              shop replicas, comma-separated (http://127.0.0.1:8081)
#   LOCUST_URL            the locust master, optional (its /metrics is scraped as job "locust")
#   PROMETHEUS_PORT       9090     ALERTMANAGER_PORT  9093
#   MYSQLD_EXPORTER_PORT  9104     REDIS_EXPORTER_PORT 9121
#   OBSERVE_INTERVAL      scrape and rule-evaluation interval, when not the configured 15s
#   OBSERVE_MYSQL_DSN     mysqld_exporter's DSN (root:@(127.0.0.1:3306)/)
#   OBSERVE_REDIS_ADDR    redis_exporter's Redis (redis://127.0.0.1:6379)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONFIG="$ROOT/observability"
RUN=${OBSERVE_DIR:-$ROOT/.run/observe}
SHOP_URL=${SHOP_URL:-http://127.0.0.1:8081}
LOCUST_URL=${LOCUST_URL:-}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}
MYSQLD_EXPORTER_PORT=${MYSQLD_EXPORTER_PORT:-9104}
REDIS_EXPORTER_PORT=${REDIS_EXPORTER_PORT:-9121}
OBSERVE_INTERVAL=${OBSERVE_INTERVAL:-}
OBSERVE_MYSQL_DSN=${OBSERVE_MYSQL_DSN:-root:@(127.0.0.1:3306)/}
OBSERVE_REDIS_ADDR=${OBSERVE_REDIS_ADDR:-redis://127.0.0.1:6379}

PROCESSES=(prometheus alertmanager mysqld-exporter redis-exporter)

say() { echo "observe: $*" >&2; }

ensure_packages() {
  local missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  command -v prometheus-mysqld-exporter >/dev/null || missing+=(prometheus-mysqld-exporter)
  command -v prometheus-redis-exporter >/dev/null || missing+=(prometheus-redis-exporter)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]} and cannot install them here (needs root and apt)"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  # The packages' own services stay off: policy-rc.d or no init system; we run the binaries.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# "http://host:port/path" -> "host:port"
host_port() { local u=${1#*://}; echo "${u%%/*}"; }

# targets_json URL... -> a file_sd document with one target per URL
targets_json() {
  local out="[" sep="" url
  for url in "$@"; do
    [ -n "$url" ] || continue
    out+="$sep{\"targets\": [\"$(host_port "$url")\"]}"
    sep=", "
  done
  echo "$out]"
}

# Write atomically: Prometheus watches these files and must never read half of one.
write_file() { local file=$1; shift; printf '%s\n' "$*" >"$file.tmp" && mv "$file.tmp" "$file"; }

write_targets() {
  mkdir -p "$RUN/targets"
  local urls
  IFS=, read -r -a urls <<<"$SHOP_URL"
  write_file "$RUN/targets/shop.json" "$(targets_json "${urls[@]}")"
  write_file "$RUN/targets/locust.json" "$(targets_json "$LOCUST_URL")"
}

write_config() {
  mkdir -p "$RUN/targets" "$RUN/prometheus-data" "$RUN/alertmanager-data" "$RUN/logs"
  # The committed files, unchanged but for the interval when one is asked for (tests scrape
  # every second); rules are linked, so an edit shows after a reload.
  local prom="$CONFIG/prometheus/prometheus.yml"
  if [ -n "$OBSERVE_INTERVAL" ]; then
    sed -E "s/^(  (scrape|evaluation)_interval:) .*/\1 $OBSERVE_INTERVAL/" "$prom" >"$RUN/prometheus.yml"
  else
    cp "$prom" "$RUN/prometheus.yml"
  fi
  ln -sfn "$CONFIG/prometheus/rules" "$RUN/rules"
  cp "$CONFIG/alertmanager/alertmanager.yml" "$RUN/alertmanager.yml"
  write_targets
  write_file "$RUN/targets/mysqld.json" "$(targets_json "127.0.0.1:$MYSQLD_EXPORTER_PORT")"
  write_file "$RUN/targets/redis.json" "$(targets_json "127.0.0.1:$REDIS_EXPORTER_PORT")"
  write_file "$RUN/targets/prometheus.json" "$(targets_json "127.0.0.1:$PROMETHEUS_PORT")"
  write_file "$RUN/targets/alertmanager.json" "$(targets_json "127.0.0.1:$ALERTMANAGER_PORT")"
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
running() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

start() {  # start NAME COMMAND...
  local name=$1; shift
  if running "$name"; then say "$name already running (pid $(pid_of "$name"))"; return 0; fi
  "$@" >"$RUN/logs/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

url_of() {
  case $1 in
    prometheus) echo "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    alertmanager) echo "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" ;;
    mysqld-exporter) echo "http://127.0.0.1:$MYSQLD_EXPORTER_PORT/metrics" ;;
    redis-exporter) echo "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics" ;;
  esac
}

answers() { curl -fsS -o /dev/null --max-time 2 "$(url_of "$1")"; }

wait_ready() {
  local name
  for name in "${PROCESSES[@]}"; do
    for _ in $(seq 1 120); do
      answers "$name" 2>/dev/null && continue 2
      if ! running "$name"; then
        say "$name exited; last lines of $RUN/logs/$name.log:"
        tail -n 20 "$RUN/logs/$name.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    say "$name did not answer on $(url_of "$name")"
    exit 1
  done
}

up() {
  ensure_packages
  write_config
  start prometheus prometheus \
    --config.file="$RUN/prometheus.yml" \
    --storage.tsdb.path="$RUN/prometheus-data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle \
    --enable-feature=exemplar-storage
  start alertmanager prometheus-alertmanager \
    --config.file="$RUN/alertmanager.yml" \
    --storage.path="$RUN/alertmanager-data" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
    --cluster.listen-address=
  DATA_SOURCE_NAME="$OBSERVE_MYSQL_DSN" start mysqld-exporter prometheus-mysqld-exporter \
    --web.listen-address="127.0.0.1:$MYSQLD_EXPORTER_PORT"
  start redis-exporter prometheus-redis-exporter \
    -redis.addr="$OBSERVE_REDIS_ADDR" \
    -web.listen-address="127.0.0.1:$REDIS_EXPORTER_PORT"
  wait_ready
  say "Prometheus http://127.0.0.1:$PROMETHEUS_PORT  Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT"
  say "scraping shop at $SHOP_URL${LOCUST_URL:+ and locust at $LOCUST_URL}; run directory $RUN"
}

down() {
  local name pid
  for name in "${PROCESSES[@]}"; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      say "stopped $name (pid $pid)"
    fi
    rm -f "$RUN/$name.pid"
  done
}

status() {
  local name state
  for name in "${PROCESSES[@]}"; do
    state=stopped
    running "$name" && state="running (pid $(pid_of "$name"))"
    answers "$name" 2>/dev/null && state="$state, answering"
    echo "$name: $state"
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  targets) write_targets ;;
  status) status ;;
  install) ensure_packages ;;
  *) echo "usage: $0 up|down|targets|status|install" >&2; exit 2 ;;
esac
