"""Stories: articles about one event, from any outlet and in any words, share a story_id.

Dedup answers "is this the same text?"; this stage answers "is this the same story?". Each
article becomes a TF-IDF vector over two kinds of terms: its named entities (from the enrich
stage, weighted up) and its keywords (content words of the title and body). A new article
joins the story of its most similar article landed within `window_days` of it when their
cosine reaches `threshold`; otherwise it starts a story of its own, whose id is its own
article id. Exact and near copies skip the vote and join their canonical's story.

Why entities first: two earthquakes in one week, or two matches of one team, share nearly all
their vocabulary (magnitude, tsunami, aftershock; kick-off, goal, coach) and a sentence
embedding puts them close together; what tells them apart is who and where (Hokkaido and
Sapporo against Atacama and Copiapo; the opponent, the stadium, the scorer). Rare shared names
weigh most under IDF, and the date window keeps a team's next match out of last week's story.

The window is incremental: `StoryIndex` holds the articles of the window (read back from the
warehouse by the load stage, or kept in memory by a long-running caller) and evicts the ones
that fall out of it, so the work per article does not grow with the warehouse.
"""

from __future__ import annotations

import heapq
import math
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from datetime import datetime, timedelta, timezone

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import StoriesSettings
from wirehouse.tasks.records import Article, EntityMention

_WORD = re.compile(r"[^\W\d_]+")  # letters only: "bank's" is "bank" and "s", "covid-19" is "covid"
_ENTITY_NOISE = re.compile(r"^(?:the|a|an)\s+|['’]s$")
_ENTITY = "e:"  # prefix that keeps an entity term apart from the same word used as a keyword
# A vector keeps its heaviest terms only: they carry the event (names, rare words), and a
# bounded vector keeps a comparison's cost and a window's memory bounded for long texts too.
VECTOR_TERMS = 64


@dataclass
class StoryArticle:
    """What story assignment knows of one article: when it happened, its words, its story."""

    article_id: str
    when: datetime
    title: str | None
    text: str
    entities: list[str]
    story_id: str | None = None
    duplicate_of: str | None = None


@dataclass
class StoryResult:
    """What assign_stories decided: each article's story, and how many stories began or grew."""

    story_of: dict[str, str] = field(default_factory=dict)
    new: int = 0
    grown: int = 0
    scores: dict[str, float] = field(default_factory=dict)  # article_id -> cosine of the match it joined


@cache
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # a plain word list: no model is loaded

    return frozenset(STOP_WORDS)


@lru_cache(maxsize=1 << 16)
def normalize_entity(text: str) -> str:
    """One spelling per name: case and accents' forms folded, "the" and a possessive dropped."""
    folded = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return _ENTITY_NOISE.sub("", _ENTITY_NOISE.sub("", folded)).strip()


def keywords(text: str) -> list[str]:
    """Content words of a text: letters only, stop words and short words dropped, plural folded."""
    return [form for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()) if (form := _keyword_form(word))]


@lru_cache(maxsize=1 << 17)
def _keyword_form(word: str) -> str | None:
    """A word as a keyword (plural folded, interned), None for a stop word or a short one.

    Cached: news text repeats its words, and a run asks this for every word of every article.
    """
    if len(word) < 4 or word in _stop_words():
        return None
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return sys.intern(word)


def story_terms(article: StoryArticle) -> Counter[str]:
    """Term counts of an article: its entity names (prefixed) and its keywords, the title's twice.

    Terms are interned: a window of many thousand articles then holds each word once, not once
    an article (33 KiB an article in the index before, most of it copies of the same words).
    """
    terms = Counter(keywords(article.text))
    if article.title:
        for word in keywords(article.title):
            terms[word] += 2
    terms.update(sys.intern(_ENTITY + key) for name in article.entities if (key := normalize_entity(name)))
    return terms


@dataclass(slots=True)
class _Member:
    """A window article as compact arrays: about 2 KiB where dicts and tuples of terms took 5-6."""

    article_id: str
    when: datetime
    story_id: str
    terms: np.ndarray  # int32 ids of every term it counted in the document frequencies
    vector_terms: np.ndarray  # int32 ids of its vector's terms, heaviest first
    vector_weights: np.ndarray  # float32, their weights


