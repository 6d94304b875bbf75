"""The backfill flow: extract, dedup, enrich and group stored pages again, without refetching."""

from datetime import datetime, timezone
from pathlib import Path

from prefect import flow
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner

from wirehouse.config.settings import Settings, load_settings
from wirehouse.flows.ingest import MAX_TASK_THREADS, WRITER_LIMIT, batches, big, process_pages, submit_batch, timed_stage
from wirehouse.tasks.load import RunReport, land, open_run, read_stored_pages, tally_run


@flow(name="backfill", task_runner=ThreadPoolTaskRunner(max_workers=MAX_TASK_THREADS))
def backfill(warehouse: Path, since: datetime, until: datetime, settings: Settings | None = None, on_wait=None) -> RunReport:
    """Run the stages after fetch again over the pages fetched in [since, until).

    Args:
        warehouse: the warehouse folder.
        since: the earliest fetch time of the pages to process again.
        until: the fetch time before which to stop.
        settings: the settings; the defaults plus ./wirehouse.toml when None.
        on_wait: called with a message if another run holds the warehouse.

    Returns:
        The committed run's report: articles whose text changed land as new versions, with
        their duplicates, entities and stories; unchanged ones are counted and left as they are.
    """
    settings = settings or load_settings()
    # The file lock first (it says when it waits), then the Prefect slot: one order everywhere.
    with open_run(warehouse, settings.warehouse, on_wait) as run_id, concurrency(WRITER_LIMIT, strict=False):
        report = RunReport(run_id, str(warehouse), datetime.now(timezone.utc))
        with timed_stage(report, "read"):
            pages = read_stored_pages(warehouse, since, until)
        report.sources = sorted({page.source for page in pages})
        work = [submit_batch(warehouse, settings, batch) for batch in batches(pages, settings.extract.batch_size)]
        processed = process_pages(warehouse, settings, report, work)
        tally_run(report, None, [], pages, processed)
        with timed_stage(report, "load"):
            # No fetch happened: nothing goes to `fetches` or `raw_pages`.
            return land(warehouse, report, [], big(processed))
