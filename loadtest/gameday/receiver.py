"""A webhook receiver for Alertmanager: records when each notification arrives."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Serves POST /alerts on a free port in a thread; `notifications` grows as they arrive."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        lock = threading.Lock()
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                with lock:
                    for alert in payload.get("alerts", []):
                        received.append(
                            {
                                "t": arrived,
                                "alertname": alert.get("labels", {}).get("alertname", ""),
                                "status": alert.get("status", ""),
                                "receiver": payload.get("receiver", ""),
                            }
                        )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def first(self, alertname: str, status: str | None = "firing") -> float | None:
        """When the first notification of `alertname` (in `status`, unless None) arrived."""
        times = [
            n["t"]
            for n in list(self.notifications)
            if n["alertname"] == alertname and status in (None, n["status"])
        ]
        return min(times) if times else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