class StoryIndex:
    """The articles of the story window: their vectors, an inverted index and document counts.

    Document frequencies count every article observed and still in the window; a vector is
    weighted with the frequencies of the moment it is added and kept as it is (recomputing
    every member's vector as the window moves would make each article cost the whole window).
    Terms are numbered (`term_ids`), so members, counts and postings hold small integers; a term
    no member holds any more gives its number back for a new term, so the vocabulary is the
    window's, not the run's. At most `max_window_articles` members are kept: past that the
    oldest tenth leaves early.
    """

    def __init__(self, settings: StoriesSettings):
        self.settings = settings
        self.members: dict[str, _Member] = {}
        self.term_ids: dict[str, int] = {}
        self._terms: list[str] = []  # term id -> term
        self._free_ids: list[int] = []  # the numbers of terms no member holds any more
        self.entity_terms: set[int] = set()  # the ids of entity names (weighed up)
        self.df: Counter[int] = Counter()
        self.docs = 0
        self.postings: dict[int, list[str]] = defaultdict(list)
        self._expiry: list[tuple[datetime, str]] = []
        self._scratch = np.zeros(0)  # a query's weights by term id, zero elsewhere (`_cosines`)

    def ids_of(self, terms: Counter[str]) -> dict[int, int]:
        """A document's term counts keyed by term id (new terms numbered as they come)."""
        ids, counts = self.term_ids, {}
        for term, count in terms.items():
            term_id = ids.get(term)
            if term_id is None:
                term_id = ids[term] = self._number(term)
                if term.startswith(_ENTITY):
                    self.entity_terms.add(term_id)
            counts[term_id] = count
        return counts

    def _number(self, term: str) -> int:
        if self._free_ids:
            term_id = self._free_ids.pop()
            self._terms[term_id] = term
            return term_id
        self._terms.append(term)
        return len(self._terms) - 1

    def observe(self, terms: dict[int, int]) -> None:
        """Count a document's terms (`ids_of`) in the window's document frequencies."""
        self.docs += 1
        self.df.update(terms.keys())

    def vector(self, terms: dict[int, int]) -> dict[int, float]:
        """The unit TF-IDF vector of a document's heaviest terms, heaviest first; entities weigh more."""
        log_docs, entity_weight, df, entities = _log1p(self.docs), self.settings.entity_weight, self.df, self.entity_terms
        weights = []
        for term, count in terms.items():
            weight = (1.0 + _log1p(count - 1)) * (log_docs - _log1p(df.get(term, 0)) + 1.0)
            weights.append((weight * entity_weight if term in entities else weight, term))
        top = heapq.nlargest(VECTOR_TERMS, weights)
        norm = math.sqrt(sum(w * w for w, _ in top)) or 1.0
        return {term: w / norm for w, term in top}

    def add(self, article_id: str, when: datetime, story_id: str, terms: dict[int, int], vector: dict[int, float] | None = None) -> None:
        """Put an observed article in the window as a member of `story_id` (replacing its earlier version)."""
        vector = vector or self.vector(terms)
        self._withdraw(article_id)
        self.members[article_id] = _Member(
            article_id, when, story_id, np.fromiter(terms, np.int32, len(terms)),
            np.fromiter(vector, np.int32, len(vector)), np.fromiter(vector.values(), np.float32, len(vector)),
        )
        for term in self._lookup_terms(vector):
            self.postings[term].append(article_id)
        heapq.heappush(self._expiry, (when, article_id))
        cap = self.settings.max_window_articles
        if len(self.members) > cap:  # a tenth at once: an eviction walks the postings
            self._evict(lambda _oldest: len(self.members) > cap * 0.9)

    def _withdraw(self, article_id: str) -> None:
        """Take a member's earlier version out of the counts and postings (an updated article)."""
        old = self.members.get(article_id)
        if old is None:
            return
        self.docs -= 1
        self.df.subtract(old.terms.tolist())
        for term in old.vector_terms[: self.settings.lookup_terms].tolist():
            ids = self.postings[term]
            ids.remove(article_id)
            if not ids:
                del self.postings[term]

    def _lookup_terms(self, vector: dict[int, float]) -> list[int]:
        return list(vector)[: self.settings.lookup_terms]  # vectors are built heaviest first

    def evict_before(self, when: datetime) -> int:
        """Drop the members older than `when` (and their counts); returns how many."""
        return self._evict(lambda oldest: oldest < when)

    def _evict(self, while_oldest) -> int:
        """Drop the oldest members while `while_oldest(their time)` holds; returns how many."""
        dropped = set()
        while self._expiry and while_oldest(self._expiry[0][0]):
            _, article_id = heapq.heappop(self._expiry)
            member = self.members.pop(article_id, None)
            if member is None:
                continue
            dropped.add(article_id)
            self.docs -= 1
            self.df.subtract(member.terms.tolist())
        if dropped:
            touched = {term for term, ids in self.postings.items() if any(i in dropped for i in ids)}
            for term in touched:
                kept = [i for i in self.postings[term] if i not in dropped]
                if kept:
                    self.postings[term] = kept
                else:
                    del self.postings[term]
            self._forget_terms([term for term, count in self.df.items() if count <= 0])
        return len(dropped)

    def _forget_terms(self, dead: list[int]) -> None:
        """Drop the counts of terms no member holds (they fell to zero) and free their numbers."""
        for term_id in dead:
            del self.df[term_id]
            del self.term_ids[self._terms[term_id]]
            self._terms[term_id] = ""
            self.entity_terms.discard(term_id)
        self._free_ids.extend(dead)

    def best_match(self, article_id: str, when: datetime, vector: dict[int, float]) -> tuple[str, float] | None:
        """The member most similar to a document's vector within the window, and the cosine, if any."""
        shared: Counter[str] = Counter()
        for term in self._lookup_terms(vector):
            ids = self.postings.get(term, ())
            if len(ids) <= self.settings.max_postings:
                shared.update(ids)
        shared.pop(article_id, None)
        window = timedelta(days=self.settings.window_days)
        others = [
            other for other_id, _ in shared.most_common(self.settings.max_candidates)
            if abs((other := self.members[other_id]).when - when) <= window and len(other.vector_terms)
        ]
        if not others:
            return None
        scores = self._cosines(vector, others)
        best = int(scores.argmax())  # the first of equals, in order of shared lookup terms
        return others[best].article_id, float(scores[best])

    def _cosines(self, vector: dict[int, float], others: list[_Member]) -> np.ndarray:
        """The cosine of a vector with each member's, in one pass over their concatenated arrays."""
        if len(self._scratch) < len(self._terms):
            self._scratch = np.zeros(2 * len(self._terms))
        ids = np.fromiter(vector, np.int64, len(vector))
        self._scratch[ids] = np.fromiter(vector.values(), np.float64, len(vector))
        terms = np.concatenate([other.vector_terms for other in others])
        weights = np.concatenate([other.vector_weights for other in others])
        starts = np.cumsum([0] + [len(other.vector_terms) for other in others[:-1]])
        scores = np.add.reduceat(self._scratch[terms] * weights, starts)
        self._scratch[ids] = 0.0
        return scores


