"""The frontier: which discovered URLs this run fetches, given what the warehouse already holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from wirehouse.tasks.records import Target
from wirehouse.tasks.urls import url_article_id


@dataclass
class FrontierState:
    """What earlier runs left: URLs landed recently, URLs whose last attempts failed."""

    landed: set[str] = field(default_factory=set)  # url ids fetched successfully within the refetch window
    retry: list[Target] = field(default_factory=list)  # failed URLs still owed an attempt


@dataclass
class Frontier:
    """The targets to fetch, and what was left out."""

    targets: list[Target]
    skipped_landed: int = 0  # already landed and not due for a refetch
    url_variants: int = 0  # other spellings (tracking parameters, AMP) of a URL already queued
    retried: int = 0  # failures of earlier runs fetched again


def plan_frontier(discovered: list[Target], state: FrontierState, allow_private: dict[str, bool]) -> Frontier:
    """Merge this run's discoveries with the retries owed, one target per canonical URL.

    Args:
        discovered: page targets found by the sources' feeds and URL lists, in order.
        state: what the warehouse says about earlier runs.
        allow_private: per source name, whether private addresses may be fetched; retries of
            sources not in this run are left for a run that has them.

    Returns:
        The frontier, each URL once under its first spelling.
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
        if key in state.landed and key not in retry_ids:
            frontier.skipped_landed += 1
            continue
        target.allow_private = allow_private.get(target.source, target.allow_private)
        frontier.retried += key in retry_ids
        frontier.targets.append(target)
    return frontier

