"""Analysts query while the pipeline writes: real concurrent processes on one warehouse.

Each ingest runs as its own `wirehouse run` process against the session's Prefect test server,
fetching the sample site served by this process (through its proxy). Readers are separate
processes holding a read-only DuckDB connection to the catalog file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.warehouse import db

pytestmark = pytest.mark.flow

# A reader: one read-only connection for its whole life, a query every few milliseconds, one
# JSON line per answer, until the file named by its second argument exists.
READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb
    catalog, stop_file, query = sys.argv[1], sys.argv[2], sys.argv[3]
    con = duckdb.connect(catalog, read_only=True)
    print("connected", flush=True)
    while not os.path.exists(stop_file):
        print(json.dumps(con.execute(query).fetchall(), default=str), flush=True)
        time.sleep(0.02)
    print(json.dumps(con.execute(query).fetchall(), default=str), flush=True)
    """
)

# Articles, the articles that have entities, and committed runs, read in one query.
STATE = (
    "select (select count(*) from articles), "
    "(select count(distinct article_id) from article_entities), "
    "(select count(*) from runs)"
)


@pytest.fixture(scope="module")
def sample_site():
    with serve_sample_site() as site:
        yield site


def _sources_file(tmp_path: Path, site, outlets: list[str]) -> Path:
    lines = []
    for spec in site.sources():
        if spec["name"] in outlets:
            lines += ["[[source]]", f'name = "{spec["name"]}"', f'feeds = ["{spec["feeds"][0]}"]',
                      "allow_private = true", "per_host_delay = 0.0", ""]
    path = tmp_path / f"sources-{'-'.join(sorted(outlets))[:40]}.toml"
    path.write_text("\n".join(lines))
    return path


def _ingest(warehouse: Path, sources: Path, site, **env) -> subprocess.Popen:
    """Start `wirehouse run` as its own process against the test's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    environment = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "WIREHOUSE_FETCH__PROXY": site.proxy_url,
        "WIREHOUSE_EXTRACT__WORKERS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "wirehouse.cli", "run", "--sources", str(sources), "--warehouse", str(warehouse)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"ingest failed:\n{out[-2000:]}\n{err[-3000:]}"
    return out, err


def _start_reader(warehouse: Path, stop_file: Path, query: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(db.catalog_path(warehouse)), str(stop_file), query],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline().strip() == "connected"
    return proc


def _stop_reader(proc: subprocess.Popen, stop_file: Path) -> list:
    stop_file.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _query(warehouse: Path, sql: str):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql).fetchall()


def test_reader_keeps_its_connection_through_a_whole_ingest(prefect_harness, sample_site, tmp_path):
    warehouse = tmp_path / "warehouse"
    db.init_warehouse(warehouse)
    all_outlets = [outlet.slug for outlet in load_catalog().outlets]
    stop = tmp_path / "stop"
    reader = _start_reader(warehouse, stop, STATE)
    try:
        _finish(_ingest(warehouse, _sources_file(tmp_path, sample_site, all_outlets), sample_site))
        time.sleep(0.2)
    finally:
        states = _stop_reader(reader, stop)
    n = len(load_catalog().articles)
    # Each view shows the run whole or not at all: never part of its articles, part of its
    # entities' articles or a half-written runs row. (One query reads `runs` once per view, so a
    # query straddling the commit may see the run in one view and not yet in another.)
    assert {(articles, entities, runs) for (articles, entities, runs), in states} <= {
        (a, e, r) for a in (0, n) for e in (0, n) for r in (0, 1)
    }
    assert tuple(states[0][0]) == (0, 0, 0)
    assert tuple(states[-1][0]) == (n, n, 1), "the open connection sees the committed run on its next query"


def test_a_long_query_during_a_load_sees_one_state_or_the_other(prefect_harness, sample_site, tmp_path):
    warehouse = tmp_path / "warehouse"
    outlets = [outlet.slug for outlet in load_catalog().outlets]
    first, second = outlets[:2], outlets[2:]
    _finish(_ingest(warehouse, _sources_file(tmp_path, sample_site, first), sample_site))
    # A co-occurrence count over every pair of mentions: heavy enough to overlap the commit.
    heavy = (
        "select count(*), count(distinct a.article_id), sum(a.end_char - a.start_char) "
        "from article_entities a join article_entities b on a.article_id = b.article_id and a.start_char < b.start_char "
        "join articles c on c.article_id = a.article_id"
    )
    before = [list(row) for row in _query(warehouse, heavy)]
    stop = tmp_path / "stop"
    reader = _start_reader(warehouse, stop, heavy)
    try:
        _finish(_ingest(warehouse, _sources_file(tmp_path, sample_site, second), sample_site))
    finally:
        results = _stop_reader(reader, stop)
    after = [list(row) for row in _query(warehouse, heavy)]
    assert before != after
    assert all(result in (before, after) for result in results), "a query saw a state between two commits"
    assert results[0] == before and results[-1] == after


def test_two_ingests_started_together_take_turns(prefect_harness, sample_site, tmp_path):
    warehouse = tmp_path / "warehouse"
    sources = _sources_file(tmp_path, sample_site, [outlet.slug for outlet in load_catalog().outlets])
    procs = [_ingest(warehouse, sources, sample_site) for _ in range(2)]
    outputs = [_finish(proc) for proc in procs]
    waited = [err for _, err in outputs if "another run is writing" in err]
    assert len(waited) == 1, "exactly one of the two runs waited for the other's lock"
    n = len(load_catalog().articles)
    assert _query(warehouse, "select count(*), count(distinct article_id) from articles") == [(n, n)]
    runs = sorted(_query(warehouse, "select articles_new, pages_fetched from runs"))
    assert runs == [(0, 0), (n, n)], "the second run found the first one's articles landed and fetched none again"


def test_a_writer_that_cannot_get_the_lock_exits_with_a_clear_message(prefect_harness, sample_site, tmp_path):
    warehouse = tmp_path / "warehouse"
    sources = _sources_file(tmp_path, sample_site, [load_catalog().outlets[0].slug])
    with db.writer_lock(warehouse, timeout=1):
        proc = _ingest(warehouse, sources, sample_site, WIREHOUSE_WAREHOUSE__LOCK_TIMEOUT="1")
        out, err = proc.communicate(timeout=240)
    assert proc.returncode == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("error:") and "try again later" in last
    assert not db.committed_run_ids(warehouse)


def test_rebuild_recreates_the_catalog_from_parquet(prefect_harness, sample_site, tmp_path):
    warehouse = tmp_path / "warehouse"
    _finish(_ingest(warehouse, _sources_file(tmp_path, sample_site, [load_catalog().outlets[0].slug]), sample_site))
    expected = _query(warehouse, "select article_id, title, duplicate_of from articles order by 1")
    db.catalog_path(warehouse).unlink()
    result = subprocess.run(
        [sys.executable, "-m", "wirehouse.cli", "warehouse", "rebuild", "--warehouse", str(warehouse)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _query(warehouse, "select article_id, title, duplicate_of from articles order by 1") == expected
