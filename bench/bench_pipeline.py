"""Throughput of each stage and of the whole ingest flow on the bundled sample site.

Runs one ingest of the sample (49 pages over real HTTP on 127.0.0.1) into a temporary
warehouse and prints pages or articles per second for every stage, from the run's own timings,
and end to end (the flow's wall time, Prefect's overhead included).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from wirehouse.config.settings import load_settings  # noqa: E402
from wirehouse.config.sources import Source  # noqa: E402
from wirehouse.flows.ingest import ingest  # noqa: E402
from wirehouse.sample import serve_sample_site  # noqa: E402


def main() -> None:
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp, serve_sample_site() as site:
        settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"proxy": site.proxy_url})})
        sources = [Source(**spec) for spec in site.sources()]
        started = time.perf_counter()
        report = ingest(sources, Path(tmp) / "warehouse", settings)
        wall = time.perf_counter() - started
    articles = report.articles_new + report.articles_updated
    counts = {
        "discover": (len(sources), "feeds"),
        "fetch": (report.pages_fetched, "pages"),
        "extract": (report.pages_fetched, "pages"),
    }
    print(f"pipeline on the sample site: {report.pages_fetched} pages, {articles} articles, {report.entities} entity mentions")
    print(f"{'stage':<10} {'seconds':>8} {'per second':>12}")
    for stage, seconds in report.stage_seconds.items():
        count, unit = counts.get(stage, (articles, "articles"))  # the stages after extraction count articles
        print(f"{stage:<10} {seconds:>8.2f} {count / seconds if seconds else float('inf'):>8.1f} {unit}")
    print(f"{'end to end':<10} {wall:>8.2f} {report.pages_fetched / wall:>8.1f} pages (flow wall time, with Prefect start-up)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
