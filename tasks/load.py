"""Load: the only stage that touches the warehouse. Reads what earlier runs left, lands a run.

Loads merge, never blindly append: an article whose text is unchanged is not written again, so
running the same input twice leaves `articles` and `article_entities` as they were. A changed
article gets a new version (the views keep the newest) with its entities and index rows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import DedupSettings, FetchSettings, StoriesSettings, WarehouseSettings
from wirehouse.tasks.dedup import DedupResult, DuplicateLink, Fingerprint, KnownArticle
from wirehouse.tasks.entities import KnownEntity, Resolution, mention_keys
from wirehouse.tasks.frontier import FailedUrl, Frontier, FrontierState, ListingState, split_failed
from wirehouse.tasks.records import SUCCESS_OUTCOMES, Article, ArticleEnrichment, EntityMention, Page, Rejection, Target
from wirehouse.tasks.stories import StoryArticle, StoryResult, StoryWindow, window_bounds
from wirehouse.tasks.urls import html_hash, url_article_id
from wirehouse.warehouse import db

log = logging.getLogger(__name__)


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
    pages_resting: int = 0  # failed before and backing off, or given up (fetch.max_failed_attempts)
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
    # Per source: {"pages": page attempts, "articles": pages that became articles, "outcomes": {outcome: n}}
    # over every attempt (listings included), later stages' outcomes replacing "ok".
    by_source: dict[str, dict] = field(default_factory=dict)
    # The runs a long ingest committed in slices (`run.commit_every`), in order; this report sums them.
    slice_runs: list[str] = field(default_factory=list)


def merge_reports(reports: list[RunReport]) -> RunReport:
    """One report for an ingest committed in slices: the first slice's id and start, the sums."""
    merged = dataclasses.replace(reports[0], slice_runs=[r.run_id for r in reports])
    merged.finished_at, merged.status = reports[-1].finished_at, reports[-1].status
    for report in reports[1:]:
        for name in _COUNTS:
            setattr(merged, name, getattr(merged, name) + getattr(report, name))
        merged.outcomes = dict(Counter(merged.outcomes) + Counter(report.outcomes))
        merged.stage_seconds = {
            stage: round(merged.stage_seconds.get(stage, 0.0) + report.stage_seconds.get(stage, 0.0), 3)
            for stage in {**merged.stage_seconds, **report.stage_seconds}
        }
        merged.by_source = _merge_sources(merged.by_source, report.by_source)
    return merged


_COUNTS = [f.name for f in dataclasses.fields(RunReport) if f.type == "int"]


def _merge_sources(first: dict[str, dict], second: dict[str, dict]) -> dict[str, dict]:
    merged = {}
    for name in {**first, **second}:
        a, b = first.get(name, {}), second.get(name, {})
        merged[name] = {
            "pages": a.get("pages", 0) + b.get("pages", 0),
            "articles": a.get("articles", 0) + b.get("articles", 0),
            "outcomes": dict(sorted((Counter(a.get("outcomes", {})) + Counter(b.get("outcomes", {}))).items())),
        }
    return merged


@contextmanager
def open_run(warehouse: Path, settings: WarehouseSettings, on_wait=None) -> Iterator[str]:
    """Take the writer lock, prepare the warehouse and yield a new run id.

    Parts left by a run that died before committing are removed first; the lock is released
    when the block ends, whether the run committed or not.
    """
    with db.writer_lock(warehouse, settings.lock_timeout, on_wait=on_wait):
        db.init_warehouse(warehouse)
        db.remove_uncommitted_parts(warehouse)
        count_label_votes(warehouse)
        yield db.new_run_id()


def count_label_votes(warehouse: Path) -> bool:
    """Give a warehouse whose mentions landed before `entity_label_votes` existed its votes. Call under the lock.

    When committed runs wrote mentions and none wrote votes, the current mentions' votes are
    counted once and written as a votes part of the newest committed run (the votes are a sum
    over committed runs: which run holds them does not matter). Returns whether it wrote them.
    """
    committed = db.committed_run_ids(warehouse)
    if db.runs_with_parts(warehouse, "entity_label_votes") & committed:
        return False
    if not db.runs_with_parts(warehouse, "article_entities") & committed:
        return False
    with db.connect(warehouse) as con:
        rows = con.execute(
            """
            select entity_id, label, count(*) as mentions
            from article_entities
            where entity_id is not null
            group by entity_id, label
            order by entity_id, label
            """
        ).fetchall()
    db.write_part(warehouse, "entity_label_votes", max(committed), [dict(zip(("entity_id", "label", "mentions"), row)) for row in rows])
    return bool(rows)


