"""Renders the sample site once, at start: every page and feed as bytes, keyed by path."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from functools import cache

import jinja2

from wirehouse.sample.catalog import Article, Catalog, Comment, Outlet

HTML = "text/html; charset=utf-8"
FEED_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
ROBOTS = "User-agent: *\nAllow: /\n"
# A grey placeholder stands in for every lead picture.
PLACEHOLDER_IMAGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675" viewBox="0 0 1200 675">'
    '<rect width="1200" height="675" fill="#c9ccd1"/></svg>'
)
# A full stop after a word of four or more letters: not after "Mr." or "Gov.".
_SENTENCE_END = re.compile(r"(?<=[a-z0-9\"”’]{4})[.!?](?=\s)")
RELATED_LINKS = 3  # teasers in an article's "Related" box
SAMPLE_YEAR = 2026  # the year of the sample's news week, for copyright lines


@dataclass(frozen=True)
class Resource:
    """One servable response body."""

    content_type: str
    body: bytes
    last_modified: datetime | None = None
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", f'"{hashlib.sha256(self.body).hexdigest()[:20]}"')


def render_site(catalog: Catalog, base_url: str) -> dict[str, Resource]:
    """Every page of the sample site under `base_url`, keyed by path.

    Args:
        catalog: the sample's outlets and articles.
        base_url: scheme, host and port the site is served on (absolute links use it).

    Returns:
        path -> Resource for robots.txt, each outlet's front, section fronts, feed,
        articles and their pictures.
    """
    site: dict[str, Resource] = {"/robots.txt": Resource("text/plain; charset=utf-8", ROBOTS.encode())}
    for outlet in catalog.outlets:
        site.update(_outlet_pages(catalog, outlet, base_url))
    return site


def render_article(catalog: Catalog, article: Article, base_url: str, neighbours: list[Article]) -> bytes:
    """One article page in its outlet's template, `neighbours` (the outlet's other articles)
    filling its navigation, "most read" and "related" boxes: for pages made up elsewhere, such as
    bench/corpus.py's."""
    chrome = _chrome(catalog.outlet(article.outlet), neighbours, base_url)
    return _article_page(catalog, chrome, article, neighbours).body


def render_not_found(catalog: Catalog) -> bytes:
    """The site-wide 404 page."""
    return _environment().get_template("not_found.html").render(outlets=catalog.outlets).encode()


def format_date(moment: datetime, outlet: Outlet) -> str:
    """`moment` in the outlet's zone and its own date format."""
    local = moment.astimezone(outlet.tz)
    return outlet.date_format.format(
        weekday=local.strftime("%A"),
        day=local.day,
        dd=f"{local.day:02d}",
        month=local.strftime("%B"),
        mon=local.strftime("%b"),
        mm=f"{local.month:02d}",
        year=local.year,
        hour24=f"{local.hour:02d}",
        hour12=local.hour % 12 or 12,
        minute=f"{local.minute:02d}",
        ampm="a.m." if local.hour < 12 else "p.m.",
        AMPM="AM" if local.hour < 12 else "PM",
        zone=outlet.zone,
    )


