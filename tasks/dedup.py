"""Dedup: exact copies by content hash, near copies and teasers by MinHash LSH, verified exactly.

Identity itself (one canonical URL, one article_id) is settled before this stage, by
tasks.urls: tracking parameters and AMP variants of one page are one article. This stage
finds different articles that carry the same text:

- an exact copy: the same folded text (same content hash);
- a near copy: word-shingle Jaccard at or above `near_threshold`, for example a wire story with
  a new headline and a trimmed paragraph;
- a teaser: a short opening excerpt of a longer article (a feed summary page, the first
  paragraphs behind a "read more"): at least `teaser_containment` of its shingles are found in
  the longer text while their Jaccard stays below `near_threshold`, it opens as the longer text
  does (they share a lede band, below), and it has at least `teaser_min_words` words.

Each copy points, through `duplicate_of`, at its group's canonical article: the earliest
member, unless that one is a teaser of a later, longer member. Then the longer text becomes
the canonical and every member points at it, whether they landed in this run or in earlier
ones; the landed ones are re-pointed through `DedupResult.links` (rows of `duplicate_links`),
so their own article versions are never rewritten.

LSH only proposes candidates; every candidate's Jaccard and containment are computed from the
shingles before a pair is called anything. Two band schemes propose them, both stored in the
warehouse's `article_bands` (one list per article, whole-text bands first):
- whole-text bands (`num_perm` / `band_rows`), tuned to propose pairs from a Jaccard around
  0.3 up, well below `near_threshold`;
- lede bands: a MinHash of the text's first `lede_words` words (`lede_num_perm` /
  `lede_band_rows`), so a teaser, whose Jaccard with its full article may be 0.1, still meets
  it: a teaser is an opening excerpt, and its opening is the full article's opening.
A containment index over whole texts (datasketch's LSH Ensemble) was not used: it partitions
by set size and is built once over all sets in memory, so it cannot be a join on a table that
every run appends to.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from rensa import RMinHash

from wirehouse.config.settings import DedupSettings
from wirehouse.tasks.records import Article

_WORD = re.compile(r"\w+")


@dataclass
class Fingerprint:
    """What dedup knows of one text: its shingles, its word count and its LSH band hashes."""

    article_id: str
    shingles: np.ndarray  # the shingles' hashes, sorted, unique (`shingle_hashes`)
    bands: list[int]  # whole-text bands, then lede bands (none for a text too short to be a teaser)
    words: int = 0


@dataclass
class KnownArticle:
    """An article already in the warehouse that may be a copy of a new one, or in a group one joins."""

    article_id: str
    content_hash: str
    text: str | None  # None: a member of a group the batch touches, to re-point, never compared
    duplicate_of: str | None
    duplicate_kind: str | None = None
    similarity: float | None = None
    story_id: str | None = None


@dataclass
class DuplicateLink:
    """A landed article's new place in its group: a `duplicate_links` row."""

    article_id: str
    duplicate_of: str
    duplicate_kind: str | None
    similarity: float | None


@dataclass
class DedupResult:
    """What assign_duplicates decided; the batch's articles themselves are updated in place."""

    exact: int = 0
    near: int = 0
    teasers: int = 0
    links: dict[str, DuplicateLink] = field(default_factory=dict)  # landed articles re-pointed, by id (the last move wins)


def normalize_text(text: str) -> str:
    """Fold case, accents' forms and punctuation so copies compare equal word for word."""
    return " ".join(_words(text))


def _words(text: str) -> list[str]:
    """The words of the normalized text (`normalize_text`), as a list."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _word_shingles(words: list[str], size: int) -> frozenset[str]:
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(map(" ".join, zip(*(words[i:] for i in range(size)))))


def shingle_hashes(grams: frozenset[str]) -> np.ndarray:
    """Shingles as a sorted array of their CRC-32s: 4 bytes a shingle, where a set of strings
    takes about 120 (a fingerprint went from 67 KB to 2 KB; a run holds one per new article).
    Two different shingles share a CRC about once in 4 billion pairs: no Jaccard moves."""
    return np.unique(np.fromiter((zlib.crc32(gram.encode()) for gram in grams), dtype=np.uint32, count=len(grams)))


def shingles(text: str, size: int) -> np.ndarray:
    """The `size`-word shingles of the normalized text (the whole text if shorter), hashed."""
    return shingle_hashes(_word_shingles(_words(text), size))


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.intersect1d(a, b, assume_unique=True))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two hashed shingle sets."""
    if not len(a) and not len(b):
        return 1.0
    shared = _shared(a, b)
    return shared / (len(a) + len(b) - shared)


