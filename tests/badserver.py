"""A misbehaving HTTP server on 127.0.0.1 for the fetch tests: every way a news site goes wrong."""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Good page</title></head>"
    "<body><article><h1>Harbour reopens</h1><p>The harbour reopened on Monday.</p></article></body></html>"
)
# Words whose accents break in every wrong decoding; the cp1252 text adds the characters that
# latin-1 lacks (curly quotes, the euro sign, the em dash).
FRENCH = "Le café était très animé à Genève; où est la fenêtre? Les élèves répètent, naïve façade."
WESTERN = FRENCH + " “Déjà vu” — le billet coûte 5 €."
MAX_BYTES = 50_000  # the tests' fetch.max_bytes


def html(body: str, charset_meta: str = "") -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">' if charset_meta else ""
    return f"<!doctype html><html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    wait: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between 100-byte pieces of the body
    length: bool = True  # send Content-Length


def _rss(base: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Daily</title>'
        f"<item><title>One</title><link>{base}/news/one</link></item>"
        "<item><title>Two</title><link>/news/two</link></item>"  # relative: resolved against the feed
        f"<item><title>One again</title><link>{base}/news/one</link></item>"
        "</channel></rss>"
    ).encode()


def _atom(base: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Daily</title>'
        f'<entry><title>Three</title><id>tag:daily,3</id><link rel="alternate" href="{base}/news/three"/></entry>'
        f'<entry><title>Four</title><id>tag:daily,4</id><link href="{base}/news/four"/></entry>'
        "</feed>"
    ).encode()


def article(title: str, *paragraphs: str, charset: str = "utf-8") -> str:
    """A news article page long enough to be extracted as one."""
    paragraphs = paragraphs or tuple(
        f"{title}, part {n}: the council met on {day} to debate the harbour plan, and {n + 2} members spoke against it."
        for n, day in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"))
    )
    body = "".join(f"<p>{text} ({n})</p>" for n, text in enumerate(paragraphs))
    return (
        f"<!doctype html><html><head><meta charset='{charset}'><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")


def _urlset(base: str, entries: list[tuple[str, str]], news: bool = False) -> bytes:
    """A sitemap of (path, date) entries; a Google News sitemap dates them by news:publication_date."""
    namespace = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    def dated(date: str) -> str:
        if news:
            return f"<news:news><news:publication><news:name>Daily</news:name></news:publication><news:publication_date>{date}</news:publication_date></news:news>"
        return f"<lastmod>{date}</lastmod>"
    urls = "".join(f"<url><loc>{base}{path}</loc>{dated(date)}</url>" for path, date in entries)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{namespace}>{urls}</urlset>'.encode()


def _sitemap_index(base: str, entries: list[tuple[str, str]]) -> bytes:
    children = "".join(f"<sitemap><loc>{base}{path}</loc><lastmod>{date}</lastmod></sitemap>" for path, date in entries)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'.encode()


