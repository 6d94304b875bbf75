"""Deployments of the ingest flow: one per group of sources that share a schedule. Wiring only."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from prefect import serve
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from wirehouse.config.settings import Settings
from wirehouse.config.sources import Source
from wirehouse.flows.ingest import WRITER_LIMIT
from wirehouse.flows.runner import configured_ingest


def group_by_schedule(sources: list[Source], default_cron: str, override: str | None = None) -> dict[str, list[Source]]:
    """Sources grouped by their cron schedule (theirs, else the default; `override` for all)."""
    groups: dict[str, list[Source]] = defaultdict(list)
    for source in sources:
        if source.enabled:
            groups[override or getattr(source, "schedule", None) or default_cron].append(source)
    return dict(groups)


def deployment_name(group: list[Source], only_group: bool) -> str:
    """"scheduled-ingest" for a single group, else named after the group's first source."""
    if only_group:
        return "scheduled-ingest"
    more = f"-and-{len(group) - 1}-more" if len(group) > 1 else ""
    return f"ingest-{group[0].name}{more}"


def ensure_writer_limit() -> None:
    """Create the global concurrency limit that lets one ingest write at a time, if missing."""
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(WRITER_LIMIT, limit=1)
        except ObjectAlreadyExists:  # another process created it between Prefect's read and create
            pass


def serve_ingest(sources: list[Source], warehouse: Path, settings: Settings, cron: str | None = None) -> None:
    """Serve one ingest deployment per schedule group until stopped; schedules stay active after.

    Args:
        sources: every source to schedule (disabled ones are left out).
        warehouse: the warehouse folder the runs write to.
        settings: passed to every run as a parameter.
        cron: one schedule for all groups, overriding the sources' and settings' schedules.
    """
    groups = group_by_schedule(sources, settings.serve.cron, cron)
    ensure_writer_limit()
    deployments = [
        configured_ingest(settings).to_deployment(
            name=deployment_name(group, len(groups) == 1),
            cron=schedule,
            parameters={
                "sources": [s.model_dump(mode="json") for s in group],
                "warehouse": str(warehouse),
                "settings": settings.model_dump(mode="json"),
            },
            # A run still going when the next is due makes that one wait, not overlap.
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
            description=f"Ingest {', '.join(s.name for s in group)} on '{schedule}'",
            tags=["wirehouse", "ingest"],
        )
        for schedule, group in groups.items()
    ]
    serve(*deployments, pause_on_shutdown=False)
