"""Dedup: exact copies by content hash, near-duplicates by MinHash LSH with the Jaccard verified.

Identity itself (one canonical URL, one article_id) is settled before this stage, by
tasks.urls: tracking parameters and AMP variants of one page are one article. This stage
finds different articles that carry the same text: an exact copy (same folded text) or a near
copy (word-shingle Jaccard at or above `near_threshold`, for example a wire story with a new
headline and a trimmed paragraph). Each copy points, through `duplicate_of`, at its group's
canonical article: the earliest one landed, so groups stay put as later runs add copies.

LSH only proposes candidates: the bands are tuned to propose pairs from a Jaccard around 0.4
up, well below the threshold, and every candidate's true Jaccard is computed from the
shingles before a pair is called a duplicate.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from prefect import task
from prefect.cache_policies import NO_CACHE
from rensa import RMinHash

from wirehouse.config.settings import DedupSettings
from wirehouse.tasks.records import Article

_WORD = re.compile(r"\w+")


@dataclass
class Fingerprint:
    """What dedup knows of one text: its shingles and its LSH band hashes."""

    article_id: str
    shingles: frozenset[str]
    bands: list[int]


@dataclass
class KnownArticle:
    """An article already in the warehouse that may be a copy of a new one."""

    article_id: str
    content_hash: str
    text: str
    duplicate_of: str | None


@dataclass
class DedupResult:
    """Counts of what assign_duplicates decided; the articles themselves are updated in place."""

    exact: int = 0
    near: int = 0
    pairs: list[tuple[str, str, str, float]] = field(default_factory=list)  # (copy, canonical, kind, jaccard)


def normalize_text(text: str) -> str:
    """Fold case, accents' forms and punctuation so copies compare equal word for word."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_WORD.findall(folded))


def shingles(text: str, size: int) -> frozenset[str]:
    """The set of `size`-word shingles of the normalized text (the whole text if shorter)."""
    words = normalize_text(text).split()
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def band_hashes(signature: list[int], band_rows: int) -> list[int]:
    """One signed 64-bit hash per LSH band of `band_rows` signature rows."""
    bands = []
    for start in range(0, len(signature) - band_rows + 1, band_rows):
        chunk = b"".join(value.to_bytes(4, "little") for value in signature[start : start + band_rows])
        digest = hashlib.blake2b(chunk, digest_size=8).digest()
        bands.append(int.from_bytes(digest, "little", signed=True))
    return bands


def fingerprint(article_id: str, text: str, settings: DedupSettings) -> Fingerprint:
    """Shingle a text and hash its MinHash signature into LSH bands."""
    grams = shingles(text, settings.shingle_size)
    minhash = RMinHash(num_perm=settings.num_perm, seed=settings.seed)
    minhash.update(sorted(grams))
    return Fingerprint(article_id, grams, band_hashes(minhash.digest(), settings.band_rows))


def fingerprint_articles(articles: list[Article], settings: DedupSettings) -> list[Fingerprint]:
    """Fingerprints of a batch, in the batch's order."""
    return [fingerprint(article.article_id, article.text, settings) for article in articles]


def _landing_order(article: Article) -> tuple:
    published = article.date_published or article.fetched_at or datetime.max.replace(tzinfo=timezone.utc)
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    return (published, article.url)


class _Index:
    """The in-memory view of every text dedup compares against: known articles, then the batch."""

    def __init__(self, settings: DedupSettings):
        self.settings = settings
        self.root: dict[str, str] = {}
        self.by_hash: dict[str, str] = {}
        self.buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
        self.shingles: dict[str, frozenset[str]] = {}

    def add(self, article_id: str, content_hash: str, duplicate_of: str | None, print_: Fingerprint) -> None:
        self.root[article_id] = duplicate_of or article_id
        self.by_hash.setdefault(content_hash, article_id)
        self.shingles[article_id] = print_.shingles
        for band, value in enumerate(print_.bands):
            self.buckets[(band, value)].append(article_id)

    def best_near(self, print_: Fingerprint) -> tuple[str, float] | None:
        candidates = {other for band, value in enumerate(print_.bands) for other in self.buckets.get((band, value), ())}
        candidates.discard(print_.article_id)
        scored = [(jaccard(print_.shingles, self.shingles[other]), other) for other in candidates]
        best = max(scored, default=None)
        if best and best[0] >= self.settings.near_threshold:
            return best[1], best[0]
        return None


def assign_duplicates(
    articles: list[Article],
    prints: list[Fingerprint],
    known: list[KnownArticle],
    settings: DedupSettings,
) -> DedupResult:
    """Mark each new article that copies a known or an earlier article of the batch.

    Args:
        articles: new or changed articles; their duplicate fields are set in place.
        prints: their fingerprints, in the same order.
        known: warehouse articles that share a content hash or an LSH band with the batch.
        settings: the dedup section.

    Returns:
        How many exact and near copies were found, and the pairs with their Jaccard.
    """
    index = _Index(settings)
    batch_ids = {article.article_id for article in articles}
    for other in known:
        if other.article_id not in batch_ids:
            index.add(other.article_id, other.content_hash, other.duplicate_of, fingerprint(other.article_id, other.text, settings))
    result = DedupResult()
    by_id = dict(zip((a.article_id for a in articles), prints))
    for article in sorted(articles, key=_landing_order):
        print_ = by_id[article.article_id]
        twin = index.by_hash.get(article.content_hash)
        near = None if twin else index.best_near(print_)
        if twin:
            _mark(article, index.root[twin], "exact", 1.0, result)
        elif near:
            _mark(article, index.root[near[0]], "near", near[1], result)
        else:
            article.duplicate_of = article.duplicate_kind = article.similarity = None
        index.add(article.article_id, article.content_hash, article.duplicate_of, print_)
    return result


def _mark(article: Article, canonical: str, kind: str, similarity: float, result: DedupResult) -> None:
    article.duplicate_of, article.duplicate_kind, article.similarity = canonical, kind, round(similarity, 4)
    result.pairs.append((article.article_id, canonical, kind, similarity))
    if kind == "exact":
        result.exact += 1
    else:
        result.near += 1


@task(name="fingerprint-articles", cache_policy=NO_CACHE)
def fingerprint_batch(articles: list[Article], settings: DedupSettings) -> list[Fingerprint]:
    """Prefect task: fingerprints for one batch of articles."""
    return fingerprint_articles(articles, settings)


@task(name="assign-duplicates", cache_policy=NO_CACHE)
def dedup_articles(
    articles: list[Article], prints: list[Fingerprint], known: list[KnownArticle], settings: DedupSettings
) -> DedupResult:
    """Prefect task: mark the run's exact and near copies against the warehouse and each other."""
    return assign_duplicates(articles, prints, known, settings)
