"""The extraction stage: fetched HTML in, cleaned articles with their metadata out.

`extract_article` is a pure function over one page; `extract_pages` maps it over a batch in a
pool of worker processes; `extract_manifest` runs the batch contract of the extraction scorer
(`../shared/eval/score_extraction.py --cmd`). The Prefect task at the bottom only wraps
`extract_pages`.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura
from lxml import html as lxml_html
from lxml.etree import ParserError
from prefect import task

from wirehouse.config.settings import ExtractSettings
from wirehouse.tasks.boilerplate import boilerplate_family, remove_boilerplate
from wirehouse.tasks.extract_meta import PageMeta, clean_title, parse_date, read_meta, same_host, split_authors
from wirehouse.tasks.records import Article, Page, Rejection
from wirehouse.tasks.urls import article_id, canonical_url, content_hash

_ERROR_TITLE = re.compile(
    r"\b(?:404|410|page not found|not found|page (?:does not|doesn'?t) exist|no longer available|"
    r"page (?:is )?unavailable|error page|(?:couldn'?t|could not|can'?t|cannot) find (?:that|the|this) page)\b",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\b(?:subscribe (?:now )?to (?:continue|read|unlock)|to continue reading|continue reading with|"
    r"this (?:article|content|story) is (?:only )?(?:for|available to) (?:subscribers|members)|"
    r"already a (?:subscriber|member)|subscribers? only|unlock (?:this|full) (?:article|story)|"
    r"start your (?:free )?trial|create a free account to (?:continue|read))\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass
class TextChoice:
    """The body text kept for a page, which candidate it came from, and why."""

    text: str
    source: str  # "precision", "recall" or "json-ld"
    reason: str


# -- pure steps ----------------------------------------------------------------------------------


def parse_html(html: str):
    """An lxml tree of the page, or None when there is no HTML to parse."""
    if not html or not html.strip():
        return None
    try:
        return lxml_html.document_fromstring(html.encode("utf-8", "replace"))
    except (ParserError, ValueError):
        return None


def error_page_reason(meta: PageMeta, tree) -> str | None:
    """Why the page is an error page ("404 page: 'Page not found'"), or None."""
    if meta.is_article:
        return None
    for heading in (meta.h1, _first_text(tree, "//title")):
        if heading and _ERROR_TITLE.search(heading):
            return f"error page: {heading[:80]!r}"
    return None


def section_front_reason(text: str, tree, meta: PageMeta) -> str | None:
    """Why the page is a list of links rather than an article, or None.

    A section front has many links and little prose: most extracted lines are headlines (short,
    no closing punctuation). Pages that declare themselves articles are never fronts.
    """
    if meta.is_article:
        return None
    links = len(tree.xpath("//a[@href]"))
    share = prose_share(text)
    if links >= 30 and share < 0.5:
        return f"section front: {links} links, {share:.0%} of the text in sentences"
    return None


def prose_share(text: str) -> float:
    """The share of the text's characters in lines that read as sentences."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    total = sum(len(line) for line in lines)
    prose = sum(len(line) for line in lines if len(line.split()) >= 10 and _SENTENCE_END.search(line))
    return prose / total if total else 0.0


def wall_reason(raw_text: str, text: str, settings: ExtractSettings) -> str | None:
    """Why the page is a consent wall or a paywall teaser rather than an article, or None."""
    consent = sum(boilerplate_family(line) == "cookie" for line in raw_text.split("\n"))
    if consent and len(text) < settings.min_text_chars:
        return f"consent wall: {consent} cookie-consent lines, {len(text)} characters of text"
    paywall = _PAYWALL.search(raw_text)
    if paywall and len(text) < 4 * settings.min_text_chars:
        return f"paywall teaser: {paywall.group(0)!r} after {len(text)} characters"
    return None


def _first_text(tree, xpath: str) -> str | None:
    nodes = tree.xpath(xpath)
    return " ".join(nodes[0].text_content().split()) if nodes else None


