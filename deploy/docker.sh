#!/usr/bin/env bash
# A Docker engine and docker-compose from Debian's packages, installed when missing, and dockerd
# started in the background when nothing answers on its socket (as on a fresh CI machine).
set -euo pipefail
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
fi
if docker info >/dev/null 2>&1; then exit 0; fi
mkdir -p /var/log/shop
nohup dockerd >/var/log/shop/dockerd.log 2>&1 &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not answer within 60 s (log: /var/log/shop/dockerd.log)" >&2
exit 1