@lru_cache(maxsize=1 << 16)
def _log1p(n: int) -> float:
    return math.log(n + 1)


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def assign_into(index: StoryIndex, batch: list[StoryArticle], known_stories: dict[str, str] | None = None) -> StoryResult:
    """Give each article of a batch a story, adding it to the index; the index keeps growing.

    Articles go in time order, except that a copy whose canonical is in the batch comes right
    after it (a teaser may be published before the full text it copies). One whose id already
    has a story (an updated article) keeps it; a copy joins its canonical's story; an article
    that arrives with a story (dedup hands a full text the story of its landed teaser) joins
    it; any other joins its best match's story when the cosine reaches the threshold, or starts
    its own.
    """
    known_stories = dict(known_stories or {})
    grown: set[str] = set()
    result = StoryResult()
    ordered = _canonicals_first(batch)
    terms = {a.article_id: index.ids_of(story_terms(a)) for a in ordered}
    for article in ordered:
        index.observe(terms[article.article_id])
    before = {m.story_id for m in index.members.values()} | set(known_stories.values())
    for article in ordered:
        when = _utc(article.when)
        kept = known_stories.get(article.article_id)
        story = kept or _story_of(article.duplicate_of, index, known_stories, result) or article.story_id
        vector = index.vector(terms[article.article_id])
        if story is None:
            match = index.best_match(article.article_id, when, vector)
            if match and match[1] >= index.settings.threshold:
                story = index.members[match[0]].story_id
                result.scores[article.article_id] = round(match[1], 4)
        story = story or article.article_id
        result.story_of[article.article_id] = story
        if kept:
            pass  # an updated article neither starts nor grows its story
        elif story in before:
            grown.add(story)
        elif story == article.article_id:
            result.new += 1
        index.add(article.article_id, when, story, terms[article.article_id], vector)
    result.grown = len(grown)
    return result


def _canonicals_first(batch: list[StoryArticle]) -> list[StoryArticle]:
    """Time order, a copy of a batch article right after its canonical when that comes later."""
    when = {a.article_id: (_utc(a.when), a.article_id) for a in batch}

    def key(article: StoryArticle) -> tuple:
        own = when[article.article_id]
        canonical = when.get(article.duplicate_of)
        return (own, 0, "") if canonical is None or canonical <= own else (canonical, 1, article.article_id)

    return sorted(batch, key=key)


