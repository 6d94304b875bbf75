"""The re-enrich flow: enrich landed articles again (after a model change). Wiring only."""

from datetime import datetime, timezone
from pathlib import Path

from prefect import flow
from prefect.concurrency.sync import concurrency

from wirehouse.config.settings import Settings, load_settings
from wirehouse.flows.ingest import WRITER_LIMIT, big, timed_stage
from wirehouse.tasks.enrich import enrich_batch
from wirehouse.tasks.entities import resolve
from wirehouse.tasks.load import RunReport, land_enrichment, open_run, read_aliases, read_since


@flow(name="reenrich")
def reenrich(warehouse: Path, since: datetime, settings: Settings | None = None, on_wait=None) -> RunReport:
    """Enrich again the articles published (or, undated, fetched) since a date.

    Args:
        warehouse: the warehouse folder.
        since: the earliest date of the articles to re-enrich.
        settings: the settings; the defaults plus ./wirehouse.toml when None.
        on_wait: called with a message if another run holds the warehouse.

    Returns:
        The committed run's report: its new enrichment rows win over the older ones in the views.
    """
    settings = settings or load_settings()
    # The file lock first (it says when it waits), then the Prefect slot: one order everywhere.
    with open_run(warehouse, settings.warehouse, on_wait) as run_id, concurrency(WRITER_LIMIT, strict=False):
        report = RunReport(run_id, str(warehouse), datetime.now(timezone.utc), sources=["enrich"])
        with timed_stage(report, "read"):
            articles = read_since(warehouse, since)
        with timed_stage(report, "enrich"):
            enriched = enrich_batch(big(articles), settings.enrich)
            entities = resolve(big(enriched), big(read_aliases(warehouse, big(enriched))))
        with timed_stage(report, "load"):
            return land_enrichment(warehouse, report, big(enriched), big(entities))
