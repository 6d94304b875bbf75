"""The frontier: which discovered URLs this run fetches, given what the warehouse already holds.

Two rules live here, as pure functions of the state `load.read_frontier_state` reads:

- Listings (feeds, child sitemaps) are asked conditionally, but a content hash decides: see
  `listing_validators`.
- A failed URL is retried by later runs with a backoff in time, until it has failed
  `fetch.max_failed_attempts` times: see `retry_due`. It is never deleted: its attempts stay in
  `fetches`, and `wirehouse sources` counts it as given up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wirehouse.config.settings import FetchSettings
from wirehouse.tasks.records import Target
from wirehouse.tasks.urls import url_article_id


@dataclass
class ListingState:
    """What the last successful fetches of a feed or sitemap left."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None  # of the last body received (a 304 carries it over)
    read_at: datetime | None  # when its body was last parsed (outcome "ok")
    validators_lie: bool = False  # two different bodies were served under one ETag or Last-Modified


@dataclass
class FailedUrl:
    """A URL whose latest attempt failed: how often since its last success, and when last."""

    target: Target
    failures: int
    last_attempt: datetime


@dataclass
class FrontierState:
    """What earlier runs left: URLs landed recently, failed URLs, listings' validators."""

    landed: set[str] = field(default_factory=set)  # url ids fetched successfully within the refetch window
    retry: list[Target] = field(default_factory=list)  # failed URLs due for another attempt
    resting: set[str] = field(default_factory=set)  # url ids of failed URLs backing off or given up
    listings: dict[str, ListingState] = field(default_factory=dict)  # per feed/sitemap URL


@dataclass
class Frontier:
    """The targets to fetch, and what was left out."""

    targets: list[Target]
    skipped_landed: int = 0  # already landed and not due for a refetch
    skipped_failing: int = 0  # failed before, backing off or given up
    url_variants: int = 0  # other spellings (tracking parameters, AMP) of a URL already queued
    retried: int = 0  # failures of earlier runs fetched again


def listing_validators(state: ListingState | None, now: datetime, settings: FetchSettings) -> dict:
    """The conditional-request fields for a feed or child sitemap's Target, from its stored state.

    Feeds are known to send stale validators (an ETag that never changes while the items do), so
    what is stored is believed only while the listing's body was parsed recently: within
    `feed_recheck_hours`, and within `refetch_after_hours` (its items may be due for a refetch).
    After that the fetch is unconditional and the body is parsed whatever its hash. Before that,
    the target carries the last body hash (a 200 with the same body is recorded as not_modified
    and not parsed: the hash decides) and, unless the listing was caught serving two different
    bodies under one ETag or Last-Modified, its validators (a 304 means unchanged).

    Returns:
        The Target fields to set ("etag", "last_modified", "content_hash"), or {} for a plain fetch.
    """
    if state is None or state.read_at is None:
        return {}
    window = timedelta(hours=min(settings.feed_recheck_hours, settings.refetch_after_hours))
    if now - state.read_at >= window:
        return {}
    if state.validators_lie:
        return {"content_hash": state.content_hash}
    return {"etag": state.etag, "last_modified": state.last_modified, "content_hash": state.content_hash}


def retry_delay(failures: int, settings: FetchSettings) -> timedelta:
    """How long after its last attempt a URL that failed `failures` times waits: base * 2^(n-1), capped."""
    hours = settings.retry_backoff_hours * 2 ** max(failures - 1, 0)
    return timedelta(hours=min(hours, settings.retry_backoff_max_hours))


def retry_due(failed: FailedUrl, now: datetime, settings: FetchSettings) -> bool:
    """Whether a failed URL gets another attempt now: attempts left, and its backoff has passed."""
    return failed.failures < settings.max_failed_attempts and now >= failed.last_attempt + retry_delay(failed.failures, settings)


def split_failed(failed: list[FailedUrl], now: datetime, settings: FetchSettings) -> tuple[list[Target], set[str]]:
    """The failed URLs due for a retry now, and the url ids of the others (resting)."""
    due, resting = [], set()
    for item in failed:
        if retry_due(item, now, settings):
            due.append(item.target)
        else:
            resting.add(url_article_id(item.target.url))
    return due, resting


def plan_frontier(discovered: list[Target], state: FrontierState, allow_private: dict[str, bool]) -> Frontier:
    """Merge this run's discoveries with the retries owed, one target per canonical URL.

    Args:
        discovered: page targets found by the sources' listings, in order.
        state: what the warehouse says about earlier runs.
        allow_private: per source name, whether private addresses may be fetched; retries of
            sources not in this run are left for a run that has them.

    Returns:
        The frontier, each URL once under its first spelling. A URL that failed before is
        fetched only when due (see `retry_due`), even when a listing names it again.
    """
    frontier = Frontier(targets=[])
    seen: set[str] = set()
    retry_ids = {url_article_id(t.url) for t in state.retry}
    owed = [t for t in state.retry if t.source in allow_private]
    for target in [*discovered, *owed]:
        key = url_article_id(target.url)
        if key in seen:
            frontier.url_variants += 1
            continue
        seen.add(key)
        if key in state.resting:
            frontier.skipped_failing += 1
            continue
        if key in state.landed and key not in retry_ids:
            frontier.skipped_landed += 1
            continue
        target.allow_private = allow_private.get(target.source, target.allow_private)
        frontier.retried += key in retry_ids
        frontier.targets.append(target)
    return frontier
