"""The bundled sample news site over real HTTP on 127.0.0.1, checked against its own catalog."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from datetime import UTC, datetime
from itertools import combinations

import feedparser
import httpx
import pytest

from wirehouse.config.sources import Source
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.sample.server import SAMPLE_BASE_URL
from wirehouse.sample.render import format_date
from wirehouse.tasks.urls import canonical_url

ARTICLE_PATH = re.compile(r"/[a-z-]+/[a-z]+/2026/11/\d\d/[a-z0-9-]+(\.html)?")
SHARE_BAR = ("Share on Facebook", "Share on X", "Share on WhatsApp", "Copy link")
# Boilerplate each outlet's template wraps around an article: none of it is article text.
BOILERPLATE = {
    "harbour-ledger": ["Accept all cookies", "The Ledger Morning Briefing", "Related stories", "Also read", "Comments ("],
    "northgate-courier": ["cookie-notice", "Get the Courier in your inbox", "RELATED:", "Leave a Reply", "Most Read"],
    "the-lantern": ["We value your privacy", "Get The Lantern Daily", "Read more:", "More on this story", "Join the conversation"],
    "coastline-today": ["Accept Cookies", "Breaking News Alerts", "ALSO READ", "Trending Now", "Advertisement"],
    "continental-dispatch": ["Your privacy choices", "Dispatch Markets Daily", "Recommended", "More on this topic", "Reader comments"],
}
# Wire copies differ by a headline, a dateline, a trimmed paragraph or a word; independent
# coverage of one event shares facts and names but hardly a phrase.
WIRE_MIN_JACCARD = 0.6
INDEPENDENT_MAX_JACCARD = 0.3


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def site():
    with serve_sample_site() as running:
        yield running


@pytest.fixture(scope="module")
def client(site):
    with httpx.Client(timeout=5.0, proxy=site.proxy_url) as http:
        yield http


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    """Word shingles of `text`, lowercased, punctuation dropped."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: str, b: str) -> float:
    """Word-3-shingle Jaccard similarity of two texts."""
    left, right = shingles(a), shingles(b)
    return len(left & right) / len(left | right)


def expected_feed_links(article, base_url: str) -> list[str]:
    """The links a feed carries for an article: each tracking spelling, else the bare URL."""
    if not article.tracking_variants:
        return [article.url(base_url)]
    return [article.url(base_url, query) for query in article.tracking_variants]


def versions(articles) -> dict[str, list]:
    """An event's articles grouped into independently written versions (a wire group is one)."""
    grouped: dict[str, list] = {}
    for article in articles:
        grouped.setdefault(article.wire_id or article.path, []).append(article)
    return grouped


def page_text(client, url: str) -> str:
    """The unescaped HTML of a page that must exist."""
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.text)


def test_feeds_parse_and_list_every_article_under_its_links(site, catalog, client):
    for outlet in catalog.outlets:
        response = client.get(site.feed_urls[outlet.slug])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(f"application/{outlet.feed_format}+xml")
        feed = feedparser.parse(response.content)
        assert not feed.bozo, (outlet.slug, feed.get("bozo_exception"))
        assert feed.version.startswith(outlet.feed_format)
        links = sorted(entry.link for entry in feed.entries)
        expected = sorted(
            link for article in catalog.articles_of(outlet.slug) for link in expected_feed_links(article, site.base_url)
        )
        assert links == expected
        titles = {entry.title for entry in feed.entries}
        assert titles == {article.title for article in catalog.articles_of(outlet.slug)}


def test_feeds_mix_rss_and_atom_and_leave_out_section_fronts(site, catalog, client):
    assert {outlet.feed_format for outlet in catalog.outlets} == {"rss", "atom"}
    for outlet in catalog.outlets:
        feed = feedparser.parse(client.get(site.feed_urls[outlet.slug]).content)
        paths = {httpx.URL(entry.link).path for entry in feed.entries}
        assert outlet.front_path not in paths
        assert all(ARTICLE_PATH.fullmatch(path) for path in paths), paths


def test_every_feed_link_returns_the_article_page(site, catalog, client):
    for article in catalog.articles:
        for link in expected_feed_links(article, site.base_url):
            response = client.get(link)
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            page = html.unescape(response.text)
            assert article.title in page
            for paragraph in article.body:
                assert paragraph in page, (article.path, paragraph[:40])


