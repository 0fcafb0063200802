"""The dashboards' panel specs (grafana/panels.py): a Graph cannot lose its description, and a
query drawn on the right axis gets the override of its own ref id, wherever it stands."""

from __future__ import annotations

import sys

import pytest

from .stack_files import ROOT

# The dashboard code's folder, as generate.py runs it.
sys.path.insert(0, str(ROOT / "grafana"))
from grafana_foundation_sdk.builders.dashboard import Dashboard

from panels import Graph, layout, row


def test_a_graph_without_a_description_is_refused() -> None:
    with pytest.raises(ValueError, match="panel 7"):
        Graph(7, "Lock wait", "s").plot(("up", "up")).build(12, 8)


def test_right_axis_queries_are_overridden_by_their_place() -> None:
    graph = (
        Graph(1, "Waits", "short")
        .plot(("a", "a"))
        .right("ops", ("b", "b"))
        .plot(("c", "c"))
        .right("s", ("d", "d"), ("e", "e"))
        .description("Two units.")
    )
    built = graph.build(12, 8).build()
    refs = [target.ref_id for target in built.targets or []]
    assert refs == ["A", "B", "C", "D", "E"]
    overrides = {
        o.matcher.options: o.properties[0].value for o in built.field_config.overrides or []
    }
    assert overrides == {"B": "ops", "D": "s", "E": "s"}


def test_a_graph_takes_the_boards_size_unless_it_has_its_own() -> None:
    own = Graph(2, "Own", "short").plot(("a", "a")).description("Its own width.").size(24)
    board = layout(
        Dashboard("t"),
        row(100, "r"),
        Graph(1, "Default", "short").plot(("a", "a")).description("The board's."),
        own,
        width=8,
        height=6,
    ).build()
    sizes = {p.id_val: (p.grid_pos.w, p.grid_pos.h) for p in board.panels or [] if p.grid_pos}
    assert sizes[1] == (8, 6)
    assert sizes[2] == (24, 6)