def teaser_containment(short: Fingerprint, long: Fingerprint, settings: DedupSettings) -> float | None:
    """The share of `short`'s shingles found in `long` when `short` is a teaser of it, else None.

    A teaser has at least `teaser_min_words` words, fewer shingles than the longer text, at
    least `teaser_containment` of them in it, and a Jaccard with it below `near_threshold`
    (above, the two are near copies, whatever their lengths); and it opens as the longer text
    does (a digest page that quotes it further down contains it too, but is not its full text).
    """
    if short.words < settings.teaser_min_words or len(short.shingles) >= len(long.shingles):
        return None
    if not lede_agreement(short, long, settings):
        return None
    shared = _shared(short.shingles, long.shingles)
    containment = shared / len(short.shingles)
    union = len(short.shingles) + len(long.shingles) - shared
    if containment >= settings.teaser_containment and shared / union < settings.near_threshold:
        return containment
    return None


def lede_agreement(a: Fingerprint, b: Fingerprint, settings: DedupSettings) -> int:
    """How many lede bands two texts share (the lede bands follow the whole text's); 0: they open differently."""
    first = settings.num_perm // settings.band_rows
    return sum(x == y for x, y in zip(a.bands[first:], b.bands[first:]))


def band_hashes(signature: list[int], band_rows: int) -> list[int]:
    """One signed 64-bit hash per LSH band of `band_rows` signature rows (each row 4 bytes, little-endian)."""
    rows = np.asarray(signature, dtype="<u4").tobytes()
    step = band_rows * 4
    return [
        int.from_bytes(hashlib.blake2b(rows[start : start + step], digest_size=8).digest(), "little", signed=True)
        for start in range(0, len(rows) - step + 1, step)
    ]


def _minhash_bands(grams: frozenset[str], num_perm: int, band_rows: int, seed: int) -> list[int]:
    minhash = RMinHash(num_perm=num_perm, seed=seed)
    minhash.update(grams)  # a minimum over the set: its order makes no difference
    return band_hashes(minhash.digest(), band_rows)


def fingerprint(article_id: str, text: str, settings: DedupSettings) -> Fingerprint:
    """Shingle a text and hash its MinHash signatures into LSH bands: the whole text's, then its lede's."""
    words = _words(text)
    grams = _word_shingles(words, settings.shingle_size)
    bands = _minhash_bands(grams, settings.num_perm, settings.band_rows, settings.seed)
    if len(words) >= settings.teaser_min_words:
        lede = _word_shingles(words[: settings.lede_words], settings.shingle_size)
        bands += _minhash_bands(lede, settings.lede_num_perm, settings.lede_band_rows, settings.seed)
    return Fingerprint(article_id, shingle_hashes(grams), bands, len(words))


def fingerprint_articles(articles: list[Article], settings: DedupSettings) -> list[Fingerprint]:
    """Fingerprints of a batch, in the batch's order."""
    return [fingerprint(article.article_id, article.text, settings) for article in articles]


def _landing_order(article: Article) -> tuple:
    published = article.date_published or article.fetched_at or datetime.max.replace(tzinfo=timezone.utc)
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    return (published, article.url)


