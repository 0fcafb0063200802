"""Lab rules are the production rules with their windows scaled, never edited by hand: the
committed files are what the generator writes, promtool accepts them, and every production
rule test, time-compressed by the same factor, passes against them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from lab import rules

from .stack_files import RULE_TESTS, RULES
from .test_rules import promtool

LAB_FILES = sorted(rules.LAB_RULES.glob("*.yml"))


def test_committed_lab_rules_are_the_generated_ones() -> None:
    assert [p.name for p in LAB_FILES] == [p.name for p in RULES]
    for source in RULES:
        committed = (rules.LAB_RULES / source.name).read_text()
        assert committed == rules.render(source, rules.LAB_FACTOR), (
            f"{source.name}: run `python -m lab.rules`"
        )


def test_lab_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", *LAB_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_windows_change() -> None:
    for source in RULES:
        production = yaml.safe_load(source.read_text())["groups"]
        lab = yaml.safe_load((rules.LAB_RULES / source.name).read_text())["groups"]
        pairs = [(p, q) for g, h in zip(production, lab, strict=True) for p, q in
                 zip(g["rules"], h["rules"], strict=True)]  # fmt: skip
        for prod, scaled in pairs:
            assert {k: v for k, v in prod.items() if k not in ("expr", "for")} == {
                k: v for k, v in scaled.items() if k not in ("expr", "for")
            }
            assert rules.scale_expr(prod["expr"], rules.LAB_FACTOR) == scaled["expr"]


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
def test_production_rule_tests_pass_at_lab_speed(test_file: Path, tmp_path: Path) -> None:
    scaled = rules.scaled_tests(test_file, LAB_FILES, rules.LAB_FACTOR)
    assert scaled["tests"], "every rule test file has alert tests"
    target = tmp_path / test_file.name
    target.write_text(yaml.safe_dump(scaled, sort_keys=False))
    result = promtool("test", "rules", target.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
