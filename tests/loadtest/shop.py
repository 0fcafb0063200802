"""A shop process for the load-test tests: a free port, a private seeded database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from loadtest.traffic.run import _wait_until, answers, free_port


@contextmanager
def shop(db_url: str, **env: str) -> Iterator[str]:
    """Serve the shop on a free port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve"],
        env={
            **os.environ,
            "SHOP_DB_URL": db_url,
            "SHOP_HOST": "127.0.0.1",
            "SHOP_PORT": str(port),
            "SHOP_LOG_LEVEL": "WARNING",
            **env,
        },
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_until(lambda: answers(url), 30, "shop", proc)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
