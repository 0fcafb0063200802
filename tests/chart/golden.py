"""Writes the golden renders (make chart): tests/chart/golden/<values>.yaml, one per matrix entry.

A test diffs every render against its golden file, so a chart change shows up in review as the
objects it changes; after a deliberate change run `make chart` and commit the files.
"""

from __future__ import annotations

from .render import GOLDEN, VALUES, rendered_text


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in VALUES:
        (GOLDEN / f"{name}.yaml").write_text(rendered_text(name))
        print(f"chart: {GOLDEN / name}.yaml")


if __name__ == "__main__":
    main()
