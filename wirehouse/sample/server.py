"""Serves the sample site over real HTTP on 127.0.0.1, for the length of a `with` block.

The site has a fixed public address, SAMPLE_BASE_URL, that no resolver knows: the server on
127.0.0.1 answers as an HTTP proxy for it, and the pipeline fetches through that proxy
(`fetch.proxy`). So the URLs, and with them the article ids, are the same in every run,
whatever free port the server got.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from wirehouse.sample.catalog import Catalog, load_catalog
from wirehouse.sample.render import HTML, Resource, render_not_found, render_site


SAMPLE_BASE_URL = "http://news.wirehouse-sample.example"


class SampleSite:
    """A running sample site: its public address, the local proxy that serves it, its sources."""

    def __init__(self, base_url: str, proxy_url: str, catalog: Catalog) -> None:
        self.base_url = base_url
        self.proxy_url = proxy_url
        self.catalog = catalog
        self.feed_urls = {outlet.slug: outlet.feed_url(base_url) for outlet in catalog.outlets}

    def sources(self) -> list[dict]:
        """The sample's outlets as source entries, as the sources file spells them.

        Returns:
            One dict per outlet: name, its feed, allow_private (the site is on loopback) and
            per_host_delay 0.0 (every outlet shares the one host). Fetch them with
            `fetch.proxy` set to `proxy_url`.
        """
        return [
            {"name": slug, "feeds": [feed_url], "allow_private": True, "per_host_delay": 0.0}
            for slug, feed_url in self.feed_urls.items()
        ]


class _SampleServer(ThreadingHTTPServer):
    """A threading HTTP server holding the rendered pages."""

    daemon_threads = True
    pages: dict[str, Resource]
    not_found: bytes


class _SampleHandler(BaseHTTPRequestHandler):
    """Answers from the rendered pages; the query string never changes the page."""

    server: _SampleServer
    protocol_version = "HTTP/1.1"
    server_version = "wirehouse-sample/1.0"
    timeout = 30  # seconds an idle keep-alive connection is held
    # Headers and body go out in two writes; without TCP_NODELAY each keep-alive response
    # waits ~40 ms on Nagle's algorithm and delayed ACKs.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        """Send a page, a 304 when the client's copy is current, or the 404 page."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        """Like GET, without the body."""
        self._answer(send_body=False)

    def log_message(self, format: str, *args) -> None:
        """Stay silent: a run makes hundreds of requests."""

    def _answer(self, send_body: bool) -> None:
        """Route the request path to its page; as a proxy, answer for the sample's host only."""
        target = urlsplit(self.path)
        foreign = target.netloc and target.netloc != urlsplit(SAMPLE_BASE_URL).netloc
        page = None if foreign else self.server.pages.get(target.path)
        if page is None:
            self._send(HTTPStatus.NOT_FOUND, HTML, self.server.not_found, send_body, {})
        elif self.headers.get("If-None-Match") == page.etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", page.etag)
            self.end_headers()
        else:
            self._send(HTTPStatus.OK, page.content_type, page.body, send_body, _validators(page))

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, send_body: bool, extra: dict) -> None:
        """Write one response with its length, so keep-alive connections stay in step."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def _validators(page: Resource) -> dict[str, str]:
    """The ETag, and Last-Modified where the page has a date, real sites send."""
    headers = {"ETag": page.etag}
    if page.last_modified:
        headers["Last-Modified"] = format_datetime(page.last_modified.astimezone(timezone.utc), usegmt=True)
    return headers


@contextmanager
def serve_sample_site() -> Iterator[SampleSite]:
    """Serve the bundled sample news site on a free 127.0.0.1 port until the block ends.

    Returns:
        (yields) the running SampleSite: base_url (the fixed public address), proxy_url (the
        local server that answers for it), feed_urls and sources(). The server thread is a
        daemon and is shut down and closed when the block exits.
    """
    catalog = load_catalog()
    server = _SampleServer(("127.0.0.1", 0), _SampleHandler)
    proxy_url = f"http://127.0.0.1:{server.server_address[1]}"
    server.pages = render_site(catalog, SAMPLE_BASE_URL)
    server.not_found = render_not_found(catalog)
    # A short poll interval lets shutdown() return promptly when the block ends.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wirehouse-sample-site", daemon=True
    )
    thread.start()
    try:
        yield SampleSite(SAMPLE_BASE_URL, proxy_url, catalog)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
