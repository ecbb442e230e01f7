"""The web UI in a real browser: Playwright drives Debian's Chromium against a live uvicorn on loopback.

Log in with a token, open the runs table, filter it (HTMX swaps the table), compare two runs (Plotly draws the
metric histories), approve a model version as a reviewer, and read an experiment readout. Screenshots go to
``$ASSAY_UI_SCREENSHOTS`` when set (CI uploads that folder), else to a pytest temporary folder.
Skipped only where ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from assay.governance.approvals import list_requests
from assay.server import create_app

from .ui_fixtures import EXPERIMENT, MODEL, MONITOR, PROJECT, Workspace, build_workspace

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = build_workspace(tmp_path_factory.mktemp("ui-browser-store"))
    yield workspace
    workspace.client.close()


@pytest.fixture(scope="module")
def base_url(ws: Workspace) -> Iterator[str]:
    """A live uvicorn serving ``create_app`` on a free loopback port, in a thread."""
    server = uvicorn.Server(uvicorn.Config(create_app(ws.client), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ASSAY_UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def log_in(page: Any, base_url: str, token: str, path: str = "/ui/") -> None:
    page.goto(base_url + path)
    assert "/ui/login" in page.url  # a multi-user store sends strangers to the login form
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{path}*")


def test_log_in_filter_the_runs_table_and_compare_two_runs(page: Any, base_url: str, ws: Workspace,
                                                           shots: Path) -> None:  # fmt: skip
    log_in(page, base_url, ws.tokens["sam"])
    assert page.inner_text("#who") == "sam"
    page.click(f"text={PROJECT}")
    page.wait_for_selector("#runs-table")
    assert page.locator("#runs-table tbody tr").count() == 14
    page.screenshot(path=str(shots / "runs-table.png"), full_page=True)

    page.fill("#filter", "metrics.auc >")  # a malformed filter: the message replaces the table, the page stays
    page.press("#filter", "Enter")
    page.wait_for_selector("#runs .error-box")
    assert "position 13" in page.inner_text("#runs .error-box") and page.locator("#filter").is_visible()

    page.fill("#filter", "params.model = 'lgbm' and metrics.auc > 0.8")
    page.press("#filter", "Enter")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 3")
    assert "filter=" in page.url  # HTMX pushed the filtered URL: it can be shared and reloaded
    assert "<html" not in page.inner_html("#runs")  # swapped the table in place, not a page inside a page
    names = page.locator("#runs-table tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == ["lgbm-07", "lgbm-09", "lgbm-11"]

    page.click("#runs-table thead >> text=metrics.auc")  # sort by auc, descending
    page.wait_for_selector("#runs-table thead >> text=metrics.auc ▼")
    assert page.locator("#runs-table tbody tr td:nth-child(2)").all_inner_texts() == ["lgbm-11", "lgbm-09", "lgbm-07"]
    page.click("details.columns summary")
    assert "metrics.loss" in page.inner_text("#runs-table thead")
    page.uncheck("input[name=col][value='metrics.loss']")  # a column goes: the table swaps, filter and sort kept
    page.wait_for_function("!document.querySelector('#runs-table thead').innerText.includes('metrics.loss')")
    assert "metrics.auc ▼" in page.inner_text("#runs-table thead")
    assert page.locator("#runs-table tbody tr td:nth-child(2)").all_inner_texts() == ["lgbm-11", "lgbm-09", "lgbm-07"]
    assert "0.12" in page.inner_text("#runs-table tbody tr:first-child")
    page.click("details.columns summary")
    page.screenshot(path=str(shots / "runs-filtered.png"), full_page=True)

    boxes = page.locator("#runs-table tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-button")
    page.wait_for_url("**/ui/compare?*")
    assert "Compare 2 runs" in page.inner_text("h1")
    header = page.inner_text("#compare-runs thead")
    assert "lgbm-11" in header and "lgbm-09" in header
    page.wait_for_selector(".js-plotly-plot .main-svg")  # plotly.js, served by the app, drew the histories
    assert page.locator(".js-plotly-plot").count() == 2
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_viewer_is_not_offered_approval(page: Any, base_url: str, ws: Workspace) -> None:
    log_in(page, base_url, ws.tokens["vic"], f"/ui/models/{MODEL}/2")
    assert "pending" in page.inner_text("#requests tbody")  # a request waits, but a viewer may not decide it
    assert page.locator("#approvals form").count() == 0
    assert page.locator("#gates table tbody tr").count() >= 1


def test_reviewer_approves_a_model_version(page: Any, base_url: str, ws: Workspace, shots: Path) -> None:
    path = f"/ui/models/{MODEL}/2"
    log_in(page, base_url, ws.tokens["rita"], path)
    button = page.locator(f"#approve-{ws.request_id}")
    assert button.is_visible()
    page.fill("#approvals input[name=comment]", "gates and fairness look fine")
    button.click()
    page.wait_for_selector("#requests .badge.approved")
    row = page.inner_text("#requests tbody")
    assert "approved" in row and "rita" in row and "gates and fairness look fine" in row
    assert page.locator(f"#approve-{ws.request_id}").count() == 0  # nothing left to decide
    page.screenshot(path=str(shots / "approved.png"), full_page=True)
    stored = next(r for r in list_requests(client=ws.client) if r["id"] == ws.request_id)
    assert (stored["state"], stored["decided_by"]) == ("approved", "rita")


def test_experiment_readout_and_monitor_pages(page: Any, base_url: str, ws: Workspace, shots: Path) -> None:
    log_in(page, base_url, ws.tokens["vic"], "/ui/experiments")
    page.click(f"text={EXPERIMENT}")
    page.wait_for_selector("#forest .main-svg")
    assert page.inner_text("#decision") == "ship"
    assert "Treatment raised conversion" in page.inner_text("#readout-summary")
    assert "OK" in page.inner_text("#srm") and "ok" in page.inner_text("#guardrails")
    assert page.locator("#forest .points path").count() >= 3  # one marker per metric: conversion, revenue, views
    page.screenshot(path=str(shots / "readout.png"), full_page=True)

    page.goto(f"{base_url}/ui/monitors/{MONITOR}")
    page.wait_for_selector("#drift-heat .main-svg")
    assert "alerting" in page.inner_text("#windows")
    page.screenshot(path=str(shots / "monitor.png"), full_page=True)

    page.goto(f"{base_url}/ui/data/customers")
    page.wait_for_selector("#profile .main-svg")
    assert "breaking" in page.inner_text("#schema-diffs")
    page.screenshot(path=str(shots / "dataset.png"), full_page=True)