def test_tracking_variants_serve_the_same_page_and_canonicalise_to_it(site, catalog, client):
    with_variants = [article for article in catalog.articles if article.tracking_variants]
    assert len(with_variants) >= 8
    queries = {query.split("=")[0] for article in with_variants for query in article.tracking_variants}
    assert {"utm_source", "ref", "fbclid"} <= queries
    for article in with_variants:
        bare = client.get(article.url(site.base_url))
        for url in article.linked_urls(site.base_url)[1:]:
            assert client.get(url).content == bare.content
            assert canonical_url(url) == canonical_url(article.url(site.base_url))
        assert f'<link rel="canonical" href="{article.url(site.base_url)}">' in bare.text


def test_any_query_string_serves_the_same_page(site, catalog, client):
    article = catalog.articles[0]
    bare = client.get(article.url(site.base_url)).content
    assert client.get(article.url(site.base_url, "page=2&x=%20y")).content == bare


def test_front_pages_list_teasers_for_every_article(site, catalog, client):
    for outlet in catalog.outlets:
        front = page_text(client, site.base_url + outlet.front_path)
        assert 'class="teaser-list"' in front
        for article in catalog.articles_of(outlet.slug):
            assert f'href="{article.path}"' in front
            assert article.body[1] not in front  # teasers, not articles


