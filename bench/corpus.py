"""A news corpus of any size for the scale bench: N article pages in the sample site's templates.

Page i is made up from (seed, i) alone: its body is sentences walked word by word through the word pairs of the sample catalog's
articles (`Corpus._sentence`), with other numbers and a quoted speaker drawn from a list of names; about one page in ten (`copy_share`) is a near-copy of
an earlier page (one sentence reworded), so deduplication sees mostly distinct texts and some
copies. Pages are spread over `hosts` made-up hosts, each in one sample outlet's template, and
served through a proxy on 127.0.0.1 (as the sample site is) with a configurable latency.

The pages are rendered ahead, over all cores, into a temporary folder (about 13 KB a page) and
served from there, as a static file server would: the publishers' servers are not the
pipeline's work, and rendering on request took a tenth of the machine's CPU from a 10k-page
flow sharing it.
"""

from __future__ import annotations

import random
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from wirehouse.sample.catalog import Article, load_catalog
from wirehouse.sample.render import render_article

HOST_SUFFIX = ".bench.wirehouse-sample.example"
FIRST_NAMES = [
    "Amara", "Bjorn", "Chiara", "Dmitri", "Esther", "Farid", "Greta", "Hiroshi", "Ines", "Jonas", "Kwame", "Leila",
    "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Soren", "Tamsin", "Umar", "Vera", "Wendell", "Ximena",
]
LAST_NAMES = [
    "Abernathy", "Bergström", "Castellano", "Dimitrov", "Eze", "Fairweather", "Grünewald", "Haddad", "Ishikawa",
    "Jovanović", "Kowalczyk", "Lindqvist", "Mbeki", "Nakamura", "Okonkwo", "Petrakis", "Quispe", "Rasmussen",
    "Szabo", "Takahashi", "Uribe", "Vasquez", "Whitcombe", "Yilmaz",
]
ROLES = ["a spokesperson for the council", "the union's regional secretary", "a local shop owner", "the project's lead engineer",
         "a professor of economics", "the harbour master", "a resident of the area", "the committee chair"]
