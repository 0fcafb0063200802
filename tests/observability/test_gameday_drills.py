"""The game days are consistent with the names everyone shares: one drill per documented
scenario, alerts that exist, and a runbook line that flips each drill's switch back."""

from __future__ import annotations

import re

import pytest

from loadtest.gameday.drills import DRILLS, Drill
from loadtest.gameday.runbooks import mitigation_for

from .stack_files import ROOT, alert_names


def _documented_scenarios() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Incident switches", 1)[1].split("\n## ", 1)[0]
    names = section.split("scenario names", 1)[1]
    return re.findall(r"`([a-z-]+)`", names)


def test_one_drill_per_documented_scenario() -> None:
    assert sorted(DRILLS) == sorted(_documented_scenarios())


@pytest.mark.parametrize("drill", DRILLS.values(), ids=lambda d: d.scenario)
def test_drill_names_real_alerts(drill: Drill) -> None:
    assert drill.expected
    assert set(drill.expected) | set(drill.tolerated) <= set(alert_names())
    assert not set(drill.expected) & set(drill.tolerated)


@pytest.mark.parametrize("drill", DRILLS.values(), ids=lambda d: d.scenario)
def test_an_expected_alerts_runbook_flips_each_switch_back(drill: Drill) -> None:
    assert drill.flips or drill.fault or drill.crowd
    for switch, value in drill.flips:
        fix = mitigation_for(list(drill.expected), switch)
        assert fix is not None, f"no runbook of {drill.expected} flips {switch} back"
        assert fix.value != value
        assert fix.command.startswith("curl ")


@pytest.mark.parametrize(
    "drill",
    [d for d in DRILLS.values() if d.fault and d.fault.how != "restarted"],
    ids=lambda d: d.scenario,
)
def test_a_broken_process_is_started_again_as_the_runbook_says(drill: Drill) -> None:
    text = (ROOT / "runbooks" / f"{drill.expected[0]}.md").read_text()
    mitigate = text.split("## Mitigate", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\b(start|restart)\b", mitigate, re.I), mitigate
