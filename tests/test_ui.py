"""`wirehouse server` + `wirehouse serve` as real processes, and the Prefect UI in headless Chromium.

The server (conftest's `prefect_server`) is started for this module on a free 127.0.0.1 port
with its own PREFECT_HOME, and stopped by its process id. Deselect with `-m "not server"` (or
`not browser` for the browser part alone) where that is not wanted; `.ci/run` installs Chromium and runs them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from processes import stop_process
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.warehouse import db

pytestmark = pytest.mark.server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def _filter(api: str, what: str, body: dict) -> list[dict]:
    response = httpx.post(f"{api}/{what}/filter", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def ingested(prefect_server, tmp_path_factory):
    """One `wirehouse run` of the sample against the server; the completed flow run."""
    api, env = prefect_server
    warehouse = tmp_path_factory.mktemp("ui") / "warehouse"
    result = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "run", "--warehouse", str(warehouse)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [
        r for r in _filter(api, "flow_runs", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
        if not r.get("deployment_id")
    ]
    assert len(runs) == 1
    return api, runs[0], warehouse


def test_the_run_its_task_runs_and_artifacts_are_recorded(ingested):
    api, run, warehouse = ingested
    task_runs = _filter(api, "task_runs", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    names = sorted(task_run["name"] for task_run in task_runs)
    n = len(load_catalog().articles)
    # Batch tasks are named after what they hold, so the run graph reads as a story.
    for outlet in load_catalog().outlets:
        assert f"discover {outlet.slug}" in names
    assert f"fetch {n} pages from news.wirehouse-sample.example" in names
    assert f"extract {n} pages" in names and f"enrich {n} articles" in names
    assert any(name.startswith("land-run") for name in names)
    tags = {tag for task_run in task_runs for tag in task_run["tags"]}
    assert {"stage:discover", "stage:fetch", "stage:extract", "stage:enrich"} <= tags
    assert all(task_run["state_type"] == "COMPLETED" for task_run in task_runs)
    artifacts = {a["key"]: a for a in _filter(api, "artifacts", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})}
    assert {"ingest-summary", "source-health", "ingest-status"} <= set(artifacts)
    summary = {row["metric"]: row["value"] for row in _as_rows(artifacts["ingest-summary"]["data"])}
    assert summary["articles new"] == str(len(load_catalog().articles))
    health = _as_rows(artifacts["source-health"]["data"])
    assert sorted(row["source"] for row in health) == sorted(o.slug for o in load_catalog().outlets)
    assert {row["state"] for row in health} == {"new"}, "a first run has no baseline yet"
    assert "healthy" in artifacts["ingest-status"]["data"]
    with db.connect_catalog(warehouse) as con:
        assert con.execute("select flow_run_id from runs").fetchall() == [(run["id"],)]


def _as_rows(data) -> list[dict]:
    import json

    return json.loads(data) if isinstance(data, str) else data


@pytest.mark.browser
def test_the_flow_run_page_shows_the_summary_artifact(ingested, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("WIREHOUSE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    api, run, _ = ingested
    url = api.removesuffix("/api") + f"/runs/flow-run/{run['id']}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(url)
            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("ingest-summary").first.wait_for(timeout=60_000)
            page.screenshot(path=tmp_path / "flow-run.png", full_page=True)
            text = page.inner_text("body")
            page.get_by_text("ingest-summary").first.click()
            page.get_by_text("pages fetched").first.wait_for(timeout=60_000)
            artifact_text = page.inner_text("body")
        finally:
            browser.close()
    assert run["name"] in text and "Completed" in text
    assert "ingest-summary" in text and "source-health" in text
    assert "articles new" in artifact_text and str(len(load_catalog().articles)) in artifact_text
    assert (tmp_path / "flow-run.png").stat().st_size > 10_000


def test_serve_runs_the_schedule_without_a_hand_trigger(prefect_server, tmp_path):
    api, env = prefect_server
    warehouse = tmp_path / "warehouse"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", "serve", "--cron", "* * * * *", "--warehouse", str(warehouse)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        scheduled = []
        while time.monotonic() < deadline and not scheduled:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            time.sleep(2)
            scheduled = [
                r for r in _filter(api, "flow_runs", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
                if r.get("deployment_id") and r.get("auto_scheduled")
            ]
        assert scheduled, "no scheduled run completed within 180 s"
        deployments = _filter(api, "deployments", {})
        assert [d["name"] for d in deployments if d["id"] == scheduled[0]["deployment_id"]] == ["scheduled-ingest"]
        assert not any(d.get("paused") for d in deployments)
        limits = {c["name"]: c["limit"] for c in _filter(api, "v2/concurrency_limits", {})}
        assert limits.get("wirehouse-warehouse-writer") == 1, "one ingest writes at a time across deployments"
    finally:
        stop_process(proc)
    n = len(load_catalog().articles)
    with db.connect_catalog(warehouse) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == n
    deployments = _filter(api, "deployments", {})
    assert deployments and not any(d.get("paused") for d in deployments), "stopping serve must not pause the schedule"