def compact_parts(warehouse: Path, settings: WarehouseSettings) -> dict[str, int]:
    """Merge the warehouse's parts where `compact_after_parts` of a tier have piled up. Call under the lock.

    Returns:
        table -> the number of parts merged; empty when nothing was due, or when a table could not
        be compacted (the others were): why is logged, and its parts are left for a later run (a
        compaction cut short is finished or dropped then).
    """
    try:
        return db.compact(warehouse, settings.compact_after_parts)
    except (ValueError, OSError) as exc:
        log.warning("compaction of %s left for a later run: %s", warehouse, exc)
        return {}


# Per URL (url_id): its latest attempt, and its failures since its last success. Shared by the
# frontier (what to retry) and `wirehouse sources` (what is failing, what was given up).
_URL_STATES = """
    page_attempts as (
        select url, url_id, source, outcome, discovered_via, warc_file, warc_offset, fetched_at,
            outcome in ('ok', 'not_modified') as succeeded
        from fetches
        where kind = 'page'
    ),
    url_states as (
        select
            url_id,
            arg_max(url, fetched_at) as url,
            arg_max(source, fetched_at) as source,
            arg_max(discovered_via, fetched_at) as discovered_via,
            arg_max(warc_file, fetched_at) as warc_file,
            arg_max(warc_offset, fetched_at) as warc_offset,
            arg_max(succeeded, fetched_at) as last_succeeded,
            max(fetched_at) as last_attempt,
            max(fetched_at) filter (where succeeded) as last_success
        from page_attempts
        group by url_id
    ),
    failing_urls as (
        select url_states.*, count(*) as failures
        from url_states
        join page_attempts using (url_id)
        where not last_succeeded and not page_attempts.succeeded
            and page_attempts.fetched_at > coalesce(url_states.last_success, '-infinity'::timestamptz)
        group by all
    )
"""


def read_frontier_state(warehouse: Path, settings: FetchSettings) -> FrontierState:
    """What earlier runs left: URLs landed within the refetch window, failed URLs (due now or
    resting, see `frontier.retry_due`), and the state of every feed and sitemap."""
    now = datetime.now(timezone.utc)
    since = now - timedelta(hours=settings.refetch_after_hours)
    with db.connect(warehouse) as con:
        landed = con.execute(
            "select distinct url_id from fetches where kind = 'page' and outcome in ('ok', 'not_modified') and fetched_at >= ?",
            [since],
        ).fetchall()
        failed = con.execute(
            f"""
            with {_URL_STATES},
            final as (
                select url, source, discovered_via, warc_file, warc_offset, failures, last_attempt
                from failing_urls
                order by url
            )
            select * from final
            """
        ).fetchall()
        listings = con.execute(
            """
            with listing_fetches as (
                select url, outcome, http_status, etag, last_modified, content_hash, fetched_at
                from fetches
                where kind in ('feed', 'sitemap') and outcome in ('ok', 'not_modified')
            ),
            bodies as (
                select
                    url, content_hash, etag, last_modified,
                    lag(content_hash) over by_time as previous_hash,
                    lag(etag) over by_time as previous_etag,
                    lag(last_modified) over by_time as previous_last_modified
                from listing_fetches
                where http_status = 200 and content_hash is not null
                window by_time as (partition by url order by fetched_at)
            ),
            liars as (
                select distinct url
                from bodies
                where content_hash <> previous_hash
                    and (etag = previous_etag or last_modified = previous_last_modified)
            ),
            latest as (
                select url, etag, last_modified, content_hash
                from listing_fetches
                qualify row_number() over (partition by url order by fetched_at desc) = 1
            ),
            final as (
                select
                    latest.*,
                    (select max(fetched_at) from listing_fetches as f where f.url = latest.url and f.outcome = 'ok') as read_at,
                    latest.url in (select url from liars) as validators_lie
                from latest
            )
            select * from final
            """
        ).fetchall()
    failures = [
        FailedUrl(Target(url=url, source=source, discovered_via=via, warc_file=warc_file, warc_offset=offset), count, last)
        for url, source, via, warc_file, offset, count, last in failed
    ]
    retry, resting = split_failed(failures, now, settings)
    return FrontierState(
        landed={row[0] for row in landed},
        retry=retry,
        resting=resting,
        listings={row[0]: ListingState(*row[1:]) for row in listings},
    )


