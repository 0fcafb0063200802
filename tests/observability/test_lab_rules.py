"""Lab rules are the production rules with their windows scaled: a game day writes them (none
are committed), promtool accepts them, only durations differ from production, each by the
factor, and every production rule test, time-compressed by the same factor, passes against
them."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from loadtest.gameday import rules

from .stack_files import RULE_TESTS, RULES
from .test_rules import promtool

# A duration literal as PromQL writes one ("5m", "1h30m", "500ms"), read here without the
# generator's own parser so that a scaling bug cannot hide behind itself.
DURATION = re.compile(r"(?<![\w.])((?:\d+(?:ms|[smhdwy]))+)(?![\w.])")
UNIT_SECONDS = {"ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _seconds(literal: str) -> Fraction:
    return sum(
        (int(n) * Fraction(UNIT_SECONDS[u]) for n, u in re.findall(r"(\d+)(ms|[smhdwy])", literal)),
        Fraction(0),
    )


@pytest.fixture(scope="module")
def lab_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return rules.write_rules(tmp_path_factory.mktemp("lab-rules"), rules.LAB_FACTOR)


def test_a_lab_file_for_every_production_file(lab_files: list[Path]) -> None:
    assert [p.name for p in lab_files] == [p.name for p in RULES]


def test_lab_rules_pass_promtool_check(lab_files: list[Path]) -> None:
    result = promtool("check", "rules", *lab_files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_windows_change(lab_files: list[Path]) -> None:
    """Every rule keeps its name, labels, annotations and expression text; each duration in
    the expression and its `for:` are the production ones times the factor."""
    for source, lab in zip(RULES, lab_files, strict=True):
        production = yaml.safe_load(source.read_text())["groups"]
        scaled = yaml.safe_load(lab.read_text())["groups"]
        assert [g["name"] for g in production] == [g["name"] for g in scaled]
        pairs = [(p, q) for g, h in zip(production, scaled, strict=True) for p, q in
                 zip(g["rules"], h["rules"], strict=True)]  # fmt: skip
        for prod, lab_rule in pairs:
            name = prod.get("alert") or prod.get("record")
            timed = ("expr", "for", "keep_firing_for")
            assert {k: v for k, v in prod.items() if k not in timed} == {
                k: v for k, v in lab_rule.items() if k not in timed
            }, name
            assert DURATION.sub("D", prod["expr"]) == DURATION.sub("D", lab_rule["expr"]), name
            for key in ("for", "keep_firing_for"):
                assert (key in prod) == (key in lab_rule), name
            was = [*DURATION.findall(prod["expr"]), *(str(prod[k]) for k in timed[1:] if k in prod)]
            now = [
                *DURATION.findall(lab_rule["expr"]),
                *(str(lab_rule[k]) for k in timed[1:] if k in lab_rule),
            ]
            assert [_seconds(d) * rules.LAB_FACTOR for d in was] == [_seconds(d) for d in now], name


@pytest.mark.parametrize(
    ("expr", "factor", "expected"),
    [
        ("rate(x[5m]) > 0", Fraction(1, 10), "rate(x[30s]) > 0"),
        ("increase(x[3d]) offset 1h", Fraction(1, 10), "increase(x[432m]) offset 6m"),
        (
            "max_over_time(rate(x[1m])[30m:1m])",
            Fraction(1, 20),
            "max_over_time(rate(x[3s])[90s:3s])",
        ),
        (
            'x{route!~"/a|/b", code=~"5.."}[1h30m]',
            Fraction(1),
            'x{route!~"/a|/b", code=~"5.."}[90m]',
        ),
        ("rate(x[1m])", Fraction(1, 100), "rate(x[600ms])"),
    ],
)
def test_scale_expr(expr: str, factor: Fraction, expected: str) -> None:
    assert rules.scale_expr(expr, factor) == expected


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_production_rule_tests_pass_at_lab_speed(
    test_file: Path, lab_files: list[Path], tmp_path: Path
) -> None:
    scaled = rules.scaled_tests(test_file, lab_files, rules.LAB_FACTOR)
    assert scaled["tests"], "every rule test file has alert tests"
    target = tmp_path / test_file.name
    target.write_text(yaml.safe_dump(scaled, sort_keys=False))
    result = promtool("test", "rules", target.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
