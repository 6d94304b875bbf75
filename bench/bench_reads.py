"""Memory and time of the pipeline's warehouse reads as the warehouse grows.

    python bench/bench_reads.py                          # 10,000 and 100,000 landed articles
    python bench/bench_reads.py --articles 10000 300000
    python bench/bench_reads.py --articles 10000 --rounds 100

A slice of an ingest reads the warehouse four ways: the versions of its articles
(`read_known_versions`), dedup's candidates (LSH bands joined with `article_bands`, then their
groups), the story window (`read_story_state`) and the entity aliases its mentions may match
(`read_entity_aliases`). Their memory must follow the batch and the window, not the warehouse,
but for the band index itself. Each size gets a warehouse of synthetic rows shaped as the
pipeline lands them (runs of 2,000 articles, 500 words, the configured LSH bands, 40 entity
mentions an article, an entity and alias per article), and each read runs on a batch of 2,000
articles (half landed, half new) in a fresh process, which samples its own RSS, twice (the first
read also makes the process's database over the warehouse, as a run's first slice does): printed
are the seconds and the peak RSS over the process's RSS just before each, then, for the later
reads, the largest size's time as a multiple of the smallest's and its peak's difference.

Then each size's warehouse is compacted (`db.compact(full=True)`: every table into one part, as
`wirehouse warehouse compact --full` does) and the four reads run again in fresh processes: printed
are the compaction's seconds and each later read's time as a multiple of its time over the run
parts, measured just before (`--no-compact` skips this).

Then memory over a run (`--rounds`, 50 unless told): one process lands a run and makes the four
reads at the warehouse's new end, round after round, as an ingest's slices do, and reads the C
heap's memory in use after each; once with the kept database replaced after
`READS_PER_DATABASE` reads (warehouse/db.py) and once kept for the whole process (the baseline:
DuckDB keeps some memory of every query until its database closes). Printed: the reading at
the end of each tenth of the rounds and the highest reading of the second half (replaced, the
heap falls back at each new database and rises again: a saw, where the baseline is a slope).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

RUN_ARTICLES = 2000
BATCH = 2000
MENTIONS = 40
# A batch names entities of the latest RECENT_NAMES articles or new ones: as many keys to look up
# at any warehouse size (news names what is in the news now).
RECENT_NAMES = 10_000
# ... and PERENNIAL_SHARE of an article's mentions name one of PERENNIAL entities (a country, a
# government, a wire agency): named in every run, their landed mentions grow with the warehouse.
PERENNIAL, PERENNIAL_SHARE = 200, 0.25
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
READS = ("known versions", "dedup candidates", "story window", "entity aliases")


def article_id(number: int) -> str:
    return hashlib.sha256(f"article {number}".encode()).hexdigest()[:16]


def entity_key(number: int) -> str:
    from wirehouse.tasks.entities import match_key

    return match_key(f"Entity {number}")


def named(low: int, high: int, rng: random.Random) -> int:
    """The entity number a mention names: a perennial one (numbered below 0, PERENNIAL_SHARE of
    the time) or one in low .. high - 1."""
    return -1 - rng.randrange(PERENNIAL) if rng.random() < PERENNIAL_SHARE else rng.randrange(low, high)


def content_hash(number: int) -> str:
    """The same hash for an article in the warehouse and in the batch: an exact copy found."""
    return f"{number:032x}"


def band_hash(number: int, band: int) -> int:
    """The same band values for an article in the warehouse and in the batch: a near copy proposed."""
    return hash((number, band)) & (2**62 - 1)


def landed_at(number: int) -> datetime:
    """Articles a minute apart: the story window holds the same number of them at any size."""
    return START + timedelta(minutes=number)


def band_count() -> int:
    from wirehouse.config.settings import load_settings

    dedup = load_settings().dedup
    return dedup.num_perm // dedup.band_rows + dedup.lede_num_perm // dedup.lede_band_rows


def run_rows(first: int, count: int, bands: int, rng: random.Random) -> dict[str, list[dict]]:
    """One run's rows of the tables the reads touch, for articles first .. first + count - 1."""
    from wirehouse.tasks.entities import entity_id

    words = [f"w{i}" for i in range(5000)]
    rows: dict[str, list[dict]] = {"articles": [], "article_bands": [], "article_entities": [], "entities": [], "entity_aliases": []}
    for number in range(first, first + count):
        key, text = article_id(number), " ".join(rng.choices(words, k=500))
        rows["articles"].append({
            "article_id": key, "url": f"https://n.example/{number}", "canonical_url": f"https://n.example/{number}",
            "source": "bench", "title": f"Article {number}", "text": text, "word_count": 500,
            "content_hash": content_hash(number), "date_published": landed_at(number),
            "fetched_at": landed_at(number),
        })
        rows["article_bands"] += [{"article_id": key, "band": band, "hash": band_hash(number, band)} for band in range(bands)]
        # Each article's own entity; the perennial ones come with the first article.
        for new in range(-PERENNIAL, 1) if number == 0 else [number]:
            entity = entity_id("ORG", entity_key(new))
            rows["entities"].append({"entity_id": entity, "name": f"Entity {new}", "label": "ORG", "key": entity_key(new)})
            rows["entity_aliases"].append({"alias_key": entity_key(new), "alias": f"Entity {new}", "entity_id": entity, "kind": "name"})
        rows["article_entities"] += [
            {"article_id": key, "text": f"Entity {known}", "label": "ORG", "start_char": m, "end_char": m + 1, "raw_label": "ORG",
             "entity_id": entity_id("ORG", entity_key(known)), "name": f"Entity {known}"}
            for m, known in enumerate(named(0, number + 1, rng) for _ in range(MENTIONS))
        ]
    # The run's label votes, as the pipeline writes them for new articles.
    votes = Counter((m["entity_id"], m["label"]) for m in rows["article_entities"])
    rows["entity_label_votes"] = [{"entity_id": e, "label": label, "mentions": n} for (e, label), n in sorted(votes.items())]
    return rows


