"""The extraction stage: fetched HTML in, cleaned articles with their metadata out.

`extract_article` (in `extract_page`) is a pure function over one page; `extract_pages` (in
`extract_pool`) maps it over a batch in a pool of worker processes, and `extract_manifest` runs
the extraction scorer's batch contract. The Prefect task at the bottom only wraps `extract_pages`.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import ExtractSettings
from wirehouse.tasks.extract_page import extract_article, format_article
from wirehouse.tasks.extract_pool import extract_manifest, extract_pages, shutdown_pool
from wirehouse.tasks.naming import batch_run_name
from wirehouse.tasks.records import Article, Page, Rejection

__all__ = ["extract_article", "extract_batch", "extract_manifest", "extract_pages", "format_article", "shutdown_pool"]


# -- the Prefect task ----------------------------------------------------------------------------


@task(name="extract-batch", task_run_name=batch_run_name("extract", "pages", "pages"), tags=["stage:extract"], cache_policy=NO_CACHE)
def extract_batch(pages: list[Page], settings: ExtractSettings) -> tuple[list[Article], list[Rejection]]:
    """Extract the articles of one batch of fetched pages (see `extract_pages`)."""
    return extract_pages(pages, settings)