def test_unknown_paths_are_html_404s_and_robots_allow_all(site, client):
    for path in ("/nowhere", "/the-lantern/world/2026/11/16/no-such-story", "/harbour-ledger", "/feed.xml"):
        response = client.get(site.base_url + path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "Page not found" in response.text
    robots = client.get(site.base_url + "/robots.txt")
    assert robots.status_code == 200
    assert robots.text.splitlines() == ["User-agent: *", "Allow: /"]


def test_pages_answer_conditional_requests(site, catalog, client):
    url = catalog.articles[0].url(site.base_url)
    first = client.get(url)
    assert first.headers["last-modified"].endswith("GMT")
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_counts_hold(catalog):
    assert len(catalog.outlets) >= 5
    assert len({outlet.template for outlet in catalog.outlets}) == len(catalog.outlets)
    assert len(catalog.articles) >= 45
    assert len({article.path for article in catalog.articles}) == len(catalog.articles)
    wire_groups = catalog.wire_groups()
    assert sum(len({copy.outlet for copy in copies}) >= 2 for copies in wire_groups.values()) >= 5
    assert all(len({copy.event_id for copy in copies}) == 1 for copies in wire_groups.values())
    independently_covered = [
        event_id
        for event_id, articles in catalog.events().items()
        if len(versions(articles)) >= 2 and len({article.outlet for article in articles}) >= 2
    ]
    assert len(independently_covered) >= 12
    assert load_catalog() is catalog


def test_independent_coverage_differs_while_wire_copies_match(catalog):
    independent_pairs = 0
    for articles in catalog.events().values():
        grouped = versions(articles)
        for left, right in combinations(grouped.values(), 2):
            for a in left:
                for b in right:
                    assert jaccard(a.text, b.text) < INDEPENDENT_MAX_JACCARD, (a.path, b.path)
                    independent_pairs += 1
        for copies in grouped.values():
            for a, b in combinations(copies, 2):
                assert a.outlet != b.outlet
                assert a.title != b.title
                assert jaccard(a.text, b.text) > WIRE_MIN_JACCARD, (a.path, b.path)
                assert a.text != b.text
    assert independent_pairs >= 12


def test_negative_pairs_are_alike_but_separate_events(catalog):
    events = catalog.events()
    assert len(catalog.negative_pairs) >= 2
    for first, second in catalog.negative_pairs:
        assert first != second and first in events and second in events
        days = {article.published.date() for article in events[first]} & {
            article.published.date() for article in events[second]
        }
        assert not days  # different days
        for a in events[first]:
            for b in events[second]:
                assert jaccard(a.text, b.text) < INDEPENDENT_MAX_JACCARD


def test_articles_read_like_news(catalog):
    for article in catalog.articles:
        words = len(article.text.split())
        assert 150 <= words <= 450, (article.path, words)
        assert len(article.body) >= 4
        assert article.authors and all(len(name.split()) >= 2 for name in article.authors)
    published = [article.published for article in catalog.articles]
    assert datetime(2026, 11, 14, tzinfo=UTC) <= min(published)
    assert max(published) < datetime(2026, 11, 22, tzinfo=UTC)
    assert len({moment.date() for moment in published}) >= 7
    assert any(article.updated for article in catalog.articles)


def test_templates_carry_their_boilerplate(site, catalog, client):
    for outlet in catalog.outlets:
        article = catalog.articles_of(outlet.slug)[-1]
        page = page_text(client, article.url(site.base_url))
        for text in SHARE_BAR + tuple(BOILERPLATE[outlet.slug]):
            assert text in page, (outlet.slug, text)
        assert f"<title>{article.title}" in page and f"{outlet.name}</title>" in page
        assert '<meta property="og:title"' in page
        assert format_date(article.published, outlet) in page
        for comment in site.catalog.outlet(outlet.slug).comments:
            if comment.text in page:
                break
        else:
            pytest.fail(f"no reader comment on {article.path}")


def test_templates_are_structurally_distinct(site, catalog, client):
    class_sets = {}
    for outlet in catalog.outlets:
        page = client.get(catalog.articles_of(outlet.slug)[0].url(site.base_url)).text
        class_sets[outlet.slug] = set(re.findall(r'class="([^"]+)"', page))
    for (a, left), (b, right) in combinations(class_sets.items(), 2):
        assert len(left & right) / len(left | right) < 0.2, (a, b)


def test_figures_show_caption_and_credit(site, catalog, client):
    pictured = [article for article in catalog.articles if article.image]
    assert {article.outlet for article in pictured} == {outlet.slug for outlet in catalog.outlets}
    for article in pictured:
        page = page_text(client, article.url(site.base_url))
        assert article.image.caption in page and article.image.credit in page
        picture = client.get(site.base_url + f"/{article.outlet}/media/{article.slug}.svg")
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/svg+xml"


def test_json_ld_on_some_outlets_only(site, catalog, client):
    with_json_ld = set()
    for outlet in catalog.outlets:
        article = catalog.articles_of(outlet.slug)[0]
        page = client.get(article.url(site.base_url)).text
        block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
        if block:
            data = json.loads(block.group(1))
            assert data["@type"] == "NewsArticle" and data["headline"] == article.title
            assert [author["name"] for author in data["author"]] == list(article.authors)
            assert datetime.fromisoformat(data["datePublished"]) == article.published
            assert datetime.fromisoformat(data["dateModified"]) == article.modified
            with_json_ld.add(outlet.slug)
    assert 0 < len(with_json_ld) < len(catalog.outlets)


def test_bylines_vary_by_outlet(site, catalog, client):
    def page_of(outlet, predicate):
        article = next(a for a in catalog.articles_of(outlet) if predicate(a))
        return article, page_text(client, article.url(site.base_url))

    article, page = page_of("harbour-ledger", lambda a: len(a.authors) == 2 and not a.wire_id)
    assert f"By {article.authors[0]} and {article.authors[1]}</p>" in page
    article, page = page_of("northgate-courier", lambda a: not a.wire_id)
    assert re.search(rf">{re.escape(article.authors[-1])}</a></span> \| Staff Writer", page)
    article, page = page_of("coastline-today", lambda a: a.wire_id)
    assert f"{article.authors[0]}, Wire Service" in page
    article, page = page_of("continental-dispatch", lambda a: a.wire_id)
    assert f"&mdash; {catalog.agency}" in client.get(article.url(site.base_url)).text


def test_sources_are_valid_source_entries_for_one_shared_host(site, catalog):
    sources = site.sources()
    assert [entry["name"] for entry in sources] == [outlet.slug for outlet in catalog.outlets]
    for entry in sources:
        source = Source(**entry)
        assert source.feeds == [site.feed_urls[source.name]]
        assert source.allow_private and source.per_host_delay == 0.0
        assert source.feeds[0].startswith(site.base_url + "/")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.proxy_url)
    assert site.base_url == SAMPLE_BASE_URL, "the public address, and so every article id, is the same in every run"


def test_the_proxy_answers_for_the_sample_host_only(site):
    with httpx.Client(timeout=5.0, proxy=site.proxy_url) as http:
        assert http.get(site.base_url + "/robots.txt").status_code == 200
        assert http.get("http://elsewhere.example/robots.txt").status_code == 404


def test_server_logs_nothing_and_stops(catalog, capfd):
    with serve_sample_site() as running:
        with httpx.Client(proxy=running.proxy_url) as http:
            statuses = Counter(http.get(running.base_url + path).status_code for path in ("/robots.txt", "/x"))
        proxy_url = running.proxy_url
    assert statuses == Counter({200: 1, 404: 1})
    assert capfd.readouterr().err == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(proxy_url + "/robots.txt", timeout=1.0)