def read_source_summaries(warehouse: Path, settings: FetchSettings) -> list[dict]:
    """Per source the warehouse's runs name: its last run and what it gave, and its failing URLs.

    Returns:
        One dict per source, by name: `last_run` (when it finished), `pages` (page attempts in
        it), `articles` (pages that became articles), `new_articles` (articles that run landed
        and that are still current), `yield` (articles / pages), `failures` (outcome -> count of
        that run's failed attempts, listings included), `retrying` (failing URLs with attempts
        left) and `given_up` (URLs that failed `max_failed_attempts` times: kept, not retried).
    """
    with db.connect(warehouse) as con:
        cursor = con.execute(
            f"""
            with {_URL_STATES},
            source_runs as (
                select unnest(sources) as source, run_id, finished_at
                from runs
            ),
            last_runs as (
                select source, arg_max(run_id, finished_at) as run_id, max(finished_at) as last_run
                from source_runs
                group by source
            ),
            last_attempts as (
                select fetches.source, fetches.kind, fetches.outcome
                from fetches
                join last_runs using (source, run_id)
            ),
            run_counts as (
                select
                    source,
                    count(*) filter (where kind = 'page') as pages,
                    count(*) filter (where kind = 'page' and outcome = 'ok') as articles
                from last_attempts
                group by source
            ),
            run_failures as (
                select source, map(list(outcome order by outcome), list(n order by outcome)) as failures
                from (
                    select source, outcome, count(*) as n
                    from last_attempts
                    where outcome not in ('ok', 'not_modified')
                    group by all
                )
                group by source
            ),
            new_articles as (
                select articles.source, count(*) as new_articles
                from articles
                join last_runs on articles.source = last_runs.source and articles.loaded_by_run = last_runs.run_id
                group by all
            ),
            failing as (
                select
                    source,
                    count(*) filter (where failures < $max_failed_attempts) as retrying,
                    count(*) filter (where failures >= $max_failed_attempts) as given_up
                from failing_urls
                group by source
            ),
            final as (
                select
                    last_runs.source,
                    last_runs.last_run,
                    coalesce(run_counts.pages, 0) as pages,
                    coalesce(run_counts.articles, 0) as articles,
                    coalesce(new_articles.new_articles, 0) as new_articles,
                    round(run_counts.articles / nullif(run_counts.pages, 0), 3) as yield,
                    run_failures.failures,
                    coalesce(failing.retrying, 0) as retrying,
                    coalesce(failing.given_up, 0) as given_up
                from last_runs
                left join run_counts using (source)
                left join run_failures using (source)
                left join new_articles using (source)
                left join failing using (source)
                order by last_runs.source
            )
            select * from final
            """,
            {"max_failed_attempts": settings.max_failed_attempts},
        )
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
    for row in rows:
        row["failures"] = dict(row["failures"] or {})
    return rows


def read_known_versions(warehouse: Path, article_ids: list[str]) -> dict[str, str]:
    """article_id -> content hash of the current version, for the ids given that exist."""
    if not article_ids:
        return {}
    with db.connect(warehouse) as con:
        wanted = pa.table({"article_id": article_ids})
        con.register("wanted", wanted)
        rows = con.execute(
            "select article_id, content_hash from articles_among((select list(article_id) from wanted))"
        ).fetchall()
    return dict(rows)