def run_trafilatura(tree, url: str | None, *, precision: bool = False, recall: bool = False, metadata: bool = False):
    """trafilatura's extraction of one tree (no comments, tables kept), or None."""
    return trafilatura.bare_extraction(
        tree, url=url, favor_precision=precision, favor_recall=recall, include_comments=False,
        include_tables=True, with_metadata=metadata, deduplicate=False,
    )


def strip_headline(text: str, title: str | None) -> str:
    """The text without a first line that repeats the headline."""
    first, _, rest = text.partition("\n")
    if title and first.strip().lower() == title.strip().lower():
        return rest.lstrip("\n")
    return text


def choose_text(candidates: dict[str, str], meta: PageMeta) -> TextChoice:
    """The body text among the candidates, with the reason for the choice.

    The precision extraction is the default; the JSON-LD articleBody replaces it when the page
    publishes a body that is clearly longer (the extractor cut the article short).
    """
    chosen = next(name for name in ("precision", "recall") if name in candidates)
    text = candidates[chosen]
    body = candidates.get("json-ld")
    if body and len(body) > 1.5 * len(text):
        return TextChoice(body, "json-ld", f"json-ld body {len(body)} chars > 1.5 x {chosen} {len(text)}")
    return TextChoice(text, chosen, f"{chosen}: {len(text)} chars")


def detect_language(text: str, declared: str | None) -> str | None:
    """The text's language (ISO 639-1) by py3langid; the page's declared language for scraps."""
    if len(text) < 40:
        return declared
    import py3langid  # its model loads on first use: keep it out of import time

    return py3langid.classify(text[:5000])[0]


def article_identity(url: str, rel_canonical: str | None) -> str:
    """The canonical URL an article is known by.

    The page's own rel=canonical (or og:url) names the article when it is on the host the page
    was fetched from: it folds syndication paths, AMP copies and tracking variants into one id.
    A canonical on another host is not trusted (a syndicated copy pointing at the original
    would merge two outlets' articles, and spammy pages point anywhere); the fetched URL is then
    the identity. Both go through `canonical_url`, so the id is `article_id(canonical_url(...))`.
    """
    if rel_canonical and same_host(rel_canonical, url):
        return canonical_url(rel_canonical)
    return canonical_url(url)


def extract_article(
    html: str, url: str, settings: ExtractSettings, *, source: str = "", fetched_at: datetime | None = None
) -> Article | Rejection:
    """Extract one news article from its HTML.

    Args:
        html: the page's HTML, decoded.
        url: the URL the page was fetched under (used to resolve links and to name the article).
        settings: the `extract` settings section.
        source: the source name recorded on the article.
        fetched_at: when the page was fetched; now when not given.

    Returns:
        An Article (clean text, title, authors, dates, language, site, canonical identity and
        where each field came from), or a Rejection with outcome "not_article" (a section
        front, an error page, a consent wall or a paywall teaser) or "extraction_empty" (no
        text, or less than `settings.min_text_chars`), with a one-line reason.
    """
    tree = parse_html(html)
    if tree is None:
        return Rejection(url, "extraction_empty", "empty or unparsable HTML")
    meta = read_meta(tree, url)
    reason = error_page_reason(meta, tree)
    if reason:
        return Rejection(url, "not_article", reason)

    document = run_trafilatura(tree, url, precision=settings.favor_precision, metadata=True)
    raw_text = (document.text if document else "") or ""
    candidates = {"precision" if settings.favor_precision else "recall": raw_text}
    if meta.article_body:
        candidates["json-ld"] = meta.article_body
    title = meta.title or clean_title(document.title if document else None, meta.site_name, url, meta.h1)
    candidates = {name: strip_headline(remove_boilerplate(text), title).strip() for name, text in candidates.items()}
    choice = choose_text(candidates, meta)

    reason = wall_reason(raw_text, choice.text, settings) or section_front_reason(choice.text, tree, meta)
    if reason:
        return Rejection(url, "not_article", reason)
    if len(choice.text) < settings.min_text_chars:
        return Rejection(url, "extraction_empty", f"{len(choice.text)} characters of text < {settings.min_text_chars}")
    return build_article(url, meta, document, choice, source=source, fetched_at=fetched_at)


