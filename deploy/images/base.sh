#!/usr/bin/env bash
# The one image everything local is built on: a Debian bookworm root file system made by
# debootstrap from Debian's own archive and imported into the engine as shop-debian:bookworm.
# No image registry is needed; made once, later builds reuse it (`--force` makes it again).
set -euo pipefail
IMAGE=${BASE_IMAGE:-shop-debian:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [[ ${1:-} != --force ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
rootfs=$(mktemp -d /tmp/shop-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm -> $IMAGE (a few minutes, once)"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log"; exit 1
}
rm -f "$rootfs.log"
# The security archive beside the main one, so every later `apt-get install` takes the fixes.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
# Images stay small: no documentation, no caches of package lists.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "$IMAGE ready"