def read_dedup_candidates(
    warehouse: Path, prints: list[Fingerprint], content_hashes: list[str], settings: DedupSettings
) -> list[KnownArticle]:
    """Landed articles dedup needs for a batch: joins on the index, then the groups they are in.

    Returns:
        With their text: the articles sharing a content hash, or `settings.min_shared_bands`
        whole-text or lede LSH bands, with an article of the batch, and the canonicals of their
        groups. Without text: the other members of those groups (to re-point if their canonical
        changes).
    """
    if not prints:
        return []
    bands = pa.table(
        {
            "print": [number for number, p in enumerate(prints) for _ in p.bands],
            "band": [band for p in prints for band in range(len(p.bands))],
            "hash": [value for p in prints for value in p.bands],
        },
        schema=pa.schema([("print", pa.int32()), ("band", pa.int16()), ("hash", pa.int64())]),
    )
    whole_bands = settings.num_perm // settings.band_rows
    with db.connect(warehouse) as con:
        con.register("batch_bands", bands)
        con.register("batch_hashes", pa.table({"content_hash": content_hashes}))
        # Only the versions of the ids the bands and hashes name are ranked (`articles_among`), on
        # narrow columns: no read holds every landed article, nor any text but the compared ones.
        rows = con.execute(
            """
            with shared_bands as (
                select batch_bands.print, article_bands.article_id, batch_bands.band < $whole_bands as whole, count(*) as shared
                from article_bands
                join batch_bands using (band, hash)
                group by all
            ),
            band_matches as (
                select distinct article_id from shared_bands where shared >= $min_shared
            ),
            hash_matches as (
                select article_id from article_versions where content_hash in (select content_hash from batch_hashes)
            ),
            matched as (
                select article_id, content_hash, coalesce(duplicate_of, article_id) as canonical
                from articles_among((select list(distinct article_id) from (from band_matches union all from hash_matches)))
            ),
            matches as (
                select article_id, canonical
                from matched
                where article_id in (select article_id from band_matches)
                    or content_hash in (select content_hash from batch_hashes)
            ),
            compared as (
                select article_id from matches
                union
                select canonical from matches
            ),
            -- Whoever may be in the matches' groups now: a version or a link naming a canonical.
            member_ids as (
                select article_id from compared
                union
                select article_id from article_versions where duplicate_of in (select canonical from matches)
                union
                select article_id from duplicate_links where duplicate_of in (select canonical from matches)
            ),
            final as (
                select
                    article_id, content_hash, article_id in (select article_id from compared) as compared,
                    duplicate_of, duplicate_kind, similarity, coalesce(story_id, article_id) as story_id, loaded_by_run
                from articles_among((select list(article_id) from member_ids))
                where article_id in (select article_id from compared)
                    or duplicate_of in (select canonical from matches)
            )
            select * from final
            """,
            {"whole_bands": whole_bands, "min_shared": settings.min_shared_bands},
        ).fetchall()
        texts = _current_texts(con, warehouse, [(row[0], row[7]) for row in rows if row[2]])
    return [KnownArticle(a_id, digest, texts.get(a_id), *rest) for a_id, digest, _, *rest, _ in rows]


def _current_texts(con, warehouse: Path, versions: list[tuple[str, str]]) -> dict[str, str]:
    """article_id -> text of the given (article_id, loaded_by_run) versions, read from the parts holding those runs only."""
    if not versions:
        return {}
    con.register("wanted_versions", pa.table({"article_id": [a for a, _ in versions], "_run_id": [r for _, r in versions]}))
    parts = db.parts_of_runs(warehouse, "articles", {r for _, r in versions})
    rows = con.execute(
        "select article_id, text from read_parquet(?, union_by_name = true) join wanted_versions using (article_id, _run_id)",
        [parts],
    ).fetchall()
    return dict(rows)


