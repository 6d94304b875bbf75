"""The fetch stage, the only code that touches the network: sources -> targets -> pages.

`HttpFetcher.fetch(target)` turns one URL into one `Page` whatever the server does (an outcome
from FETCH_OUTCOMES and a one-line error, never an exception); `WarcFetcher` does the same for a
page stored in a WARC file; `fetch_targets` runs a batch politely across hosts; `discover_targets`
reads a source's listings (feeds, sitemaps, homepages, URL lists, WARC files) into targets.
"""

from __future__ import annotations

import codecs
import io
import ipaddress
import json
import logging
import re
import socket
import threading
import time
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import feedparser
import httpx
from lxml import etree
from lxml import html as lxml_html
from prefect import task
from prefect.cache_policies import NO_CACHE
from protego import Protego
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from wirehouse.config.settings import FetchSettings
from wirehouse.config.sources import Source
from wirehouse.tasks.frontier import ListingState, listing_validators
from wirehouse.tasks.records import Page, Target
from wirehouse.tasks.urls import html_hash
from wirehouse.tasks.naming import fetch_run_name, source_run_name

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
    "sitemap": "application/xml,text/xml;q=0.9,application/gzip;q=0.8,*/*;q=0.1",
}
ACCEPT["homepage"] = ACCEPT["page"]
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds are often served as text/xml, text/plain or even text/html; feedparser copes with all.
FEED_TYPE_WORDS = ("xml", "rss", "atom", "json", "text/plain", "text/html")
# Sitemaps: XML, or a .xml.gz served as gzip or plain bytes.
SITEMAP_TYPE_WORDS = ("xml", "gzip", "octet-stream", "text/plain")
GZIP_MAGIC = b"\x1f\x8b"
# Where feeds usually live when a homepage does not advertise one (WordPress, Ghost, Hugo, Blogger...).
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/posts/default")
FEED_LINK_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309: parse at least 500 KiB, ignore the rest
ROBOTS_TTL = 3600.0  # seconds a robots.txt is reused: about one run on the hourly schedule
ERROR_BODY_BYTES = 65_536  # read of an error body: enough to recognise a challenge page
# Phrases found on bot-challenge and block pages but not on the articles behind them. Scripts
# that such services inject into ordinary pages (challenge-platform, Turnstile) are left out.
CHALLENGE_MARKERS = (
    "<title>just a moment...</title>",  # Cloudflare interstitial
    "cf-browser-verification",
    "window._cf_chl_opt",
    "<title>attention required! | cloudflare</title>",
    "incapsula incident id",  # Imperva
    "captcha-delivery.com",  # DataDome
    "px-captcha",  # HUMAN / PerimeterX
)
CHALLENGE_MAX_CHARS = 100_000  # challenge pages are small; a long page quoting a marker is not one

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_MARKUP_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)|^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)", re.I
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# WHATWG Encoding: pages labelled latin-1 or ascii are decoded as windows-1252, as browsers do.
_WHATWG_CODECS = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_ODD_CATEGORIES = frozenset({"No", "Sc", "Sm", "So", "Sk", "Co", "Cn", "Cc"})
_DNS_PHRASES = ("name or service not known", "nodename nor servname", "getaddrinfo failed", "name resolution")


class Fetcher(Protocol):
    """Anything that turns a target into a page: over HTTP, or from stored pages in tests."""

    def fetch(self, target: Target) -> Page: ...


class FetchFailed(Exception):
    """A failed fetch: its outcome and one line for humans; `retry_after` is set when retryable."""

    def __init__(self, outcome: str, error: str, retry_after: float | None = None):
        super().__init__(error)
        self.outcome = outcome
        self.error = " ".join(error.split())
        self.retry_after = retry_after


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes = b""
    location: str | None = None


# -- pure helpers ---------------------------------------------------------------------------


