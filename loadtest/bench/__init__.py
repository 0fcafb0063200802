"""Benchmarks, each a module with `main(argv)`: `python -m loadtest bench <name> [options]`.

ceiling: the endpoints against the database's own ceiling (with floor.py, HTTP alone);
suite: side-by-side HTTP suites, interleaved (suites.py's SUITES: runtime, observability, ...);
codec: request and answer coding; soak: one shop under load for minutes;
hot-product: 100 buyers of one product, group commit against one order per transaction;
overload: the open model past capacity with admission control on and off;
instructions: instructions per charge under callgrind, the shop against the floor.
scale: the endpoints with 100,000, 1 million and 5 million users.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

MODULES = {
    "ceiling": "ceiling",
    "suite": "suites",
    "codec": "codec",
    "soak": "soak",
    "overload": "overload",
    "hot-product": "hot_product",
    "instructions": "instructions",
    "scale": "scale",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in MODULES:
        print(f"usage: python -m loadtest bench {{{','.join(MODULES)}}} ...", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"loadtest.bench.{MODULES[args[0]]}").main(args[1:]))