def _feed_of(base: str, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>{path}</title><link>{base}{path}</link></item>" for path in paths)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Liar</title>{items}</channel></rss>'.encode()


def _routes(server: BadServer) -> dict[str, Callable[[BaseHTTPRequestHandler], Reply]]:
    hits = server.hits
    base = server.url("")
    bomb = gzip.compress(b"\0" * (MAX_BYTES * 40))  # ~2 MB of zeros in a few kB

    def etag(request: BaseHTTPRequestHandler) -> Reply:
        if request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(body=PAGE.encode(), headers={"Content-Type": "text/html", "ETag": '"v1"'})

    def liar(request: BaseHTTPRequestHandler) -> Reply:
        # The ETag never changes while the items do: a conditional request always gets a 304.
        if request.headers.get("If-None-Match") == '"forever"':
            return Reply(304, headers={"ETag": '"forever"'})
        return Reply(body=_feed_of(base, server.liar_items), headers={"Content-Type": "application/rss+xml", "ETag": '"forever"'})

    xml = {"Content-Type": "application/xml"}

    return {
        "/good": lambda r: Reply(body=PAGE.encode()),
        "/news/one": lambda r: Reply(body=PAGE.encode()),
        "/always500": lambda r: Reply(500, b"oops"),
        "/flaky503": lambda r: Reply(503, b"busy") if hits["/flaky503"] == 1 else Reply(body=PAGE.encode()),
        "/ratelimited": lambda r: (
            Reply(429, b"slow down", {"Retry-After": "1"}) if hits["/ratelimited"] == 1 else Reply(body=PAGE.encode())
        ),
        "/slow": lambda r: Reply(body=PAGE.encode(), wait=1.0),
        "/trickle": lambda r: Reply(body=PAGE.encode() * 8, drip=0.1),
        "/report.pdf": lambda r: Reply(body=b"%PDF-1.4 ...", headers={"Content-Type": "application/pdf"}),
        "/missing": lambda r: Reply(404, b"<h1>Not Found</h1>"),
        "/forbidden": lambda r: Reply(403, b"<h1>Forbidden</h1>"),
        "/challenge": lambda r: Reply(body=b"<html><head><title>Just a moment...</title></head><body></body></html>"),
        "/big": lambda r: Reply(body=b"<p>" + b"x" * (MAX_BYTES * 2), length=False),
        "/bomb": lambda r: Reply(body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}),
        "/loop-a": lambda r: Reply(302, headers={"Location": "/loop-b"}),
        "/loop-b": lambda r: Reply(302, headers={"Location": base + "/loop-a"}),
        "/robots.txt": lambda r: Reply(body=b"User-agent: *\nDisallow: /private\n", headers={"Content-Type": "text/plain"}),
        "/private/page": lambda r: Reply(body=PAGE.encode()),
        "/latin1-meta": lambda r: Reply(
            body=html(FRENCH, charset_meta="iso-8859-1").encode("latin-1"), headers={"Content-Type": "text/html"}
        ),
        "/cp1252-wrong": lambda r: Reply(body=html(WESTERN).encode("cp1252")),  # says utf-8
        "/cp1252-none": lambda r: Reply(body=html(WESTERN).encode("cp1252"), headers={"Content-Type": "text/html"}),
        "/feed.rss": lambda r: Reply(body=_rss(base), headers={"Content-Type": "application/rss+xml"}),
        "/feed.atom": lambda r: Reply(body=_atom(base), headers={"Content-Type": "application/atom+xml"}),
        "/feed500": lambda r: Reply(500, b"feed broken"),
        "/etag": etag,
        "/liar.rss": liar,
        "/truncated": lambda r: Reply(body=PAGE.encode()[:80], headers={"Content-Type": "text/html", "Content-Length": "5000"}, length=False),
        # Sitemaps: plain (one URL too old for sitemap_max_age_hours), an index pointing at a
        # gzip child and at an old child, a Google News sitemap dated by publication_date.
        "/sitemap.xml": lambda r: Reply(
            body=_urlset(base, [("/news/old", _ago(24 * 30)), ("/news/sm-1", _ago(2)), ("/news/sm-2", _ago(1))]), headers=xml
        ),
        "/sitemap_index.xml": lambda r: Reply(
            body=_sitemap_index(base, [("/sitemap-recent.xml.gz", _ago(1)), ("/sitemap-2001.xml", _ago(24 * 365))]), headers=xml
        ),
        "/sitemap-recent.xml.gz": lambda r: Reply(
            body=gzip.compress(_urlset(base, [("/news/gz-1", _ago(3))])), headers={"Content-Type": "application/x-gzip"}
        ),
        "/sitemap-2001.xml": lambda r: Reply(body=_urlset(base, [("/news/2001", "2001-01-01")]), headers=xml),
        "/news-sitemap.xml": lambda r: Reply(
            body=_urlset(base, [("/news/gn-old", _ago(24 * 10)), ("/news/gn-1", _ago(0.5))], news=True), headers=xml
        ),
        "/sitemap-bomb.xml.gz": lambda r: Reply(body=bomb, headers={"Content-Type": "application/gzip"}),
        # Homepages: one advertising its feeds, one that does not (its feed is at /rss.xml).
        "/home": lambda r: Reply(
            body=(
                "<html><head><link rel='alternate' type='application/rss+xml' href='/feed.rss'>"
                "<link rel='alternate' type='application/atom+xml' href='feed.atom'>"
                "<link rel='stylesheet' href='/style.css'></head><body>News</body></html>"
            ).encode()
        ),
        "/bare/": lambda r: Reply(body=b"<html><head><title>Bare</title></head><body>News</body></html>"),
        "/rss.xml": lambda r: Reply(body=_rss(base), headers={"Content-Type": "application/rss+xml"}),
    }


class BadServer:
    """A ThreadingHTTPServer on 127.0.0.1 that counts the hits on every path."""

    def __init__(self, host: str = "127.0.0.1"):
        self.hits: Counter[str] = Counter()
        self.liar_items: list[str] = []  # the paths /liar.rss lists
        self.starts: dict[str, list[float]] = {}  # monotonic time of each request, per path
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with outer._lock:
                    outer.hits[path] += 1
                    outer.starts.setdefault(path, []).append(time.monotonic())
                route = outer.routes.get(path)
                outer._send(self, route(self) if route else Reply(404, b"no route"))

            def log_message(self, *args) -> None:  # quiet
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # clients hang up on purpose
        self.routes = _routes(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, reply: Reply) -> None:
        time.sleep(reply.wait)
        request.send_response(reply.status)
        for name, value in reply.headers.items():
            request.send_header(name, value)
        if reply.length:
            request.send_header("Content-Length", str(len(reply.body)))
        request.end_headers()
        if not reply.drip:
            request.wfile.write(reply.body)
            return
        for start in range(0, len(reply.body), 100):
            request.wfile.write(reply.body[start:start + 100])
            request.wfile.flush()
            time.sleep(reply.drip)

    def start(self) -> BadServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
