#!/usr/bin/env bash
# Make sure MariaDB and Redis answer on 127.0.0.1, starting (or, as root with apt, installing)
# them when they do not. Idempotent; used by `make run`, `make test` and CI.
set -euo pipefail

DB_HOST=${SHOP_DB_HOST:-127.0.0.1}
REDIS_HOST=${SHOP_REDIS_HOST:-127.0.0.1}
MIN_CONNECTIONS=${SHOP_DB_MIN_MAX_CONNECTIONS:-1000}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "ensure-services: $name did not come up" >&2
  return 1
}

mariadb_up() { mysqladmin --protocol=tcp -h "$DB_HOST" -uroot ping; }
redis_up() { redis-cli -h "$REDIS_HOST" ping | grep -q PONG; }

if ! command -v mysqladmin >/dev/null 2>&1 || ! mariadb_up >/dev/null 2>&1; then
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    can_install || { echo "ensure-services: MariaDB is not running and cannot be installed here" >&2; exit 1; }
    echo "ensure-services: installing MariaDB"
    apt_install mariadb-server mariadb-client
  fi
  echo "ensure-services: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb_up
fi

# Three replicas with their pools plus the tests need more than the default 151 connections.
current=$(mysql --protocol=tcp -h "$DB_HOST" -uroot -N -e "SELECT @@max_connections" 2>/dev/null || echo 0)
if [ "${current:-0}" -lt "$MIN_CONNECTIONS" ]; then
  mysql --protocol=tcp -h "$DB_HOST" -uroot -e "SET GLOBAL max_connections = $MIN_CONNECTIONS" \
    || echo "ensure-services: could not raise max_connections (is $current)" >&2
fi

if ! command -v redis-cli >/dev/null 2>&1 || ! redis_up >/dev/null 2>&1; then
  if ! command -v redis-server >/dev/null 2>&1; then
    can_install || { echo "ensure-services: Redis is not running and cannot be installed here" >&2; exit 1; }
    echo "ensure-services: installing Redis"
    apt_install redis-server
  fi
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_up
fi
echo "ensure-services: MariaDB and Redis are up"