def join_names(names: tuple[str, ...] | list[str]) -> str:
    """Names as a byline reads them: "A", "A and B", "A, B and C"."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


@cache
def _environment() -> jinja2.Environment:
    """The Jinja environment over the bundled templates (built once)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("wirehouse.sample", "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["join_names"] = join_names
    env.filters["rfc822"] = format_datetime
    env.filters["iso"] = lambda moment: moment.isoformat().replace("+00:00", "Z")
    return env


def _outlet_pages(catalog: Catalog, outlet: Outlet, base_url: str) -> dict[str, Resource]:
    """One outlet's front, section fronts, feed, articles and pictures."""
    articles = catalog.articles_of(outlet.slug)
    if not articles:
        raise ValueError(f"sample outlet {outlet.slug} has no articles")
    chrome = _chrome(outlet, articles, base_url)
    pages = {outlet.front_path: _front(chrome, articles, None)}
    for section in chrome["sections"]:
        in_section = [article for article in articles if article.section == section]
        pages[f"/{outlet.slug}/{section}/"] = _front(chrome, in_section, section)
    pages[outlet.feed_path] = _feed(catalog, outlet, articles, base_url)
    for article in articles:
        pages[article.path] = _article_page(catalog, chrome, article, articles)
        if article.image:
            pages[_image_path(article)] = Resource("image/svg+xml", PLACEHOLDER_IMAGE.encode())
    return pages


def _chrome(outlet: Outlet, articles: list[Article], base_url: str) -> dict:
    """What every page of an outlet shows around its content: name, navigation, layout."""
    sections = sorted({article.section for article in articles})
    return {
        "outlet": outlet,
        "base_url": base_url,
        "layout": f"{outlet.template}.layout.html",
        "sections": sections,
        "most_read": articles[:5],
        "year": SAMPLE_YEAR,
    }


def _front(chrome: dict, articles: list[Article], section: str | None) -> Resource:
    """A list of teaser links: the outlet's front page, or one section's."""
    html = _environment().get_template("front.html").render(
        **chrome, teasers=articles, section=section, date=lambda moment: format_date(moment, chrome["outlet"])
    )
    return Resource(HTML, html.encode())


def _article_page(catalog: Catalog, chrome: dict, article: Article, neighbours: list[Article]) -> Resource:
    """One article in its outlet's template, with the boilerplate real sites wrap it in."""
    outlet = chrome["outlet"]
    related = _related(article, neighbours)
    html = _environment().get_template(f"{outlet.template}.article.html").render(
        **chrome,
        article=article,
        canonical=article.url(chrome["base_url"]),
        description=_teaser(article),
        role=catalog.agency if article.wire_id else outlet.staff_label,
        is_wire=article.wire_id is not None,
        agency=catalog.agency,
        published=format_date(article.published, outlet),
        updated=format_date(article.updated, outlet) if article.updated else None,
        image_url=chrome["base_url"] + _image_path(article) if article.image else None,
        related=related,
        inline_related=related[0] if related else None,
        comments=_comments(outlet, article),
        json_ld=_json_ld(catalog, outlet, article, chrome["base_url"]),
    )
    return Resource(HTML, html.encode(), article.modified)


def _feed(catalog: Catalog, outlet: Outlet, articles: list[Article], base_url: str) -> Resource:
    """The outlet's RSS or Atom feed: each article once, then a "Most read" reprise of variants."""
    entries = [(article, _feed_link(article, base_url), "") for article in articles]
    entries += [
        (article, article.url(base_url, query), f"-most-read-{index}")
        for article in articles
        for index, query in enumerate(article.tracking_variants[1:], start=1)
    ]
    updated = max(article.modified for article in articles)
    template = _environment().get_template(f"feed.{outlet.feed_format}.xml")
    xml = template.render(
        outlet=outlet,
        base_url=base_url,
        entries=entries,
        updated=updated,
        summary=_teaser,
    )
    return Resource(FEED_TYPES[outlet.feed_format], xml.encode(), updated)


def _feed_link(article: Article, base_url: str) -> str:
    """The URL a feed item links: the article's first tracking spelling, else the bare URL."""
    return article.url(base_url, article.tracking_variants[0] if article.tracking_variants else "")


def _related(article: Article, neighbours: list[Article]) -> list[Article]:
    """Teasers for the "Related" box: same section first, then the outlet's newest."""
    others = [other for other in neighbours if other.path != article.path]
    others.sort(key=lambda other: other.section != article.section)
    return others[:RELATED_LINKS]


def _comments(outlet: Outlet, article: Article) -> list[Comment]:
    """Two reader comments from the outlet's pool, picked by the article's slug (stable)."""
    pool = outlet.comments
    start = zlib.crc32(article.slug.encode()) % len(pool)
    return [pool[start], pool[(start + 1) % len(pool)]]


def _json_ld(catalog: Catalog, outlet: Outlet, article: Article, base_url: str) -> dict:
    """The schema.org NewsArticle block (only some templates print it)."""
    return {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "mainEntityOfPage": article.url(base_url),
        "datePublished": article.published.astimezone(outlet.tz).isoformat(),
        "dateModified": article.modified.astimezone(outlet.tz).isoformat(),
        "author": [{"@type": "Person", "name": name} for name in article.authors],
        "articleSection": article.section,
        "publisher": {"@type": "Organization", "name": outlet.name},
        "sourceOrganization": catalog.agency if article.wire_id else outlet.name,
    }


def _image_path(article: Article) -> str:
    """Where an article's picture is served."""
    return f"/{article.outlet}/media/{article.slug}.svg"


def _teaser(article: Article) -> str:
    """The first sentence of the article: what feeds and meta descriptions carry."""
    first = article.body[0]
    end = _SENTENCE_END.search(first)
    return first[: end.end()] if end else first
