"""Write the dashboards' JSON from their code: `python grafana/generate.py [--check]`.

`--check` writes nothing and fails when a committed file differs from what the code builds
(the tests run it), so the JSON Grafana provisions is always the code's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from boards import loadtest, locks, overview, pools, runtime, timeline

OUT = Path(__file__).resolve().parent / "dashboards"
BOARDS = (overview, pools, locks, timeline, runtime, loadtest)


def render() -> dict[str, str]:
    """File name → JSON text for every dashboard."""
    files = {}
    for module in BOARDS:
        built = module.dashboard().build()
        text = json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        files[f"{built.uid}.json"] = text
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail on a stale committed file")
    args = parser.parse_args()
    files = render()
    stale = sorted(
        name
        for name, text in files.items()
        if not (OUT / name).exists() or (OUT / name).read_text() != text
    )
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
    if args.check:
        for name in stale + extra:
            print(f"grafana/dashboards/{name} differs from the code: run make dashboards")
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name in stale:
        (OUT / name).write_text(files[name])
    for name in extra:
        (OUT / name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
