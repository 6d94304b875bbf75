"""The records that flow between stages. Plain dataclasses: no Prefect, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The outcome taxonomy, one per fetch attempt. Fetch sets the first group; extraction may
# overwrite an "ok" with one of the last two when the page yields no article.
FETCH_OUTCOMES = (
    "ok",
    "not_modified",
    "http_4xx",
    "http_5xx",
    "timeout",
    "too_large",
    "not_html",
    "robots_disallowed",
    "redirect_loop",
    "blocked",
    "dns_error",
    "connect_error",
    "refused_private",
    "decode_error",
)
EXTRACT_OUTCOMES = ("not_article", "extraction_empty")
OUTCOMES = FETCH_OUTCOMES + EXTRACT_OUTCOMES
SUCCESS_OUTCOMES = ("ok", "not_modified")


@dataclass
class Target:
    """A URL to fetch, and what discovered it."""

    url: str
    source: str
    kind: str = "page"  # "page", or a listing: "feed", "sitemap", "homepage"
    discovered_via: str | None = None  # the feed, sitemap, list or WARC file the URL came from
    allow_private: bool = False
    per_host_delay: float | None = None  # the source's override of fetch.per_host_delay
    # Conditional-request validators from the last successful fetch, if any.
    etag: str | None = None
    last_modified: str | None = None
    # The body hash of the last fetch of a listing: a body with this hash is not parsed again.
    content_hash: str | None = None
    # Set when the page is read from a WARC file (the record's offset in it), not over HTTP.
    warc_file: str | None = None
    warc_offset: int | None = None


@dataclass
class Page:
    """The result of one fetch attempt. `html` is set only when outcome is "ok"."""

    url: str
    source: str
    outcome: str
    fetched_at: datetime
    final_url: str | None = None
    kind: str = "page"
    http_status: int | None = None
    content_type: str | None = None
    html: str | None = None
    error: str | None = None  # one line, for humans
    elapsed_ms: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    discovered_via: str | None = None
    content_hash: str | None = None  # of the decoded body (raw_pages.html_hash); a 304 keeps the last one
    warc_file: str | None = None
    warc_offset: int | None = None


@dataclass
class Article:
    """A cleaned article with its metadata, as landed in `articles`."""

    article_id: str
    url: str  # the URL it was fetched under
    canonical_url: str
    source: str
    title: str | None
    text: str
    fetched_at: datetime
    authors: list[str] = field(default_factory=list)
    date_published: datetime | None = None
    date_modified: datetime | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    title_source: str | None = None  # json-ld, meta, html, url
    author_source: str | None = None
    date_source: str | None = None
    text_source: str | None = None  # the text that won: precision, recall, default (trafilatura modes) or json-ld
    text_reason: str | None = None  # why it won, in one line
    content_hash: str = ""
    # Set by dedup.
    duplicate_of: str | None = None
    duplicate_kind: str | None = None  # "exact", "near" or "teaser" (see tasks/dedup.py)
    similarity: float | None = None
    # Set by stories: the id of the story's first article (articles about one event share it).
    story_id: str | None = None
    # The authors joined as the page prints them ("Jane Doe and John Roe"); not landed, `authors` is.
    byline: str | None = None


@dataclass
class Rejection:
    """A fetched page that did not yield an article, and why."""

    url: str
    outcome: str  # one of EXTRACT_OUTCOMES
    reason: str


def changed(record, **fields):
    """A copy of a dataclass record (one without __slots__) with `fields` set: what
    `dataclasses.replace` makes, in a third of its time (it re-runs `__init__`; a run makes two
    copies a mention, 850,000 in 10,000 pages)."""
    copied = object.__new__(type(record))
    copied.__dict__.update(record.__dict__, **fields)
    return copied


@dataclass
class EntityMention:
    """One named-entity mention in an article's text."""

    article_id: str
    text: str
    label: str
    start_char: int
    end_char: int
    sentence: int | None = None
    # Set by normalization: the model's own label (`label` becomes the article's vote), the
    # normalized name and, across articles, the canonical entity.
    raw_label: str | None = None
    name: str | None = None
    entity_id: str | None = None


@dataclass
class ArticleEnrichment:
    """What enrichment learned of one article: its mentions, keyphrases and tone."""

    article_id: str
    language: str | None
    mentions: list[EntityMention]
    acronyms: dict[str, str]  # acronym -> expansion, as the text defines them
    keywords: list[str]
    keyword_scores: list[float]  # YAKE scores: lower is more relevant
    tone: float | None  # mean VADER compound score of the sentences, -1 (negative) to 1
    models: dict[str, str]  # stage ("ner", "keywords", "tone") -> model name and version
