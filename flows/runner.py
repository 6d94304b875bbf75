"""Where the ingest flow's tasks run: the `[run]` settings section turned into a Prefect task runner.

Applied where the flow is called (`wirehouse run`, the served deployments), never in the flow body.
"""

from __future__ import annotations

from prefect import Flow
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from wirehouse.config.settings import RunSettings, Settings
from wirehouse.flows.ingest import ingest


def task_runner(settings: RunSettings) -> TaskRunner:
    """The task runner the settings name.

    Args:
        settings: the `[run]` section: "threads" (a pool of `max_workers` threads) or "dask"
            (the scheduler at `dask_address`, or a LocalCluster of `dask_workers` when empty).

    Returns:
        A fresh task runner (each flow run starts and stops its own).
    """
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.max_workers)
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # Threads, not processes: the extraction and enrichment tasks start process pools of their
    # own, which a (daemonic) Dask worker process may not do. The dashboard stays on loopback.
    cluster = {"n_workers": settings.dask_workers, "processes": False, "threads_per_worker": 1, "dashboard_address": "127.0.0.1:0"}
    return DaskTaskRunner(cluster_kwargs=cluster)


def configured_ingest(settings: Settings) -> Flow:
    """The ingest flow with the task runner of `settings.run`."""
    return ingest.with_options(task_runner=task_runner(settings.run))
