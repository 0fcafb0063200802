#!/bin/bash
# The subset of the upstream mariadb image's entrypoint that compose.yaml relies on: on the first
# start, a data directory, the root password, MARIADB_DATABASE and /docker-entrypoint-initdb.d
# (*.sql run as root, *.sh executed), all on a server that listens on no network yet.
set -euo pipefail
if [[ ${1:-mariadbd} == -* ]]; then set -- mariadbd "$@"; fi
if [[ $1 != mariadbd ]]; then exec "$@"; fi
shift
if [[ ! -d /var/lib/mysql/mysql ]]; then
  : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD must be set}"
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  mariadbd --user=mysql --skip-networking "$@" &
  pid=$!
  for _ in $(seq 120); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.5; done
  mariadb -uroot <<SQL
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '%'));
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD//\'/\'\'}';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password
  USING PASSWORD('${MARIADB_ROOT_PASSWORD//\'/\'\'}');
${MARIADB_DATABASE:+CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;}
FLUSH PRIVILEGES;
SQL
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh) if [[ -x $f ]]; then "$f"; else . "$f"; fi ;;
      *.sql) mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} <"$f" ;;
    esac
  done
  kill "$pid"
  wait "$pid" || true
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 "$@"
