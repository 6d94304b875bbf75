"""The fetch stage against a real, misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badserver import FRENCH, WESTERN, BadServer, Reply
from wirehouse.config.sources import Source, adhoc_source, load_sources
from wirehouse.tasks.fetch import HttpFetcher, discover_targets, fetch_targets, parse_retry_after
from wirehouse.tasks.records import FETCH_OUTCOMES, Target

# The gate spaces the starts of requests; the server sees their arrivals, which a busy machine (or a
# first request that still has to connect) can bring closer together by a few tens of milliseconds.
ARRIVAL_JITTER = 0.1


@pytest.fixture
def fetcher(fetch_settings):
    with HttpFetcher(fetch_settings) as fetcher:
        yield fetcher


def page_target(server: BadServer, path: str, **fields) -> Target:
    return Target(url=server.url(path), source="test", **fields)


def test_good_page_records_what_the_server_said(server, fetcher):
    page = fetcher.fetch(page_target(server, "/good"))
    assert (page.outcome, page.http_status, page.error) == ("ok", 200, None)
    assert "The harbour reopened on Monday." in page.html
    assert page.final_url == server.url("/good")
    assert page.content_type == "text/html; charset=utf-8"
    assert page.elapsed_ms > 0


@pytest.mark.parametrize(
    ("path", "outcome", "words"),
    [
        ("/always500", "http_5xx", "HTTP 500"),
        ("/missing", "http_4xx", "HTTP 404"),
        ("/forbidden", "blocked", "HTTP 403"),
        ("/challenge", "blocked", "challenge"),
        ("/report.pdf", "not_html", "application/pdf"),
        ("/big", "too_large", "max_bytes"),
        ("/bomb", "too_large", "once decompressed"),
        ("/loop-a", "redirect_loop", "redirect loop"),
        ("/slow", "timeout", "timed out"),
        ("/trickle", "timeout", "total timeout"),
    ],
)
def test_failures_get_their_outcome_and_one_line(server, fetcher, path, outcome, words):
    page = fetcher.fetch(page_target(server, path))
    assert page.outcome == outcome
    assert outcome in FETCH_OUTCOMES
    assert words in page.error and "\n" not in page.error
    assert page.html is None


def test_500_is_retried_then_given_up(server, fetcher):
    before = server.hits["/always500"]
    page = fetcher.fetch(page_target(server, "/always500"))
    assert server.hits["/always500"] - before == 2  # one retry in the test settings
    assert "after 2 attempts" in page.error


def test_503_then_ok_is_retried_and_succeeds(server, fetcher):
    page = fetcher.fetch(page_target(server, "/flaky503"))
    assert page.outcome == "ok" and "harbour reopened" in page.html
    assert server.hits["/flaky503"] == 2


def test_429_waits_for_retry_after(server, fetcher):
    started = time.monotonic()
    page = fetcher.fetch(page_target(server, "/ratelimited"))
    waited = server.starts["/ratelimited"][1] - server.starts["/ratelimited"][0]
    assert page.outcome == "ok"
    assert waited >= 1.0  # Retry-After: 1, far above the 0.05 s backoff
    assert time.monotonic() - started < 2.0


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None


def test_robots_disallowed_page_is_never_requested(server, fetcher):
    robots_before = server.hits["/robots.txt"]
    page = fetcher.fetch(page_target(server, "/private/page"))
    again = fetcher.fetch(page_target(server, "/good"))
    assert page.outcome == "robots_disallowed" and "robots.txt" in page.error
    assert server.hits["/private/page"] == 0
    assert again.outcome == "ok"
    assert server.hits["/robots.txt"] - robots_before == 1  # cached for the second URL


def test_robots_crawl_delay_spaces_requests(fetch_settings):
    server = BadServer().start()
    server.routes["/robots.txt"] = lambda request: Reply(body=b"User-agent: *\nCrawl-delay: 0.3\n")
    try:
        with HttpFetcher(fetch_settings) as fetcher:  # per_host_delay is 0 in the test settings
            pages = fetch_targets([page_target(server, "/good"), page_target(server, "/news/one")], fetch_settings, fetcher)
    finally:
        server.stop()
    assert [page.outcome for page in pages] == ["ok", "ok"]
    first, second = sorted(server.starts["/good"] + server.starts["/news/one"])
    assert second - first >= 0.3 - ARRIVAL_JITTER  # without the delay: a few milliseconds


def test_private_target_is_refused_without_a_request(server, fetch_settings):
    strict = fetch_settings.model_copy(update={"allow_private": False})
    before = sum(server.hits.values())
    with HttpFetcher(strict) as fetcher:
        page = fetcher.fetch(page_target(server, "/good"))
        allowed = fetcher.fetch(page_target(server, "/good", allow_private=True))
    assert page.outcome == "refused_private" and "127.0.0.1" in page.error
    assert allowed.outcome == "ok"
    assert sum(server.hits.values()) - before == 2  # robots.txt and /good, both for the allowed one


def test_latin1_declared_in_meta_only_decodes_cleanly(server, fetcher):
    page = fetcher.fetch(page_target(server, "/latin1-meta"))
    assert page.outcome == "ok"
    assert FRENCH in page.html


@pytest.mark.parametrize("path", ["/cp1252-wrong", "/cp1252-none"])
def test_cp1252_with_wrong_or_no_charset_decodes_cleanly(server, fetcher, path):
    page = fetcher.fetch(page_target(server, path))
    assert page.outcome == "ok"
    assert WESTERN in page.html
    assert "Ã" not in page.html and "\ufffd" not in page.html


def test_conditional_request_gets_not_modified(server, fetcher):
    first = fetcher.fetch(page_target(server, "/etag"))
    second = fetcher.fetch(page_target(server, "/etag", etag=first.etag))
    assert (first.outcome, first.etag) == ("ok", '"v1"')
    assert (second.outcome, second.http_status, second.html) == ("not_modified", 304, None)


def test_bad_urls_never_raise(fetcher):
    for url in ("ftp://example.org/x", "not a url", "http://"):
        page = fetcher.fetch(Target(url=url, source="test"))
        assert page.outcome == "connect_error" and "http(s)" in page.error


def test_refused_connection_is_connect_error(fetcher):
    page = fetcher.fetch(Target(url="http://127.0.0.1:9/", source="test"))
    assert page.outcome == "connect_error" and "refused" in page.error


def test_fetch_targets_keeps_order_and_spaces_requests_to_one_host(server, fetch_settings):
    polite = fetch_settings.model_copy(update={"per_host_delay": 0.2})
    paths = ["/news/one", "/missing", "/good"]
    with HttpFetcher(polite) as fetcher:
        pages = fetch_targets([page_target(server, path) for path in paths], polite, fetcher)
    assert [page.url for page in pages] == [server.url(path) for path in paths]
    assert [page.outcome for page in pages] == ["ok", "http_4xx", "ok"]
    starts = sorted(server.starts["/news/one"][-1:] + server.starts["/missing"][-1:] + server.starts["/good"][-1:])
    assert all(later - earlier >= 0.2 - ARRIVAL_JITTER for earlier, later in zip(starts, starts[1:]))


def test_discover_reads_rss_and_atom_links_urls_and_files(server, fetch_settings, tmp_path):
    url_file = tmp_path / "urls.txt"
    url_file.write_text(f"# hand-picked\n{server.url('/news/one')}\n\n{server.url('/extra')}  # note\n")
    source = Source(
        name="daily",
        feeds=[server.url("/feed.rss"), server.url("/feed.atom")],
        urls=[server.url("/news/four"), server.url("/listed")],
        url_files=[url_file],
        allow_private=True,
        per_host_delay=0.0,
    )
    with HttpFetcher(fetch_settings) as fetcher:
        targets, feed_pages = discover_targets(source, fetch_settings, fetcher)
    assert [(page.kind, page.outcome) for page in feed_pages] == [("feed", "ok"), ("feed", "ok")]
    assert [target.url for target in targets] == [
        server.url(path) for path in ("/news/one", "/news/two", "/news/three", "/news/four", "/listed", "/extra")
    ]
    assert targets[1].discovered_via == server.url("/feed.rss")
    assert targets[3].discovered_via == server.url("/feed.atom")  # the feed came before urls
    assert targets[4].discovered_via is None
    assert targets[5].discovered_via == str(url_file)
    assert all(t.source == "daily" and t.kind == "page" and t.allow_private for t in targets)


def test_failed_feed_gives_its_page_and_no_targets(server, fetch_settings):
    source = adhoc_source(feeds=[server.url("/feed500")], urls=[], allow_private=True)
    with HttpFetcher(fetch_settings) as fetcher:
        targets, feed_pages = discover_targets(source, fetch_settings, fetcher)
    assert targets == []
    assert [(page.kind, page.outcome, page.source) for page in feed_pages] == [("feed", "http_5xx", "adhoc")]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return path


def test_load_sources_reads_the_example_file():
    example = Path(__file__).parents[1] / "config" / "sources.toml"
    sources = load_sources(example)
    assert len(sources) >= 2 and all(source.feeds or source.sitemaps for source in sources)
    assert len({source.name for source in sources}) == len(sources)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[source]]\nname = "a"\nfeeds = ["https://a.example/rss"]\n\n[[source]]\nname = "daily"\n'
            'language = "en"\nfeeds = "https://daily.example/rss"\n',
            'sources.toml:8: source \'daily\': feeds: Input should be a valid list',
        ),
        ('[[source]]\nname = "a"\nfead = ["x"]\n', "sources.toml:3: source 'a': fead: Extra inputs are not permitted"),
        ('[[source]]\nname = "a"\nurls = ["https://a.example/", "ftp://x"]\n', "sources.toml:3: source 'a': urls.1: not an http(s) URL: 'ftp://x'"),
        ('[[source]]\nfeeds = []\n', "sources.toml:1: source #1: name: Field required"),
        ('[[source]]\nname = "a"\nurl_files = ["nowhere.txt"]\n', "sources.toml:3: source 'a': url_files.0: no such file"),
        ('[[source]]\nname = "a"\n[[source]]\nname = "a"\n', "sources.toml:4: source 'a': name: used twice"),
        ('[[sources]]\nname = "a"\n', "sources.toml:1: unknown key 'sources'"),
        ('[[source]]\nname = "a"\nfeeds = [\n', "sources.toml:3: "),
        ('[[source]]\nname = "a"\nenabled = yes\n', "sources.toml:3: Invalid value"),
    ],
)
def test_load_sources_errors_name_file_line_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        load_sources(path)
    message = str(error.value)
    assert message.startswith(str(tmp_path)) and "\n" not in message
    assert expected in message


def test_url_files_are_relative_to_the_sources_file(tmp_path):
    (tmp_path / "urls.txt").write_text("https://a.example/one\n")
    sources = load_sources(write(tmp_path, '[[source]]\nname = "a"\nurl_files = ["urls.txt"]\n'))
    assert sources[0].url_files == [tmp_path / "urls.txt"]


def test_adhoc_source_names_the_bad_option():
    assert adhoc_source(["https://a.example/rss"], [], False).name == "adhoc"
    with pytest.raises(ValueError, match="--url: not an http\\(s\\) URL"):
        adhoc_source([], ["nope"], False)
