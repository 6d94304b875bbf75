"""Load: the only stage that touches the warehouse. Reads what earlier runs left, lands a run.

Loads merge, never blindly append: an article whose text is unchanged is not written again, so
running the same input twice leaves `articles` and `article_entities` as they were. A changed
article gets a new version (the views keep the newest) with its entities and index rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import FetchSettings, StoriesSettings, WarehouseSettings
from wirehouse.tasks.dedup import DedupResult, Fingerprint, KnownArticle
from wirehouse.tasks.frontier import Frontier, FrontierState
from wirehouse.tasks.records import SUCCESS_OUTCOMES, Article, EntityMention, Page, Rejection, Target
from wirehouse.tasks.stories import StoryArticle, StoryResult, window_bounds
from wirehouse.tasks.urls import url_article_id
from wirehouse.warehouse import db


@dataclass
class RunReport:
    """What one run did, as printed by the CLI and stored in `runs`."""

    run_id: str
    warehouse: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "ok"
    sources: list[str] = field(default_factory=list)
    pages_fetched: int = 0
    pages_failed: int = 0
    pages_skipped: int = 0
    url_variants: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    articles_new: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    entities: int = 0
    stories_new: int = 0
    stories_grown: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def open_run(warehouse: Path, settings: WarehouseSettings, on_wait=None) -> Iterator[str]:
    """Take the writer lock, prepare the warehouse and yield a new run id.

    Parts left by a run that died before committing are removed first; the lock is released
    when the block ends, whether the run committed or not.
    """
    with db.writer_lock(warehouse, settings.lock_timeout, on_wait=on_wait):
        db.init_warehouse(warehouse)
        db.remove_uncommitted_parts(warehouse)
        yield db.new_run_id()


def read_frontier_state(warehouse: Path, settings: FetchSettings) -> FrontierState:
    """URLs landed within the refetch window, and failed URLs still owed an attempt."""
    since = datetime.now(timezone.utc) - timedelta(hours=settings.refetch_after_hours)
    with db.connect(warehouse) as con:
        landed = con.execute(
            "select distinct url_id from fetches where kind = 'page' and outcome in ('ok', 'not_modified') and fetched_at >= ?",
            [since],
        ).fetchall()
        failed = con.execute(
            """
            with page_attempts as (
                select url, url_id, source, outcome, discovered_via, fetched_at
                from fetches
                where kind = 'page'
            ),
            per_url as (
                select
                    url_id,
                    arg_max(url, fetched_at) as url,
                    arg_max(source, fetched_at) as source,
                    arg_max(discovered_via, fetched_at) as discovered_via,
                    count(*) filter (where outcome not in ('ok', 'not_modified')) as failures,
                    count(*) filter (where outcome in ('ok', 'not_modified')) as successes,
                    arg_max(outcome, fetched_at) as last_outcome
                from page_attempts
                group by url_id
            ),
            final as (
                select url, source, discovered_via
                from per_url
                where last_outcome not in ('ok', 'not_modified') and failures < ?
                order by url
            )
            select * from final
            """,
            [settings.max_failed_attempts],
        ).fetchall()
    retry = [Target(url=url, source=source, discovered_via=via) for url, source, via in failed]
    return FrontierState(landed={row[0] for row in landed}, retry=retry)


def read_known_versions(warehouse: Path, article_ids: list[str]) -> dict[str, str]:
    """article_id -> content hash of the current version, for the ids given that exist."""
    if not article_ids:
        return {}
    with db.connect(warehouse) as con:
        wanted = pa.table({"article_id": article_ids})
        con.register("wanted", wanted)
        rows = con.execute(
            "select article_id, content_hash from articles where article_id in (select article_id from wanted)"
        ).fetchall()
    return dict(rows)


def read_dedup_candidates(warehouse: Path, prints: list[Fingerprint], content_hashes: list[str]) -> list[KnownArticle]:
    """Landed articles sharing an LSH band or a content hash with the batch: a join on the index."""
    if not prints:
        return []
    bands = pa.table(
        {
            "band": [band for p in prints for band in range(len(p.bands))],
            "hash": [value for p in prints for value in p.bands],
        },
        schema=pa.schema([("band", pa.int16()), ("hash", pa.int64())]),
    )
    with db.connect(warehouse) as con:
        con.register("batch_bands", bands)
        con.register("batch_hashes", pa.table({"content_hash": content_hashes}))
        rows = con.execute(
            """
            with band_matches as (
                select distinct article_bands.article_id
                from article_bands
                join batch_bands using (band, hash)
            ),
            hash_matches as (
                select article_id from articles where content_hash in (select content_hash from batch_hashes)
            ),
            final as (
                select article_id, content_hash, text, duplicate_of
                from articles
                where article_id in (select article_id from band_matches union select article_id from hash_matches)
            )
            select * from final
            """
        ).fetchall()
    return [KnownArticle(*row) for row in rows]


def read_story_state(
    warehouse: Path, articles: list[Article], settings: StoriesSettings
) -> tuple[list[StoryArticle], dict[str, str]]:
    """What story assignment needs of the warehouse for a batch.

    Returns:
        The landed articles dated within the window of the batch (other than the batch's own),
        each with its entity names and story (its own id for articles landed before stories
        existed); and the stories of the batch's landed articles and of their canonicals.
    """
    bounds = window_bounds(articles, settings)
    if bounds is None:
        return [], {}
    ids = sorted({a.article_id for a in articles} | {a.duplicate_of for a in articles if a.duplicate_of})
    with db.connect(warehouse) as con:
        con.register("batch_ids", pa.table({"article_id": [a.article_id for a in articles]}))
        con.register("wanted", pa.table({"article_id": ids}))
        rows = con.execute(
            """
            with window_articles as (
                select
                    article_id, coalesce(date_published, fetched_at) as seen_at, title, text,
                    coalesce(story_id, article_id) as story_id, duplicate_of
                from articles
                where coalesce(date_published, fetched_at) between ? and ?
                    and article_id not in (select article_id from batch_ids)
            ),
            names as (
                select article_id, list(text order by start_char) as entities
                from article_entities
                where article_id in (select article_id from window_articles)
                group by article_id
            ),
            final as (
                select w.article_id, w.seen_at, w.title, w.text, coalesce(names.entities, []), w.story_id, w.duplicate_of
                from window_articles w
                left join names using (article_id)
                order by w.seen_at, w.article_id
            )
            select * from final
            """,
            list(bounds),
        ).fetchall()
        stories = con.execute(
            "select article_id, coalesce(story_id, article_id) from articles where article_id in (select article_id from wanted)"
        ).fetchall()
    return [StoryArticle(*row) for row in rows], dict(stories)


def split_by_version(articles: list[Article], known: dict[str, str]) -> tuple[list[Article], list[Article], list[Article]]:
    """Split a run's articles into new, updated (text changed) and unchanged ones.

    An article reached twice in one run (two spellings of one canonical URL) counts once.
    """
    new, updated, unchanged, seen = [], [], [], set()
    for article in articles:
        if article.article_id in seen:
            continue
        seen.add(article.article_id)
        if article.article_id not in known:
            new.append(article)
        elif known[article.article_id] != article.content_hash:
            updated.append(article)
        else:
            unchanged.append(article)
    return new, updated, unchanged


def tally_run(
    report: RunReport,
    frontier: Frontier,
    feed_pages: list[Page],
    pages: list[Page],
    rejections: list[Rejection],
    new: list[Article],
    updated: list[Article],
    unchanged: list[Article],
    duplicates: DedupResult,
    mentions: list[EntityMention],
    stories: StoryResult | None = None,
) -> None:
    """Fill the report's counts from the stages' results."""
    attempts = feed_pages + pages
    outcomes = Counter(p.outcome for p in attempts)
    outcomes.subtract(["ok"] * len(rejections))
    outcomes.update(r.outcome for r in rejections)
    report.outcomes = {name: count for name, count in sorted(outcomes.items()) if count}
    report.pages_fetched = sum(1 for p in pages if p.outcome == "ok")
    report.pages_failed = sum(1 for p in attempts if p.outcome not in SUCCESS_OUTCOMES)
    report.pages_skipped = frontier.skipped_landed
    report.url_variants = frontier.url_variants
    report.articles_new, report.articles_updated, report.articles_unchanged = len(new), len(updated), len(unchanged)
    report.exact_duplicates, report.near_duplicates = duplicates.exact, duplicates.near
    report.entities = len(mentions)
    if stories is not None:
        report.stories_new, report.stories_grown = stories.new, stories.grown


def fetch_rows(pages: list[Page], rejections: list[Rejection]) -> list[dict]:
    """One `fetches` row per attempt; a page that yielded no article carries that outcome."""
    rejected = {r.url: r for r in rejections}
    rows = []
    for page in pages:
        row = {
            name: getattr(page, name)
            for name in (
                "url", "source", "kind", "outcome", "error", "http_status", "content_type", "final_url",
                "discovered_via", "etag", "last_modified", "elapsed_ms", "fetched_at",
            )
        }
        if page.url in rejected:
            row["outcome"], row["error"] = rejected[page.url].outcome, rejected[page.url].reason
        rows.append({**row, "url_id": url_article_id(page.url)})
    return rows


def raw_page_rows(pages: list[Page]) -> list[dict]:
    """One `raw_pages` row per distinct HTML fetched (the same bytes under one URL once)."""
    rows, seen = [], set()
    for page in pages:
        if page.kind != "page" or page.html is None:
            continue
        html_hash = hashlib.sha256(page.html.encode("utf-8")).hexdigest()[:16]
        if (page.url, html_hash) not in seen:
            seen.add((page.url, html_hash))
            rows.append(
                {"url": page.url, "final_url": page.final_url, "source": page.source, "html_hash": html_hash,
                 "html": page.html, "fetched_at": page.fetched_at}
            )
    return rows


def _new_raw_pages(warehouse: Path, rows: list[dict]) -> list[dict]:
    if not rows:
        return []
    with db.connect(warehouse) as con:
        con.register("batch", pa.table({"url": [r["url"] for r in rows], "html_hash": [r["html_hash"] for r in rows]}))
        stored = set(con.execute("select url, html_hash from raw_pages join batch using (url, html_hash)").fetchall())
    return [row for row in rows if (row["url"], row["html_hash"]) not in stored]


def article_rows(articles: list[Article]) -> list[dict]:
    """`articles` rows: every Article field plus its word count."""
    return [{**dataclasses.asdict(a), "word_count": len(a.text.split())} for a in articles]


def land_run(
    warehouse: Path,
    report: RunReport,
    pages: list[Page],
    rejections: list[Rejection],
    articles: list[Article],
    prints: list[Fingerprint],
    mentions: list[EntityMention],
    model: str,
) -> RunReport:
    """Write the run's parts, then its `runs` row, which commits them all at once.

    Args:
        warehouse: the warehouse folder (the caller holds its writer lock).
        report: the run's counts so far; finished_at is set here.
        pages: every fetch attempt of the run (feeds and pages).
        rejections: fetched pages that yielded no article, with their outcome.
        articles: the new and updated articles only (unchanged ones are not written again).
        prints: the fingerprints of those articles (their LSH bands go to the index).
        mentions: the entity mentions of those articles.
        model: the NER model name and version recorded with each mention.

    Returns:
        The report as committed.
    """
    db.write_part(warehouse, "fetches", report.run_id, fetch_rows(pages, rejections))
    db.write_part(warehouse, "raw_pages", report.run_id, _new_raw_pages(warehouse, raw_page_rows(pages)))
    db.write_part(warehouse, "articles", report.run_id, article_rows(articles))
    db.write_part(
        warehouse, "article_entities", report.run_id,
        [{**dataclasses.asdict(m), "model": model} for m in mentions],
    )
    landed = {a.article_id for a in articles}
    db.write_part(
        warehouse, "article_bands", report.run_id,
        [{"article_id": p.article_id, "band": i, "hash": h} for p in prints if p.article_id in landed for i, h in enumerate(p.bands)],
    )
    report.finished_at = datetime.now(timezone.utc)
    db.write_part(warehouse, "runs", report.run_id, [run_row(report)])
    return report


def run_row(report: RunReport) -> dict:
    """The `runs` row of a report."""
    row = {name: getattr(report, name) for name in db.TABLES["runs"].names if hasattr(report, name)}
    row["flow_run_id"] = _current_flow_run_id()
    return row


def _current_flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.id


@task(name="read-frontier-state", cache_policy=NO_CACHE)
def read_frontier(warehouse: Path, settings: FetchSettings) -> FrontierState:
    """Prefect task: the frontier state left by earlier runs."""
    return read_frontier_state(warehouse, settings)


@task(name="read-known-articles", cache_policy=NO_CACHE)
def read_known(warehouse: Path, articles: list[Article]) -> dict[str, str]:
    """Prefect task: current content hashes of the run's article ids."""
    return read_known_versions(warehouse, [a.article_id for a in articles])


@task(name="read-dedup-candidates", cache_policy=NO_CACHE)
def read_candidates(warehouse: Path, prints: list[Fingerprint], articles: list[Article]) -> list[KnownArticle]:
    """Prefect task: landed articles that may be copies of the batch's."""
    return read_dedup_candidates(warehouse, prints, [a.content_hash for a in articles])


@task(name="read-story-state", cache_policy=NO_CACHE)
def read_stories(warehouse: Path, articles: list[Article], settings: StoriesSettings) -> tuple[list[StoryArticle], dict[str, str]]:
    """Prefect task: the window's landed articles and the stories the batch refers to."""
    return read_story_state(warehouse, articles, settings)


@task(name="land-run", cache_policy=NO_CACHE)
def land(warehouse: Path, report: RunReport, pages, rejections, articles, prints, mentions, model: str) -> RunReport:
    """Prefect task: write the run's parts and commit it."""
    return land_run(warehouse, report, pages, rejections, articles, prints, mentions, model)
