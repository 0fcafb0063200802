"""Write the dashboards' JSON from their code: `python grafana/generate.py [--check]`.

`--check` writes nothing and fails when a committed file differs from what the code builds
(the tests run it), so the JSON Grafana provisions is always the code's. Every panel an alert
opens (its `dashboard` annotation) gets a link to that alert's runbook, read from the rules.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The overview's budget panels read the SLO spec (observability/slo/spec.py).
sys.path.insert(0, str(ROOT / "observability" / "slo"))

from boards import loadtest, locks, overview, pools, runtime, timeline  # noqa: E402
from panels import runbook_link  # noqa: E402

OUT = HERE / "dashboards"
RULES = ROOT / "observability" / "prometheus" / "rules"
BOARDS = (overview, pools, locks, timeline, runtime, loadtest)
_LINK = re.compile(r"/d/([\w-]+)\?viewPanel=(\d+)")


def alert_panels() -> dict[tuple[str, int], dict[str, str]]:
    """(dashboard uid, panel id) → {alert: runbook path} of every alert that opens the panel."""
    found: dict[tuple[str, int], dict[str, str]] = {}
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                link = _LINK.fullmatch(rule.get("annotations", {}).get("dashboard", ""))
                if "alert" in rule and link is not None:
                    panel = (link.group(1), int(link.group(2)))
                    found.setdefault(panel, {})[rule["alert"]] = rule["annotations"]["runbook_url"]
    return found


def _link_runbooks(built: Dashboard, runbooks: dict[tuple[str, int], dict[str, str]]) -> None:
    for panel in built.panels or []:
        if not isinstance(panel, Panel):
            continue  # a row
        alerts = runbooks.get((str(built.uid), panel.id_val or 0), {})
        if alerts:
            panel.links = [runbook_link(alert, path) for alert, path in sorted(alerts.items())]


def render() -> dict[str, str]:
    """File name → JSON text for every dashboard."""
    files = {}
    runbooks = alert_panels()
    for module in BOARDS:
        built = module.dashboard().build()
        _link_runbooks(built, runbooks)
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
