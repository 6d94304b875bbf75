"""The ingest flow end to end: the sample site over real HTTP, a real warehouse, real Prefect."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import threading
import time
import weakref
from collections import defaultdict
from urllib.parse import urlsplit

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from badserver import BadServer
from test_warehouse import _summed_votes
from wirehouse.config.sources import Source, adhoc_source
from wirehouse.flows.ingest import forget_results, ingest, release_results
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.tasks.load import read_source_health
from wirehouse.tasks.pools import return_free_memory
from wirehouse.tasks.records import Page, Target
from wirehouse.warehouse import db

pytestmark = pytest.mark.flow


def _sample_settings(settings, site, **fetch):
    return settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"proxy": site.proxy_url, **fetch})})


def _query(warehouse, sql, *params):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql, list(params)).fetchall()


def _snapshot(warehouse):
    """Everything an analyst sees of the articles and their entities."""
    return (
        _query(warehouse, "select * exclude (loaded_by_run, loaded_at) from articles order by article_id"),
        _query(warehouse, "select * from article_entities order by article_id, start_char"),
    )


@pytest.fixture(scope="module")
def sample_run(prefect_harness, tmp_path_factory):
    """One ingest of the sample site; the warehouse and the run's report."""
    from wirehouse.config.settings import load_settings

    warehouse = tmp_path_factory.mktemp("sample") / "warehouse"
    with serve_sample_site() as site:
        settings = _sample_settings(load_settings(), site)
        sources = [Source(**spec) for spec in site.sources()]
        report = ingest(sources, warehouse, settings)
        yield warehouse, report, site, sources, settings


def _landed_by_path(warehouse):
    rows = _query(warehouse, "select canonical_url, article_id, duplicate_of, duplicate_kind, text, authors from articles")
    return {urlsplit(row[0]).path: row for row in rows}


def test_every_distinct_sample_article_lands_once(sample_run):
    warehouse, report, *_ = sample_run
    catalog = load_catalog()
    landed = _landed_by_path(warehouse)
    assert sorted(landed) == sorted(article.path for article in catalog.articles)
    assert report.articles_new == len(catalog.articles)
    # Feeds link an article under its first tracking spelling, and again ("most read") under the others.
    assert report.url_variants == sum(max(len(a.tracking_variants) - 1, 0) for a in catalog.articles) > 0
    assert report.pages_failed == 0


def test_wire_copies_point_at_one_canonical_and_nothing_else_is_a_copy(sample_run):
    warehouse, *_ = sample_run
    landed = _landed_by_path(warehouse)
    catalog = load_catalog()
    groups = defaultdict(set)
    for article in catalog.articles:
        row = landed[article.path]
        if article.wire_id is None:
            assert row[2] is None, f"{article.path} is original reporting, flagged as a copy of {row[2]}"
        else:
            groups[article.wire_id].add((row[1], row[2], row[3]))
    assert len(groups) >= 5
    for wire_id, members in groups.items():
        canonicals = [article_id for article_id, duplicate_of, _ in members if duplicate_of is None]
        assert len(canonicals) == 1, f"wire story {wire_id} has canonicals {canonicals}"
        assert {duplicate_of for _, duplicate_of, _ in members} == {None, canonicals[0]}
        assert {kind for _, duplicate_of, kind in members if duplicate_of} <= {"near", "exact"}


def test_boilerplate_leaves_the_text_and_bylines_land_in_authors(sample_run):
    warehouse, *_ = sample_run
    landed = _landed_by_path(warehouse)
    for article in load_catalog().articles:
        _, _, _, _, text, authors = landed[article.path]
        assert article.body[0][:60] in text, f"{article.path} lost its first paragraph"
        for junk in ("Share on Facebook", "Sign up", "cookies", "Also read", "Related", "Comments"):
            assert junk.lower() not in text.lower(), f"{junk!r} leaked into {article.path}"
        assert set(article.authors) <= set(authors), f"{article.path}: authors {authors} lack {article.authors}"


