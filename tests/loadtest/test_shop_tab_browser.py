"""The Shop tab in a real browser: headless Chromium opens locust's UI during a short run, the
tab renders its charts, and they gain points as the master reads the shop's /metrics."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from loadtest import ROOT
from loadtest.harness.database import fresh_dataset
from loadtest.harness.ports import free_port
from loadtest.harness.processes import stop
from loadtest.harness.shop import answers, serving
from loadtest.harness.waiting import wait_until
from loadtest.traffic.run import WEBUI_DIST

from .databases import derived_url

DB = derived_url("lt_tab")
CHARTS = ("lock-wait", "lock-waiters", "pools", "errors", "loop-lag", "switches")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail("headless Chromium missing: `make browser` installs chromium and its driver")
    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1800")
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    yield driver
    driver.quit()


@pytest.fixture
def locust_ui(tmp_path: Path) -> Iterator[str]:
    """A locust master with the Shop tab, running the order scenario for about 50 s (the test
    stops it sooner)."""
    if not WEBUI_DIST.joinpath("index.html").exists():
        pytest.fail("the Shop tab is not built: `make webui`")
    fresh_dataset(DB, users=200, stock=1_000_000, coupon_quantity=1_000)
    port = free_port()
    settings = {"SHOP_DB_URL": DB, "SHOP_LOG_LEVEL": "WARNING", "SHOP_DB_POOL_MAX": "8"}
    with serving(settings) as shop, (tmp_path / "locust.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
                "--host", shop.url, "--scenario", "order", "--scale", "0.4", "--shop-users", "200",
                "--web-host", "127.0.0.1", "--web-port", str(port), "--autostart",
                "--quit-when-done", "--build-path", str(WEBUI_DIST), "--only-summary",
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        ui = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: answers(ui, "/"), within=30, what="locust", process=proc)
            yield ui
        finally:
            stop(proc, timeout=30, how=signal.SIGTERM)  # locust's graceful stop


def _points(browser: webdriver.Chrome) -> dict[str, int]:
    return {
        c: int(browser.find_element(By.ID, f"shop-chart-{c}").get_attribute("data-points") or 0)
        for c in CHARTS
    }


def test_shop_tab_renders_and_charts_gain_points(
    browser: webdriver.Chrome, locust_ui: str, tmp_path: Path
) -> None:
    # The master's own metrics are served beside the UI while the run is on.
    browser.get(f"{locust_ui}/metrics")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "locust_users" in text
    assert 'locust_scenario_info{scenario="order",shape="order"} 1.0' in text
    browser.get(locust_ui)
    wait = WebDriverWait(browser, 30)
    tab = wait.until(lambda b: b.find_element(By.XPATH, "//button[normalize-space()='Shop']"))
    tab.click()
    wait.until(lambda b: b.find_element(By.ID, "shop-chart-lock-wait"))
    # echarts draws each chart on a canvas inside its container.
    for chart in CHARTS:
        container = browser.find_element(By.ID, f"shop-chart-{chart}")
        assert container.find_elements(By.TAG_NAME, "canvas"), chart
    wait.until(lambda b: min(_points(b).values()) >= 2)
    first = _points(browser)
    # Ordering, not timing: wait for the next points whatever the machine's speed.
    wait.until(lambda b: min(_points(b).values()) > max(first.values()))
    status = browser.find_element(By.ID, "shop-status").text
    assert "1/1 answering" in status
    browser.save_screenshot(str(tmp_path / "shop-tab.png"))  # kept by pytest for a look
    browser.get(f"{locust_ui}/metrics")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert 'locust_requests_total{method="POST",name="/api/orders"}' in text
