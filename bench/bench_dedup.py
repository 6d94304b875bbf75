"""Near-duplicates and stories: pairwise quality on a labelled set, and time and memory at scale.

Quality. The labelled set is built at bench time from text the project may use:
  - the bundled sample site (its wire copies are near-duplicates; its events, covered by several
    outlets in their own words, are stories; its negative pairs are look-alike events: two
    earthquakes in one week, two matches of one team);
  - the two seed reports in ../shared/seeds/ (one event, two outlets, not copies);
  - article bodies from ../shared/data/extraction/*/pages.jsonl (gold "text"), each an event of
    its own, with generated copies: exact copies under other URLs, and syndicated copies edited
    as syndication edits them (new headline, dateline, trimmed last paragraph, inserted ad
    lines, typos, another site's template), some landing in a later batch than the original;
    teasers (the opening 30 to 90 words, cut after a sentence or mid-sentence, with a "Read
    more"), half of them published before the full text, often a batch earlier, so the group
    must be handed over; and, as negatives, short reports that open with a body's lede and go
    on with another body's paragraphs, and digest pages quoting the openings of three bodies
    (their own groups; left out of the stories score, since which story they belong to is
    ambiguous by construction).
Batches go through the real functions in time order, as runs: fingerprints, candidates read
from a real warehouse in a temporary folder (tasks/load.py's read_dedup_candidates over the
`article_bands` and `articles` views), assign_duplicates, assign_into for stories, and
land_run writing the articles, bands and duplicate links as Parquet parts; entities from the
real spaCy stage. Pairwise precision, recall and F1 are printed for duplicates (same
duplicate_of group, as the `articles` view reads it at the end) and stories (same story_id).

Scale. 10k and 100k generated articles (pseudo-words, pseudo-names; 1,000 articles a day, in
daily batches like daily runs; a fifth are copies), through the same dedup and story
functions, the band index on disk in a DuckDB file and the texts in Parquet parts (DiskIndex):
only a batch's candidates are read back to be verified. The story window is one StoryIndex kept across
batches, evicting what leaves the window. Entities are the generated names (no spaCy at this
size). Each size runs in its own process so its peak RSS is its own.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from wirehouse.config.settings import Settings, load_settings
from wirehouse.tasks.dedup import KnownArticle, assign_duplicates, fingerprint_articles
from wirehouse.tasks.entities import Resolution
from wirehouse.tasks.load import RunReport, land_run, open_run, read_dedup_candidates
from wirehouse.tasks.records import Article, EntityMention
from wirehouse.tasks.stories import StoryIndex, assign_into, story_articles
from wirehouse.tasks.urls import article_id, content_hash
from wirehouse.warehouse import db

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EXTRACTION_SETS = ("readability", "scrapinghub", "wcxb-dev")
ORIGINALS = 200  # extraction bodies used (150 to 1,200 words), to keep NER near a minute
NER_CHARS = 4000  # entities are tagged in the first 4,000 characters here (the flow tags 100,000)
QUALITY_BATCH = 100
SCALE_PER_DAY = 1000
INDEX_MEMORY = "64MB"  # DuckDB's buffer for the scale part's on-disk band index
START = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
ADS = (
    "ADVERTISEMENT",
    "Subscribe to our newsletter for the day's top stories.",
    "Story continues below advertisement",
    "Sponsored: compare the best savings rates of the month",
)


@dataclass
class Labelled:
    """An article of the labelled set with its gold duplicate group and story."""

    article: Article
    group: str
    story: str | None  # None: left out of the stories score
    mentions: list[EntityMention] | None = None


def _article(key: str, title: str, text: str, when: datetime, source: str) -> Article:
    url = f"https://{source}.example/{key}"
    return Article(
        article_id=article_id(url), url=url, canonical_url=url, source=source, title=title, text=text,
        fetched_at=when, date_published=when, content_hash=content_hash(text),
    )


# The labelled set.

def sample_items() -> list[Labelled]:
    """The sample site's articles: wire groups are duplicates, events are stories."""
    from wirehouse.sample import load_catalog

    catalog = load_catalog()
    items = []
    for a in catalog.articles:
        key = f"{a.outlet}/{a.slug}"
        items.append(Labelled(_article(key, a.title, a.text, a.published, a.outlet), a.wire_id or key, f"sample:{a.event_id}"))
    return items


