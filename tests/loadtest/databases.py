"""Private databases of the load-test tests, named after the test database (never another's)."""

from __future__ import annotations

from ..conftest import TEST_DB_URL


def derived_url(suffix: str) -> str:
    """The test database's URL with `_<suffix>` appended to its name."""
    return f"{TEST_DB_URL}_{suffix}"
