"""An example receiver for the shop's Alertmanager: prints every notification it is sent.

`python observability/alertmanager/receiver.py [--port 9095]` (`make alert-receiver`) serves the
URLs alertmanager.yml posts to: /page, /ticket and /heartbeat get Alertmanager's webhook JSON,
/chat the Slack-shaped message rendered by templates/shop.tmpl. Each notification is one JSON
line on stdout ({"path", "receiver", "status", "alerts"} or {"path", "title", "text"}), so a
pager bridge, a tracker or a dead man's switch can start from here. The first line says where
it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def summary(path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The notification's gist: who it is for, what fires, and the text a person reads."""
    if "alerts" not in payload:  # a chat message: the template already wrote the text
        return {"path": path, "title": payload.get("attachments", [{}])[0].get("title", ""),
                "text": payload.get("attachments", [{}])[0].get("text", "")}  # fmt: skip
    return {
        "path": path,
        "receiver": payload.get("receiver", ""),
        "status": payload.get("status", ""),
        "alerts": [
            {
                "alertname": alert["labels"].get("alertname", ""),
                "summary": alert["annotations"].get("summary", ""),
                "runbook_url": alert["annotations"].get("runbook_url", ""),
                "dashboard": alert["annotations"].get("dashboard", ""),
            }
            for alert in payload["alerts"]
        ],
    }


# Notifications arrive on several threads at once: one whole line at a time.
_PRINTING = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            line = summary(self.path, json.loads(body))
        except (ValueError, KeyError, IndexError, AttributeError):
            line = {"path": self.path, "unreadable": body.decode(errors="replace")}
        with _PRINTING:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9095, help="0 picks a free port")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), _Handler)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
