"""The ingest flow: discover, fetch, extract, dedup, enrich, load. Wiring only."""


import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, unmapped
from prefect.futures import as_completed
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner

from wirehouse.config.settings import Settings, load_settings
from wirehouse.config.sources import Source
from wirehouse.tasks.dedup import dedup_articles, fingerprint_batch
from wirehouse.tasks.enrich import enrich_batch
from wirehouse.tasks.entities import resolve
from wirehouse.tasks.extract import extract_batch
from wirehouse.tasks.fetch import discover_source, fetch_batch
from wirehouse.tasks.frontier import plan_frontier
from wirehouse.tasks.load import (
    Processed, RunReport, land, open_run, read_aliases, read_candidates, read_frontier, read_health, read_known,
    read_stories, split_by_version, tally_run,
)
from wirehouse.tasks.records import Page
from wirehouse.tasks.report import publish_run_report
from wirehouse.tasks.stories import assign_story_ids

# Enough threads to keep the extraction processes and the fetcher busy; never one per article.
MAX_TASK_THREADS = 4
# The Prefect global concurrency limit (created by `wirehouse serve`) that lets one ingest write
# at a time across deployments; the warehouse's own lock covers runs started by hand.
WRITER_LIMIT = "wirehouse-warehouse-writer"


@contextmanager
def timed_stage(report: RunReport, stage: str, on_progress=None):
    """Time a stage into the report; tell `on_progress(stage, done, total)` it began and ended."""
    start = time.perf_counter()
    if on_progress:
        on_progress(stage, 0, None)
    yield
    report.stage_seconds[stage] = round(report.stage_seconds.get(stage, 0.0) + time.perf_counter() - start, 3)
    if on_progress:
        on_progress(stage, None, None)


def _gather(futures, stage: str, on_progress=None) -> list:
    """The futures' results in order, telling `on_progress` as each batch completes."""
    if on_progress:
        on_progress(stage, 0, len(futures))
        for done, _ in enumerate(as_completed(futures), start=1):
            on_progress(stage, done, len(futures))
    return futures.result()


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _flatten(results: list) -> list:
    return [item for batch in results for item in batch]


def process_pages(warehouse: Path, settings: Settings, report: RunReport, pages: list[Page], on_progress=None) -> Processed:
    """The stages after fetch, run inside a flow: extract, dedup, enrich, stories.

    Only new and updated articles go past dedup's version check: an unchanged page costs an
    extraction and nothing more.
    """
    with timed_stage(report, "extract", on_progress):
        batches = _batches(pages, settings.extract.batch_size)
        extracted = _gather(extract_batch.map(batches, unmapped(settings.extract)), "extract", on_progress)
        articles, rejections = _flatten(a for a, _ in extracted), _flatten(r for _, r in extracted)
    with timed_stage(report, "dedup", on_progress):
        new, updated, unchanged = split_by_version(articles, read_known(warehouse, articles))
        changed = new + updated
        prints = fingerprint_batch(changed, settings.dedup)
        duplicates = dedup_articles(changed, prints, read_candidates(warehouse, prints, changed), settings.dedup)
    with timed_stage(report, "enrich", on_progress):
        enriched = enrich_batch(changed, settings.enrich)
        entities = resolve(enriched, read_aliases(warehouse, enriched))
    with timed_stage(report, "stories", on_progress):
        recent, known_stories = read_stories(warehouse, changed, settings.stories)
        stories = assign_story_ids(changed, entities.mentions, recent, known_stories, settings.stories)
    return Processed(rejections, new, updated, unchanged, prints, duplicates, enriched, entities, stories)


@flow(name="ingest", task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_THREADS))
def ingest(
    sources: list[Source], warehouse: Path, settings: Settings | None = None, on_wait=None, on_progress=None
) -> RunReport:
    """One ingest run of the given sources into the warehouse.

    Args:
        sources: the sources to discover and fetch.
        warehouse: the warehouse folder (created if missing).
        settings: the settings; the defaults plus ./wirehouse.toml when None.
        on_wait: called with a message if another run holds the warehouse.
        on_progress: called as `(stage, done, total)` when a stage starts (done 0), as its
            batches complete, and when it ends (done None); for progress bars.

    Returns:
        The committed run's report.
    """
    settings = settings or load_settings()
    # The file lock first (it says when it waits), then the Prefect slot: one order everywhere.
    with open_run(warehouse, settings.warehouse, on_wait) as run_id, concurrency(WRITER_LIMIT, strict=False):
        report = RunReport(run_id, str(warehouse), datetime.now(timezone.utc), sources=[s.name for s in sources])
        with timed_stage(report, "discover", on_progress):
            state = read_frontier(warehouse, settings.fetch)
            discovered = _gather(discover_source.map(sources, unmapped(settings.fetch), unmapped(state.listings)), "discover", on_progress)
            frontier = plan_frontier(_flatten(t for t, _ in discovered), state, {s.name: s.allow_private for s in sources})
        with timed_stage(report, "fetch", on_progress):
            batches = _batches(frontier.targets, settings.fetch.batch_size)
            pages = _flatten(_gather(fetch_batch.map(batches, unmapped(settings.fetch)), "fetch", on_progress))
        processed = process_pages(warehouse, settings, report, pages, on_progress)
        feed_pages = _flatten(p for _, p in discovered)
        tally_run(report, frontier, feed_pages, pages, processed)
        with timed_stage(report, "load", on_progress):
            report = land(warehouse, report, feed_pages + pages, processed)
    # Published by the flow itself, so the artifacts sit on the flow run's page in the UI.
    publish_run_report(report, read_health(warehouse, report.run_id, settings.serve))
    return report

