"""The report generator on a recorded run (an order run recorded in Prometheus, kept under
tests/loadtest/data/): it writes the README and every chart it links."""

from __future__ import annotations

import json
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
    page = (out / "README.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # self-contained: every chart inside
    assert 'src="' not in page.replace('src="data:', "")
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


def _with_request_log(tmp_path: Path) -> Path:
    """The recorded run with a request log: three requests, two of them sent as sampled."""
    run = tmp_path / "order-run"
    shutil.copytree(RECORDED, run)
    start = json.loads((run / "run.json").read_text())["started"]
    (run / "requests").mkdir()
    (run / "requests" / "1.csv").write_text(
        "t,name,ms,ok,trace_id,sampled\n"
        f"{start + 1},/api/orders,900.0,1,{'a' * 32},1\n"
        f"{start + 1.5},/api/orders,1500.0,1,{'b' * 32},0\n"
        f"{start + 2},/api/cart/items,300.0,0,{'c' * 32},1\n"
    )
    meta = json.loads((run / "run.json").read_text())
    meta |= {
        "commit": "0123456789ab",
        "machine": {"host": "box", "system": "Linux", "cores": 2, "load": 1.5},
        "shape": [[30, 50], [60, 100]],
        "model": "closed",
        "flips": "10:db_latency_ms=50",
    }
    (run / "run.json").write_text(json.dumps(meta))
    return run


def test_metadata_percentiles_by_request_and_slowest_traces(tmp_path: Path) -> None:
    run = _with_request_log(tmp_path)
    text = report.write(run, tmp_path / "report", "http://jaeger:16686").read_text()
    assert "| commit | `0123456789ab` |" in text
    assert "| machine | box, Linux, 2 cores, load 1.5 at the start, speed probe ? ms |" in text
    assert "| shape | 50 users in 30 s → 100 users in 60 s |" in text
    assert "| switch flips | `10:db_latency_ms=50` |" in text
    assert "![by request](latency_by_request.png)" in text
    assert (tmp_path / "report" / "latency_by_request.png").read_bytes().startswith(PNG)
    # Only sampled requests have a trace to open; the slowest of all is named apart.
    assert "2 of 3 requests were sent as sampled traces; the slowest of all took 1500 ms" in text
    assert f"[`{'a' * 32}`](http://jaeger:16686/trace/{'a' * 32})" in text
    assert "b" * 32 not in text
    rows = [line for line in text.splitlines() if "jaeger:16686/trace" in line]
    assert rows[0].startswith("| `/api/orders` | 900 | ok |")
    assert rows[1].startswith("| `/api/cart/items` | 300 | failed |")


def test_alerts_become_marked_events() -> None:
    series = {
        "series": {
            "alerts": [
                {"metric": {"alertname": "OrderLatencyHigh"}, "values": [[100.0, "1"], [101, "1"]]}
            ]
        }
    }
    assert report.alert_events(series) == [{"t": 100.0, "alert": "OrderLatencyHigh"}]
    assert report.alert_events({"series": {"alerts": {"error": "down"}}}) == []