def read_story_state(
    warehouse: Path, articles: list[Article], settings: StoriesSettings, window: StoryWindow | None = None
) -> tuple[list[StoryArticle], dict[str, str]]:
    """What story assignment needs of the warehouse for a batch.

    Args:
        warehouse: the warehouse folder.
        articles: the batch.
        settings: the stories section (the window's width).
        window: the index an ingest carries from one committed slice to the next: then only
            the window's articles it does not hold yet are read (not those of its own slices,
            nor a span read for an earlier slice).

    Returns:
        The landed articles dated within the window of the batch (other than the batch's own),
        each with its entity names and story (its own id for articles landed before stories
        existed); and the stories of the batch's landed articles and of their canonicals.
    """
    bounds = window_bounds(articles, settings)
    if bounds is None:
        return [], {}
    spans, skip_runs = (window.unread(bounds), window.runs) if window else ([bounds], [])
    if window:
        window.mark_read(bounds)
    ids = sorted({a.article_id for a in articles} | {a.duplicate_of for a in articles if a.duplicate_of})
    with db.connect(warehouse) as con:
        con.register("batch_ids", pa.table({"article_id": [a.article_id for a in articles]}))
        con.register("wanted", pa.table({"article_id": ids}))
        con.register("spans", pa.table({"low": [s[0] for s in spans], "high": [s[1] for s in spans]}, schema=_SPANS))
        con.register("skip_runs", pa.table({"run_id": list(skip_runs)}, schema=pa.schema([("run_id", pa.string())])))
        # Every span read already (a later slice of one ingest): nothing to read. Else the ids
        # dated in the window come from narrow columns first, and only their versions are ranked
        # (`articles_among`): a read holds the window's articles, not every landed one.
        rows = [] if not spans else con.execute(
            """
            with dated_in_window as (
                select distinct article_id
                from article_versions
                where exists (select 1 from spans where coalesce(date_published, fetched_at) between low and high)
                    and article_id not in (select article_id from batch_ids)
            ),
            window_articles as (
                select
                    article_id, coalesce(date_published, fetched_at) as seen_at, title, text,
                    coalesce(story_id, article_id) as story_id, duplicate_of
                from articles_among((select list(article_id) from dated_in_window))
                where exists (select 1 from spans where coalesce(date_published, fetched_at) between low and high)
                    and loaded_by_run not in (select run_id from skip_runs)
            ),
            names as (
                select article_id, list(text order by start_char) as entities
                from article_entities_among((select list(article_id) from window_articles))
                group by article_id
            ),
            final as (
                select w.article_id, w.seen_at, w.title, w.text, coalesce(names.entities, []), w.story_id, w.duplicate_of
                from window_articles w
                left join names using (article_id)
                order by w.seen_at, w.article_id
            )
            select * from final
            """
        ).fetchall()
        stories = con.execute(
            "select article_id, coalesce(story_id, article_id) from articles_among((select list(article_id) from wanted))"
        ).fetchall()
    return [StoryArticle(*row) for row in rows], dict(stories)


_SPANS = pa.schema([("low", pa.timestamp("us", tz="UTC")), ("high", pa.timestamp("us", tz="UTC"))])


def read_entity_aliases(warehouse: Path, enrichments: list[ArticleEnrichment]) -> dict[str, KnownEntity]:
    """alias key -> canonical entity, for the batch's name and acronym keys already in the warehouse."""
    keys = mention_keys(enrichments)
    if not keys:
        return {}
    with db.connect(warehouse) as con:
        con.register("batch_keys", pa.table({"alias_key": keys}))
        rows = con.execute(
            """
            with matched as (
                select alias_key, entity_id from entity_aliases_among((select list(alias_key) from batch_keys))
            ),
            final as (
                select matched.alias_key, labels.entity_id, labels.name, labels.label
                from matched
                join entity_labels_among((select list(distinct entity_id) from matched)) as labels using (entity_id)
            )
            select * from final
            """
        ).fetchall()
    return {key: KnownEntity(entity_id, name, label) for key, entity_id, name, label in rows}


def read_articles_since(warehouse: Path, since: datetime) -> list[Article]:
    """The landed articles published (or, undated, fetched) on or after `since`, for re-enrichment."""
    fields = [f.name for f in dataclasses.fields(Article)]
    with db.connect(warehouse) as con:
        columns = {row[0] for row in con.execute("describe articles").fetchall()}
        chosen = [name for name in fields if name in columns]
        rows = con.execute(
            f"select {', '.join(chosen)} from articles where coalesce(date_published, fetched_at) >= ? order by article_id",
            [since],
        ).fetchall()
    return [Article(**dict(zip(chosen, row))) for row in rows]


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


@dataclass
class Processed:
    """What the stages after fetch made of a run's pages."""

    rejections: list[Rejection]
    new: list[Article]
    updated: list[Article]
    unchanged: list[Article]
    prints: list[Fingerprint]
    duplicates: DedupResult
    enriched: list[ArticleEnrichment]
    entities: Resolution
    stories: StoryResult

    @property
    def changed(self) -> list[Article]:
        """The articles to land: new ones and new versions."""
        return self.new + self.updated