_SENTENCE = re.compile(r"(?<=[a-z0-9\"”’)]{2}[.!?])\s+(?=[A-Z\"“])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
START = datetime(2026, 5, 4, 6, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Corpus:
    """N made-up article pages, each a pure function of (seed, index)."""

    pages: int
    seed: int = 8
    hosts: int = 12
    copy_share: float = 0.1
    paragraphs: tuple[int, int] = (5, 9)

    @cached_property
    def _sentences(self) -> list[str]:
        return [s for a in load_catalog().articles for para in a.body for s in _SENTENCE.split(para) if len(s) > 40]

    @cached_property
    def _chain(self) -> tuple[list[str], dict[str, list[str]]]:
        """Sentence openings, and each word's followers, over the catalog's sentences."""
        starts, followers = [], defaultdict(list)
        for sentence in self._sentences:
            words = sentence.split()
            starts.append(words[0])
            for word, following in zip(words, words[1:]):
                followers[word].append(following)
        return starts, dict(followers)

    def _sentence(self, rng: random.Random) -> str:
        """A new sentence walked word by word through the catalog's word pairs.

        Texts drawn whole from the catalog's few hundred sentences would share sentences, and
        openings, with thousands of other pages at 100k pages (every page would be a dedup
        candidate of a good share of the warehouse); news pages share none. Walked pairs
        read like news locally (names, numbers, clauses), and two pages share a word triple
        about as rarely as two unrelated reports do.
        """
        starts, followers = self._chain
        words = [rng.choice(starts)]
        while len(words) < 40 and not (len(words) >= 8 and words[-1][-1] in ".!?"):
            words.append(rng.choice(followers.get(words[-1]) or starts))
        sentence = " ".join(words).rstrip(",;:")
        return sentence if sentence[-1] in ".!?”\"" else sentence + "."

    @cached_property
    def _by_outlet(self) -> dict[str, list[Article]]:
        catalog = load_catalog()
        return {outlet.slug: catalog.articles_of(outlet.slug) for outlet in catalog.outlets}

    def host(self, index: int) -> str:
        """The made-up host page `index` lives on."""
        return f"outlet{index % self.hosts:02d}{HOST_SUFFIX}"

    def base_url(self, index: int) -> str:
        return f"http://{self.host(index)}"

    def article(self, index: int, with_body: bool = True) -> Article:
        """Page `index` as a sample-catalog Article (never a wire copy: copies are near-copies here).

        Without its body (empty) when only its URL is wanted: the body is most of the work.
        """
        outlets = load_catalog().outlets
        outlet = outlets[(index % self.hosts) % len(outlets)]
        rng = random.Random(f"{self.seed}:{index}:meta")
        template = rng.choice(self._by_outlet[outlet.slug])
        published = START + timedelta(minutes=7 * index % (3 * 24 * 60))
        slug = f"bench-{index:06d}"
        day = published.astimezone(outlet.tz)
        return Article(
            outlet=outlet.slug, slug=slug, title=self._title(index, rng), authors=(self._name(rng),), published=published,
            updated=None, section=template.section, body=self.body(index) if with_body else (), event_id=f"bench-{index}", wire_id=None,
            tracking_variants=(), image=None,
            path=f"/{outlet.slug}/{template.section}/{day:%Y/%m/%d}/{slug}{outlet.url_suffix}",
        )

    def url(self, index: int) -> str:
        return self.article(index, with_body=False).url(self.base_url(index))

    def copy_of(self, index: int) -> int | None:
        """The earlier page page `index` is a near-copy of, or None for an original."""
        rng = random.Random(f"{self.seed}:{index}:copy")
        if index == 0 or rng.random() >= self.copy_share:
            return None
        return max(0, index - 1 - rng.randrange(50))

    def body(self, index: int) -> tuple[str, ...]:
        """The paragraphs of page `index`: an original, or a near-copy of an original's."""
        source = self.copy_of(index)
        if source is None:
            return self._original(index)
        while self.copy_of(source) is not None:  # a copy of a copy copies the original
            source = self.copy_of(source)
        paragraphs = list(self._original(source))
        rng = random.Random(f"{self.seed}:{index}:edit")
        at = rng.randrange(len(paragraphs))
        paragraphs[at] = self._quote(rng) + " " + paragraphs[at]
        return tuple(paragraphs)

    def html(self, index: int) -> bytes:
        """The page's HTML, as the corpus server sends it."""
        article = self.article(index)
        return render_article(load_catalog(), article, self.base_url(index), self._by_outlet[article.outlet][:6])

    def index_of(self, host: str, path: str) -> int | None:
        """The page a request for `path` on `host` names, None if there is none."""
        match = re.search(r"/bench-(\d{6})", path)
        if not match or int(match[1]) >= self.pages:
            return None
        index = int(match[1])
        return index if self.host(index) == host and self.article(index, with_body=False).path == path else None

    def render(self, folder: Path, workers: int) -> None:
        """Write every page's HTML to `folder` (`page_file`), over `workers` processes."""
        chunks = [(folder, start, min(start + 500, self.pages)) for start in range(0, self.pages, 500)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(self._render_chunk, chunks))

    def _render_chunk(self, chunk: tuple[Path, int, int]) -> None:
        folder, start, stop = chunk
        for index in range(start, stop):
            page_file(folder, index).write_bytes(self.html(index))

    def url_files(self, folder: Path) -> dict[str, Path]:
        """One file of page URLs per host (the sources' url_files), written into `folder`."""
        files = {}
        for host_number in range(min(self.hosts, self.pages)):
            path = folder / f"outlet{host_number:02d}.txt"
            with open(path, "w") as handle:
                for index in range(host_number, self.pages, self.hosts):
                    handle.write(self.url(index) + "\n")
            files[f"outlet{host_number:02d}"] = path
        return files

    def _original(self, index: int) -> tuple[str, ...]:
        rng = random.Random(f"{self.seed}:{index}:body")
        paragraphs = []
        for _ in range(rng.randint(*self.paragraphs)):
            sentences = [_NUMBER.sub(lambda _: str(rng.randint(2, 950)), self._sentence(rng)) for _ in range(rng.randint(2, 3))]
            if rng.random() < 0.5:
                sentences.append(self._quote(rng))
            paragraphs.append(" ".join(sentences))
        return tuple(paragraphs)

    def _quote(self, rng: random.Random) -> str:
        said = self._sentence(rng).rstrip(".")
        return f"“{said},” said {self._name(rng)}, {rng.choice(ROLES)}."

    def _title(self, index: int, rng: random.Random) -> str:
        words = rng.choice(self._sentences).split()[:9]
        return " ".join(words).rstrip(",.;:") + f" ({index})"

    def _name(self, rng: random.Random) -> str:
        return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def page_file(folder: Path, index: int) -> Path:
    """Where page `index` is rendered under `folder`."""
    return folder / f"{index:06d}.html"


class _CorpusServer(ThreadingHTTPServer):
    daemon_threads = True
    corpus: Corpus
    pages: Path  # the rendered pages
    latency: float


class _CorpusHandler(BaseHTTPRequestHandler):
    """Answers as an HTTP proxy for the corpus hosts: robots.txt, and each page after `latency`."""

    server: _CorpusServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        host = target.netloc or self.headers.get("Host", "")
        if self.server.latency:
            time.sleep(self.server.latency)
        if target.path == "/robots.txt":
            self._send(HTTPStatus.OK, "text/plain", b"User-agent: *\nAllow: /\n")
            return
        index = self.server.corpus.index_of(host, target.path)
        if index is None:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        else:
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page_file(self.server.pages, index).read_bytes())

    def log_message(self, format: str, *args) -> None:
        """Silent: a run makes thousands of requests."""

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass(frozen=True)
class ServedCorpus:
    corpus: Corpus
    proxy_url: str
    folder: Path

    def sources(self) -> list[dict]:
        """One source per host reading its url file; loopback allowed, no politeness delay."""
        return [
            {"name": name, "url_files": [str(path)], "allow_private": True, "per_host_delay": 0.0}
            for name, path in self.corpus.url_files(self.folder).items()
        ]


@contextmanager
def serve_corpus(corpus: Corpus, latency: float = 0.0, workers: int = 1) -> Iterator[ServedCorpus]:
    """Render `corpus` and serve it through a proxy on a free 127.0.0.1 port until the block ends.

    Args:
        corpus: the pages.
        latency: seconds each response waits before it is sent (a far-away server).
        workers: processes rendering the pages before the server starts.
    """
    with tempfile.TemporaryDirectory(prefix="wirehouse-corpus-") as folder:
        pages = Path(folder) / "pages"
        pages.mkdir()
        corpus.render(pages, workers)
        server = _CorpusServer(("127.0.0.1", 0), _CorpusHandler)
        server.corpus, server.pages, server.latency = corpus, pages, latency
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield ServedCorpus(corpus, f"http://127.0.0.1:{server.server_address[1]}", Path(folder))
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
