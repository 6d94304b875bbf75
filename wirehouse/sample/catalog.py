"""The sample site's ground truth: outlets and articles as plain dataclasses, read from TOML.

Content lives in `outlets.toml` and `articles/<event_id>.toml` (one file per news event, holding
every outlet's article about it); templates only lay it out.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any

_PACKAGE = "wirehouse.sample"


@dataclass(frozen=True)
class Comment:
    """A reader comment from an outlet's pool; shown under its articles."""

    author: str
    text: str


@dataclass(frozen=True)
class Outlet:
    """A fictional news outlet: its name, page template and feed format."""

    slug: str
    name: str
    template: str  # the stem of its templates: "<template>.layout.html", "<template>.article.html"
    feed_format: str  # "rss" or "atom"
    tagline: str
    url_suffix: str  # appended to article paths: "" or ".html"
    utc_offset: int  # hours; the outlet shows times in its own zone
    zone: str
    date_format: str  # str.format pattern over the fields of render.format_date
    staff_label: str  # what follows a staff author's name in bylines that name a role
    comments: tuple[Comment, ...]

    @property
    def front_path(self) -> str:
        """The outlet's front page."""
        return f"/{self.slug}/"

    @property
    def feed_path(self) -> str:
        """The outlet's one feed: feed.xml (RSS 2.0) or atom.xml (Atom 1.0)."""
        return f"/{self.slug}/{'atom' if self.feed_format == 'atom' else 'feed'}.xml"

    @property
    def tz(self) -> timezone:
        """The zone the outlet shows its dates in."""
        return timezone(timedelta(hours=self.utc_offset), self.zone)

    def feed_url(self, base_url: str) -> str:
        """The feed's public URL under `base_url`."""
        return base_url + self.feed_path


@dataclass(frozen=True)
class Image:
    """An article's lead picture: the caption and the photo credit shown under it."""

    caption: str
    credit: str


@dataclass(frozen=True)
class Article:
    """One article page, with the labels a correct pipeline must reproduce.

    `event_id` names the news event (story) the article reports; independent coverage by two
    outlets shares it. `wire_id` names the agency story an article is a lightly edited copy of;
    copies share both ids. `tracking_variants` are query strings under which feeds link it too.
    """

    outlet: str
    slug: str
    title: str
    authors: tuple[str, ...]
    published: datetime
    updated: datetime | None
    section: str
    body: tuple[str, ...]
    event_id: str
    wire_id: str | None
    tracking_variants: tuple[str, ...]
    image: Image | None
    path: str  # the canonical path: /<outlet>/<section>/<yyyy>/<mm>/<dd>/<slug>[.html]

    @property
    def text(self) -> str:
        """The body as plain text, paragraphs separated by blank lines."""
        return "\n\n".join(self.body)

    @property
    def modified(self) -> datetime:
        """When the article last changed."""
        return self.updated or self.published

    def url(self, base_url: str, query: str = "") -> str:
        """The public URL under `base_url`; with `query`, one of its tracking spellings."""
        return base_url + self.path + (f"?{query}" if query else "")

    def linked_urls(self, base_url: str) -> list[str]:
        """Every URL the site links this article under: the canonical one, then each variant."""
        return [self.url(base_url)] + [self.url(base_url, query) for query in self.tracking_variants]


@dataclass(frozen=True)
class Catalog:
    """The whole sample: outlets, articles and the event pairs that must not be merged."""

    agency: str  # the fictional wire service whose stories outlets syndicate
    outlets: tuple[Outlet, ...]
    articles: tuple[Article, ...]
    # Pairs of event ids (each sorted) that look alike: same kind of event, same week, even the
    # same team, but different stories that must not be grouped.
    negative_pairs: tuple[tuple[str, str], ...]

    def outlet(self, slug: str) -> Outlet:
        """The outlet called `slug`."""
        return next(outlet for outlet in self.outlets if outlet.slug == slug)

    def articles_of(self, outlet_slug: str) -> list[Article]:
        """An outlet's articles, newest first."""
        mine = [article for article in self.articles if article.outlet == outlet_slug]
        return sorted(mine, key=lambda article: article.published, reverse=True)

    def events(self) -> dict[str, list[Article]]:
        """Articles grouped by event id."""
        return _group(self.articles, lambda article: article.event_id)

    def wire_groups(self) -> dict[str, list[Article]]:
        """Syndicated copies grouped by wire id (articles without one are left out)."""
        return _group(self.articles, lambda article: article.wire_id)


def _group(articles: tuple[Article, ...], key) -> dict[str, list[Article]]:
    """Articles grouped by `key`, skipping those whose key is None."""
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        if key(article) is not None:
            groups[key(article)].append(article)
    return dict(groups)


@cache
def load_catalog() -> Catalog:
    """Read the bundled sample's ground truth (once; later calls return the same object).

    Returns:
        The Catalog: every outlet, every article with its labels and canonical path, and the
        negative event pairs. `len(catalog.articles)` is the number of distinct article pages.
    """
    root = resources.files(_PACKAGE)
    outlets_doc = tomllib.loads(root.joinpath("outlets.toml").read_text(encoding="utf-8"))
    outlets = tuple(_outlet(entry) for entry in outlets_doc["outlets"])
    by_slug = {outlet.slug: outlet for outlet in outlets}
    articles: list[Article] = []
    negative_pairs: set[tuple[str, str]] = set()
    event_files = sorted(root.joinpath("articles").iterdir(), key=lambda entry: entry.name)
    for event_file in event_files:
        if not event_file.name.endswith(".toml"):
            continue
        event = tomllib.loads(event_file.read_text(encoding="utf-8"))
        event_id = event["event_id"]
        articles.extend(_article(entry, event_id, by_slug) for entry in event["articles"])
        negative_pairs.update(tuple(sorted((event_id, other))) for other in event.get("not_same_as", []))
    _check_unique_paths(articles)
    return Catalog(outlets_doc["agency"], outlets, tuple(articles), tuple(sorted(negative_pairs)))


def _outlet(entry: dict[str, Any]) -> Outlet:
    """An Outlet from its outlets.toml table."""
    comments = tuple(Comment(**comment) for comment in entry.pop("comments"))
    return Outlet(comments=comments, **entry)


def _article(entry: dict[str, Any], event_id: str, outlets: dict[str, Outlet]) -> Article:
    """An Article from its [[articles]] table, with its canonical path worked out."""
    outlet = outlets[entry["outlet"]]
    published = entry["published"]
    local_day = published.astimezone(outlet.tz)  # outlets date their URLs in their own zone
    path = f"/{outlet.slug}/{entry['section']}/{local_day:%Y/%m/%d}/{entry['slug']}{outlet.url_suffix}"
    image = entry.get("image")
    return Article(
        outlet=outlet.slug,
        slug=entry["slug"],
        title=entry["title"],
        authors=tuple(entry["authors"]),
        published=published,
        updated=entry.get("updated"),
        section=entry["section"],
        body=tuple(entry["body"]),
        event_id=event_id,
        wire_id=entry.get("wire_id"),
        tracking_variants=tuple(entry.get("tracking_variants", ())),
        image=Image(**image) if image else None,
        path=path,
    )


def _check_unique_paths(articles: list[Article]) -> None:
    """Refuse a catalog in which two articles would share a page."""
    seen: set[str] = set()
    for article in articles:
        if article.path in seen:
            raise ValueError(f"two sample articles share the path {article.path}")
        seen.add(article.path)
