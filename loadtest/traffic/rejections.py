"""Business rejections by class, counted apart from locust's failures.

Workers ship what they counted since their last report to the master with locust's own
`report_to_master` / `worker_report` events; the master (or a local runner) keeps the totals
that `/metrics`, the Shop tab and the gate read.
"""

from __future__ import annotations

import collections
from typing import Any

Key = tuple[str, str, str]  # (method, request name, code)

totals: collections.Counter[Key] = collections.Counter()
_unreported: collections.Counter[Key] = collections.Counter()
_worker = False


def count(method: str, name: str, code: str) -> None:
    """One rejection seen by this process."""
    if _worker:
        _unreported[(method, name, code)] += 1
    else:
        totals[(method, name, code)] += 1


def setup(environment: Any) -> None:
    """Wire the tally into locust's master/worker reporting."""
    global _worker
    from locust.runners import WorkerRunner

    _worker = isinstance(environment.runner, WorkerRunner)

    @environment.events.report_to_master.add_listener
    def _report(client_id: str, data: dict[str, Any]) -> None:
        data["rejections"] = [[*key, n] for key, n in _unreported.items()]
        _unreported.clear()

    @environment.events.worker_report.add_listener
    def _received(client_id: str, data: dict[str, Any]) -> None:
        for method, name, code, n in data.get("rejections", ()):
            totals[(method, name, code)] += n


def as_rows() -> list[dict[str, Any]]:
    """The totals as JSON rows (method, name, code, count)."""
    return [
        {"method": m, "name": n, "code": c, "count": v} for (m, n, c), v in sorted(totals.items())
    ]
