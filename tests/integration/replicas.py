"""Several real shop processes on their own ports, sharing the test MariaDB and Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from ..conftest import ADMIN_TOKEN, TEST_DB_URL

REDIS_URL = "redis://127.0.0.1:6379/0"
# The process behind each running replica's URL, for tests that kill one.
_PROCESSES: dict[str, subprocess.Popen[bytes]] = {}


def process_of(url: str) -> subprocess.Popen[bytes]:
    """The OS process serving `url` (a replica started by `replicas`)."""
    return _PROCESSES[url]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def replicas(count: int, **env: str) -> Iterator[list[str]]:
    """Start `count` shop processes; yields their base URLs and stops them afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "shop", "serve"],
                    env={
                        **os.environ,
                        "SHOP_DB_URL": TEST_DB_URL,
                        "SHOP_REDIS_URL": REDIS_URL,
                        "SHOP_HOST": "127.0.0.1",
                        "SHOP_PORT": str(port),
                        "SHOP_ADMIN_TOKEN": ADMIN_TOKEN,
                        "SHOP_LOG_LEVEL": "WARNING",
                        "SHOP_DB_POOL_MAX": "20",
                        **env,
                    },
                    stdout=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            _PROCESSES[urls[-1]] = procs[-1]
        for url, proc in zip(urls, procs, strict=True):
            _wait_ready(url, proc)
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for url in urls:
            _PROCESSES.pop(url, None)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"replica {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"replica {url} did not become ready")
