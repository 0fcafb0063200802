"""`python -m loadtest <verb> [options]`: the one entry point of the tooling (what make calls).

Each verb names the module whose `main(argv)` it runs; a module is imported only when its verb
is asked for, so `audit` never pays for matplotlib or locust.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

VERBS = {
    "services": ("loadtest.harness.services", "MariaDB and Redis up on 127.0.0.1 (make services)"),
    "replicas": ("loadtest.harness.shop", "N shop processes on consecutive ports"),
    "observe": ("loadtest.harness.stack", "the local Prometheus/Alertmanager/exporters stack"),
    "run": ("loadtest.traffic.run", "a load test: locust, Prometheus, audit and SLO gate"),
    "k6": ("loadtest.k6.run", "the original's k6 scripts against the shop"),
    "audit": ("loadtest.audit", "the consistency audit over the seeded data set"),
    "report": ("loadtest.slo.report", "a load-test run directory turned into a report"),
    "compare": ("loadtest.slo.compare", "two runs compared: a verdict per figure"),
    "regress": ("loadtest.slo.regress", "a smoke run against its committed baseline"),
    "before-after": ("loadtest.slo.before_after", "the before/after comparison's report"),
    "gameday": ("loadtest.gameday.run", "an incident drill with alerts and the runbook's fix"),
    "bench": ("loadtest.bench", "the benchmarks (make bench, make bench-soak)"),
}


def usage() -> str:
    lines = ["usage: python -m loadtest <verb> [options]   (<verb> --help for its options)"]
    lines += [f"  {verb:<13} {what}" for verb, (_, what) in VERBS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in VERBS:
        print(usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(VERBS[args[0]][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
