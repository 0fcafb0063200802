#!/usr/bin/env bash
# .env for compose on first use: a random value for every secret of the stack, nothing secret in
# git (.env is ignored). An existing file is kept; a variable it lacks is added.
# `deploy/env.sh FILE` writes FILE instead (the compose test's own stack).
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-.env}
touch "$file"
chmod 600 "$file"
secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
add() { grep -q "^$1=" "$file" || echo "$1=$2" >>"$file"; }
grep -q '^# ' "$file" || echo "# The compose stack's secrets, made by deploy/env.sh: never commit." >>"$file"
# Grafana, the OTel Collector and Jaeger; `COMPOSE_PROFILES=` where no registry offers them.
add COMPOSE_PROFILES full
for name in SHOP_ADMIN_TOKEN SHOP_AUTH_SECRET MARIADB_ROOT_PASSWORD SHOP_DB_PASSWORD \
  SHOP_MIGRATE_PASSWORD MYSQLD_EXPORTER_PASSWORD REDIS_PASSWORD GRAFANA_ADMIN_PASSWORD; do
  add "$name" "$(secret)"
done