def build_article(url, meta: PageMeta, document, choice: TextChoice, *, source: str, fetched_at) -> Article:
    """The Article from the page's metadata, trafilatura's metadata as the fallback, and the text."""
    title, title_source = meta.title, meta.title_source
    if not title and document is not None and document.title:
        title, title_source = clean_title(document.title, meta.site_name, url, meta.h1), "html"
    authors, author_source = meta.authors, meta.author_source
    if not authors and document is not None:
        authors, author_source = split_authors(document.author), "html"
    published, modified, date_source = meta.date_published, meta.date_modified, meta.date_source
    if published is None and document is not None and document.date:
        published, date_source = parse_date(document.date), "html"
    canonical = article_identity(url, meta.canonical)
    return Article(
        article_id=article_id(canonical),
        url=url,
        canonical_url=canonical,
        source=source,
        title=title,
        text=choice.text,
        fetched_at=fetched_at or datetime.now(UTC),
        authors=authors,
        date_published=published,
        date_modified=modified,
        language=detect_language(choice.text, meta.language),
        site_name=meta.site_name or (document.sitename if document is not None else None),
        description=meta.description,
        section=meta.section,
        tags=meta.tags,
        image=meta.image,
        title_source=title_source if title else None,
        author_source=author_source if authors else None,
        date_source=date_source if published else None,
        content_hash=content_hash(choice.text),
    )


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

_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def _pool_for(settings: ExtractSettings) -> ProcessPoolExecutor:
    """The process's extraction pool, created on first use and reused across batches."""
    global _pool, _pool_key
    key = (settings.workers, settings.max_tasks_per_child)
    if _pool is None or _pool_key != key:
        shutdown_pool()
        # Not "fork": a Prefect worker process runs threads (its event loop, the log and event
        # shippers), and forking a threaded process copies locks those threads may hold, which
        # can deadlock the child. "forkserver" forks workers from a clean single-threaded server
        # that has imported this module (and trafilatura) once, so a recycled worker starts in
        # milliseconds where "spawn" would re-import everything each time.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["wirehouse.tasks.extract"])
        _pool = ProcessPoolExecutor(
            max_workers=settings.workers, mp_context=context, max_tasks_per_child=settings.max_tasks_per_child
        )
        _pool_key = key
        atexit.register(shutdown_pool)
    return _pool


def shutdown_pool() -> None:
    """Stop the extraction workers, if any are running."""
    global _pool, _pool_key
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool, _pool_key = None, None


def _extract_page(page: Page, settings: ExtractSettings) -> Article | Rejection:
    """extract_article over one page; a failure becomes the page's Rejection, never an exception."""
    try:
        return extract_article(page.html or "", page.final_url or page.url, settings,
                               source=page.source, fetched_at=page.fetched_at)
    except Exception as exc:  # one bad page must not sink its batch
        return Rejection(page.url, "extraction_empty", f"extraction failed: {type(exc).__name__}: {exc}"[:300])


def _extract_chunk(chunk: list[Page], settings: ExtractSettings) -> list[Article | Rejection]:
    return [_extract_page(page, settings) for page in chunk]


def extract_all(pages: list[Page], settings: ExtractSettings) -> list[Article | Rejection]:
    """One Article or Rejection for each page, in the pages' order, extracted in the pool.

    Pages go to the workers in chunks of `settings.chunk_size`. A chunk whose worker dies
    (a crash, the OOM killer) comes back as rejections and the pool is rebuilt for the rest.
    """
    if settings.workers < 1:
        return _extract_chunk(pages, settings)
    chunks = [pages[i:i + settings.chunk_size] for i in range(0, len(pages), settings.chunk_size)]
    futures = [_pool_for(settings).submit(_extract_chunk, chunk, settings) for chunk in chunks]
    results: list[Article | Rejection] = []
    for chunk, future in zip(chunks, futures):
        try:
            results.extend(future.result())
        except BrokenProcessPool as exc:
            shutdown_pool()
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


@task(name="extract-batch")
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
