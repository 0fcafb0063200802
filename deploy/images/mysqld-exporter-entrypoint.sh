#!/bin/sh
# prom/mysqld-exporter's flags (--mysqld.username, --mysqld.address, MYSQLD_EXPORTER_PASSWORD in
# the environment), which compose.yaml uses, on Debian's 0.14, which reads DATA_SOURCE_NAME.
user=root address=localhost:3306
for arg in "$@"; do
  case $arg in
    --mysqld.username=*) user=${arg#*=} ;;
    --mysqld.address=*) address=${arg#*=} ;;
    *) set -- "$@" "$arg" ;;
  esac
  shift
done
DATA_SOURCE_NAME="$user:${MYSQLD_EXPORTER_PASSWORD:-}@($address)/" \
  exec /usr/bin/prometheus-mysqld-exporter "$@"
