"""The ingest flow: discover, fetch, extract, dedup, enrich, load. Wiring only."""


import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, unmapped
from prefect.futures import PrefectFuture, as_completed
from prefect._internal.result_records import ResultRecord
from prefect.states import State
from prefect.utilities.annotations import opaque, quote
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
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
    Processed, RunReport, compact_warehouse, land, merge_reports, open_run, read_aliases, read_candidates, read_frontier, read_health,
    read_known, read_stories, select_changed, split_by_version, tally_run,
)
from wirehouse.tasks.pools import return_free_memory
from wirehouse.tasks.report import publish_run_report
from wirehouse.warehouse import db
from wirehouse.tasks.stories import StoryWindow, assign_story_ids

# Threads for the tasks of the run's batches (a batch's later tasks wait in theirs for its earlier
# ones): enough to fetch, extract and enrich about three batches at once; never one per article.
MAX_TASK_THREADS = 16
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


def _gather(futures: list, stage: str, on_progress=None) -> list:
    """The futures' results in order, telling `on_progress` as each batch completes."""
    if on_progress:
        on_progress(stage, 0, len(futures))
        for done, _ in enumerate(as_completed(futures), start=1):
            on_progress(stage, done, len(futures))
    return [future.result() for future in futures]


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _flatten(results: list) -> list:
    return [item for batch in results for item in batch]


def big(value):
    """A large task input (pages, articles, fingerprints), passed without Prefect walking into it.

    Prefect visits every task input looking for futures to wait on; over a run's articles,
    mentions and shingle sets that walk cost 88 s of a 1,000-page run. A future is still waited
    for (`opaque`); a plain value goes as it is (`quote`). Only on the thread runner: Dask takes
    the annotations (tuples) apart when it ships a task's inputs, so there the walk stays.
    """
    context = FlowRunContext.get()
    if context is None or not isinstance(context.task_runner, ThreadPoolTaskRunner):
        return value
    return opaque(value) if isinstance(value, PrefectFuture) else quote(value)


@dataclass
class BatchWork:
    """The futures of one batch of pages on its way through the stages after fetch."""

    extracted: PrefectFuture  # (articles, rejections)
    changed: PrefectFuture  # the articles new or changed against the warehouse
    prints: PrefectFuture  # their fingerprints, in order
    enriched: PrefectFuture  # their enrichments, in order

    def futures(self) -> list[PrefectFuture]:
        """Every future of the batch, one a field."""
        return [getattr(self, field.name) for field in fields(self)]


@dataclass
class SubmittedSlice:
    """The futures of one slice of the frontier: its fetches, and the work on each fetched batch."""

    fetches: list[PrefectFuture]
    work: list[BatchWork]

    def futures(self) -> list[PrefectFuture]:
        return [*self.fetches, *(future for batch in self.work for future in batch.futures())]


def submit_batch(warehouse: Path, settings: Settings, pages) -> BatchWork:
    """Submit the work on one batch of pages (a list, or the future of the task fetching it).

    Each task starts when its input is ready, so a batch is extracted, fingerprinted and
    enriched while later batches are still being fetched and extracted: the stages overlap.
    """
    extracted = extract_batch.submit(big(pages), settings.extract)
    changed = select_changed.submit(warehouse, big(extracted))
    return BatchWork(
        extracted, changed, fingerprint_batch.submit(big(changed), settings.dedup), enrich_batch.submit(big(changed), settings.enrich)
    )


def _by_version(work: list[BatchWork], field: str) -> dict[tuple[str, str], object]:
    """(article id, content hash) -> the batch result `field` gave for that version."""
    return {
        (article.article_id, article.content_hash): result
        for batch in work
        for article, result in zip(batch.changed.result(), getattr(batch, field).result())
    }