def seed_items() -> list[Labelled]:
    """The two seed reports: one story, two groups."""
    when = datetime(2025, 10, 31, 9, tzinfo=timezone.utc)
    items = []
    for number, path in enumerate(sorted((SHARED / "seeds").glob("*.txt"))):
        text = path.read_text(encoding="utf-8")
        items.append(Labelled(_article(f"seed{number}", None, text, when + timedelta(hours=number), f"seed{number}"), path.name, "seeds"))
    return items


def extraction_bodies(limit: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(id, title, text) of gold bodies of 150 to 1,200 words, at most `limit`, no two alike."""
    bodies = []
    for name in EXTRACTION_SETS:
        path = SHARED / "data" / "extraction" / name / "pages.jsonl"
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                page = json.loads(line)
                text = (page.get("text") or "").strip()
                if 150 <= len(text.split()) <= 1200:
                    bodies.append((f"{name}:{page['id']}", page.get("title") or "", text))
    rng.shuffle(bodies)
    # Drop bodies that are copies of one another already (the same page in two sets).
    settings = load_settings().dedup
    probes = [_article(key, title, text, START, "probe") for key, title, text in bodies]
    assign_duplicates(probes, fingerprint_articles(probes, settings), [], settings)
    distinct = [body for body, probe in zip(bodies, probes) if probe.duplicate_of is None]
    return distinct[:limit]


def _paragraphs(text: str) -> list[str]:
    parts = [p.strip() for p in text.split("\n") if p.strip()]
    return parts if len(parts) > 1 else [p.strip() + "." for p in text.split(". ") if p.strip()]


def _typos(text: str, rng: random.Random, every: int = 60) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // every)):
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(1, len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def edited_copy(kind: str, title: str, text: str, rng: random.Random) -> tuple[str, str]:
    """(title, text) of a syndicated copy edited the way `kind` says."""
    paragraphs = _paragraphs(text)
    if kind == "headline":
        return "UPDATE: " + " ".join(reversed(title.split())) if title else "Update", "LONDON (Wire) - " + text
    if kind == "trimmed":
        return title, "\n".join(paragraphs[:-1] if len(paragraphs) > 3 else paragraphs)
    if kind == "ads":
        for _ in range(3):
            paragraphs.insert(rng.randrange(1, len(paragraphs) + 1), rng.choice(ADS))
        return title, "\n".join(paragraphs)
    if kind == "typos":
        return title, _typos(text, rng)
    if kind == "template":
        merged = [" ".join(paragraphs[i : i + 2]) for i in range(0, len(paragraphs), 2)]
        return title, "\n\n".join(["Photo: Reuters / File", *merged, "Read more: the latest headlines", "Share this article"])
    if kind == "combo":
        _, dated = edited_copy("headline", title, text, rng)
        _, trimmed = edited_copy("trimmed", title, dated, rng)
        return title, _typos(trimmed, rng, every=120)
    raise ValueError(kind)


COPY_KINDS = ("exact", "headline", "trimmed", "ads", "typos", "template", "combo")
TEASER_EVERY = 3  # every third body gets a teaser
LEDE_EVERY = 5  # every fifth body lends its lede to a different short report
DIGEST_EVERY = 10  # every tenth body starts a digest page quoting the openings of the next three


def teaser(text: str, rng: random.Random) -> str:
    """The opening 30 to 90 words of a text, cut after a sentence or mid-sentence, with a "read more";
    a third lose their first four words (a dateline the summary leaves out), a third gain a label."""
    cut = text.split()[: rng.randint(30, 90)]
    variant = rng.randrange(3)
    if variant == 1:
        cut = cut[4:]
    elif variant == 2:
        cut = [rng.choice(("Summary:", "In brief:", "Latest:")), *cut]
    ends = [i + 1 for i, word in enumerate(cut) if word.endswith((".", "!", "?")) and i >= 25]
    if ends and rng.random() < 0.6:
        return " ".join(cut[: ends[-1]]) + " " + rng.choice(("Read more", "Continue reading", "Full story"))
    return " ".join(cut) + "... " + rng.choice(("Read more", "(more)", ""))


def sharing_a_lede(text: str, other: str) -> str:
    """A different short report: a text's first sentence (at most 40 words), then 100 words of another."""
    lede = " ".join(text.split()[:40]).split(". ")[0].rstrip(".") + "."
    return lede + " " + " ".join(other.split()[60:160])


def extraction_items(rng: random.Random) -> list[Labelled]:
    """Extraction bodies, each its own story and group, with two generated copies each, teasers
    of some, and different short reports that share the lede of others."""
    items = []
    bodies = extraction_bodies(ORIGINALS + ORIGINALS // LEDE_EVERY, rng)
    spare = [text for _, _, text in bodies[ORIGINALS:]]  # continuations for the lede-sharing reports, in no other article
    for number, (key, title, text) in enumerate(bodies[:ORIGINALS]):
        when = START + timedelta(days=rng.uniform(0, 90))
        items.append(Labelled(_article(key, title, text, when, "origin"), key, key))
        for kind in rng.sample(COPY_KINDS, 2):
            copy_title, copy_text = (title, text) if kind == "exact" else edited_copy(kind, title, text, rng)
            later = when + timedelta(hours=rng.uniform(0.5, 60))
            items.append(Labelled(_article(f"{key}/{kind}", copy_title, copy_text, later, f"copy-{kind}"), key, key))
        if number % TEASER_EVERY == 0:  # half before the full text (often a batch earlier), half after
            shift = rng.uniform(1, 40) * (-1 if number % (2 * TEASER_EVERY) == 0 else 1)
            items.append(Labelled(_article(f"{key}/teaser", title, teaser(text, rng), when + timedelta(hours=shift), "copy-teaser"), key, key))
        if number % DIGEST_EVERY == 2:
            openings = [" ".join(body.split()[:45]) + " Read more" for _, _, body in bodies[number + 1 : number + 4]]
            digest = _article(f"{key}/digest", "Morning briefing", "\n".join(["Here is what you need to know today.", *openings]), when, "digest")
            items.append(Labelled(digest, digest.article_id, None))
        if number % LEDE_EVERY == 1:
            other = spare[number // LEDE_EVERY]
            when_other = when + timedelta(hours=rng.uniform(-5, 5))
            report = _article(f"{key}/same-lede", title, sharing_a_lede(text, other), when_other, "same-lede")
            items.append(Labelled(report, report.article_id, None))
    return items


def tag_entities(items: list[Labelled], settings: Settings) -> float:
    """Entity mentions from the real enrich stage; returns the seconds it took."""
    from wirehouse.tasks.enrich import enrich_articles

    started = time.perf_counter()
    entities_only = settings.enrich.model_copy(update={"keywords": 0, "tone": False, "max_chars": NER_CHARS})
    enriched = enrich_articles([item.article for item in items], entities_only)
    for item, enrichment in zip(items, enriched):
        item.mentions = enrichment.mentions
    return time.perf_counter() - started


# The runs: batches through dedup and stories, landed in a real warehouse.

def assign_window_stories(index: StoryIndex, batch: list[Article], mentions: list[EntityMention], known: list[KnownArticle]) -> None:
    """Evict what left the story window, then set each article's story_id (copies' from their landed canonicals)."""
    earliest = min(a.date_published for a in batch)
    index.evict_before(earliest - timedelta(days=index.settings.window_days))
    stories = assign_into(index, story_articles(batch, mentions), {k.article_id: k.story_id for k in known})
    for a in batch:
        a.story_id = stories.story_of[a.article_id]


class WarehouseRuns:
    """Runs over a warehouse in a folder: candidates read from its views, parts landed by land_run.

    Only the story window stays in memory (one StoryIndex across the runs, as a long-running
    caller would keep it); the band index and the texts are Parquet parts on disk.
    """

    def __init__(self, settings: Settings, folder: Path):
        self.settings, self.warehouse = settings, folder
        self.index = StoryIndex(settings.stories)

    def land(self, batch: list[Article], mentions: list[EntityMention]) -> None:
        """Dedup and story-assign one batch against everything landed, then land it as a run."""
        with open_run(self.warehouse, self.settings.warehouse) as run_id:
            prints = fingerprint_articles(batch, self.settings.dedup)
            known = read_dedup_candidates(self.warehouse, prints, [a.content_hash for a in batch], self.settings.dedup)
            result = assign_duplicates(batch, prints, known, self.settings.dedup)
            assign_window_stories(self.index, batch, mentions, known)
            report = RunReport(run_id=run_id, warehouse=str(self.warehouse), started_at=datetime.now(timezone.utc))
            land_run(self.warehouse, report, [], [], batch, prints, [], Resolution(), list(result.links.values()))

    def groups(self) -> dict[str, str]:
        """article_id -> its group (its canonical's id), as the `articles` view reads them now."""
        with db.connect(self.warehouse) as con:
            return dict(con.execute("select article_id, coalesce(duplicate_of, article_id) from articles").fetchall())


class DiskIndex:
    """The landed state dedup and stories need at scale, on disk, so memory hardly grows with it.

    The band hashes and each article's content hash and run sit in a DuckDB file whose buffer
    is capped (`INDEX_MEMORY`); the texts in one Parquet part per run (a day), as the warehouse
    keeps them. A batch's candidates are a join of its band hashes with the band table, and only
    the candidates' texts are read back, from the parts of their runs, to be verified. In
    memory stay the story window (one StoryIndex across the runs) and each copy's canonical and
    each article's story when it is not its own: a few short strings per copy, nothing per
    article that is neither a copy nor in another's story.
    (The warehouse itself keeps the band index in Parquet parts too, read through views that
    scan every part per query: the quality part above pays that on a few hundred articles.)
    """

    def __init__(self, settings: Settings, folder: Path):
        self.settings, self.folder = settings, folder
        self.con = duckdb.connect(str(folder / "index.duckdb"))
        self.con.execute(f"set memory_limit = '{INDEX_MEMORY}'")
        # Articles are numbered as they land: the band table holds the 4-byte number, not the id.
        self.con.execute("create table bands (number integer, band smallint, hash bigint)")
        self.con.execute("create table landed (number integer, article_id varchar, content_hash varchar, run integer)")
        self.runs = self.landed = 0
        self.canonical: dict[str, str] = {}  # copy -> its canonical
        self.copies: dict[str, set[str]] = defaultdict(set)  # canonical -> its copies
        self.story: dict[str, str] = {}  # article -> its story, when that is another article's id
        self.index = StoryIndex(settings.stories)

    def land(self, batch: list[Article], mentions: list[EntityMention]) -> None:
        """Dedup and story-assign one batch against everything landed, then store it."""
        prints = fingerprint_articles(batch, self.settings.dedup)
        known = self._candidates(prints, batch)
        result = assign_duplicates(batch, prints, known, self.settings.dedup)
        for link in result.links.values():
            self._point(link.article_id, link.duplicate_of)
        for a in batch:
            if a.duplicate_of:
                self._point(a.article_id, a.duplicate_of)
        assign_window_stories(self.index, batch, mentions, known)
        self.story.update((a.article_id, a.story_id) for a in batch if a.story_id != a.article_id)
        numbers = range(self.landed, self.landed + len(batch))
        self.landed += len(batch)
        self._insert("bands", {"number": pa.array([n for n, p in zip(numbers, prints) for _ in p.bands], pa.int32()), **_band_rows(prints)})
        self._insert("landed", {
            "number": pa.array(numbers, pa.int32()), "article_id": [a.article_id for a in batch],
            "content_hash": [a.content_hash for a in batch], "run": pa.array([self.runs] * len(batch), pa.int32()),
        })
        texts = pa.table({"article_id": [a.article_id for a in batch], "text": [a.text for a in batch]})
        pq.write_table(texts, self._text_part(self.runs), compression="zstd")
        self.runs += 1

    def _insert(self, table: str, columns: dict) -> None:
        self.con.register("rows", pa.table(columns))
        self.con.execute(f"insert into {table} select * from rows")
        self.con.unregister("rows")

    def _text_part(self, run: int) -> Path:
        return self.folder / f"texts-{run:05d}.parquet"

    def _point(self, article_id: str, canonical: str) -> None:
        old = self.canonical.get(article_id)
        if old:
            self.copies[old].discard(article_id)
        self.canonical[article_id] = canonical
        self.copies[canonical].add(article_id)

    def _candidates(self, prints, batch: list[Article]) -> list[KnownArticle]:
        """As read_dedup_candidates: matches and their canonicals with text, their groups' other members without."""
        probe = {"print": pa.array([n for n, p in enumerate(prints) for _ in p.bands], pa.int32()), **_band_rows(prints)}
        self.con.register("probe", pa.table(probe))
        self.con.register("probe_hashes", pa.table({"content_hash": [a.content_hash for a in batch]}))
        matches = {row[0] for row in self.con.execute(
            """
            with shared as (
                select probe.print, number, band < $whole_bands as whole, count(*) as n from bands join probe using (band, hash) group by all
            ),
            hits as (
                select distinct number from shared where n >= $min_shared
            )
            select article_id from landed
            where number in (select number from hits) or content_hash in (select content_hash from probe_hashes)
            """,
            {"whole_bands": self.settings.dedup.num_perm // self.settings.dedup.band_rows, "min_shared": self.settings.dedup.min_shared_bands},
        ).fetchall()}
        roots = {self.canonical.get(m, m) for m in matches}
        compared = matches | roots
        self.con.register("compared", pa.table({"article_id": sorted(compared)}))
        found = self.con.execute("select article_id, content_hash, run from landed where article_id in (select article_id from compared)").fetchall()
        texts = {}
        if found:
            parts = [str(self._text_part(run)) for run in sorted({run for _, _, run in found})]
            texts = dict(self.con.execute(
                "select article_id, text from read_parquet(?) where article_id in (select article_id from compared)", [parts]
            ).fetchall())
        for name in ("probe", "probe_hashes", "compared"):
            self.con.unregister(name)
        known = [
            KnownArticle(i, digest, texts[i], self.canonical.get(i), story_id=self.story.get(i, i)) for i, digest, _ in found
        ]
        members = {m for root in roots for m in self.copies.get(root, ())} - compared
        return known + [KnownArticle(m, "", None, self.canonical[m], story_id=self.story.get(m, m)) for m in sorted(members)]


def _band_rows(prints) -> dict:
    return {
        "band": pa.array([i for p in prints for i in range(len(p.bands))], pa.int16()),
        "hash": pa.array([h for p in prints for h in p.bands], pa.int64()),
    }


def _time_batches(articles: list[Article], size: int) -> list[list[Article]]:
    ordered = sorted(articles, key=lambda a: a.date_published)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def pairwise(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a predicted clustering against a gold one."""
    def pairs(counts) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter((gold[k], predicted[k]) for k in gold))
    gold_pairs, predicted_pairs = pairs(Counter(gold.values())), pairs(Counter(predicted.values()))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def quality(settings: Settings) -> None:
    rng = random.Random(7)
    items = sample_items() + seed_items() + extraction_items(rng)
    ner_seconds = tag_entities(items, settings)
    by_id = {item.article.article_id: item for item in items}
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as folder:
        warehouse = WarehouseRuns(settings, Path(folder))
        started = time.perf_counter()
        for batch in _time_batches([item.article for item in items], QUALITY_BATCH):
            warehouse.land(batch, [m for a in batch for m in by_id[a.article_id].mentions])
        seconds = time.perf_counter() - started
        groups = warehouse.groups()
    stories = {i.article.article_id: i.article.story_id for i in items}
    copies = Counter(i.article.source for i in items if i.article.source.startswith("copy"))
    print(
        f"labelled set: {len(items)} articles ({len(sample_items())} sample, 2 seeds, "
        f"{sum(1 for i in items if i.article.source == 'origin')} extraction bodies + {sum(copies.values())} generated copies "
        f"({copies['copy-teaser']} of them teasers) + {sum(1 for i in items if i.article.source == 'same-lede')} "
        f"different reports sharing a lede + {sum(1 for i in items if i.article.source == 'digest')} digest pages), "
        f"{len({i.story for i in items if i.story})} stories; "
        f"NER {ner_seconds:.1f} s, dedup + stories + landing {seconds:.1f} s"
    )
    print(f"{'':<12} {'precision':>9} {'recall':>7} {'F1':>6}   target")
    dup = pairwise({k: by_id[k].group for k in by_id}, groups)
    story = pairwise({k: by_id[k].story for k in by_id if by_id[k].story}, stories)
    print(f"{'duplicates':<12} {dup[0]:>9.4f} {dup[1]:>7.4f} {dup[2]:>6.4f}   P >= 0.99, R >= 0.97  {'ok' if dup[0] >= 0.99 and dup[1] >= 0.97 else 'MISSED'}")
    print(f"{'stories':<12} {story[0]:>9.4f} {story[1]:>7.4f} {story[2]:>6.4f}   F1 >= 0.90  {'ok' if story[2] >= 0.90 else 'MISSED'}")
    _print_errors(items, groups, stories)


def _print_errors(items: list[Labelled], groups: dict[str, str], stories: dict[str, str]) -> None:
    """Copies left out of their group, articles put in another's, teasers' canonicals, merged look-alike events."""
    gold = {i.article.article_id: i.group for i in items}
    apart = Counter(
        i.article.source for i in items
        if i.article.source.startswith("copy") and gold[groups[i.article.article_id]] != i.group
    )
    print("copies left out of their group, by kind:", dict(sorted(apart.items())) or "none")
    wrong = Counter(
        i.article.source for i in items
        if groups[i.article.article_id] != i.article.article_id and gold[groups[i.article.article_id]] != i.group
    )
    print("articles put in another group, by kind:", dict(sorted(wrong.items())) or "none")
    teasers = [i for i in items if i.article.source == "copy-teaser"]
    full_text = sum(1 for i in teasers if groups[i.article.article_id] == article_id(f"https://origin.example/{i.group}"))
    print(f"teasers whose group's canonical is the full text: {full_text} of {len(teasers)}")
    seeds = {stories[i.article.article_id] for i in items if i.story == "seeds"}
    groups_of_seeds = {groups[i.article.article_id] for i in items if i.story == "seeds"}
    print(f"seed reports: {'one story' if len(seeds) == 1 else 'SPLIT'}, {'not copies' if len(groups_of_seeds) == 2 else 'FLAGGED AS COPIES'}")
    from wirehouse.sample import load_catalog

    story_of_event = defaultdict(set)
    for i in items:
        if i.story and i.story.startswith("sample:"):
            story_of_event[i.story.removeprefix("sample:")].add(stories[i.article.article_id])
    merged = [pair for pair in load_catalog().negative_pairs if story_of_event[pair[0]] & story_of_event[pair[1]]]
    split = sorted(e for e, s in story_of_event.items() if len(s) > 1)
    print(f"sample events split: {split or 'none'}; negative pairs merged: {merged or 'none'}")


# Scale: generated articles.

class Generator:
    """Pseudo-news: events with their own names and words, told by several outlets, and copies."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
        self.words = self._tokens(syllables, 8000, 2, 4)
        self.names = [w.capitalize() for w in self._tokens(syllables, 30000, 2, 3)]
        self.zipf = [1 / (rank + 1) for rank in range(len(self.words))]

    def _tokens(self, syllables, count, low, high) -> list[str]:
        seen: set[str] = set()
        while len(seen) < count:
            seen.add("".join(self.rng.choice(syllables) for _ in range(self.rng.randint(low, high))))
        return sorted(seen)

    def day(self, day: int, count: int) -> tuple[list[Article], dict[str, list[str]]]:
        """`count` articles about events of one day, and each one's entity names."""
        rng, out, names = self.rng, [], {}
        while len(out) < count:
            event_names = rng.sample(self.names, 6)
            event_words = rng.sample(self.words, 12)
            when = START + timedelta(days=day + rng.uniform(0, 1))
            for outlet in range(rng.choice((1, 1, 2, 3))):
                mentioned = rng.sample(event_names, 4)
                body = rng.choices(self.words, weights=self.zipf, k=120) + event_words[:8] + mentioned
                rng.shuffle(body)
                text = " ".join(body)
                key = f"gen/{day}/{len(out)}"
                out.append(_article(key, " ".join(mentioned[:2] + event_words[:3]), text, when + timedelta(hours=outlet * 3), f"outlet{outlet}"))
                names[out[-1].article_id] = mentioned
                if rng.random() < 0.25 and len(out) < count:  # a syndicated copy: a dateline and a trimmed end
                    copy = "DATELINE - " + " ".join(body[:-15]) if rng.random() < 0.8 else text
                    out.append(_article(key + "/copy", out[-1].title, copy, when + timedelta(hours=outlet * 3 + 5), "syndicator"))
                    names[out[-1].article_id] = mentioned
        return out[:count], names


def scale(count: int, settings: Settings) -> None:
    """Time dedup + stories over `count` generated articles in daily batches; one result line.

    Each day's batch is generated just before it lands (generation is not timed) and dropped
    after, so the process holds what a run would: the index and the story window. Peak RSS is
    read after the first day too: the libraries, one batch and an empty index; what the later
    days add on top is what the landed articles cost in memory.
    """
    generator = Generator(seed=count)
    seconds, duplicates, stories, first_day_mb = 0.0, 0, set(), 0.0
    with tempfile.TemporaryDirectory(prefix="bench-dedup-") as folder:
        warehouse = DiskIndex(settings, Path(folder))
        for day in range(count // SCALE_PER_DAY):
            batch, names = generator.day(day, SCALE_PER_DAY)
            mentions = [EntityMention(a.article_id, name, "ORG", 0, 0) for a in batch for name in names[a.article_id]]
            started = time.perf_counter()
            warehouse.land(batch, mentions)
            seconds += time.perf_counter() - started
            duplicates += sum(1 for a in batch if a.duplicate_of)
            stories.update(a.story_id for a in batch)
            first_day_mb = first_day_mb or _peak_rss_mb()
        window = len(warehouse.index.members)
    print(f"RESULT {count} {seconds:.3f} {first_day_mb:.0f} {_peak_rss_mb():.0f} {duplicates} {len(stories)} {window}", flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--scale":
        scale(int(sys.argv[2]), load_settings())
        return
    settings = load_settings()
    print("== quality ==", flush=True)
    quality(settings)
    print("\n== scale: dedup + story assignment, daily batches of 1,000, band index and texts on disk ==")
    print(f"{'articles':>9} {'seconds':>8} {'ms/article':>10} {'RSS day 1 MB':>12} {'peak RSS MB':>11} {'copies':>7} {'stories':>8} {'window':>7}")
    per_article = {}
    for count in (10_000, 100_000):
        child = subprocess.run([sys.executable, __file__, "--scale", str(count)], capture_output=True, text=True)
        if child.returncode != 0:
            print(child.stderr[-2000:])
            raise SystemExit(f"the {count} articles run failed")
        _, n, seconds, first_day, rss, duplicates, stories, window = next(l for l in child.stdout.splitlines() if l.startswith("RESULT")).split()
        per_article[count] = float(seconds) / int(n) * 1000
        print(f"{int(n):>9} {float(seconds):>8.1f} {per_article[count]:>10.3f} {first_day:>12} {rss:>11} {duplicates:>7} {stories:>8} {window:>7}")
    ratio = per_article[100_000] / per_article[10_000]
    print(f"time per article at 100k / at 10k: {ratio:.2f} (target <= 1.5)  {'ok' if ratio <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