class _Groups:
    """Every article dedup compares against or may re-point: known ones, then the batch's.

    Holds each article's canonical (`root`), each canonical's members, the fingerprints of the
    comparable ones and a band index over them; re-pointing a group updates a batch article in
    place and records a link for a landed one.
    """

    def __init__(self, settings: DedupSettings, result: DedupResult):
        self.settings, self.result = settings, result
        self.root: dict[str, str] = {}
        self.members: dict[str, set[str]] = defaultdict(set)
        self.by_hash: dict[str, str] = {}
        self.buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
        self.prints: dict[str, Fingerprint] = {}
        self.batch: dict[str, Article] = {}
        self.landed: dict[str, KnownArticle] = {}

    def add(self, article_id: str, content_hash: str, duplicate_of: str | None, print_: Fingerprint | None) -> None:
        self.root[article_id] = duplicate_of or article_id
        if duplicate_of:
            self.members[duplicate_of].add(article_id)
        if print_ is None:
            return
        self.by_hash.setdefault(content_hash, article_id)
        self.prints[article_id] = print_
        for band, value in enumerate(print_.bands):
            self.buckets[(band, value)].append(article_id)

    def candidates(self, print_: Fingerprint) -> set[str]:
        """Articles sharing enough bands with the print (`shared_enough`), other than itself and its group's members."""
        whole = self.settings.num_perm // self.settings.band_rows
        shared: Counter[tuple[str, bool]] = Counter(
            (other, band < whole) for band, value in enumerate(print_.bands) for other in self.buckets.get((band, value), ())
        )
        found = {other for (other, _), count in shared.items() if count >= self.settings.min_shared_bands}
        return {other for other in found if other != print_.article_id and self.root[other] != print_.article_id}

    def best_near(self, print_: Fingerprint, candidates: set[str]) -> tuple[str, float] | None:
        scored = max(((jaccard(print_.shingles, self.prints[other].shingles), other) for other in candidates), default=None)
        if scored and scored[0] >= self.settings.near_threshold:
            return scored[1], scored[0]
        return None

    def best_full_text(self, print_: Fingerprint, candidates: set[str]) -> tuple[str, float] | None:
        """The candidate the print is a teaser of, if any: of several, the one whose opening it
        shares best (a digest page quoting it further down contains it as well), then the one
        containing the most of it."""
        scored = []
        for other in candidates:
            if (share := teaser_containment(print_, self.prints[other], self.settings)) is not None:
                scored.append((lede_agreement(print_, self.prints[other], self.settings), share, other))
        best = max(scored, default=None)
        return (best[2], best[1]) if best else None

    def teaser_roots(self, print_: Fingerprint, candidates: set[str]) -> dict[str, float]:
        """Canonicals of the candidates' groups that are teasers of the print, with their containment."""
        found = {}
        for root in {self.root[other] for other in candidates} - {print_.article_id}:
            if root in self.prints and (share := teaser_containment(self.prints[root], print_, self.settings)) is not None:
                found[root] = share
        return found

    def point(self, article_id: str, canonical: str, kind: str | None, similarity: float | None) -> None:
        """Make `canonical` the article's canonical: in place for the batch's, as a link for a landed one."""
        old = self.root.get(article_id, article_id)
        if old != article_id:
            self.members[old].discard(article_id)
        self.root[article_id] = canonical
        self.members[canonical].add(article_id)
        if article_id in self.batch:
            article = self.batch[article_id]
            if article.duplicate_kind is None and kind is not None:
                self._count(kind)
            article.duplicate_of, article.duplicate_kind, article.similarity = canonical, kind, similarity
        else:
            known = self.landed[article_id]
            known.duplicate_of, known.duplicate_kind, known.similarity = canonical, kind, similarity
            self.result.links[article_id] = DuplicateLink(article_id, canonical, kind, similarity)

    def move_group(self, old: str, new: str, kind: str | None = None, similarity: float | None = None) -> None:
        """Point `old`'s members, and `old` itself when a kind is given, at `new`."""
        for member in sorted(self.members.pop(old, set())):
            if member != new:
                self.point(member, new, *self._kind_of(member))
        if kind is not None:
            self.point(old, new, kind, similarity)

    def _kind_of(self, article_id: str) -> tuple[str | None, float | None]:
        record = self.batch.get(article_id) or self.landed[article_id]
        return record.duplicate_kind, record.similarity

    def _count(self, kind: str) -> None:
        if kind == "exact":
            self.result.exact += 1
        elif kind == "near":
            self.result.near += 1
        else:
            self.result.teasers += 1