def process_pages(
    warehouse: Path, settings: Settings, report: RunReport, work: list[BatchWork], window: StoryWindow | None = None, on_progress=None
) -> Processed:
    """Collect the submitted batches (`submit_batch`), then dedup and group the run's articles.

    Only new and updated articles go past the version check: an unchanged page costs an
    extraction and nothing more. A stage's seconds are the time it ran past the one before.
    `window` carries the story index across an ingest's slices.
    """
    with timed_stage(report, "extract", on_progress):
        extracted = _gather([batch.extracted for batch in work], "extract", on_progress)
        articles, rejections = _flatten(a for a, _ in extracted), _flatten(r for _, r in extracted)
    with timed_stage(report, "enrich", on_progress):
        _gather([batch.enriched for batch in work], "enrich", on_progress)
        new, updated, unchanged = split_by_version(articles, read_known(warehouse, big(articles)))
        changed = new + updated
        versions = [(a.article_id, a.content_hash) for a in changed]
        enriched_by_version, prints_by_version = _by_version(work, "enriched"), _by_version(work, "prints")
        enriched = [enriched_by_version[v] for v in versions]
        entities = resolve(big(enriched), big(read_aliases(warehouse, big(enriched))))
    with timed_stage(report, "dedup", on_progress):
        prints = [prints_by_version[v] for v in versions]
        candidates = read_candidates(warehouse, big(prints), big(changed), settings.dedup)
        duplicates = dedup_articles(big(changed), big(prints), big(candidates), settings.dedup)
    with timed_stage(report, "stories", on_progress):
        recent, known_stories = read_stories(warehouse, big(changed), settings.stories, big(window))
        stories = assign_story_ids(big(changed), big(entities.mentions), big(recent), big(known_stories), settings.stories, big(window))
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
            frontier, feed_pages = discover(warehouse, settings, sources, on_progress)
        report = merge_reports(land_slices(warehouse, settings, report, frontier, feed_pages, on_progress))
        # Once every slice is in: no task of the run reads the warehouse while parts move.
        compact_warehouse(warehouse, settings.warehouse)
    # Published by the flow itself, so the artifacts sit on the flow run's page in the UI.
    publish_run_report(report, read_health(warehouse, report.run_id, settings.serve))
    return report


def discover(warehouse: Path, settings: Settings, sources: list[Source], on_progress=None) -> tuple:
    """The run's frontier (what to fetch) and the listing pages read to find it (feeds, sitemaps, lists)."""
    state = read_frontier(warehouse, settings.fetch)
    discovered = _gather(discover_source.map(sources, unmapped(settings.fetch), unmapped(state.listings)), "discover", on_progress)
    frontier = plan_frontier(_flatten(t for t, _ in discovered), state, {s.name: s.allow_private for s in sources})
    return frontier, _flatten(p for _, p in discovered)


def land_slices(
    warehouse: Path, settings: Settings, first: RunReport, frontier, feed_pages: list, on_progress=None
) -> list[RunReport]:
    """Fetch, process and commit the frontier's targets in slices of `run.commit_every` pages.

    Each slice is a run of its own in `runs` (the first keeps `first`'s id and the listings),
    so at most two slices' pages, articles and mentions are held at once (the story window,
    capped by `stories.max_window_articles`, still grows with the run: README), and a run that
    dies keeps the slices it committed. The next slice's tasks are submitted as a slice's processing starts and
    queue behind its own: the pools stay busy while this slice is deduplicated, grouped and
    committed in the flow's thread. Later slices see earlier ones as they see earlier runs
    (through the warehouse); the story index is carried across (`StoryWindow`).

    It consumes `frontier.targets` and `feed_pages` (emptied as their slice commits): a run's
    targets take about 35 MiB a 100,000 URLs and the listing pages hold the lists' bodies, which
    a long run would otherwise carry to its end.
    """
    slices = batches(frontier.targets, settings.run.commit_every or len(frontier.targets) or 1) or [[]]
    frontier.targets = []
    window, committed = StoryWindow(), []
    ahead = submit_slice(warehouse, settings, slices[0])
    for number in range(len(slices)):
        current, ahead = ahead, submit_slice(warehouse, settings, slices[number + 1]) if number + 1 < len(slices) else None
        report = first if number == 0 else RunReport(db.new_run_id(), str(warehouse), datetime.now(timezone.utc), sources=first.sources)
        listed = (frontier, feed_pages) if number == 0 else (None, [])
        committed.append(commit_slice(warehouse, settings, report, current, *listed, window, on_progress))
        # Landed: its targets, and its futures with the pages, articles and enrichments they hold,
        # go now, before the trim (held to the next slice's start, they were still there for it).
        release_results(current.futures())
        slices[number], current = [], None
        feed_pages.clear()
        window.runs.append(report.run_id)
        forget_results(keep=ahead.futures() if ahead else [])
        return_free_memory()
    return committed


