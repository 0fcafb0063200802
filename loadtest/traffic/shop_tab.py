"""The Shop tab's server side: a greenlet on the master reads every replica's `/metrics` about
once a second and keeps the last points; `/shop/series` hands them to the tab, with locust's own
rejection counts beside them so effect and cause share a time axis."""

from __future__ import annotations

import collections
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gevent
from flask import jsonify

from loadtest.traffic import rejections
from loadtest.traffic.shop_metrics import Flat, Watch, flatten

INTERVAL = 1.0
KEEP = 900  # 15 minutes of points at one a second


def _read(url: str) -> Flat | None:
    try:
        # A loaded replica answers late; a late point beats a gap (the loop waits for it).
        with urllib.request.urlopen(f"{url}/metrics", timeout=2.0) as response:
            return flatten(response.read().decode())
    except (OSError, ValueError):
        return None


class ShopWatcher:
    def __init__(self, replicas: list[str]) -> None:
        self.watch = Watch(replicas)
        self.points: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(replicas)))
        self._last_rejections: dict[str, float] = {}

    def poll_once(self) -> dict[str, Any]:
        replicas = self.watch.replicas
        readings = dict(zip(replicas, self._pool.map(_read, replicas), strict=True))
        point = self.watch.sample(time.time(), readings)
        by_code: dict[str, float] = {}
        for (_, _, code), n in rejections.totals.items():
            by_code[code] = by_code.get(code, 0.0) + n
        point["locust_rejections"] = {
            code: max(0.0, n - self._last_rejections.get(code, 0.0))
            for code, n in sorted(by_code.items())
        }
        self._last_rejections = by_code
        self.points.append(point)
        return point

    def run(self) -> None:
        while True:
            started = time.monotonic()
            self.poll_once()
            gevent.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))


def install(environment: Any, replicas: list[str]) -> ShopWatcher:
    """Start watching and add `/shop/series` to locust's web UI."""
    watcher = ShopWatcher(replicas)
    gevent.spawn(watcher.run)
    app = environment.web_ui.app

    @app.route("/shop/series")
    def shop_series() -> Any:
        return jsonify({"replicas": replicas, "points": list(watcher.points)})

    return watcher
