"""The extraction stage: fetched HTML in, cleaned articles with their metadata out.

`extract_article` (in `extract_page`, re-exported here) is a pure function over one page;
`extract_pages` maps it over a batch in a pool of worker processes; `extract_manifest` runs the
batch contract of the extraction scorer (`../shared/eval/score_extraction.py --cmd`). The Prefect
task at the bottom only wraps `extract_pages`.
"""

from __future__ import annotations

import atexit
import json
import threading
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import trafilatura
from prefect import task
from prefect.cache_policies import NO_CACHE

from wirehouse.config.settings import ExtractSettings
from wirehouse.tasks.extract_page import extract_article, extract_chunk
from wirehouse.tasks.records import Article, Page, Rejection
from wirehouse.tasks.naming import batch_run_name
from wirehouse.tasks.pools import RecyclingPool

__all__ = ["extract_article", "extract_batch", "extract_manifest", "extract_pages", "format_article", "shutdown_pool"]


def format_article(article: Article) -> str:
    """A human-readable print of one article: its metadata lines, a blank line, then the text."""
    date = article.date_published.isoformat() if article.date_published else "date unknown"
    lines = [
        article.title or "(untitled)",
        f"By {', '.join(article.authors)}" if article.authors else "Author unknown",
        " · ".join(filter(None, [date, article.language, article.site_name])),
        article.canonical_url,
        "",
        article.text,
    ]
    return "\n".join(lines)


# -- the worker pool -----------------------------------------------------------------------------

_pool: RecyclingPool | None = None
_pool_key: tuple[int, int] | None = None
_pool_lock = threading.Lock()


def _pool_for(settings: ExtractSettings) -> RecyclingPool:
    """The process's extraction pool, created on first use and reused across batches.

    Its workers are replaced after `max_tasks_per_child` jobs each (trafilatura leaks). The fork
    server preloads `extract_worker` (trafilatura and the language model, no Prefect) once, so a
    new worker starts in milliseconds where "spawn" would load it all again.
    """
    global _pool, _pool_key
    with _pool_lock:
        key = (settings.workers, settings.max_tasks_per_child)
        if _pool is None or _pool_key != key:
            shutdown_pool()
            _pool = RecyclingPool(settings.workers, settings.max_tasks_per_child, preload=["wirehouse.tasks.extract_worker"])
            _pool_key = key
            atexit.register(shutdown_pool)
        return _pool


def shutdown_pool() -> None:
    """Stop the extraction workers, if any are running."""
    global _pool, _pool_key
    if _pool is not None:
        _pool.shutdown()
    _pool, _pool_key = None, None


def extract_all(pages: list[Page], settings: ExtractSettings) -> list[Article | Rejection]:
    """One Article or Rejection for each page, in the pages' order, extracted in the pool.

    Pages go to the workers in chunks of `settings.chunk_size` (with `settings.workers` 0, they
    are extracted in this process instead). A chunk whose worker dies
    (a crash, the OOM killer) comes back as rejections and the pool is rebuilt for the rest.
    """
    if settings.workers < 1:
        return extract_chunk(pages, settings)
    chunks = [pages[i:i + settings.chunk_size] for i in range(0, len(pages), settings.chunk_size)]
    pool = _pool_for(settings)
    futures = [pool.submit(extract_chunk, chunk, settings) for chunk in chunks]
    results: list[Article | Rejection] = []
    for chunk, future in zip(chunks, futures):
        try:
            results.extend(future.result())
        except BrokenProcessPool as exc:
            pool.restart()
            results.extend(Rejection(p.url, "extraction_empty", f"extraction worker died: {exc}"[:300]) for p in chunk)
    return results


def extract_pages(pages: list[Page], settings: ExtractSettings) -> tuple[list[Article], list[Rejection]]:
    """Extract the articles of a batch of fetched pages.

    Args:
        pages: fetched pages; only those whose outcome is "ok" are extracted.
        settings: the `extract` settings section (workers, chunk_size, ...).

    Returns:
        The articles, and a Rejection for each "ok" page that yielded none.
    """
    results = extract_all([page for page in pages if page.outcome == "ok"], settings)
    return ([r for r in results if isinstance(r, Article)], [r for r in results if isinstance(r, Rejection)])


