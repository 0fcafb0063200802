"""What the machine must have: Debian packages installed on demand (as root, with apt)."""

from __future__ import annotations

import os
import shutil
import subprocess

_updated = False


def install(*packages: str, what: str) -> None:
    """apt-get install `packages` (apt-get update once per process); SystemExit when this
    machine cannot (not root, or no apt)."""
    global _updated
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"{what}: {' '.join(packages)} missing and cannot be installed here")
    print(f"{what}: installing {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        _updated = True
    # --no-install-recommends: the packages' own services stay out; we run the binaries.
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
