"""Every guard mutation still finds its guard, and names tests that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutants.catalogue import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_the_guard_occurs_once_and_the_tests_exist(mutation: Mutation) -> None:
    assert (ROOT / "service/shop" / mutation.path).read_text().count(mutation.old) == 1
    assert mutation.tests
    for node in mutation.tests:
        path, _, name = node.partition("::")
        assert f"def {name.split('[')[0]}(" in (ROOT / path).read_text(), node
