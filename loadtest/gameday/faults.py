"""The processes a game day breaks (`drills.Fault`): a shop replica, or a MariaDB or Redis of the
drill's own, started before the shops when the fault stops one. The machine's shared servers
are never stopped: other suites stand on them.

Mending is what the alert's runbook says under `## Mitigate` (start it again); a restart that
happened at once (`restarted`) needs no mending, only the time its alert takes to clear.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from loadtest.gameday.drills import Fault
from loadtest.harness.servers import MariaDbServer, PrivateServer, RedisServer

DATABASE = "shop_gameday"


class Breaker:
    """One drill's fault: the private server it needs, how it breaks and how it is mended."""

    def __init__(self, fault: Fault | None) -> None:
        self.fault = fault
        self.server: PrivateServer | None = None
        if fault is not None and fault.process == "mariadb":
            self.server = MariaDbServer()
        elif fault is not None and fault.process == "redis":
            self.server = RedisServer()

    def start(self) -> None:
        if self.server is not None:
            self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def db_url(self, default: str) -> str:
        """Where the shops keep their data: the private MariaDB when the drill stops it."""
        if isinstance(self.server, MariaDbServer):
            return self.server.url(DATABASE)
        return default

    def shop_env(self) -> dict[str, str]:
        """The shops' Redis when the drill stops or restarts it."""
        return {"SHOP_REDIS_URL": self.server.url} if isinstance(self.server, RedisServer) else {}

    def stack(self) -> dict[str, Any]:
        """The exporters' targets: the private server, so its alert sees it go."""
        if isinstance(self.server, MariaDbServer):
            return {"mysql_dsn": f"root:@(127.0.0.1:{self.server.port})/"}
        if isinstance(self.server, RedisServer):
            return {"redis_addr": self.server.url}
        return {}

    def break_(self, replica: Any) -> None:
        """Kill the replica's process (a `subprocess.Popen`) or stop the private server."""
        fault = self.fault
        if fault is None:
            return
        if fault.process == "replica":
            replica.send_signal(signal.SIGKILL)
            replica.wait()
            return
        server = self.server
        if server is None:
            raise RuntimeError(f"no private {fault.process} to break")
        server.stop(signal.SIGTERM if fault.how == "stopped" else signal.SIGKILL)
        if fault.how == "restarted":
            server.start()

    def mend(self, relaunch: Callable[[], None]) -> bool:
        """Start again what was broken (`relaunch` brings a replica back); False when nothing
        was left to mend."""
        fault = self.fault
        if fault is None or fault.how == "restarted":
            return False
        if fault.process == "replica":
            relaunch()
        elif self.server is not None:
            self.server.start()
        return True
