"""The report generator on a recorded run (an order run recorded in Prometheus, kept under
tests/loadtest/data/): it writes the README and every chart it links."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from loadtest.slo import report

RECORDED = Path(__file__).parent / "data" / "order-run"
PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_readme_and_charts(tmp_path: Path) -> None:
    run = tmp_path / "order-run"
    shutil.copytree(RECORDED, run)
    out = tmp_path / "report"
    assert report.main([str(run), "--out", str(out)]) == 0
    text = (out / "README.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert set(linked) == {"throughput.png", "latency.png", "outcomes.png", "shop.png"}
    for name in linked:
        data = (out / name).read_bytes()
        assert data.startswith(PNG), name
        assert len(data) > 5_000, name  # drawn, not empty
    assert "Shop-side charts from Prometheus" in text
    assert "| the original (published) | 81.7 | 131 ms |" in text
    assert "SLO gate: " in text
    assert "consistency audit: clean" in text


def test_shop_tab_readings_stand_in_when_not_recorded(tmp_path: Path) -> None:
    run = tmp_path / "order-run"
    shutil.copytree(RECORDED, run)
    (run / "prometheus_series.json").unlink()
    path = report.write(run, tmp_path / "report")
    assert "Shop-side charts from the Shop tab" in path.read_text()
    assert (tmp_path / "report" / "shop.png").read_bytes().startswith(PNG)


def test_a_directory_without_results_is_refused(tmp_path: Path) -> None:
    assert report.main([str(tmp_path)]) == 2