def build(warehouse: Path, articles: int) -> None:
    """Land `articles` synthetic articles as runs of RUN_ARTICLES."""
    from wirehouse.warehouse import db

    db.init_warehouse(warehouse)
    rng, bands = random.Random(articles), band_count()
    for first in range(0, articles, RUN_ARTICLES):
        land_run(warehouse, first, min(RUN_ARTICLES, articles - first), bands, rng)


def land_run(warehouse: Path, first: int, count: int, bands: int, rng: random.Random) -> None:
    """Land articles first .. first + count - 1 as one run, committed by its runs row."""
    from wirehouse.warehouse import db

    run = db.new_run_id()
    for table, rows in run_rows(first, count, bands, rng).items():
        db.write_part(warehouse, table, run, rows)
    db.write_part(warehouse, "runs", run, [{"run_id": run, "started_at": landed_at(first), "status": "ok"}])


def batch(articles: int, bands: int):
    """A slice's batch: BATCH // 2 landed articles at the end of the timeline and as many new ones.

    A tenth of the landed ones come again as exact copies and another tenth as near copies (their
    bands), so the candidates read finds and reads landed texts; the rest share nothing. Their
    mentions name perennial entities (PERENNIAL_SHARE) or those of the latest RECENT_NAMES
    articles' or new ones.
    """
    import numpy as np

    from wirehouse.tasks.dedup import Fingerprint
    from wirehouse.tasks.records import Article, ArticleEnrichment, EntityMention

    rng = random.Random(1)
    numbers = list(range(articles - BATCH // 2, articles + BATCH // 2))  # below `articles`: landed
    batch_articles = [
        Article(article_id(n), f"https://n.example/{n}", f"https://n.example/{n}", "bench", f"Article {n}", "text",
                landed_at(n), date_published=landed_at(n), content_hash=content_hash(n) if n % 10 == 0 else f"new {n}")
        for n in numbers
    ]
    prints = [
        Fingerprint(a.article_id, np.zeros(0, dtype=np.uint64),
                    [band_hash(n, band) if n % 10 == 1 else rng.getrandbits(62) for band in range(bands)])
        for n, a in zip(numbers, batch_articles)
    ]
    enrichments = [
        ArticleEnrichment(a.article_id, "en", [
            EntityMention(a.article_id, name, "ORG", 0, 1, name=name)
            for name in (f"Entity {named(max(0, articles - RECENT_NAMES), articles + BATCH, rng)}" for _ in range(MENTIONS))
        ], {}, [], [], None, {})
        for a in batch_articles
    ]
    return batch_articles, prints, enrichments


def measure_read(warehouse: Path, articles: int, read: str) -> dict:
    """In this (fresh) process: one read on a batch, twice; the seconds and the peak RSS over the
    RSS before each. The first pays for the process's database over the warehouse (db.connect
    keeps it), as a run's first slice does; the second is what every later slice pays."""
    calls = read_calls(warehouse, articles)
    first, found = _sampled(calls[read])
    then, _ = _sampled(calls[read])
    return {"first": first, "then": then, "rows": len(found[0] if read == "story window" else found)}


def read_calls(warehouse: Path, articles: int) -> dict:
    """The four reads (READS) on a batch at `articles`, each a call."""
    from wirehouse.config.settings import load_settings
    from wirehouse.tasks import load

    settings = load_settings()
    batch_articles, prints, enrichments = batch(articles, band_count())
    return {
        "known versions": lambda: load.read_known_versions(warehouse, [a.article_id for a in batch_articles]),
        "dedup candidates": lambda: load.read_dedup_candidates(
            warehouse, prints, [a.content_hash for a in batch_articles], settings.dedup
        ),
        "story window": lambda: load.read_story_state(warehouse, batch_articles, settings.stories),
        "entity aliases": lambda: load.read_entity_aliases(warehouse, enrichments),
    }


def measure_rounds(rounds: int, reads_per_database: int) -> list[float]:
    """In this (fresh) process, as an ingest's slices go: land a run, then make the four reads on a
    batch at the warehouse's new end, `rounds` times, a kept database serving `reads_per_database`
    reads. The C heap's memory in use after each round, in MiB."""
    from heap import c_heap

    from wirehouse.tasks.pools import return_free_memory
    from wirehouse.warehouse import db

    db.READS_PER_DATABASE = reads_per_database
    rng, bands, readings = random.Random(rounds), band_count(), []
    with tempfile.TemporaryDirectory(prefix="wirehouse-rounds-") as folder:
        warehouse = Path(folder) / "warehouse"
        db.init_warehouse(warehouse)
        for number in range(rounds):
            land_run(warehouse, number * RUN_ARTICLES, RUN_ARTICLES, bands, rng)
            for call in read_calls(warehouse, (number + 1) * RUN_ARTICLES).values():
                call()
            return_free_memory()
            readings.append(c_heap()[0] / 2**20)
    return readings


def report_rounds(rounds: int) -> None:
    """The C heap over `rounds` rounds with a kept database replaced as configured, and kept for
    the whole process as before (the baseline), each in a fresh process."""
    from wirehouse.warehouse import db

    print(f"C heap in use after each of {rounds} rounds (land a run of {RUN_ARTICLES:,} articles, then a "
          f"slice's four reads; one process), MiB, at the end of each tenth of them:", flush=True)
    settings = {f"database replaced after {db.READS_PER_DATABASE} reads": db.READS_PER_DATABASE, "database kept (baseline)": 10**9}
    highest = {}
    for label, reads in settings.items():
        command = [sys.executable, __file__, "--measure-rounds", str(rounds), str(reads)]
        readings = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        shown = readings[max(0, rounds // 10 - 1) :: max(1, rounds // 10)]
        print(f"  {label:<38} {' '.join(f'{value:5.1f}' for value in shown)}", flush=True)
        highest[label] = max(readings[len(readings) // 2 :])
    print("  highest in the second half: " + ", ".join(f"{label} {value:.1f} MiB" for label, value in highest.items()))


def _sampled(call) -> tuple[dict, object]:
    """Call it while a thread samples this process's RSS every 5 ms."""
    before = _rss()
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    found = call()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"seconds": seconds, "peak_mib": (max(peak[0], _rss()) - before) / 2**20}, found


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def print_reads(results: dict[str, dict], against: dict[str, dict] | None = None) -> None:
    """One line a read: its first and later time and peak (and the later time over `against`'s)."""
    for read, result in results.items():
        first, then = result["first"], result["then"]
        ratio = f", x{then['seconds'] / against[read]['then']['seconds']:.2f} of the run parts'" if against else ""
        print(f"  {read:<17} first {first['seconds']:5.2f} s, peak +{first['peak_mib']:4.0f} MiB; "
              f"then {then['seconds']:5.2f} s, +{then['peak_mib']:4.0f} MiB  ({result['rows']:,} rows{ratio})", flush=True)


def compare_compacted(warehouse: Path, articles: int, over_runs: dict[str, dict]) -> None:
    """Compact the warehouse whole, then the same reads again, against `over_runs` (the reads before)."""
    from wirehouse.warehouse import db

    parts = sum(len(db.part_files(warehouse, table)) for table in db.TABLES)
    started = time.perf_counter()
    db.compact(warehouse, 2, full=True)
    print(f"  compacted {parts:,} parts into {sum(len(db.part_files(warehouse, table)) for table in db.TABLES)} "
          f"in {time.perf_counter() - started:.1f} s; the reads again:", flush=True)
    print_reads({read: run_read(warehouse, articles, read) for read in READS}, against=over_runs)


def run_read(warehouse: Path, articles: int, read: str) -> dict:
    command = [sys.executable, __file__, "--measure", str(warehouse), str(articles), read]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000, 100_000], help="warehouse sizes in landed articles")
    parser.add_argument("--rounds", type=int, default=50, help="rounds of the memory-over-a-run measurement (0: skip it)")
    parser.add_argument("--no-compact", action="store_true", help="skip the reads over the compacted warehouse")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--measure-rounds", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        warehouse, articles, read = args.measure
        print(json.dumps(measure_read(Path(warehouse), int(articles), read)))
        return
    if args.measure_rounds:
        print(json.dumps(measure_rounds(*args.measure_rounds)))
        return
    results: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="wirehouse-reads-") as folder:
        for articles in args.articles:
            warehouse = Path(folder) / str(articles)
            started = time.perf_counter()
            build(warehouse, articles)
            print(f"{articles:,} synthetic articles landed in {time.perf_counter() - started:.0f} s "
                  f"({articles // RUN_ARTICLES} runs); reads of a batch of {BATCH:,}:", flush=True)
            results[articles] = {read: run_read(warehouse, articles, read) for read in READS}
            print_reads(results[articles])
            if not args.no_compact:
                compare_compacted(warehouse, articles, results[articles])
    small, large = min(results), max(results)
    if small != large:
        print(f"{large:,} / {small:,} articles:")
        for read in READS:
            a, b = results[small][read]["then"], results[large][read]["then"]
            print(f"  {read:<17} then: time x{b['seconds'] / a['seconds']:.1f}, peak {b['peak_mib'] - a['peak_mib']:+.0f} MiB")
    if args.rounds:
        report_rounds(args.rounds)


if __name__ == "__main__":
    main()