# -- the scorer's batch contract -----------------------------------------------------------------


def manifest_row(row_id: str, url: str, result: Article | Rejection) -> dict:
    """One output line of `extract_manifest`: the scorer's fields, then the richer ones."""
    if isinstance(result, Rejection):
        return {"id": row_id, "url": url, "text": None, "title": None, "author": None, "date": None,
                "outcome": result.outcome, "reason": result.reason}
    return {
        "id": row_id,
        "url": url,
        "text": result.text,
        "title": result.title,
        "author": ", ".join(result.authors) or None,
        "date": result.date_published.date().isoformat() if result.date_published else None,
        "outcome": "ok",
        "authors": result.authors,
        "date_published": result.date_published.isoformat() if result.date_published else None,
        "date_modified": result.date_modified.isoformat() if result.date_modified else None,
        "language": result.language,
        "site_name": result.site_name,
        "canonical_url": result.canonical_url,
        "article_id": result.article_id,
        "description": result.description,
        "section": result.section,
        "tags": result.tags,
        "image": result.image,
        "title_source": result.title_source,
        "author_source": result.author_source,
        "date_source": result.date_source,
        "text_source": result.text_source,
        "text_reason": result.text_reason,
        "content_hash": result.content_hash,
    }


def extract_manifest(input_path: Path, output_path: Path, settings: ExtractSettings) -> dict:
    """Extract every page a JSONL manifest lists, writing one JSONL line per input line.

    Args:
        input_path: JSONL, one line a page: {"id", "path", "url"} (path: a local .html file).
        output_path: JSONL written in the input's order, one line a page: {"id", "text",
            "title", "author", "date", ...}; a rejected page has a null text and its outcome.
        settings: the `extract` settings section.

    Returns:
        Counts: {"pages": n, "articles": n, "<outcome>": n for each rejection outcome}.
    """
    rows = [json.loads(line) for line in Path(input_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    counts = {"pages": len(rows), "articles": 0}
    fetched_at = datetime.now(UTC)
    with open(output_path, "w", encoding="utf-8") as out:
        for start in range(0, len(rows), settings.batch_size):
            batch = rows[start:start + settings.batch_size]
            pages = [_manifest_page(row, fetched_at) for row in batch]
            for row, page, result in zip(batch, pages, extract_all(pages, settings)):
                key = "articles" if isinstance(result, Article) else result.outcome
                counts[key] = counts.get(key, 0) + 1
                out.write(json.dumps(manifest_row(row["id"], page.url, result), ensure_ascii=False) + "\n")
    return counts


def _manifest_page(row: dict, fetched_at: datetime) -> Page:
    """A Page from a manifest line; pages without a URL are named by their file's URI."""
    path = Path(row["path"])
    html = trafilatura.utils.decode_file(path.read_bytes())
    return Page(url=row.get("url") or path.resolve().as_uri(), source="manifest", outcome="ok",
                fetched_at=fetched_at, html=html)


# -- the Prefect task ----------------------------------------------------------------------------


@task(name="extract-batch", task_run_name=batch_run_name("extract", "pages", "pages"), tags=["stage:extract"], cache_policy=NO_CACHE)
def extract_batch(pages: list[Page], settings: ExtractSettings) -> tuple[list[Article], list[Rejection]]:
    """Extract the articles of one batch of fetched pages (see `extract_pages`)."""
    return extract_pages(pages, settings)


def main(argv: list[str] | None = None) -> None:
    """`python -m wirehouse.tasks.extract --input M --output O`: the manifest batch contract."""
    import argparse

    from wirehouse.config.settings import load_settings

    parser = argparse.ArgumentParser(description="Extract the pages a JSONL manifest lists.")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args(argv)
    counts = extract_manifest(args.input, args.output, load_settings(args.config).extract)
    print(json.dumps(counts))


if __name__ == "__main__":
    # Run through the imported module, not this __main__ copy, so the pool's workers unpickle
    # `wirehouse.tasks.extract` functions by their real name.
    from wirehouse.tasks import extract

    extract.main()