def assign_duplicates(
    articles: list[Article],
    prints: list[Fingerprint],
    known: list[KnownArticle],
    settings: DedupSettings,
) -> DedupResult:
    """Mark each new article that copies a known or an earlier article of the batch.

    Articles go in landing order. Each joins the group of its exact twin, else of its best near
    copy, else of the longer text it is a teaser of; and any group whose canonical is a teaser
    of it is handed to it (or to the group it joined): the members, landed or not, point at the
    new canonical.

    Args:
        articles: new or changed articles; their duplicate fields are set in place.
        prints: their fingerprints, in the same order.
        known: warehouse articles that share a content hash or an LSH band with the batch, the
            canonicals of their groups, and (without text) the other members of those groups.
        settings: the dedup section.

    Returns:
        How many exact, near and teaser copies the batch holds, and the landed articles
        re-pointed at a new canonical.
    """
    result = DedupResult()
    groups = _Groups(settings, result)
    batch_ids = {article.article_id for article in articles}
    for other in known:
        if other.article_id not in batch_ids:
            groups.landed[other.article_id] = other
            print_ = None if other.text is None else fingerprint(other.article_id, other.text, settings)
            groups.add(other.article_id, other.content_hash, other.duplicate_of, print_)
    by_id = dict(zip((a.article_id for a in articles), prints))
    for article in sorted(articles, key=_landing_order):
        article.duplicate_of = article.duplicate_kind = article.similarity = None
        groups.batch[article.article_id] = article
        print_ = by_id[article.article_id]
        canonical, kind, similarity = _place(article, print_, groups)
        groups.add(article.article_id, article.content_hash, None, print_)
        if canonical != article.article_id:
            groups.point(article.article_id, canonical, kind, similarity)
            groups.move_group(article.article_id, canonical)  # an updated canonical that joined another group
    return result


def _place(article: Article, print_: Fingerprint, groups: _Groups) -> tuple[str, str | None, float | None]:
    """The article's canonical, and how it copies it; the groups whose canonical is its teaser are handed over."""
    twin = groups.by_hash.get(article.content_hash)
    if twin is not None and groups.root[twin] == article.article_id:
        twin = None
    candidates = groups.candidates(print_)
    joined: tuple[str, str, float] | None = None  # (matched article, kind, similarity)
    if twin is not None:
        joined = (twin, "exact", 1.0)
    elif near := groups.best_near(print_, candidates):
        joined = (near[0], "near", near[1])
    elif full := groups.best_full_text(print_, candidates):
        joined = (full[0], "teaser", full[1])
    absorbed = groups.teaser_roots(print_, candidates)
    target = groups.root[joined[0]] if joined else None
    canonical = article.article_id if target is None or target in absorbed else target
    for root, share in sorted(absorbed.items()):
        if root != canonical:
            groups.move_group(root, canonical, "teaser", round(share, 4))
    landed_roots = sorted(root for root in absorbed if root in groups.landed)
    if canonical == article.article_id and landed_roots and article.story_id is None:
        # The story follows the group: the full text joins the story its landed teaser is in
        # (the stories stage keeps a story_id found set; copies join their canonical's anyway).
        article.story_id = groups.landed[landed_roots[0]].story_id
    if canonical == article.article_id:
        return canonical, None, None
    return canonical, joined[1], round(joined[2], 4)


@task(name="fingerprint-articles", cache_policy=NO_CACHE)
def fingerprint_batch(articles: list[Article], settings: DedupSettings) -> list[Fingerprint]:
    """Prefect task: fingerprints for one batch of articles."""
    return fingerprint_articles(articles, settings)


@task(name="assign-duplicates", cache_policy=NO_CACHE)
def dedup_articles(
    articles: list[Article], prints: list[Fingerprint], known: list[KnownArticle], settings: DedupSettings
) -> DedupResult:
    """Prefect task: mark the run's exact, near and teaser copies against the warehouse and each other."""
    return assign_duplicates(articles, prints, known, settings)
