"""Backfill: the stages after fetch, run again over stored pages, with no server to fetch from."""

from datetime import datetime, timezone

import pytest

from wirehouse.config.sources import Source
from wirehouse.flows.backfill import backfill
from wirehouse.flows.ingest import ingest
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.warehouse import db

pytestmark = pytest.mark.flow


def _count(warehouse, sql):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql).fetchone()[0]


def test_backfill_lands_articles_from_stored_pages_without_refetching(prefect_harness, settings):
    warehouse = settings.warehouse.path
    # First run: an extraction setting so strict that every page is rejected, but stored.
    strict = settings.model_copy(update={"extract": settings.extract.model_copy(update={"min_text_chars": 1_000_000, "keep_briefs": False})})
    with serve_sample_site() as site:
        strict = strict.model_copy(update={"fetch": strict.fetch.model_copy(update={"proxy": site.proxy_url})})
        first = ingest([Source(**spec) for spec in site.sources()], warehouse, strict)
    n = len(load_catalog().articles)
    assert first.articles_new == 0 and first.outcomes.get("extraction_empty") == n
    fetches_before = _count(warehouse, "select count(*) from fetches")
    # The site is gone: whatever lands now comes from raw_pages.
    report = backfill(warehouse, datetime(2000, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc), settings)
    assert (report.pages_fetched, report.articles_new) == (n, n)
    assert _count(warehouse, "select count(*) from articles") == n
    assert _count(warehouse, "select count(*) from articles where duplicate_kind = 'near'") == report.near_duplicates > 0
    assert _count(warehouse, "select count(distinct article_id) from article_entities") == n
    assert _count(warehouse, "select count(*) from fetches") == fetches_before, "a backfill fetches nothing"
    # Again over the same pages: nothing changes.
    again = backfill(warehouse, datetime(2000, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc), settings)
    assert (again.articles_new, again.articles_updated, again.articles_unchanged) == (0, 0, n)
