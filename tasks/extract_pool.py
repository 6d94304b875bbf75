"""The extraction worker pool, and the extraction scorer's batch contract over it.

`extract_pages` maps `extract_article` over a batch of fetched pages in a pool of worker
processes; `extract_manifest` runs the batch contract of the extraction scorer
(`../shared/eval/score_extraction.py --cmd`, through `wirehouse extract --input M --output O`).
No Prefect here: the batch command starts in a fraction of the time (Prefect's import alone
takes 1.5-3 s), and `tasks/extract.py` wraps `extract_pages` in the stage's task.
"""

from __future__ import annotations

import atexit
import json
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from wirehouse.config.settings import ExtractSettings
from wirehouse.tasks.extract_page import extract_chunk
from wirehouse.tasks.pools import PoolSlot, RecyclingPool
from wirehouse.tasks.records import Article, Page, Rejection

__all__ = ["extract_all", "extract_manifest", "extract_pages", "manifest_row", "shutdown_pool"]


# -- the worker pool -----------------------------------------------------------------------------

# A batch is cut into at least this many chunks a worker (when it has the pages for them).
CHUNKS_PER_WORKER = 4

_slot = PoolSlot()
atexit.register(_slot.shutdown)


def _pool_for(settings: ExtractSettings) -> RecyclingPool:
    """The process's extraction pool, created on first use and reused across batches.

    Its workers are replaced after `max_tasks_per_child` jobs each (trafilatura leaks). The fork
    server preloads `extract_worker` (trafilatura and the language model, no Prefect) once, so a
    new worker starts in milliseconds where "spawn" would load it all again.
    """
    return _slot.get(
        (settings.workers, settings.max_tasks_per_child),
        lambda: RecyclingPool(settings.workers, settings.max_tasks_per_child, preload=["wirehouse.tasks.extract_worker"]),
    )


def shutdown_pool() -> None:
    """Stop the extraction workers, if any are running."""
    _slot.shutdown()


def extract_all(pages: list[Page], settings: ExtractSettings) -> list[Article | Rejection]:
    """One Article or Rejection for each page, in the pages' order, extracted in the pool.

    Pages go to the workers in chunks of `settings.chunk_size` at most, and smaller when the
    batch is small, so that each worker gets several chunks and none waits long for the last
    one (with `settings.workers` 0, they are extracted in this process instead). A chunk whose
    worker dies (a crash, the OOM killer) comes back as rejections and the pool is rebuilt for the rest.
    """
    if settings.workers < 1:
        return extract_chunk(pages, settings)
    size = max(1, min(settings.chunk_size, -(-len(pages) // (CHUNKS_PER_WORKER * settings.workers))))
    chunks = [pages[i:i + size] for i in range(0, len(pages), size)]
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
        "author": result.byline or ", ".join(result.authors) or None,
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


def main(argv: list[str] | None = None) -> None:
    """`python -m wirehouse.tasks.extract_pool --input M --output O`: the manifest batch contract."""
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
    # `wirehouse.tasks.extract_pool` functions by their real name.
    from wirehouse.tasks import extract_pool

    extract_pool.main()
