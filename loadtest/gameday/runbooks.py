"""Mitigations read from the runbooks, so a game day does what the on-call engineer would.

The format (runbooks/README.md): under `## Mitigate`, each switch flip an engineer may run is
one line of a ```sh block, `curl -s -XPUT $ADMIN/api/admin/incidents/<switch> ... -d '{...}'`.
Inline commands in the prose are alternatives for other causes and are not run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest import ROOT

RUNBOOKS = ROOT / "runbooks"
_SECTION = re.compile(r"^## Mitigate\n(.*?)(?=^## |\Z)", re.M | re.S)
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
_FLIP = re.compile(r"/api/admin/incidents/(\w+)\b.*?-d '([^']*)'")


@dataclass(frozen=True, slots=True)
class Mitigation:
    alert: str
    switch: str
    value: Any
    command: str  # the runbook's line, run as written with SHOP and TOKEN set


def mitigations(alert: str, runbooks: Path = RUNBOOKS) -> list[Mitigation]:
    """Every switch flip in the ```sh blocks of the alert's `## Mitigate` section, in order."""
    text = (runbooks / f"{alert}.md").read_text()
    section = _SECTION.search(text)
    if section is None:
        return []
    found = []
    for block in _BLOCK.findall(section.group(1)):
        for line in block.splitlines():
            match = _FLIP.search(line)
            if match is not None and "-XPUT" in line:
                value = json.loads(match.group(2))["value"]
                found.append(Mitigation(alert, match.group(1), value, line.strip()))
    return found


def mitigation_for(alerts: list[str], switch: str) -> Mitigation | None:
    """The first flip of `switch` in the runbooks of `alerts`, taken in the order they fired."""
    for alert in alerts:
        for candidate in mitigations(alert):
            if candidate.switch == switch:
                return candidate
    return None
