#!/usr/bin/env bash
# `make images`: the shop and load-test images from compose.yaml, on a machine with no image
# registry. The bookworm base is debootstrapped once (base.sh); the stand-ins of the third-party
# images are built from Debian's packages on it; compose.local.yaml swaps them in and builds the
# shop's two images on the local Python. The host's CA bundle goes into every image.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/images/base.sh
cp /etc/ssl/certs/ca-certificates.crt deploy/images/host-ca.crt
for target in python mariadb redis haproxy prometheus alertmanager mysqld-exporter redis-exporter; do
  docker build -q --network host -f deploy/images/Dockerfile --target "$target" \
    -t "shop-local/$target:bookworm" deploy/images >/dev/null
done
deploy/env.sh
COMPOSE_PROFILES= docker-compose -f compose.yaml -f compose.local.yaml build -q shop-1 locust-master
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^(shop|shop-loadtest):local' || true
