"""The listening socket's accept backlog: a crowd's connections queue, they are not dropped."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shop.api.framework.server import LISTEN_BACKLOG

from .replicas import replicas

pytestmark = pytest.mark.slow


def _backlog(port: int) -> int:
    """The backlog the kernel holds for the socket listening on `port` (`ss`'s Send-Q)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[2])


def test_the_shop_listens_with_a_backlog_a_crowd_fits_in(
    test_database: str, redis_prefix: str, tmp_path: Path
) -> None:
    # aiohttp's default, 128, overflowed when a crowd connected at once: the kernel dropped
    # the handshakes past it and their clients resent them 1 s and 3 s later.
    assert LISTEN_BACKLOG >= 1024
    with replicas(1, db_url=test_database, redis_prefix=redis_prefix, log_dir=tmp_path) as (url,):
        assert _backlog(urlsplit(url).port or 0) == LISTEN_BACKLOG