def test_entities_are_landed_per_mention(sample_run):
    warehouse, report, *_ = sample_run
    rows = _query(warehouse, "select count(*), count(distinct article_id), count(distinct label) from article_entities")
    mentions, articles, labels = rows[0]
    assert mentions == report.entities > 0
    assert articles == len(load_catalog().articles)
    assert labels >= 4
    # The run's label votes are its mentions', and the batch lookup gives every entity the view's label.
    summed, counted = _summed_votes(warehouse)
    assert summed == counted
    assert _query(warehouse, "select entity_id, label from entity_labels_among((select list(entity_id) from entities)) order by all") == _query(
        warehouse, "select entity_id, label from entity_labels order by all"
    )
    bad = _query(
        warehouse,
        "select count(*) from article_entities e join articles a using (article_id) "
        "where substr(a.text, e.start_char + 1, e.end_char - e.start_char) <> e.text",
    )
    assert bad == [(0,)]


def test_every_attempt_is_recorded_in_fetches_and_runs(sample_run):
    warehouse, report, *_ = sample_run
    outcomes = dict(_query(warehouse, "select kind || ':' || outcome, count(*) from fetches group by all"))
    assert outcomes == {"feed:ok": len(load_catalog().outlets), "page:ok": len(load_catalog().articles)}
    runs = _query(warehouse, "select run_id, articles_new, status from runs")
    assert runs == [(report.run_id, report.articles_new, "ok")]


def test_second_run_changes_nothing(sample_run):
    warehouse, first, site, sources, settings = sample_run
    before = _snapshot(warehouse)
    # The feeds are unchanged (same body hash): not parsed, so nothing is fetched. Then a forced
    # refetch of everything must merge to the same rows.
    skipping = ingest(sources, warehouse, settings)
    assert (skipping.articles_new, skipping.pages_fetched) == (0, 0)
    assert skipping.outcomes == {"not_modified": len(load_catalog().outlets)}
    refetch = _sample_settings(settings, site, refetch_after_hours=0.0)
    again = ingest(sources, warehouse, refetch)
    assert (again.articles_new, again.articles_updated, again.articles_unchanged) == (0, 0, len(load_catalog().articles))
    assert _snapshot(warehouse) == before
    assert _query(warehouse, "select count(*) from runs") == [(3,)]


def _copy_groups(warehouse):
    rows = _query(warehouse, "select coalesce(duplicate_of, article_id), list(article_id order by article_id) from articles group by 1")
    return sorted(members for _, members in rows)


def _assert_lands_as(sliced, whole):
    """The texts, copy groups and mentions of a run landed in slices are those of one commit,
    and every wire copy shares its canonical's story across slices."""
    texts = "select article_id, text from articles order by article_id"
    assert _query(sliced, texts) == _query(whole, texts)
    assert _copy_groups(sliced) == _copy_groups(whole)
    mentions = "select article_id, start_char, label, text from article_entities order by all"
    assert _query(sliced, mentions) == _query(whole, mentions)
    assert _query(sliced, "select count(*) from articles a join articles c on a.duplicate_of = c.article_id where a.story_id <> c.story_id") == [(0,)]


def _held_after_a_moment(count, allowed: int) -> int:
    """`count()`, looked at again for up to 5 s while it is above `allowed`: Prefect's threads can
    hold a finished task's context (its inputs) a moment after the commit, and what is asserted
    is that the slice's objects are let go, not the instant they are."""
    for look in range(20):
        held = count()
        if held <= allowed:
            break
        time.sleep(0.25)
    return held