def _story_of(article_id: str | None, index: StoryIndex, known: dict[str, str], result: StoryResult) -> str | None:
    if article_id is None:
        return None
    if article_id in result.story_of:
        return result.story_of[article_id]
    if article_id in index.members:
        return index.members[article_id].story_id
    return known.get(article_id)


def build_index(recent: list[StoryArticle], settings: StoriesSettings) -> StoryIndex:
    """An index of the window's landed articles, each in its story (its own id when it has none)."""
    return extend_index(StoryIndex(settings), recent)


def extend_index(index: StoryIndex, recent: list[StoryArticle]) -> StoryIndex:
    """Add landed articles the index does not hold yet, each in its story."""
    terms = [(article, index.ids_of(story_terms(article))) for article in recent if article.article_id not in index.members]
    for _, counts in terms:
        index.observe(counts)
    for article, counts in terms:
        index.add(article.article_id, _utc(article.when), article.story_id or article.article_id, counts)
    return index


@dataclass
class StoryWindow:
    """The story index an ingest carries from one committed slice (`run.commit_every`) to the next.

    Read afresh for every slice, the window would bring back all that the run's earlier slices
    landed and score it again: work growing with the run. The window holds the index, the time
    spans already read into it from the warehouse, and the runs of the ingest's own slices,
    whose articles it added as it assigned them. It grows with the articles of the window (the
    story index), not with the pages the run fetched.
    """

    index: StoryIndex | None = None
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    def unread(self, bounds: tuple[datetime, datetime]) -> list[tuple[datetime, datetime]]:
        """The parts of `bounds` that no earlier read covered."""
        low, high = bounds
        parts, cursor = [], low
        for start, end in sorted(self.spans):
            if start > high:
                break
            if start > cursor:
                parts.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < high:
            parts.append((cursor, high))
        return parts

    def mark_read(self, bounds: tuple[datetime, datetime]) -> None:
        self.spans.append(bounds)

    def extended(self, recent: list[StoryArticle], settings: StoriesSettings) -> StoryIndex:
        """The carried index with the newly read articles added (a new one at the first slice)."""
        self.index = extend_index(self.index or StoryIndex(settings), recent)
        return self.index


def story_articles(articles: list[Article], mentions: list[EntityMention]) -> list[StoryArticle]:
    """The batch's articles as story assignment sees them, each with its entity names."""
    names: dict[str, list[str]] = defaultdict(list)
    for mention in mentions:
        names[mention.article_id].append(mention.text)
    return [
        StoryArticle(
            a.article_id, a.date_published or a.fetched_at, a.title, a.text, names[a.article_id],
            story_id=a.story_id, duplicate_of=a.duplicate_of,
        )
        for a in articles
    ]


def window_bounds(articles: list[Article], settings: StoriesSettings) -> tuple[datetime, datetime] | None:
    """The time span of landed articles a batch can join: its own span widened by the window."""
    if not articles:
        return None
    times = [_utc(a.date_published or a.fetched_at) for a in articles]
    window = timedelta(days=settings.window_days)
    return min(times) - window, max(times) + window


def assign_stories(
    articles: list[Article],
    mentions: list[EntityMention],
    recent: list[StoryArticle],
    known_stories: dict[str, str],
    settings: StoriesSettings,
    window: StoryWindow | None = None,
) -> StoryResult:
    """Set `story_id` on each new or changed article of a run.

    Args:
        articles: the run's new and updated articles, dedup already applied; `story_id` is set
            in place.
        mentions: their entity mentions (from the enrich stage).
        recent: landed articles within the window of the batch, with their entities and stories.
        known_stories: story ids of landed articles the batch refers to: updated articles
            themselves and the canonicals of copies.
        settings: the stories section.
        window: the index carried across an ingest's slices (`recent` is then what it lacked).

    Returns:
        Each article's story, and how many stories the run started and grew.
    """
    index = window.extended(recent, settings) if window else build_index(recent, settings)
    result = assign_into(index, story_articles(articles, mentions), known_stories)
    for article in articles:
        article.story_id = result.story_of[article.article_id]
    return result


@task(name="assign-stories", cache_policy=NO_CACHE)
def assign_story_ids(
    articles: list[Article],
    mentions: list[EntityMention],
    recent: list[StoryArticle],
    known_stories: dict[str, str],
    settings: StoriesSettings,
    window: StoryWindow | None = None,
) -> StoryResult:
    """Prefect task: group the run's articles into stories with the window's landed ones."""
    return assign_stories(articles, mentions, recent, known_stories, settings, window)