def host_key(url: str) -> str:
    """The politeness key of a URL: its host, and its port when not the scheme's default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def check_fetchable(url: str) -> None:
    """Raise FetchFailed unless the URL is absolute http(s) with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FetchFailed("connect_error", f"bad URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchFailed("connect_error", f"not an http(s) URL: {url!r}")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; loopback, private, link-local and reserved are not."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_private(url: str) -> None:
    """Raise FetchFailed ("refused_private" or "dns_error") unless every address of the host is public.

    The check resolves the name before httpx does; a DNS answer that changes in between (DNS
    rebinding) is not caught. That is accepted: the guard is against configuration mistakes and
    feeds pointing inward, not against a hostile resolver.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchFailed("dns_error", f"cannot resolve {host}: {exc.strerror}") from None
        addresses = [info[4][0] for info in infos]
    for address in addresses:
        if not is_public_address(address):
            raise FetchFailed("refused_private", f"{host} is a non-public address ({address}); the source does not allow_private")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def media_type(content_type: str | None) -> str:
    """The lowercased media type of a Content-Type header, "" when absent."""
    return (content_type or "").split(";")[0].strip().lower()


def accepts_type(kind: str, content_type: str | None) -> bool:
    """Whether a response of this Content-Type can be what `kind` asked for (absent: sniff later)."""
    media = media_type(content_type)
    if not media or kind == "robots":
        return True
    if kind == "feed":
        return any(word in media for word in FEED_TYPE_WORDS)
    if kind == "sitemap":
        return any(word in media for word in SITEMAP_TYPE_WORDS)
    return media in PAGE_TYPES


def looks_like_html(text: str) -> bool:
    """Whether an untyped body is HTML: it opens with markup naming html or a doctype."""
    head = text[:2048].lstrip().lower()
    return head.startswith("<") and ("<html" in head or "<!doctype html" in head or "<head" in head)


def is_challenge(headers: httpx.Headers, text: str) -> bool:
    """Whether a response is a bot challenge or block page rather than the page asked for."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    if len(text) > CHALLENGE_MAX_CHARS:
        return False
    lowered = text.lower()
    return any(marker in lowered for marker in CHALLENGE_MARKERS)


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, WHATWG-aliased; None when unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG_CODECS.get(name, name)


def _decode_mostly(body: bytes, codec: str) -> str | None:
    """The body decoded with `codec`, allowing one bad byte in a thousand; None beyond that."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        text = body.decode(codec, errors="replace")
        return text if text.count("\ufffd") <= len(body) // 1000 else None


def _odd_characters(text: str) -> int:
    """How many characters a reader would call mojibake: symbols, controls, unassigned."""
    return sum(1 for char in text if unicodedata.category(char) in _ODD_CATEGORIES and char not in "\t\n\r")


def _guess_legacy_codec(body: bytes) -> str | None:
    """A codec for undeclared, non-UTF-8 bytes: charset-normalizer's guess, or windows-1252.

    charset-normalizer cannot tell the Latin code pages apart on a short page (it reads French
    windows-1252 as Baltic cp1257). When its guess decodes to Latin letters only and windows-1252
    reads as cleanly, windows-1252 wins: it is by far the most common legacy charset on the web.
    """
    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return None
    guess = best.encoding
    guessed = body.decode(guess, errors="replace")
    try:
        western = body.decode("cp1252")
    except UnicodeDecodeError:
        return guess
    latin_only = all(unicodedata.name(char, "").startswith("LATIN") for char in guessed if char.isalpha())
    return "cp1252" if latin_only and _odd_characters(western) <= _odd_characters(guessed) else guess


def decode_body(body: bytes, content_type: str | None) -> str:
    """Decode a fetched body to text.

    Args:
        body: the (decompressed) bytes.
        content_type: the Content-Type header, whose charset is tried first.

    Returns:
        The text, decoded by the first of: a byte-order mark, the header charset, an HTML meta or
        XML declaration charset, UTF-8, and a guess (see `_guess_legacy_codec`). A declared
        charset that fails on more than one byte in a thousand is taken to be wrong.

    Raises:
        UnicodeError: when no charset decodes the body.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    markup = _MARKUP_CHARSET.search(body[:4096])
    declared = [header.group(1) if header else None]
    if markup:
        declared.append((markup.group(1) or markup.group(2)).decode("ascii", errors="ignore"))
    for codec in dict.fromkeys(filter(None, map(_codec, declared))):
        text = _decode_mostly(body, codec)
        if text is not None:
            return text
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _guess_legacy_codec(body)
    if codec is None:
        raise UnicodeError("no character encoding decodes the body")
    return body.decode(codec, errors="replace")


def feed_links(text: str, feed_url: str) -> list[str]:
    """The item links of an RSS, Atom or JSON Feed document: absolute http(s) URLs, in feed order."""
    if text.lstrip().startswith("{"):
        try:
            items = json.loads(text).get("items", [])
        except (ValueError, AttributeError):
            items = []
        links = [item.get("url") or item.get("external_url") for item in items if isinstance(item, dict)]
    else:
        # A stream, never the string itself: feedparser would fetch a str that looks like a URL
        # or open one that names a local file. The text is already decoded, so say it is UTF-8.
        parsed = feedparser.parse(
            io.BytesIO(text.encode("utf-8")),
            response_headers={"content-type": "application/xml; charset=utf-8", "content-location": feed_url},
        )
        links = [entry.get("link") or entry.get("id") for entry in parsed.entries]
    absolute = (urljoin(feed_url, link.strip()) for link in links if isinstance(link, str) and link.strip())
    return [link for link in absolute if urlsplit(link).scheme in ("http", "https")]


def read_url_file(path: Path) -> list[str]:
    """The URLs in a text file, one a line; blank lines and "#" comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


@dataclass
class SitemapEntry:
    """One <url> of a urlset or <sitemap> of an index: its location and date, if any."""

    loc: str
    date: datetime | None = None  # news:publication_date, else lastmod


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)


def parse_w3c_date(value: str | None) -> datetime | None:
    """A sitemap date (W3C Datetime: "2024-05-01", "2024-05-01T12:00:00+02:00", "...Z"); None if bad."""
    if not value or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_sitemap(text: str, sitemap_url: str) -> tuple[str, list[SitemapEntry]]:
    """The entries of a sitemap document.

    Args:
        text: the decoded XML of a sitemap, a sitemap index or a Google News sitemap.
        sitemap_url: where it came from; relative locations are resolved against it.

    Returns:
        ("index", child sitemaps) for a <sitemapindex>, else ("urlset", page URLs), each with
        its date: a Google News `news:publication_date` when given, else `lastmod`. Locations
        that are not http(s) are dropped; entities are never resolved, the network never used.

    Raises:
        ValueError: the text is not XML, or its root is neither <urlset> nor <sitemapindex>.
    """
    try:
        root = etree.fromstring(_XML_DECLARATION.sub("", text, count=1).encode("utf-8"), _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None
    if root is None:
        raise ValueError("not XML")
    name = etree.QName(root).localname
    if name not in ("urlset", "sitemapindex"):
        raise ValueError(f"the root element is <{name}>, not <urlset> or <sitemapindex>")
    kind = "index" if name == "sitemapindex" else "urlset"
    entries = []
    for element in root:
        if not isinstance(element.tag, str) or etree.QName(element).localname not in ("url", "sitemap"):
            continue
        fields = {etree.QName(child).localname: (child.text or "").strip() for child in element.iter() if isinstance(child.tag, str)}
        loc = urljoin(sitemap_url, fields.get("loc", ""))
        if fields.get("loc") and urlsplit(loc).scheme in ("http", "https"):
            date = parse_w3c_date(fields.get("publication_date")) or parse_w3c_date(fields.get("lastmod"))
            entries.append(SitemapEntry(loc, date))
    return kind, entries


def select_entries(entries: list[SitemapEntry], limit: int, max_age_hours: float, now: datetime) -> list[SitemapEntry]:
    """The newest `limit` entries no older than `max_age_hours` (0: any age); undated ones last, in order."""
    if max_age_hours > 0:
        cutoff = now - timedelta(hours=max_age_hours)
        entries = [entry for entry in entries if entry.date is None or entry.date >= cutoff]
    newest_first = sorted(entries, key=lambda entry: (entry.date is None, -(entry.date.timestamp() if entry.date else 0)))
    return newest_first[:limit]


def advertised_feeds(text: str, page_url: str) -> list[str]:
    """The feeds a page advertises with <link rel="alternate" type="application/rss+xml" ...>, in order."""
    try:
        document = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return []
    feeds = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and media_type(link.get("type")) in FEED_LINK_TYPES and link.get("href"):
            url = urljoin(page_url, link.get("href").strip())
            if urlsplit(url).scheme in ("http", "https") and url not in feeds:
                feeds.append(url)
    return feeds


def warc_records(path: Path) -> Iterator[tuple[str, int]]:
    """The (target URI, record offset) of every 2xx HTTP response record of a WARC file.

    Request, metadata and warcinfo records, and archived redirects and errors, are not pages.
    """
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            if record.rec_type != "response" or record.http_headers is None or urlsplit(uri).scheme not in ("http", "https"):
                continue
            if (record.http_headers.get_statuscode() or "").startswith("2"):
                yield uri, records.get_record_offset()


# -- politeness -----------------------------------------------------------------------------


class _HostState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_start = 0.0
        self.min_delay = 0.0  # a robots.txt Crawl-delay


class HostGate:
    """Turns for requests: one at a time per host, and at most `limit` in flight overall.

    The delay between two requests to a host counts from the start of one to the start of the
    next (as Scrapy's DOWNLOAD_DELAY does); since a host never has two requests in flight, a
    host slower than the delay is simply asked again as soon as it answers.
    """

    def __init__(self, limit: int):
        self._in_flight = threading.BoundedSemaphore(limit)
        self._guard = threading.Lock()
        self._hosts: dict[str, _HostState] = defaultdict(_HostState)

    def _state(self, host: str) -> _HostState:
        with self._guard:
            return self._hosts[host]

    def raise_delay(self, host: str, seconds: float) -> None:
        """Never start two requests to `host` less than `seconds` apart (a Crawl-delay)."""
        state = self._state(host)
        state.min_delay = max(state.min_delay, seconds)

    @contextmanager
    def turn(self, host: str, delay: float) -> Iterator[None]:
        """Wait for the host's turn and a free slot; the body is the one request."""
        state = self._state(host)
        with state.lock:
            wait = state.next_start - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._in_flight:
                started = time.monotonic()
                try:
                    yield
                finally:
                    state.next_start = started + max(delay, state.min_delay)


# -- HTTP -----------------------------------------------------------------------------------


class _Inflater:
    """Content-Encoding decoding that never produces more than it is asked for (gzip bombs)."""

    def __init__(self, encoding: str):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        else:
            raise FetchFailed("decode_error", f"unsupported Content-Encoding {encoding!r}")

    @property
    def compressed(self) -> bool:
        return self._zlib is not None

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`, stopping past `room` bytes of output (a bigger result is over the cap)."""
        if self._zlib is None:
            return data
        try:
            return self._zlib.decompress(data, max(room, 0) + 1)
        except zlib.error as exc:
            raise FetchFailed("decode_error", f"bad compressed body: {exc}") from None


def _read_body(response: httpx.Response, limit: int, deadline: float, total: float, strict: bool) -> bytes:
    """The decompressed body, up to `limit` bytes: too_large beyond it when strict, else cut."""
    inflater = _Inflater(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if time.monotonic() > deadline:
            raise FetchFailed("timeout", f"body still arriving after the total timeout of {total:g} s", retry_after=0.0)
        data = inflater.feed(raw, limit - size)
        chunks.append(data)
        size += len(data)
        if size > limit:
            if strict:
                compressed = " once decompressed" if inflater.compressed else ""
                raise FetchFailed("too_large", f"body over max_bytes ({limit} bytes){compressed}")
            return b"".join(chunks)[:limit]
    return b"".join(chunks)


def body_limit(kind: str, settings: FetchSettings) -> int:
    """The most bytes (once decompressed) a body of this kind may have."""
    return {"robots": ROBOTS_MAX_BYTES, "sitemap": settings.sitemap_max_bytes}.get(kind, settings.max_bytes)


def accept_body(kind: str, status: int, headers: httpx.Headers, body: bytes, limit: int) -> str:
    """The text of a received 2xx body, or FetchFailed (decode_error, not_html, blocked, too_large).

    A sitemap may be a gzip file itself (`.xml.gz`, not a Content-Encoding): it is inflated here,
    with the same cap against bombs.
    """
    if kind == "sitemap" and body.startswith(GZIP_MAGIC):
        body = _Inflater("gzip").feed(body, limit)
        if len(body) > limit:
            raise FetchFailed("too_large", f"sitemap over sitemap_max_bytes ({limit} bytes) once decompressed")
    try:
        text = decode_body(body, headers.get("content-type"))
    except UnicodeError as exc:
        raise FetchFailed("decode_error", f"cannot decode the body: {exc}") from None
    if kind in ("page", "homepage") and not media_type(headers.get("content-type")) and not looks_like_html(text):
        raise FetchFailed("not_html", "no Content-Type and the body is not HTML")
    if is_challenge(headers, text):
        raise FetchFailed("blocked", f"HTTP {status} but a bot challenge page")
    return text


def new_page(target: Target) -> Page:
    """The Page of one attempt at a target, before anything is known: outcome "ok" until it fails."""
    return Page(
        url=target.url,
        source=target.source,
        outcome="ok",
        fetched_at=datetime.now(UTC),
        kind=target.kind,
        discovered_via=target.discovered_via,
        etag=target.etag,
        last_modified=target.last_modified,
        warc_file=target.warc_file,
        warc_offset=target.warc_offset,
    )


def settle(page: Page, target: Target) -> Page:
    """Hash the body; a body identical to the target's last one (a listing) is not_modified, unparsed."""
    if page.html is not None:
        page.content_hash = html_hash(page.html)
        if target.content_hash == page.content_hash:
            page.outcome, page.html = "not_modified", None
    return page


def _connect_failure(exc: httpx.ConnectError, url: str) -> FetchFailed:
    """Tell a DNS failure from a refused or otherwise failed connection."""
    host = host_key(url)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return FetchFailed("dns_error", f"cannot resolve {host}: {cause.strerror}")
        if isinstance(cause, ConnectionRefusedError):
            return FetchFailed("connect_error", f"connection refused by {host}")
        cause = cause.__cause__ or cause.__context__
    if any(phrase in str(exc).lower() for phrase in _DNS_PHRASES):
        return FetchFailed("dns_error", f"cannot resolve {host}: {exc}")
    return FetchFailed("connect_error", f"cannot connect to {host}: {exc}")


class HttpFetcher:
    """The Fetcher over HTTP: one httpx.Client, robots.txt, politeness, retries and caps.

    Thread-safe: `fetch_targets` calls `fetch` from many threads at once. `Page.elapsed_ms` is the
    time spent in HTTP exchanges (every redirect and attempt), not in politeness or backoff waits.
    """

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            limits=httpx.Limits(max_connections=settings.max_connections),
            # Only encodings _Inflater decodes with a cap; httpx would add br and zstd if installed.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,  # followed by hand: every hop is checked for loops, privacy, robots
            proxy=settings.proxy or None,
        )
        self._gate = HostGate(settings.max_connections)
        self._robots: dict[str, tuple[float, Protego | None]] = {}
        self._robots_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._robots_guard = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def fetch(self, target: Target) -> Page:
        """Fetch one target.

        Args:
            target: the URL, its source, kind ("page" or "feed"), validators and permissions.

        Returns:
            A Page with an outcome from FETCH_OUTCOMES; `html` holds the decoded text when "ok",
            `error` one line when not. Never raises for a bad URL or a bad server.
        """
        page = new_page(target)
        try:
            self._fetch_into(page, target)
        except FetchFailed as failure:
            page.outcome, page.error, page.html = failure.outcome, failure.error, None
        return settle(page, target)

    def _fetch_into(self, page: Page, target: Target) -> None:
        settings = self.settings
        delay = settings.per_host_delay if target.per_host_delay is None else target.per_host_delay
        headers = {}
        if target.etag:
            headers["If-None-Match"] = target.etag
        if target.last_modified:
            headers["If-Modified-Since"] = target.last_modified
        allow_private = target.allow_private or settings.allow_private
        for attempt in range(settings.retries + 1):
            try:
                response = self._follow(page, target.url, target.kind, headers, delay, allow_private, robots=True)
                break
            except FetchFailed as failure:
                if failure.retry_after is None or attempt == settings.retries:
                    if attempt:
                        failure.error += f" (after {attempt + 1} attempts)"
                    raise
                backoff = settings.backoff * 2**attempt
                time.sleep(min(max(backoff, failure.retry_after), settings.max_retry_after))
        if response.status == 304:
            page.outcome, page.content_hash = "not_modified", target.content_hash
            return
        page.html = accept_body(target.kind, response.status, response.headers, response.body, body_limit(target.kind, settings))

    def _follow(
        self, page: Page, url: str, kind: str, headers: dict, delay: float, allow_private: bool, robots: bool
    ) -> _Response:
        """One attempt: the request and its redirects, each hop checked before it is sent."""
        seen: list[str] = []
        for _ in range(self.settings.max_redirects + 1):
            if url in seen:
                raise FetchFailed("redirect_loop", f"redirect loop back to {url} after {len(seen)} requests")
            seen.append(url)
            check_fetchable(url)
            # Behind a proxy the proxy resolves names and picks the address: it is trusted with it.
            if not allow_private and not self.settings.proxy:
                refuse_private(url)
            if robots and self.settings.respect_robots and not self._robots_allow(url, delay, allow_private):
                raise FetchFailed("robots_disallowed", f"robots.txt of {host_key(url)} disallows {urlsplit(url).path or '/'}")
            response = self._exchange(page, url, kind, headers, delay)
            if response.location is None:
                return response
            url = urljoin(url, response.location)
        raise FetchFailed("redirect_loop", f"more than max_redirects ({self.settings.max_redirects}) redirects")

    def _exchange(self, page: Page, url: str, kind: str, headers: dict, delay: float) -> _Response:
        """One request, in the host's turn; transport errors become FetchFailed."""
        with self._gate.turn(host_key(url), delay):
            started = time.monotonic()
            try:
                with self._client.stream("GET", url, headers={**headers, "Accept": ACCEPT[kind]}) as response:
                    page.final_url, page.http_status = url, response.status_code
                    page.content_type = response.headers.get("content-type")
                    page.etag = response.headers.get("etag", page.etag)
                    page.last_modified = response.headers.get("last-modified", page.last_modified)
                    return self._receive(response, kind, started)
            except httpx.TimeoutException as exc:
                phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for the server"
                raise FetchFailed("timeout", f"timed out {phase} ({host_key(url)})", retry_after=0.0) from None
            except httpx.ConnectError as exc:
                raise _connect_failure(exc, url) from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # Mostly a pooled connection the server had closed: worth another attempt.
                raise FetchFailed("connect_error", f"connection to {host_key(url)} broke: {exc}", retry_after=0.0) from None
            except httpx.HTTPError as exc:
                raise FetchFailed("connect_error", f"{type(exc).__name__} from {host_key(url)}: {exc}") from None
            finally:
                page.elapsed_ms += (time.monotonic() - started) * 1000

    def _receive(self, response: httpx.Response, kind: str, started: float) -> _Response:
        """Classify a response by status and type, reading the body only when it is wanted."""
        settings = self.settings
        status, headers = response.status_code, response.headers
        deadline = started + settings.total_timeout
        if status in REDIRECT_STATUSES and headers.get("location"):
            return _Response(status, headers, location=headers["location"])
        if status == 304:
            return _Response(status, headers)
        if status >= 400:
            try:
                body = _read_body(response, ERROR_BODY_BYTES, deadline, settings.total_timeout, strict=False)
                text = body.decode("utf-8", errors="replace")
            except FetchFailed:
                text = ""
            reason = f"HTTP {status} {response.reason_phrase}".strip()
            if status == 403 or is_challenge(headers, text):
                raise FetchFailed("blocked", f"{reason}: the server refuses the crawler")
            if status == 429 or status >= 500:
                wait = parse_retry_after(headers.get("retry-after")) or 0.0
                raise FetchFailed("http_4xx" if status < 500 else "http_5xx", reason, retry_after=wait)
            raise FetchFailed("http_4xx", reason)
        if not 200 <= status < 300:
            raise FetchFailed("http_4xx", f"HTTP {status} {response.reason_phrase} is not a page".strip())
        if not accepts_type(kind, headers.get("content-type")):
            raise FetchFailed("not_html", f"a {kind} cannot be {media_type(headers.get('content-type'))}")
        limit = body_limit(kind, settings)
        length = headers.get("content-length", "")
        if kind != "robots" and length.isdigit() and int(length) > limit:
            raise FetchFailed("too_large", f"Content-Length {length} is over max_bytes ({limit})")
        body = _read_body(response, limit, deadline, settings.total_timeout, strict=kind != "robots")
        return _Response(status, headers, body)

    def _robots_allow(self, url: str, delay: float, allow_private: bool) -> bool:
        """Whether robots.txt lets us fetch `url`; its Crawl-delay is applied to the host's turns."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._robots_guard:
            lock = self._robots_locks[origin]
        with lock:  # one fetch of a robots.txt however many threads want it
            loaded_at, rules = self._robots.get(origin, (float("-inf"), None))
            if time.monotonic() - loaded_at > ROBOTS_TTL:
                rules = self._load_robots(origin, delay, allow_private)
                self._robots[origin] = (time.monotonic(), rules)
                crawl_delay = rules.crawl_delay(self.settings.user_agent) if rules else None
                if crawl_delay:
                    self._gate.raise_delay(host_key(url), float(crawl_delay))
        return rules is None or rules.can_fetch(url, self.settings.user_agent)

    def _load_robots(self, origin: str, delay: float, allow_private: bool) -> Protego | None:
        """The parsed robots.txt of an origin; None (allow all) when it cannot be had.

        RFC 9309 allows all on a 4xx. On a 5xx, timeout or broken connection it asks crawlers
        to assume a full disallow; we allow instead, as the brief for this project decided: the
        page requests still take their polite turns, and a server that fails its robots.txt
        usually fails them too, so they are recorded as such rather than silently skipped.
        """
        scratch = Page(url=f"{origin}/robots.txt", source="", outcome="ok", fetched_at=datetime.now(UTC))
        try:
            response = self._follow(scratch, scratch.url, "robots", {}, delay, allow_private, robots=False)
        except FetchFailed as failure:
            log.info("robots.txt of %s unavailable (%s): allowing all", origin, failure.error)
            return None
        if response.status != 200:
            return None
        return Protego.parse(response.body.decode("utf-8", errors="replace"))


class WarcFetcher:
    """The Fetcher of pages stored in WARC files: reads the record at `target.warc_offset`.

    The page comes from the archive, as the crawler that wrote it saw it: no request is sent, so
    robots.txt and politeness do not apply; the size cap, charset handling, type check and the
    outcomes do, as for HTTP. Thread-safe: every fetch opens the file on its own.
    """

    def __init__(self, settings: FetchSettings):
        self.settings = settings

    def fetch(self, target: Target) -> Page:
        """Read one target's record; a Page with an outcome from FETCH_OUTCOMES, never an exception."""
        page = new_page(target)
        started = time.monotonic()
        try:
            self._read_into(page, target)
        except FetchFailed as failure:
            page.outcome, page.error, page.html = failure.outcome, failure.error, None
        page.elapsed_ms = (time.monotonic() - started) * 1000
        return settle(page, target)

    def _read_into(self, page: Page, target: Target) -> None:
        if target.warc_file is None or target.warc_offset is None:
            raise FetchFailed("decode_error", "no WARC file and offset to read the page from")
        limit = body_limit(target.kind, self.settings)
        try:
            with open(target.warc_file, "rb") as stream:
                stream.seek(target.warc_offset)
                record = next(iter(ArchiveIterator(stream)), None)
                # An offset into the middle of a record can read as a headerless "record": hold what
                # is found to what discovery lists (warc_records), an HTTP response record.
                if record is None or record.rec_type != "response" or record.http_headers is None:
                    raise FetchFailed("decode_error", f"no WARC record of an HTTP response at {target.warc_offset}")
                status = int(record.http_headers.get_statuscode() or 0)
                headers = httpx.Headers(record.http_headers.headers)
                # content_stream() undoes chunking and Content-Encoding; one byte over shows a cut.
                body = record.content_stream().read(limit + 1)
        except (OSError, ArchiveLoadFailed, ValueError, zlib.error) as exc:
            raise FetchFailed("decode_error", f"cannot read the WARC record at {target.warc_offset}: {exc}") from None
        page.final_url, page.http_status = record.rec_headers.get_header("WARC-Target-URI"), status
        page.content_type = headers.get("content-type")
        if not 200 <= status < 300:
            raise FetchFailed("http_5xx" if status >= 500 else "http_4xx", f"archived HTTP {status}")
        if not accepts_type(target.kind, page.content_type):
            raise FetchFailed("not_html", f"a {target.kind} cannot be {media_type(page.content_type)}")
        if len(body) > limit:
            raise FetchFailed("too_large", f"archived body over max_bytes ({limit} bytes)")
        page.html = accept_body(target.kind, status, headers, body, limit)


class PipelineFetcher:
    """The pipeline's Fetcher: a target with a `warc_file` is read from it, any other over HTTP."""

    def __init__(self, http: Fetcher, warc: Fetcher):
        self.http, self.warc = http, warc

    def fetch(self, target: Target) -> Page:
        return (self.warc if target.warc_file else self.http).fetch(target)


_SHARED: dict[str, HttpFetcher] = {}
_SHARED_GUARD = threading.Lock()


def shared_fetcher(settings: FetchSettings) -> HttpFetcher:
    """The process's HttpFetcher for these settings, created on first use.

    Batches fetched at once by concurrent tasks share it, so they share its per-host turns, its
    in-flight limit and its robots.txt cache: politeness holds across batches, not only within one.
    """
    key = settings.model_dump_json()
    with _SHARED_GUARD:
        if key not in _SHARED:
            _SHARED[key] = HttpFetcher(settings)
        return _SHARED[key]


def pipeline_fetcher(settings: FetchSettings) -> PipelineFetcher:
    """The shared HttpFetcher for URLs, a WarcFetcher for pages stored in WARC files."""
    return PipelineFetcher(shared_fetcher(settings), WarcFetcher(settings))


# -- batches and sources --------------------------------------------------------------------


def _interleave_by_host(targets: list[Target]) -> list[int]:
    """Target indices taking one host after another in turn, so workers spread across hosts."""
    lanes: dict[str, list[int]] = defaultdict(list)
    for index, target in enumerate(targets):
        lanes[host_key(target.url)].append(index)
    order: list[int] = []
    for round_ in range(max(map(len, lanes.values()), default=0)):
        order.extend(lane[round_] for lane in lanes.values() if round_ < len(lane))
    return order


def fetch_targets(targets: list[Target], settings: FetchSettings, fetcher: Fetcher | None = None) -> list[Page]:
    """Fetch a batch of targets concurrently across hosts, politely within each.

    Args:
        targets: what to fetch, in any order and from any hosts.
        settings: the fetch settings; `max_connections` threads send the requests.
        fetcher: the Fetcher to use; by default `pipeline_fetcher`: WARC targets are read from
            their file, the others go to the process's shared HttpFetcher, which keeps one
            request at a time per host, `per_host_delay` apart, across all batches.

    Returns:
        One Page per target, in input order.
    """
    if not targets:
        return []
    fetcher = pipeline_fetcher(settings) if fetcher is None else fetcher
    # Submitted host by host in turn: a pool fed one host's URLs first would park every worker
    # on that host's turn while the other hosts idle.
    order = _interleave_by_host(targets)
    pages: list[Page | None] = [None] * len(targets)
    with ThreadPoolExecutor(max_workers=min(settings.max_connections, len(targets)), thread_name_prefix="fetch") as pool:
        for index, page in zip(order, pool.map(lambda index: fetcher.fetch(targets[index]), order)):
            pages[index] = page
    return pages  # type: ignore[return-value]


class _Discovery:
    """One source's discovery: makes its targets, fetches its listings, collects page targets."""

    def __init__(self, source: Source, settings: FetchSettings, fetcher: Fetcher | None, listings: dict[str, ListingState]):
        self.source, self.settings, self.fetcher, self.listings = source, settings, fetcher, listings
        self.now = datetime.now(UTC)
        self.listing_pages: list[Page] = []  # every homepage, feed and sitemap attempt
        self.found: list[Target] = []  # page targets, in discovery order, duplicates included

    def target(self, url: str, kind: str = "page", via: str | None = None, **fields) -> Target:
        source = self.source
        return Target(
            url=url, source=source.name, kind=kind, discovered_via=via,
            allow_private=source.allow_private, per_host_delay=source.per_host_delay, **fields,
        )

    def listing(self, url: str, kind: str, via: str | None = None) -> Target:
        """A feed or child sitemap, asked conditionally while its stored state is trusted."""
        return self.target(url, kind, via, **listing_validators(self.listings.get(url), self.now, self.settings))

    def fetch(self, targets: list[Target]) -> list[Page]:
        pages = fetch_targets(targets, self.settings, self.fetcher)
        self.listing_pages.extend(pages)
        return pages

    def read_feeds(self) -> None:
        """The source's feeds and its homepages' feeds: their items become page targets."""
        feeds = {url: None for url in self.source.feeds}
        read: list[Page] = []
        for home in self.fetch([self.target(url, "homepage") for url in self.source.homepages]):
            if home.outcome != "ok":
                continue
            advertised = advertised_feeds(home.html or "", home.final_url or home.url)
            for url in advertised:
                feeds.setdefault(url, home.url)
            if not advertised:
                read.extend(self.probe_feeds(home))
        probed = {page.url for page in read}
        read.extend(self.fetch([self.listing(url, "feed", via) for url, via in feeds.items() if url not in probed]))
        for page in read:
            if page.outcome != "ok" or page.html is None:
                continue
            links = feed_links(page.html, page.final_url or page.url)
            if not links:
                log.warning("feed %s of source %s lists no items", page.url, self.source.name)
            self.found.extend(self.target(link, via=page.url) for link in links)

    def probe_feeds(self, home: Page) -> list[Page]:
        """The first of COMMON_FEED_PATHS on a homepage's site that answers as a feed, one at a time."""
        base = home.final_url or home.url
        for path in COMMON_FEED_PATHS:
            (page,) = self.fetch([self.listing(urljoin(base, path), "feed", home.url)])
            if page.outcome == "not_modified" or (page.outcome == "ok" and feed_links(page.html or "", page.final_url or page.url)):
                return [page]
        log.warning("homepage %s of source %s advertises no feed, and no common feed path answers", home.url, self.source.name)
        return []

    def read_sitemaps(self) -> None:
        """The source's sitemaps, and the children of indexes: the newest URLs become page targets.

        A sitemap named in the sources file is always read in full (an index that never changes
        may point at a news sitemap that does); the children are asked conditionally, as feeds are.
        """
        settings = self.settings
        entries: dict[str, tuple[SitemapEntry, str]] = {}
        pages = self.fetch([self.target(url, "sitemap") for url in self.source.sitemaps])
        for depth in (0, 1):
            children: list[Target] = []
            for page in pages:
                kind, items = self.parse_sitemap(page)
                if kind == "index" and depth == 0:
                    chosen = select_entries(items, settings.sitemap_max_files, settings.sitemap_max_age_hours, self.now)
                    children.extend(self.listing(entry.loc, "sitemap", page.url) for entry in chosen)
                elif kind == "index":
                    log.warning("sitemap index %s inside an index: not followed", page.url)
                for entry in items if kind == "urlset" else []:
                    entries.setdefault(entry.loc, (entry, page.url))
            pages = self.fetch(children)
        via = {entry.loc: url for entry, url in entries.values()}
        chosen = select_entries([entry for entry, _ in entries.values()], settings.sitemap_max_urls, settings.sitemap_max_age_hours, self.now)
        self.found.extend(self.target(entry.loc, via=via[entry.loc]) for entry in chosen)

    @staticmethod
    def parse_sitemap(page: Page) -> tuple[str, list[SitemapEntry]]:
        """A fetched sitemap's entries; one that is not XML is recorded as a decode_error."""
        if page.outcome != "ok" or page.html is None:
            return "urlset", []
        try:
            return parse_sitemap(page.html, page.final_url or page.url)
        except ValueError as exc:
            page.outcome, page.error, page.html = "decode_error", f"not a sitemap: {exc}", None
            return "urlset", []

    def read_lists(self) -> None:
        """The source's urls, url_files and WARC files' response records."""
        self.found.extend(self.target(url) for url in self.source.urls)
        for path in self.source.url_files:
            self.found.extend(self.target(url, via=str(path)) for url in read_url_file(path))
        for path in self.source.warc_files:
            try:
                for uri, offset in warc_records(path):
                    self.found.append(self.target(uri, via=str(path), warc_file=str(path), warc_offset=offset))
            except ArchiveLoadFailed as exc:
                log.warning("WARC file %s of source %s is damaged; read up to the damage: %s", path, self.source.name, exc)


def discover_targets(
    source: Source,
    settings: FetchSettings,
    fetcher: Fetcher | None = None,
    listings: dict[str, ListingState] | None = None,
) -> tuple[list[Target], list[Page]]:
    """The page targets of a source, from all it lists.

    Args:
        source: the source; `enabled` is not checked here.
        settings: the fetch settings (the sitemap_* limits, feed_recheck_hours).
        fetcher: as for `fetch_targets`.
        listings: per feed or sitemap URL, what its last fetches left (validators, body hash);
            see `frontier.listing_validators` for when they are used.

    Returns:
        The page targets, exact duplicates removed keeping the first (feed items in feed order,
        then sitemap URLs newest first, then urls, url_files and WARC records), and the listing
        Pages (kind "homepage", "feed" or "sitemap"), failed and unchanged ones included: a
        listing that failed or did not change gives its Page and no targets.

    Raises:
        OSError: a url_file or WARC file cannot be read (load_sources checked they existed).
    """
    discovery = _Discovery(source, settings, fetcher, listings or {})
    discovery.read_feeds()
    discovery.read_sitemaps()
    discovery.read_lists()
    first: dict[str, Target] = {}
    for target in discovery.found:
        first.setdefault(target.url, target)
    return list(first.values()), discovery.listing_pages


# -- Prefect tasks --------------------------------------------------------------------------


@task(name="discover-source", task_run_name=source_run_name, tags=["stage:discover"], cache_policy=NO_CACHE)
def discover_source(
    source: Source, settings: FetchSettings, listings: dict[str, ListingState] | None = None
) -> tuple[list[Target], list[Page]]:
    """Prefect task: the targets and listing pages of one source."""
    return discover_targets(source, settings, listings=listings)


@task(name="fetch-batch", task_run_name=fetch_run_name, tags=["stage:fetch"], cache_policy=NO_CACHE)
def fetch_batch(targets: list[Target], settings: FetchSettings) -> list[Page]:
    """Prefect task: fetch one batch of targets (at most `settings.batch_size` of them)."""
    return fetch_targets(targets, settings)