def test_a_run_committed_in_slices_lands_what_one_commit_lands(sample_run, tmp_path, monkeypatch):
    warehouse, whole, site, sources, settings = sample_run
    sliced_settings = settings.model_copy(update={"run": settings.run.model_copy(update={"commit_every": 15})})
    sliced = tmp_path / "sliced"
    live_targets, live_pages = [], []

    def live(kind) -> set[int]:
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, kind) and getattr(o, "kind", "page") == "page"}

    def count_pages_then_trim():  # as the flow trims after a slice: this run's fetched pages still held anywhere
        live_pages.append(_held_after_a_moment(lambda: len(live(Page) - earlier_pages), 15))
        return_free_memory()

    monkeypatch.setattr("wirehouse.flows.ingest.return_free_memory", count_pages_then_trim)

    def count_targets(stage, done, total):  # as each slice commits: this run's page targets still held anywhere
        if stage == "load" and done is None:
            unlanded = pages - 15 * len(live_targets)
            live_targets.append(_held_after_a_moment(lambda: len(live(Target) - earlier), unlanded))

    pages = len(load_catalog().articles)  # URL variants are folded before fetching
    earlier, earlier_pages = live(Target), live(Page)
    report = ingest(sources, sliced, sliced_settings, on_progress=count_targets)
    # A committed slice's targets are let go: a long run does not carry every URL it was given to its end.
    assert live_targets == [pages - 15 * number for number in range(len(live_targets))]
    # ... and its pages, before the trim: what is left is the next slice's, fetched meanwhile.
    assert len(live_pages) == len(live_targets) and max(live_pages) <= 15
    runs = _query(sliced, "select run_id, flow_run_id, articles_new from runs order by started_at")
    assert [r[0] for r in runs] == report.slice_runs and len(runs) == -(-pages // 15) > 1
    assert len({r[1] for r in runs}) == 1 and sum(r[2] for r in runs) == report.articles_new == whole.articles_new
    counts = ("pages_fetched", "url_variants", "exact_duplicates", "near_duplicates", "entities")
    assert [getattr(report, name) for name in counts] == [getattr(whole, name) for name in counts]
    # Later slices find their copies among earlier slices' articles, as later runs do (the
    # canonical is the earliest landed, so it may be another member of the same group).
    _assert_lands_as(sliced, warehouse)
    # The health table takes the run whole.
    health = read_source_health(sliced, report.slice_runs[-1], sliced_settings.serve)
    assert sum(row["pages"] for row in health) == pages


def test_runs_compacting_their_warehouse_land_what_one_commit_lands(sample_run, tmp_path):
    warehouse, whole, site, sources, settings = sample_run
    compacting = settings.model_copy(update={
        "run": settings.run.model_copy(update={"commit_every": 5}),
        "warehouse": settings.warehouse.model_copy(update={"compact_after_parts": 2}),
    })
    target = tmp_path / "compacting"
    first = ingest(sources[:2], target, compacting)
    assert len(first.slice_runs) >= 2
    assert [name.split("-")[0] for name in db.part_files(target, "runs")] == ["merged1"]
    # The other outlets next: their copies of the first two's stories are found among compacted
    # articles (the candidates' texts read from a merged part).
    second = ingest(sources, target, compacting)
    assert len(second.slice_runs) >= 2
    # Its run parts made a second tier-1 part, and the two a tier-2 one; no table keeps two parts of a tier.
    assert [name.split("-")[0] for name in db.part_files(target, "runs")] == ["merged2"]
    for table in db.TABLES:
        tiers = [name.split("-")[0] if name.startswith("merged") else "run" for name in db.part_files(target, table)]
        assert len(tiers) == len(set(tiers)), table
    assert db.committed_run_ids(target) == set(first.slice_runs + second.slice_runs)
    assert first.articles_new + second.articles_new == whole.articles_new
    _assert_lands_as(target, warehouse)
    summed, counted = _summed_votes(target)
    assert summed == counted
    # A refetch of everything into the compacted warehouse finds every article unchanged.
    again = ingest(sources, target, _sample_settings(compacting, site, refetch_after_hours=0.0))
    pages = len(load_catalog().articles)
    assert (again.articles_new, again.articles_updated, again.articles_unchanged) == (0, 0, pages)


def test_compacting_a_warehouse_from_the_command_line_changes_no_view(sample_run, tmp_path):
    from test_warehouse import every_view

    warehouse, _, site, sources, settings = sample_run
    copy = tmp_path / "copy"
    shutil.copytree(warehouse, copy)
    ingest(sources, copy, _sample_settings(settings, site, refetch_after_hours=0.0))  # one more run at least
    before, parts = every_view(copy), {table: db.part_files(copy, table) for table in db.TABLES}
    assert len(parts["runs"]) >= 2
    command = [sys.executable, "-m", "wirehouse.cli", "warehouse", "compact", "--full", "--warehouse", str(copy)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"runs: {len(parts['runs'])} parts merged, 1 left" in " ".join(done.stdout.split())
    assert every_view(copy) == before
    assert all(len(db.part_files(copy, table)) == min(len(parts[table]), 1) for table in db.TABLES)
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "(every table is one part)" in " ".join(again.stdout.split())


def test_a_committed_slices_results_are_forgotten_by_the_flow_run(prefect_harness):
    @task
    def pages(n: int) -> list[dict]:
        return [{"page": i} for i in range(n)]

    def linked() -> list:
        return [state.state_details.task_run_id for state, *_ in FlowRunContext.get().run_results.values()]

    def cancellable() -> set:
        return set(FlowRunContext.get().task_runner._cancel_events)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def two_slices():
        first, second = pages.submit(3), pages.submit(2)
        first.wait(), second.wait()
        called = pages(4)  # a task the flow calls directly: its result is linked as well
        before, events_before = linked(), cancellable()
        forget_results(keep=[second])
        return first.task_run_id, second.task_run_id, len(called), before, linked(), events_before, cancellable()

    first, second, called, before, after, events_before, events_after = two_slices()
    # Each result and each item of it is linked to its task's state, until its slice is forgotten.
    assert before.count(first) == 4 and before.count(second) == 3 and len(before) == 4 + 3 + called + 1
    assert after == [second] * 3
    # ... and the runner's cancel event of each submitted task with it.
    assert events_before == {first, second} and events_after == {second}


def test_a_released_future_lets_go_of_its_result_and_an_unfinished_one_keeps_it(prefect_harness):
    class Payload:
        pass

    @task(cache_policy=NO_CACHE)
    def produce(gate: threading.Event | None = None) -> list:
        if gate is not None:
            gate.wait(30)
        return [Payload()]

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def one_slice():
        gate = threading.Event()
        done, running = produce.submit(), produce.submit(gate)
        payload = weakref.ref(done.result()[0])
        forget_results(keep=[running])
        release_results([done, running])  # the running one is the next slice's: left alone

        def still_held() -> int:
            gc.collect()
            return int(payload() is not None)

        # `done` is still held here, as a task context Prefect keeps may hold a future.
        held = _held_after_a_moment(still_held, 0)
        gate.set()
        return held, len(running.result())

    assert one_slice() == (0, 1)


def test_failed_fetches_are_recorded_and_retried_on_the_next_run(prefect_harness, settings):
    server = BadServer().start()
    try:
        failing = {"/always500": "http_5xx", "/slow": "timeout", "/report.pdf": "not_html"}
        source = adhoc_source([], [server.url(path) for path in ["/good", *failing]], allow_private=True)
        fast = settings.model_copy(
            update={"fetch": settings.fetch.model_copy(update={"read_timeout": 0.3, "total_timeout": 1.0, "retries": 1, "backoff": 0.05, "retry_backoff_hours": 0.0})}
        )
        warehouse = fast.warehouse.path
        report = ingest([source], warehouse, fast)
        outcomes = dict(_query(warehouse, "select regexp_extract(url, ':[0-9]+(/.*)$', 1), outcome from fetches"))
        assert {path: outcomes[path] for path in failing} == failing
        # The good page is too short to be an article: recorded as such, and owed a retry too.
        assert outcomes["/good"] == "extraction_empty"
        assert report.pages_failed == len(failing)
        server.hits.clear()
        second = ingest([source], warehouse, fast)
        assert {path for path, hits in server.hits.items() if hits and path != "/robots.txt"} == {"/good", *failing}
        assert second.pages_failed == len(failing)
        assert _query(warehouse, "select count(*) from fetches") == [(8,)]
    finally:
        server.stop()
