#!/bin/bash
# First start of MariaDB (/docker-entrypoint-initdb.d): one account per role, each with the least
# it needs, passwords from the environment (.env, never git).
# - migrate: owns the schema (the one-shot `migrate` job: DDL, then the seed).
# - shop: the replicas: rows, plus ALTER and INDEX for the `cart_index` incident switch (the lab's
#   full-scan drill drops and rebuilds the cart_items index at runtime). Granted on the database:
#   a grant on the table itself needs the table, which does not exist before `migrate`. No
#   CREATE, DROP, GRANT or anything outside `shop`.
# - exporter: mysqld_exporter's status and InnoDB counters.
set -euo pipefail
quote() { printf "'%s'" "${1//\'/\'\'}"; }
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" <<SQL
CREATE USER IF NOT EXISTS 'migrate'@'%' IDENTIFIED BY $(quote "$SHOP_MIGRATE_PASSWORD");
GRANT ALL PRIVILEGES ON \`shop\`.* TO 'migrate'@'%';
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY $(quote "$SHOP_DB_PASSWORD");
GRANT SELECT, INSERT, UPDATE, DELETE ON \`shop\`.* TO 'shop'@'%';
GRANT ALTER, INDEX ON \`shop\`.* TO 'shop'@'%';
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY $(quote "$MYSQLD_EXPORTER_PASSWORD")
  WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO 'exporter'@'%';
SQL
