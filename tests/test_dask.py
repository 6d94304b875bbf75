"""The ingest flow on a Dask LocalCluster through prefect-dask lands what the thread runner lands.

Both runs are `wirehouse run` processes against one `wirehouse server` (Dask workers need a real
Prefect API; the ephemeral one does not reach them); the runner is chosen by the `[run]` settings.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from wirehouse.sample import load_catalog
from wirehouse.warehouse import db

pytestmark = [pytest.mark.dask, pytest.mark.server]


def _snapshot(warehouse):
    """What an analyst sees of the articles (identity, text, copies) and their entities."""
    with db.connect_catalog(warehouse) as con:
        articles = con.execute(
            "select article_id, canonical_url, title, text, content_hash, duplicate_of, duplicate_kind"
            " from articles order by article_id"
        ).fetchall()
        entities = con.execute(
            "select article_id, start_char, end_char, text, label from article_entities order by all"
        ).fetchall()
    return articles, entities


@pytest.fixture(scope="module")
def runs(prefect_server, tmp_path_factory):
    """The sample ingested twice at once, with the thread runner and on Dask; their warehouses and logs."""
    _, env = prefect_server
    root = tmp_path_factory.mktemp("dask")
    procs = {}
    for runner in ("threads", "dask"):
        run_env = {**env, "WIREHOUSE_RUN__TASK_RUNNER": runner, "WIREHOUSE_RUN__DASK_WORKERS": "2"}
        procs[runner] = subprocess.Popen(
            [sys.executable, "-m", "wirehouse.cli", "run", "--warehouse", str(root / runner)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env,
        )
    logs = {}
    for runner, proc in procs.items():
        out, errors = proc.communicate(timeout=300)
        assert proc.returncode == 0, errors[-3000:]
        logs[runner] = out + errors
    return root, logs


def test_the_dask_run_ran_its_tasks_on_a_local_cluster(runs):
    _, logs = runs
    assert "LocalCluster" in logs["dask"]
    assert "LocalCluster" not in logs["threads"]


def test_the_warehouse_on_dask_equals_the_single_machine_one(runs):
    root, _ = runs
    threads, dask = _snapshot(root / "threads"), _snapshot(root / "dask")
    articles, entities = dask
    assert len(articles) == len(load_catalog().articles)
    assert sum(1 for row in articles if row[5] is not None) > 0, "wire copies point at their canonical"
    assert len(entities) > 100
    assert dask == threads