def tally_run(report: RunReport, frontier: Frontier | None, feed_pages: list[Page], pages: list[Page], processed: Processed) -> None:
    """Fill the report's counts from the stages' results (no frontier: a backfill, nothing fetched)."""
    rejections, new, updated, unchanged = processed.rejections, processed.new, processed.updated, processed.unchanged
    duplicates, mentions, stories = processed.duplicates, processed.entities.mentions, processed.stories
    attempts = feed_pages + pages
    final = final_outcomes(attempts, rejections)
    outcomes = Counter(final)
    report.outcomes = {name: count for name, count in sorted(outcomes.items()) if count}
    report.by_source = summarise_sources(report.sources, attempts, final, new + updated + unchanged)
    report.pages_fetched = sum(1 for p in pages if p.outcome == "ok")
    report.pages_failed = sum(1 for p in attempts if p.outcome not in SUCCESS_OUTCOMES)
    if frontier is not None:
        report.pages_skipped = frontier.skipped_landed
        report.pages_resting = frontier.skipped_failing
        report.url_variants = frontier.url_variants
    report.articles_new, report.articles_updated, report.articles_unchanged = len(new), len(updated), len(unchanged)
    report.exact_duplicates, report.near_duplicates = duplicates.exact, duplicates.near + duplicates.teasers
    report.entities = len(mentions)
    if stories is not None:
        report.stories_new, report.stories_grown = stories.new, stories.grown


def final_outcomes(pages: list[Page], rejections: list[Rejection]) -> list[str]:
    """Each attempt's outcome once every stage has spoken: a page that yielded no article says why."""
    rejected = {r.url: r.outcome for r in rejections}
    return [rejected.get(page.url, page.outcome) if page.kind == "page" else page.outcome for page in pages]


