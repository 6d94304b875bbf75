"""Readable task-run names for the Prefect UI: what a batch holds, not a random suffix."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from prefect.futures import PrefectFuture
from prefect.runtime import task_run
from prefect.utilities.annotations import BaseAnnotation


def _parameter(name: str):
    """A task run's parameter; if it is the future of an upstream task (the name is set before
    Prefect resolves it), that task's result, waited for as the task would wait anyway."""
    value = task_run.parameters.get(name)
    if isinstance(value, BaseAnnotation):  # quote(...) or opaque(...): see flows.ingest.big
        value = value.unwrap()
    if isinstance(value, PrefectFuture):
        return value.result()
    return value


def batch_run_name(stage: str, parameter: str, unit: str) -> Callable[[], str]:
    """A task_run_name callable: "<stage> <n> <unit>", e.g. "extract 300 pages"."""

    def name() -> str:
        try:
            return f"{stage} {len(_parameter(parameter) or [])} {unit}"
        except Exception:  # the upstream task failed: Prefect reports that when it resolves the inputs
            return f"{stage} {unit}"

    return name


def fetch_run_name() -> str:
    """"fetch <n> pages from <host> (+k hosts)" for a fetch batch."""
    targets = _parameter("targets") or []
    hosts = sorted({urlsplit(t.url).netloc for t in targets})
    where = f" from {hosts[0]}" + (f" +{len(hosts) - 1} hosts" if len(hosts) > 1 else "") if hosts else ""
    return f"fetch {len(targets)} pages{where}"


def source_run_name() -> str:
    """"discover <source>" for a source's discovery."""
    source = task_run.parameters.get("source")
    return f"discover {getattr(source, 'name', source)}"