def release_results(futures: list[PrefectFuture]) -> None:
    """Empty the final states of finished futures: what their tasks returned is let go even
    where a future outlives its slice.

    A task's context, its input futures among its parameters, is copied into whatever Prefect
    starts from inside it: the background service that acquires the slots of a tag's
    concurrency limits is started by the first task of each tag and keeps that context for the
    life of the process; the timers of lease and log calls keep theirs until they fire. Through
    an upstream future's final state such a context held a whole batch of pages (their HTML)
    past its slice's commit. The state's result record is emptied too: the task's transaction
    stages the same record. On the thread runner a future's final state is the result of its
    `concurrent.futures.Future`; Dask's futures hold theirs on the cluster and are left alone.
    """
    for future in futures:
        wrapped = getattr(future, "wrapped_future", None)
        if isinstance(wrapped, Future) and wrapped.done() and not wrapped.cancelled() and wrapped.exception() is None:
            state = wrapped.result()
            if isinstance(state, State):
                record, state.data = state.data, None
                if isinstance(record, ResultRecord):  # shared with the task's transaction, which a context may hold too
                    record.result = None


def forget_results(keep: list[PrefectFuture]) -> None:
    """Drop what the flow run keeps of finished tasks, but of those in `keep`.

    Prefect links every task result, and each item of a returned list, to its task's state in
    `FlowRunContext.run_results` for the life of the flow run (to draw lineage when a result is
    passed on as a plain value): about eight entries a page for the submitted tasks here, and as
    many again for the tasks the flow calls directly (dedup, stories, load), which a long run
    kept to its end (about 8,000 entries a slice of 2,000 pages). A committed slice's results
    are never passed on again; the next slice's (`keep`, already running) still are.

    The thread pool runner also keeps a cancel event (an Event, its Condition and lock) for every
    task ever submitted to it, to set them all if the run is cancelled: small but long-lived
    objects scattered among a slice's short-lived ones, each holding on to the arena it was made
    in. A finished task has nothing left to cancel.
    """
    context = FlowRunContext.get()
    if context is None:
        return
    kept = {future.task_run_id for future in keep}
    # A copy (one C call, atomic under the GIL): the next slice's tasks add entries meanwhile.
    linked = context.run_results.copy()
    for key, (state, *_) in linked.items():
        task_run_id = state.state_details.task_run_id
        if task_run_id is not None and task_run_id not in kept:
            context.run_results.pop(key, None)
    cancel_events = getattr(context.task_runner, "_cancel_events", None)  # ThreadPoolTaskRunner's, Prefect 3.8
    if isinstance(cancel_events, dict):
        for task_run_id in list(cancel_events):
            if task_run_id not in kept:
                cancel_events.pop(task_run_id, None)


def commit_slice(
    warehouse: Path, settings: Settings, report: RunReport, submitted: SubmittedSlice, frontier, feed_pages: list, window, on_progress=None
) -> RunReport:
    """Gather one slice's fetches and work, dedup and group its articles, and commit it as a run.

    The run's first slice also counts and lands what discovery listed (`frontier`, `feed_pages`);
    the others get None and [].
    """
    with timed_stage(report, "fetch", on_progress):
        pages = _flatten(_gather(submitted.fetches, "fetch", on_progress))
    processed = process_pages(warehouse, settings, report, submitted.work, window, on_progress)
    tally_run(report, frontier, feed_pages, pages, processed)
    with timed_stage(report, "load", on_progress):
        return land(warehouse, report, big(feed_pages + pages), big(processed))


def submit_slice(warehouse: Path, settings: Settings, targets: list) -> SubmittedSlice:
    """Submit the fetching of a slice's targets, batch by batch, each followed by its work.

    The thread pool takes tasks in order, so the first batches are extracted while the last
    ones are fetched.
    """
    fetches = [fetch_batch.submit(big(batch), settings.fetch) for batch in batches(targets, settings.fetch.batch_size)]
    return SubmittedSlice(fetches, [submit_batch(warehouse, settings, fetched) for fetched in fetches])
