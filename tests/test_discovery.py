"""Discovery: sitemaps (plain, index, gzip, Google News), homepages' feeds, WARC files, sources."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from badserver import FRENCH, article
from wirehouse.config.sources import Source, load_sources
from wirehouse.tasks.fetch import (
    HttpFetcher, SitemapEntry, WarcFetcher, advertised_feeds, discover_targets, fetch_targets, parse_sitemap,
    select_entries, warc_records,
)


def write_warc(path: Path, pages: list[tuple[str, str, bytes, str]]) -> Path:
    """A gzipped WARC of (uri, status line, body, content type) response records, each after a request record."""
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for uri, status, body, content_type in pages:
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
            writer.write_record(writer.create_warc_record(uri, "request", payload=io.BytesIO(b""), http_headers=request))
            headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers))
    return path


# -- sitemaps -------------------------------------------------------------------------------


def test_parse_sitemap_reads_locations_dates_and_news_dates():
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        "<url><loc>https://a.example/one</loc><lastmod>2024-05-01</lastmod>"
        "<news:news><news:publication_date>2024-05-03T10:00:00+02:00</news:publication_date></news:news></url>"
        "<url><loc> /two </loc><lastmod>2024-05-02T08:00Z</lastmod></url>"
        "<url><loc>ftp://a.example/three</loc></url><url><loc>https://a.example/four</loc><lastmod>soon</lastmod></url>"
        "</urlset>"
    )
    kind, entries = parse_sitemap(text, "https://a.example/sitemap.xml")
    assert kind == "urlset"
    assert entries == [
        SitemapEntry("https://a.example/one", datetime(2024, 5, 3, 8, 0, tzinfo=UTC)),  # publication_date wins
        SitemapEntry("https://a.example/two", datetime(2024, 5, 2, 8, 0, tzinfo=UTC)),
        SitemapEntry("https://a.example/four", None),
    ]


def test_parse_sitemap_never_resolves_entities():
    text = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>https://a.example/s1.xml&secret;</loc></sitemap></sitemapindex>"
    )
    kind, entries = parse_sitemap(text, "https://a.example/")
    assert kind == "index"
    assert [entry.loc for entry in entries] == ["https://a.example/s1.xml"]


def test_select_entries_keeps_the_newest_within_the_age_limit():
    now = datetime(2024, 5, 10, tzinfo=UTC)
    entries = [
        SitemapEntry("u/undated"),
        SitemapEntry("u/old", now - timedelta(days=30)),
        SitemapEntry("u/day", now - timedelta(days=1)),
        SitemapEntry("u/hour", now - timedelta(hours=1)),
    ]
    assert [e.loc for e in select_entries(entries, 10, 72, now)] == ["u/hour", "u/day", "u/undated"]
    assert [e.loc for e in select_entries(entries, 2, 0, now)] == ["u/hour", "u/day"]


def test_discover_reads_plain_index_gzip_and_news_sitemaps(server, fetch_settings):
    source = Source(
        name="maps",
        sitemaps=[server.url(path) for path in ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml")],
        allow_private=True,
    )
    recent = fetch_settings.model_copy(update={"sitemap_max_age_hours": 72.0})
    with HttpFetcher(recent) as fetcher:
        targets, listings = discover_targets(source, recent, fetcher)
    # Newest first across the source's sitemaps; too old (lastmod or publication_date) left out.
    assert [t.url for t in targets] == [server.url(p) for p in ("/news/gn-1", "/news/sm-2", "/news/sm-1", "/news/gz-1")]
    assert targets[-1].discovered_via == server.url("/sitemap-recent.xml.gz")
    # The old child sitemap of the index is not even fetched.
    assert [(page.url, page.kind, page.outcome) for page in listings] == [
        (server.url("/sitemap.xml"), "sitemap", "ok"),
        (server.url("/sitemap_index.xml"), "sitemap", "ok"),
        (server.url("/news-sitemap.xml"), "sitemap", "ok"),
        (server.url("/sitemap-recent.xml.gz"), "sitemap", "ok"),
    ]
    assert server.hits["/sitemap-2001.xml"] == 0
    capped = recent.model_copy(update={"sitemap_max_urls": 2, "sitemap_max_age_hours": 0.0})
    with HttpFetcher(capped) as fetcher:
        targets, _ = discover_targets(source, capped, fetcher)
    assert [t.url for t in targets] == [server.url("/news/gn-1"), server.url("/news/sm-2")]


def test_gzip_bomb_sitemap_is_too_large(server, fetch_settings):
    source = Source(name="bomb", sitemaps=[server.url("/sitemap-bomb.xml.gz")], allow_private=True)
    with HttpFetcher(fetch_settings) as fetcher:
        targets, (page,) = discover_targets(source, fetch_settings, fetcher)
    assert targets == []
    assert page.outcome == "too_large" and "sitemap_max_bytes" in page.error


@pytest.mark.parametrize(("path", "outcome", "words"), [
    ("/report.pdf", "not_html", "application/pdf"),  # refused by its type before any parsing
    ("/feed.rss", "decode_error", "<rss>"),
    ("/robots.txt", "decode_error", "not XML"),
])
def test_a_listing_that_is_not_a_sitemap_gets_an_outcome(server, fetch_settings, path, outcome, words):
    source = Source(name="wrong", sitemaps=[server.url(path)], allow_private=True)
    with HttpFetcher(fetch_settings) as fetcher:
        targets, (page,) = discover_targets(source, fetch_settings, fetcher)
    assert targets == []
    assert page.outcome == outcome and words in page.error


# -- homepages ------------------------------------------------------------------------------


def test_advertised_feeds_reads_alternate_links():
    html = (
        "<html><head><link rel='Alternate' type='application/rss+xml; charset=utf-8' href='/rss'>"
        "<link rel='alternate' type='text/html' href='/en'><link rel='alternate' type='application/atom+xml' href='atom.xml'>"
        "<link rel='alternate' type='application/rss+xml' href='/rss'></head></html>"
    )
    assert advertised_feeds(html, "https://a.example/news/") == ["https://a.example/rss", "https://a.example/news/atom.xml"]
    assert advertised_feeds("", "https://a.example/") == []


def test_homepage_feeds_are_discovered_and_read(server, fetch_settings):
    source = Source(name="home", homepages=[server.url("/home")], allow_private=True)
    with HttpFetcher(fetch_settings) as fetcher:
        targets, listings = discover_targets(source, fetch_settings, fetcher)
    assert [(page.url, page.kind, page.outcome) for page in listings] == [
        (server.url("/home"), "homepage", "ok"),
        (server.url("/feed.rss"), "feed", "ok"),
        (server.url("/feed.atom"), "feed", "ok"),
    ]
    assert listings[1].discovered_via == server.url("/home")
    assert [t.url for t in targets] == [server.url(p) for p in ("/news/one", "/news/two", "/news/three", "/news/four")]


def test_homepage_without_feed_links_probes_common_paths(server, fetch_settings):
    source = Source(name="bare", homepages=[server.url("/bare/")], allow_private=True)
    with HttpFetcher(fetch_settings) as fetcher:
        targets, listings = discover_targets(source, fetch_settings, fetcher)
    # Probed one at a time until one answers as a feed; the misses are recorded too.
    assert [(page.url, page.outcome) for page in listings] == [
        (server.url("/bare/"), "ok"),
        (server.url("/feed"), "http_4xx"),
        (server.url("/rss"), "http_4xx"),
        (server.url("/rss.xml"), "ok"),
    ]
    assert server.hits["/feed.xml"] == 0
    assert [t.url for t in targets] == [server.url("/news/one"), server.url("/news/two")]


# -- WARC files -----------------------------------------------------------------------------


def test_warc_records_are_listed_with_offsets_and_read_back(tmp_path, fetch_settings):
    french = article("Genève", FRENCH, FRENCH, FRENCH).encode("latin-1", errors="replace")
    warc = write_warc(
        tmp_path / "news.warc.gz",
        [
            ("https://a.example/one", "200 OK", article("One").encode(), "text/html; charset=utf-8"),
            ("https://a.example/moved", "301 Moved Permanently", b"", "text/html"),
            ("https://a.example/fr", "200 OK", french, "text/html; charset=iso-8859-1"),
            ("https://a.example/logo.png", "200 OK", b"\x89PNG", "image/png"),
        ],
    )
    records = list(warc_records(warc))
    assert [uri for uri, _ in records] == ["https://a.example/one", "https://a.example/fr", "https://a.example/logo.png"]
    source = Source(name="cc", warc_files=[warc])
    targets, listings = discover_targets(source, fetch_settings)
    assert listings == []
    assert [(t.url, t.warc_file, t.warc_offset) for t in targets] == [(uri, str(warc), offset) for uri, offset in records]
    pages = fetch_targets(targets, fetch_settings, WarcFetcher(fetch_settings))
    assert [(p.outcome, p.http_status, p.warc_offset) for p in pages] == [
        ("ok", 200, records[0][1]), ("ok", 200, records[1][1]), ("not_html", 200, records[2][1]),
    ]
    assert "<h1>One</h1>" in pages[0].html
    assert FRENCH in pages[1].html
    assert pages[0].content_hash and pages[0].final_url == "https://a.example/one"


@pytest.mark.parametrize("where", ["inside the response record", "at the request record"])
def test_a_bad_warc_offset_is_a_decode_error(tmp_path, fetch_settings, where):
    # Record ids and dates are new in every file, so the bytes at a wrong offset differ run to run:
    # some read as an error, some as a headerless record; both must give the same outcome.
    warc = write_warc(tmp_path / "one.warc.gz", [("https://a.example/one", "200 OK", article("One").encode(), "text/html")])
    (target,), _ = discover_targets(Source(name="cc", warc_files=[warc]), fetch_settings)
    target.warc_offset = target.warc_offset + 3 if where == "inside the response record" else 0
    page = WarcFetcher(fetch_settings).fetch(target)
    assert (page.outcome, page.html) == ("decode_error", None)
    assert "WARC record" in page.error and f"at {target.warc_offset}" in page.error


# -- the sources file -----------------------------------------------------------------------


def test_sources_file_takes_every_kind_and_a_schedule(tmp_path):
    write_warc(tmp_path / "cc.warc.gz", [])
    path = tmp_path / "sources.toml"
    path.write_text(
        '[[source]]\nname = "a"\nsitemaps = ["https://a.example/sitemap.xml"]\nhomepages = ["https://a.example/"]\n'
        'warc_files = ["cc.warc.gz"]\nschedule = "*/15  6-22 * * 1-5"\n'
    )
    (source,) = load_sources(path)
    assert source.warc_files == [tmp_path / "cc.warc.gz"]
    assert source.schedule == "*/15 6-22 * * 1-5"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('schedule = "every hour"', "sources.toml:3: source 'a': schedule: a cron schedule has five fields"),
        ('schedule = "61 * * * *"', "sources.toml:3: source 'a': schedule: bad cron schedule '61 * * * *'"),
        ('warc_files = ["gone.warc.gz"]', "sources.toml:3: source 'a': warc_files.0: no such file"),
        ('sitemaps = ["sitemap.xml"]', "sources.toml:3: source 'a': sitemaps.0: not an http(s) URL"),
    ],
)
def test_sources_file_errors_for_the_new_fields(tmp_path, line, expected):
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "a"\n{line}\n')
    with pytest.raises(ValueError) as error:
        load_sources(path)
    assert expected in str(error.value)