def summarise_sources(names: list[str], pages: list[Page], outcomes: list[str], articles: list[Article]) -> dict[str, dict]:
    """Per source (in run order): page attempts, articles extracted, and every attempt's outcome counted."""
    def empty() -> dict:
        return {"pages": 0, "articles": 0, "outcomes": Counter()}

    summary = defaultdict(empty, {name: empty() for name in names})
    for page, outcome in zip(pages, outcomes):
        summary[page.source]["pages"] += page.kind == "page"
        summary[page.source]["outcomes"][outcome] += 1
    for article in articles:
        summary[article.source]["articles"] += 1
    return {name: {**tally, "outcomes": dict(sorted(tally["outcomes"].items()))} for name, tally in summary.items()}


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
                "content_hash", "warc_file", "warc_offset",
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
        digest = page.content_hash or html_hash(page.html)
        if (page.url, digest) not in seen:
            seen.add((page.url, digest))
            rows.append(
                {"url": page.url, "final_url": page.final_url, "source": page.source, "html_hash": digest,
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


def enrichment_rows(enrichments: list[ArticleEnrichment]) -> Iterator[dict]:
    """`article_enrichments` rows: one per article, with each model's name and version."""
    return (
        {
            "article_id": e.article_id, "language": e.language, "keywords": e.keywords,
            "keyword_scores": e.keyword_scores, "tone": e.tone, "entity_count": len(e.mentions),
            "acronyms": e.acronyms, "ner_model": e.models.get("ner"), "keyword_model": e.models.get("keywords"),
            "tone_model": e.models.get("tone"),
        }
        for e in enrichments
    )


def write_enrichment(warehouse: Path, run_id: str, enrichments: list[ArticleEnrichment], resolution: Resolution) -> None:
    """Write a run's enrichment parts: per article, per mention, and the new entities and aliases."""
    models = {e.article_id: e.models.get("ner") for e in enrichments}
    votes = label_vote_rows(warehouse, enrichments, resolution.mentions)
    db.write_part(warehouse, "article_enrichments", run_id, enrichment_rows(enrichments))
    db.write_part(
        warehouse, "article_entities", run_id,
        # vars(), not dataclasses.asdict: a mention's fields are all scalars, and asdict's deep
        # copy of each took seconds over a large run's mentions. A generator, as the other
        # large parts': write_part makes a row group's rows at a time.
        ({**vars(m), "model": models.get(m.article_id)} for m in resolution.mentions),
    )
    db.write_part(warehouse, "entity_label_votes", run_id, votes)
    db.write_part(warehouse, "entities", run_id, resolution.entities)
    db.write_part(warehouse, "entity_aliases", run_id, resolution.aliases)


def label_vote_rows(warehouse: Path, enrichments: list[ArticleEnrichment], mentions: list[EntityMention]) -> list[dict]:
    """A run's `entity_label_votes` rows: per entity and label, the mentions it writes less the
    current mentions of the articles it enriches (its enrichments replace them). Read before the
    run commits, so "current" is what earlier runs left."""
    votes = Counter((m.entity_id, m.label) for m in mentions if m.entity_id is not None)
    ids = [e.article_id for e in enrichments]
    if ids:
        with db.connect(warehouse) as con:
            con.register("batch_ids", pa.table({"article_id": ids}))
            # Only articles landed before have mentions to replace. Most of an ingest's are new,
            # and finding which are landed reads one narrow column of `articles` (an id an article),
            # where the mentions' read scans `article_entities` (some 40 ids an article): in a
            # 30,000-page ingest it took 2.5 times as long a slice at the end as at the start
            # (py-spy samples), to find no row.
            landed = con.execute(
                "select distinct article_id from article_versions where article_id in (select article_id from batch_ids)"
            ).fetchall()
            replaced = [] if not landed else con.execute(
                """
                select entity_id, label, count(*)
                from article_entities_among($landed)
                where entity_id is not null
                group by entity_id, label
                """,
                {"landed": [article_id for (article_id,) in landed]},
            ).fetchall()
        for entity_id, label, count in replaced:
            votes[(entity_id, label)] -= count
    return [{"entity_id": e, "label": label, "mentions": n} for (e, label), n in sorted(votes.items()) if n]


def commit_run(warehouse: Path, report: RunReport) -> RunReport:
    """Write the run's `runs` row, which commits every part it wrote."""
    report.finished_at = datetime.now(timezone.utc)
    db.write_part(warehouse, "runs", report.run_id, [run_row(report)])
    return report


def article_rows(articles: list[Article]) -> Iterator[dict]:
    """`articles` rows: every Article field plus its word count."""
    return ({**dataclasses.asdict(a), "word_count": len(a.text.split())} for a in articles)


def land_run(
    warehouse: Path,
    report: RunReport,
    pages: list[Page],
    rejections: list[Rejection],
    articles: list[Article],
    prints: list[Fingerprint],
    enrichments: list[ArticleEnrichment],
    resolution: Resolution,
    links: list[DuplicateLink] = (),
) -> RunReport:
    """Write the run's parts, then its `runs` row, which commits them all at once.

    Args:
        warehouse: the warehouse folder (the caller holds its writer lock).
        report: the run's counts so far; finished_at is set here.
        pages: every fetch attempt of the run (feeds and pages).
        rejections: fetched pages that yielded no article, with their outcome.
        articles: the new and updated articles only (unchanged ones are not written again).
        prints: the fingerprints of those articles (their LSH bands go to the index).
        enrichments: the enrichments of those articles.
        resolution: their mentions resolved to entities, and the entities and aliases first seen.
        links: landed articles dedup re-pointed at a new canonical (rows of `duplicate_links`).

    Returns:
        The report as committed.
    """
    db.write_part(warehouse, "fetches", report.run_id, fetch_rows(pages, rejections))
    db.write_part(warehouse, "raw_pages", report.run_id, _new_raw_pages(warehouse, raw_page_rows(pages)))
    db.write_part(warehouse, "articles", report.run_id, article_rows(articles))
    db.write_part(warehouse, "duplicate_links", report.run_id, [dataclasses.asdict(link) for link in links])
    write_enrichment(warehouse, report.run_id, enrichments, resolution)
    landed = {a.article_id for a in articles}
    db.write_part(
        warehouse, "article_bands", report.run_id,
        ({"article_id": p.article_id, "band": i, "hash": h} for p in prints if p.article_id in landed for i, h in enumerate(p.bands)),
    )
    return commit_run(warehouse, report)


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


@task(name="select-changed-articles", cache_policy=NO_CACHE)
def select_changed(warehouse: Path, extracted: tuple[list[Article], list[Rejection]]) -> list[Article]:
    """Prefect task: an extracted batch's articles that are new or whose text changed.

    The run decides again over all its batches (`split_by_version`); this early look lets a
    batch be fingerprinted and enriched while the next ones are still being fetched.
    """
    articles, _ = extracted
    new, updated, _ = split_by_version(articles, read_known_versions(warehouse, [a.article_id for a in articles]))
    return new + updated


@task(name="read-dedup-candidates", cache_policy=NO_CACHE)
def read_candidates(warehouse: Path, prints: list[Fingerprint], articles: list[Article], settings: DedupSettings) -> list[KnownArticle]:
    """Prefect task: landed articles that may be copies of the batch's."""
    return read_dedup_candidates(warehouse, prints, [a.content_hash for a in articles], settings)


@task(name="read-story-state", cache_policy=NO_CACHE)
def read_stories(
    warehouse: Path, articles: list[Article], settings: StoriesSettings, window: StoryWindow | None = None
) -> tuple[list[StoryArticle], dict[str, str]]:
    """Prefect task: the window's landed articles and the stories the batch refers to."""
    return read_story_state(warehouse, articles, settings, window)


@task(name="read-entity-aliases", cache_policy=NO_CACHE)
def read_aliases(warehouse: Path, enrichments: list[ArticleEnrichment]) -> dict[str, KnownEntity]:
    """Prefect task: the known entities the batch's names and acronyms point at."""
    return read_entity_aliases(warehouse, enrichments)


@task(name="read-articles-since", cache_policy=NO_CACHE)
def read_since(warehouse: Path, since: datetime) -> list[Article]:
    """Prefect task: the landed articles to re-enrich."""
    return read_articles_since(warehouse, since)


@task(name="land-enrichment", cache_policy=NO_CACHE)
def land_enrichment(warehouse: Path, report: RunReport, enrichments: list[ArticleEnrichment], resolution: Resolution) -> RunReport:
    """Prefect task: write a re-enrichment run's parts and commit it."""
    write_enrichment(warehouse, report.run_id, enrichments, resolution)
    report.entities = len(resolution.mentions)
    return commit_run(warehouse, report)


@task(name="compact-warehouse", cache_policy=NO_CACHE)
def compact_warehouse(warehouse: Path, settings: WarehouseSettings) -> dict[str, int]:
    """Prefect task: merge the parts that have piled up (see `compact_parts`)."""
    return compact_parts(warehouse, settings)


@task(name="land-run", cache_policy=NO_CACHE)
def land(warehouse: Path, report: RunReport, pages: list[Page], processed: Processed) -> RunReport:
    """Prefect task: write the run's parts and commit it."""
    return land_run(
        warehouse, report, pages, processed.rejections, processed.changed, processed.prints, processed.enriched,
        processed.entities, list(processed.duplicates.links.values()),
    )


def read_source_health(warehouse: Path, run_id: str, settings) -> list[dict]:
    """Per source: the run's yield and failure rates against its recent baseline, with a state.

    Args:
        warehouse: the warehouse folder.
        run_id: a committed run.
        settings: the serve section (baseline size and warning thresholds).
    """
    params = {
        "run_id": run_id,
        "baseline_runs": settings.health_baseline_runs,
        "yield_drop": settings.health_yield_drop,
        "max_failure_rate": settings.health_max_failure_rate,
    }
    with db.connect(warehouse) as con:
        cursor = con.execute(db.query_text("source_health"), params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


@task(name="read-source-health", cache_policy=NO_CACHE)
def read_health(warehouse: Path, run_id: str, settings) -> list[dict]:
    """Prefect task: the run's per-source health table."""
    return read_source_health(warehouse, run_id, settings)


def read_raw_pages(warehouse: Path, since: datetime, until: datetime) -> list[Page]:
    """The newest stored HTML of every URL fetched in [since, until), as pages to extract again."""
    with db.connect(warehouse) as con:
        rows = con.execute(
            """
            with in_range as (
                select url, final_url, source, html, fetched_at
                from raw_pages
                where fetched_at >= ? and fetched_at < ?
            ),
            final as (
                select * from in_range
                qualify row_number() over (partition by url order by fetched_at desc) = 1
                order by fetched_at, url
            )
            select * from final
            """,
            [since, until],
        ).fetchall()
    return [
        Page(url=url, source=source, outcome="ok", fetched_at=fetched_at, final_url=final_url, html=html)
        for url, final_url, source, html, fetched_at in rows
    ]


@task(name="read-raw-pages", cache_policy=NO_CACHE)
def read_stored_pages(warehouse: Path, since: datetime, until: datetime) -> list[Page]:
    """Prefect task: stored pages to extract again."""
    return read_raw_pages(warehouse, since, until)
