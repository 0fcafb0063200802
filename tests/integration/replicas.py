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
from pathlib import Path

from ..conftest import ADMIN_TOKEN, TEST_DB_URL
from ..faults.servers import die_with_parent

REDIS_URL = "redis://127.0.0.1:6379/0"
# The process behind each running replica's URL, for tests that kill one.
RUNNING: dict[str, subprocess.Popen[bytes]] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def replicas(count: int, log_dir: Path | None = None, **env: str) -> Iterator[list[str]]:
    """Start `count` shop processes; yields their base URLs and stops them afterwards.

    Their logs go to `log_dir`/shop-<port>.log when given, else nowhere.
    """
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = _free_port()
            env_of = {
                **os.environ,
                "SHOP_DB_URL": TEST_DB_URL,
                "SHOP_REDIS_URL": REDIS_URL,
                "SHOP_HOST": "127.0.0.1",
                "SHOP_PORT": str(port),
                "SHOP_ADMIN_TOKEN": ADMIN_TOKEN,
                "SHOP_LOG_LEVEL": "WARNING",
                "SHOP_DB_POOL_MAX": "20",
                **env,
            }
            command = [sys.executable, "-m", "shop", "serve"]
            if log_dir is None:
                procs.append(
                    subprocess.Popen(
                        command,
                        env=env_of,
                        stdout=subprocess.DEVNULL,
                        preexec_fn=die_with_parent,
                    )
                )
            else:
                with open(log_dir / f"shop-{port}.log", "wb") as log:
                    procs.append(
                        subprocess.Popen(
                            command,
                            env=env_of,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent,
                        )
                    )
            urls.append(f"http://127.0.0.1:{port}")
            RUNNING[urls[-1]] = procs[-1]
        for url, proc in zip(urls, procs, strict=True):
            _wait_ready(url, proc)
        yield urls
    finally:
        for url in urls:
            RUNNING.pop(url, None)
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


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
