#!/bin/sh
# upstream healthcheck.sh's `--connect --innodb_initialized`: the server answers over TCP, which
# it does only once the first start's initialisation (on a server with no network) is over.
exec mariadb-admin --protocol=tcp --host=127.0.0.1 --silent ping >/dev/null
