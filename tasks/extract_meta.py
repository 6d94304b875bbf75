"""Article metadata from what news pages share: JSON-LD, OpenGraph and meta tags, bylines.

Each field is read from the most explicit source that has it, in the order json-ld, meta,
html (except the title: the page's visible <h1> headline beats the SEO titles), and the source is
kept beside the value so a reader can tell where a title came from.
Pure functions over an lxml tree: no trafilatura, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from html import unescape
from urllib.parse import urlsplit

from dateutil import parser as dateutil_parser
from dateutil import tz

from wirehouse.tasks.boilerplate import DATE

ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
        "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle", "blogposting",
        "liveblogposting", "techarticle", "scholarlyarticle", "report", "socialmediaposting",
        "satiricalarticle", "advertisercontentarticle", "medicalscholarlyarticle", "recipe", "review",
    }
)
PAGE_TYPES = frozenset({"webpage", "itempage", "aboutpage", "faqpage", "qapage", "medicalwebpage", "collectionpage"})
# Words that describe a writer's role or employer rather than name a person.
_ROLES = (
    r"staff|writer|reporter|correspondent|editor|editors|contributor|columnist|journalist|"
    r"news ?desk|desk|team|bureau|senior|chief|associate|deputy|managing|special|guest|freelance|"
    r"updated|published|posted|photographer|producer|analyst|member|author|opinion|founder|co-founder|ceo|"
    r"marketer|consultant|former|head"
)
ROLE_WORDS = re.compile(rf"\b(?:{_ROLES})\b", re.IGNORECASE)
# Role words that name a desk rather than a person's title ("Metro Desk", "Politics Team", "The Currency editors").
DESK_WORDS = re.compile(r"news ?desk|desk|team|bureau|staff|newsroom|editors", re.IGNORECASE)
# A name followed by its role, a date or share links ("Jane Doe Senior Reporter", "Jane Doe
# December 3", "Jane Doe FacebookTweet"): the words from the first of those on are not the name.
_MONTHS = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b"
)
_NAME_TAIL = re.compile(
    rf"\s\b(?:(?:{_ROLES}|last updated)\b|{_MONTHS}|facebook|twitter|linkedin|instagram|email).*$",
    re.IGNORECASE,
)
# A name's tail that is a date ("ServiceTitan November 3"): cut even after a one-word name.
_DATE_TAIL = re.compile(rf"\s\b(?:last updated|{_MONTHS}\.?(?:\s+\d|$)).*$", re.IGNORECASE)
AGENCIES = frozenset(
    {"reuters", "ap", "afp", "associated press", "the associated press", "bloomberg", "pti", "ians",
     "ani", "dpa", "efe", "upi", "cnn", "bbc", "press association", "pa", "xinhua", "aap"}
)
_BY_PREFIX = re.compile(
    r"^\s*(?:(?:written\s+|reported\s+|posted\s+|words\s+|article\s+|(?:view\s+)?(?:all\s+)?(?:posts|articles|stories)\s+)?by[:\s]+"
    r"|authors?[:\s]+(?=[A-Z]))",
    re.IGNORECASE,
)
# Short elements whose text starts with "by" or "written by", outside site menus and buttons: candidate
# printed bylines (a heading over an author's bio included: "<h3>Written by Jane Doe</h3>").
_BYLINE_XPATH = (
    "//body//*[self::p or self::span or self::div or self::a or self::address or self::li or self::small"
    " or self::h3 or self::h4 or self::h5 or self::h6]"
    "[not(ancestor::nav[not(ancestor::article)] or ancestor::button or ancestor::select)]"
    "[string-length(normalize-space(.)) < 80][starts-with(translate(normalize-space(.), 'BYWRITEN', 'bywriten'), 'by ')"
    " or starts-with(translate(normalize-space(.), 'BYWRITEN', 'bywriten'), 'written by ')]"
)
# A post-nominal after a name's comma ("Jane Doe, MD", "Jane Doe, Ph.D.", "Jane Doe, MS, RD"): part of the name.
_CREDENTIAL = re.compile(r"(?:Ph\.?\s?D|[A-Z][A-Z.\-]{0,5}[A-Z]®?)(?:\s\d+)?")
# A byline piece that is a date, a time or a reading time rather than a name ("Mar 4", "3 hours ago", "5 min read").
_NOT_A_NAME = re.compile(
    rf"{_MONTHS}\.?\s*\d|\d\s*{_MONTHS}|\d{{1,2}}[/.:]\d{{1,2}}|\d\s*(?:st|nd|rd|th|min|minutes?|hours?|days?|h|m)\b"
    r"|\bago\b|\b(?:updated|published|posted|modified|reading time|read more|view (?:all|more)|more posts)\b",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\||\band\b|&|\bwith\b|\s[-–—]\s|/|\n)\s*", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|•|»|«|:)\s+")
# The same, and a colon after a word ("Jane's Blog: A Post"), for telling a blog's name in its title.
_TITLE_PARTS = re.compile(_TITLE_SEPARATORS.pattern + r"|:\s+")
_WORD = re.compile(r"\w+")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")
# A one-word label and its colon before a headline ("Blog:", "Title:").
_HEADLINE_LABEL = re.compile(r"[A-Z]\w{1,15}:\s*")
# A date as pages print it: "March 4, 2025", "4 Mar 2025", "2025-03-04", "03/04/2025".
_PRINTED_DATE = re.compile(rf"\b(?:{DATE}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{4}})\b", re.IGNORECASE)
# A date printed inside the <h1>, before the headline or after it with its label and byline.
_HEADLINE_DATELINE = re.compile(
    rf"^(?:{DATE})\s+(?=\w)|\s+(?:posted|published|updated)(?:\s+on)?:?\s+(?:{DATE}).*$", re.IGNORECASE
)
_UPDATE_LABEL = re.compile(r"\b(?:updated|modified|reviewed|edited)\b", re.IGNORECASE)
# A page marking up more authors than this lists other stories' writers.
MAX_MARKED_AUTHORS = 4
# The dateline is read in this many characters of text after the headline.
DATELINE_CHARS = 600
# ... and, when it has no date, in this many characters of text before it.
DATELINE_ABOVE_CHARS = 200
# The page's one <h1> is no headline when it shares less than this share of its words with the page's titles.
SOLE_H1_SHARED = 0.3
# A JSON-LD headline this long may have been cut (search engines show about 110 characters).
TRUNCATED_CHARS = 90
# A piece of text this long under the headline is the body: the dateline is over.
BODY_PIECE_CHARS = 150
# A label printed as its own piece before a name.
_NAME_LABEL = re.compile(r"(?:.*\bby|authors?|contributors?|written by)\s*:?", re.IGNORECASE)
# A piece ending with what a "by" after it credits other than the writing ("Medically reviewed", "Photo").
_CREDITED_BY = re.compile(r"\b(?:reviewed|fact[- ]checked|edited|photos?|photographs?|illustrations?|images?)\s*$",
                          re.IGNORECASE)
# A label that credits a picture, not the text ("Photo by", "Illustration by").
_PICTURE_CREDIT = re.compile(r"\b(?:photo|photograph|image|illustration|graphic|video|picture)s?\b", re.IGNORECASE)
# A person's name as bylines print it: capitalised words, initials and name particles.
_PERSON_NAME = re.compile(
    r"(?:[A-Z][\w'’.-]*\s+)(?:(?:[A-Z][\w'’.-]*|van|von|de|der|den|del|da|di|du|la|le|bin|al)\s+){0,2}[A-Z][\w'’-]*"
)
# "Jane Doe's blog", "Jane Doe's thoughts on ...": a site named for its writer.
_OWNED_SITE = re.compile(
    r"(?P<name>[^|:]+?)['’]s\s+(?:blog|weblog|notes|site|journal|newsletter|homepage|home page|thoughts|writing)\b", re.IGNORECASE
)
# What a byline prints between two names: ",", "and", "&", "with", ", and".
_PRINTED_JOIN = re.compile(r"\s*(?:,|;|&|\band\b|\bwith\b|,\s*and\b|,\s*&)\s*", re.IGNORECASE)
# Elements a theme names for the writer ("author-box", "blog_author-text", "post__author"; not an
# "authorization-link"), outside menus, footers, forms, comments (a comment form's "Name *", a
# commenter's name) and figures (a card previewing another page names that page's author).
_AUTHOR_CLASS_XPATH = (
    "//body//*[contains(translate(@class, 'AUTHOR', 'author'), 'author')]"
    "[not(contains(translate(@class, 'AUTHORIZ', 'authoriz'), 'authoriz'))]"
    "[not(ancestor::nav or ancestor::footer or ancestor::form or ancestor::figure"
    " or ancestor::*[contains(@class, 'comment')])]"
)
# A label printed before the name in a writer's box ("By", "Written by:", "Author").
_AUTHOR_LABEL = re.compile(r"(?:(?:written|posted|article|reviewed)\s+)?(?:by|authors?)\s*:?", re.IGNORECASE)
# A link to a writer's own page.
_WRITER_PATH = re.compile(r"/(?:authors?|people|staff|profiles?|contributors?|writers?|team|u|by)/", re.IGNORECASE)
# Lowercase words after a name ("Mahua Das in" a section): not the name.
_TRAILING_WORDS = re.compile(r"(?:\s+[a-z]\w*)+$")
# A <time datetime> value that names a day, as HTML writes it ("2025-03-04", "2025-03-04T10:15Z").
_HTML_DAY = re.compile(r"\s*\d{4}-\d\d-\d\d")
# A date in a URL's path: /2025/12/18/, /2025-12-18-.
_URL_DATE = re.compile(r"/(?P<year>(?:19|20)\d\d)[/-](?P<month>[01]?\d)[/-](?P<day>[0-3]?\d)(?:[/-]|$)")
# A printed date this many days from the metadata's is the same moment in another time zone.
ZONE_DAYS = 1
_TAG = re.compile(r"<[^>]+>")
# A UTF-8 lead byte read as Latin-1 and followed by a continuation byte (C1 controls included).
_MOJIBAKE = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf]")
# Elements a browser sets apart from the text around them.
_SPACED_TAGS = frozenset({"br", "div", "p", "li", "ul", "ol", "section", "header", "small", "time", "h1", "h2", "h3"})
_CDATA = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")
_TRAILING_COMMA = re.compile(r",\s*([\]}])")


@dataclass
class PageMeta:
    """The metadata found on one page, each value with the kind of source it came from."""

    title: str | None = None
    title_source: str | None = None
    authors: list[str] = field(default_factory=list)
    byline: str | None = None  # the authors joined as the page prints them ("Jane Doe and John Roe")
    author_source: str | None = None
    date_published: datetime | None = None
    date_modified: datetime | None = None
    date_source: str | None = None
    site_name: str | None = None
    description: str | None = None
    body: str | None = None  # the JSON-LD articleBody, lines kept
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical: str | None = None
    language: str | None = None
    is_article: bool = False  # the page declares itself an article (JSON-LD type or og:type)
    h1: str | None = None


def _text(value) -> str | None:
    """A clean one-line string from a JSON-LD or meta value, or None."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url")
    if isinstance(value, list):
        value = next((v for v in (_text(item) for item in value) if v), None)
    if not isinstance(value, (str, int, float)):
        return None
    text = unescape(_TAG.sub(" ", str(value)))
    if "&" in text:  # escaped twice ("&amp;#8230;"), as some CMSs print JSON-LD
        text = unescape(text)
    return mend_mojibake(" ".join(text.split())) or None


def mend_mojibake(text: str) -> str:
    """UTF-8 text that was decoded as Latin-1 on its way into the page ("Investorâ\x80\x99s"), decoded right."""
    if not _MOJIBAKE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:  # mixed with proper text: leave it
        return text


def _body_text(value) -> str | None:
    """A JSON-LD articleBody as text: markup and entities out, its line breaks kept, or None."""
    if not isinstance(value, str):
        return None
    text = unescape(_TAG.sub("\n", unescape(value)))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line) or None


def visible_text(element) -> str:
    """An element's text as a browser lays it out on one line: inline pieces joined as they are
    ("C<span>ycle</span>" is one word), a space for each <br> and around each block element."""
    pieces = []

    def walk(node) -> None:
        spaced = node.tag in _SPACED_TAGS
        pieces.append(" " if spaced else "")
        pieces.append(node.text or "")
        for child in node:
            if isinstance(child.tag, str):
                walk(child)
            pieces.append(child.tail or "")
        pieces.append(" " if spaced else "")

    walk(element)
    return mend_mojibake(" ".join("".join(pieces).split()))


def _types(node: dict) -> set[str]:
    kind = node.get("@type", [])
    return {str(k).lower() for k in (kind if isinstance(kind, list) else [kind])}


def _walk_json_ld(value):
    """Every dict in a JSON-LD document, @graph members and nested lists included."""
    if isinstance(value, list):
        for item in value:
            yield from _walk_json_ld(item)
    elif isinstance(value, dict):
        yield value
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(value.get(key), (dict, list)):
                yield from _walk_json_ld(value[key])


def json_ld_article(tree) -> dict | None:
    """The page's JSON-LD Article-family object (the one with the longest body), or None."""
    return article_node(json_ld_nodes(tree))


def article_node(nodes: list[dict]) -> dict | None:
    """Of JSON-LD objects, the Article-family one with the longest body, or None."""
    found = [node for node in nodes if _types(node) & ARTICLE_TYPES]
    if not found:
        return None
    return max(found, key=lambda node: (len(str(node.get("articleBody") or "")), bool(node.get("headline"))))


def page_node(nodes: list[dict]) -> dict:
    """Of JSON-LD objects, the WebPage-family one that dates the page (Yoast's @graph puts the dates there), or {}."""
    return next((node for node in nodes if _types(node) & PAGE_TYPES and node.get("datePublished")), {})


def json_ld_nodes(tree) -> list[dict]:
    """Every object of the page's JSON-LD blocks, @graph members and nested lists included."""
    found = []
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            document = json.loads(raw, strict=False)
        except ValueError:
            # Pages often end the block with a stray comma or wrap it in a CDATA comment.
            try:
                document = json.loads(_TRAILING_COMMA.sub(r"\1", _CDATA.sub("", raw)), strict=False)
            except ValueError:
                continue
        found.extend(_walk_json_ld(document))
    return found


def meta_tags(tree) -> dict[str, list[str]]:
    """The contents of the page's <meta> tags by name, property and itemprop (lowercased), in page order."""
    found: dict[str, list[str]] = {}
    for node in tree.iter("meta"):
        for key in {node.get("name"), node.get("property"), node.get("itemprop")} - {None}:
            found.setdefault(key.lower(), []).append(node.get("content"))
    return found


def _meta(metas: dict[str, list[str]], *names: str) -> str | None:
    """The first non-empty content of the <meta> tags named `names` (see `meta_tags`), tried in order."""
    for name in names:
        for content in metas.get(name.lower(), ()):
            value = _text(content)
            if value:
                return value
    return None


def _zone(name: str | None, offset: int | None):
    """dateutil's zone for a parsed name and offset: the offset when given, else none."""
    return tz.tzoffset(name, offset) if offset is not None else None


def parse_date(value) -> datetime | None:
    """A datetime from an ISO 8601 or a common written date, or None when it does not parse."""
    text = _text(value)
    if not text or not re.search(r"\d{4}", text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        # Unknown zone names ("EST") give a naive time rather than a warning: the day is what counts.
        parsed = dateutil_parser.parse(text, fuzzy=True, tzinfos=_zone)
    except (ValueError, OverflowError):
        return None
    return parsed if 1990 <= parsed.year <= 2100 else None


def split_authors(value: str | None) -> list[str]:
    """Names from a byline: "By A and B" -> [A, B]; "A | Staff Writer" and "A, Reuters" -> [A].

    A role or an agency beside a name describes that name and is dropped; a byline that is only
    a role, a desk or an agency ("Staff Writer", "Metro Desk", "Reuters") is the author as printed.
    """
    if not value or re.match(r"(?:https?:|www\.)", value.strip()):
        return []  # a profile URL (article:author often is one), not a name
    names, roles = [], []
    pieces = re.split(f"({_AUTHOR_SPLIT.pattern})", _BY_PREFIX.sub("", value), flags=re.IGNORECASE)
    for separator, part in zip(["", *pieces[1::2]], pieces[0::2]):
        part = _BY_PREFIX.sub("", part + " ").strip(" .:-–—\u200b")
        if (separator.strip() == "," and names and _CREDENTIAL.fullmatch(part) and not names[-1].isupper()
                and part.lower() not in AGENCIES):
            names[-1] = f"{names[-1]}, {part}"  # "Jane Doe, MD": a credential, not a second author
            continue
        dated = re.search(r"\d", part)
        tail = _NAME_TAIL.search(part)
        # A lone trailing desk word is part of the desk's name ("Metro Desk"), not a person's title.
        if tail and len(part[:tail.start()].split()) >= 2 and not DESK_WORDS.fullmatch(tail.group().strip()):
            part = part[:tail.start()]  # "Jane Doe December 3, 2025" -> "Jane Doe"
        elif (date_tail := _DATE_TAIL.search(part)) and not ROLE_WORDS.search(part[:date_tail.start()]):
            part = part[:date_tail.start()]  # "Newsroom Nov 3" -> "Newsroom" (but "Updated: Nov 3" is no name)
        part = re.sub(r"\s+\d+$", "", part)  # "Jane Doe 3": a count of comments or posts
        if re.fullmatch(rf"{_MONTHS}\.?", part, re.IGNORECASE):
            continue  # a month, not a name
        letters = len(re.findall(r"[^\W\d_]", part))
        if not letters or letters < len(re.findall(r"\d", part)) or _NOT_A_NAME.search(part):
            continue  # empty, a date, a time or a number ("98 Buck Social" is a name)
        if len(part.split()) > (4 if dated else 6):
            continue  # a sentence
        if part.startswith(("http", "@")) or re.fullmatch(r"[\w-]+(?:\.[\w-]+)+", part):
            continue  # a handle or a domain
        is_role = ROLE_WORDS.search(part) or part.lower() in AGENCIES
        (roles if is_role else names).append(part)
    return list(dict.fromkeys(names or roles))


def marked_authors(tree) -> list[str]:
    """The names the page marks up as its authors: rel="author" links and itemprop="author" elements.

    More than MAX_MARKED_AUTHORS of them are the writers of the other stories the page lists: none.
    """
    names = []
    for node in tree.xpath('//a[@rel="author"] | //*[@itemprop="author"][not(self::meta or self::link)]'):
        named = node.xpath('.//*[@itemprop="name"]')
        text = " ".join((named[0] if named else node).text_content().split())
        if 0 < len(text) < 60:
            names.extend(name for name in split_authors(text) if name not in names)
    return names if len(names) <= MAX_MARKED_AUTHORS else []


def byline_text(tree) -> str | None:
    """The page's printed byline ("By Jane Doe", "Written by Jane Doe"), or None."""
    for node in tree.xpath(_BYLINE_XPATH):
        text = " ".join(node.text_content().split())
        name = _BY_PREFIX.sub("", text)
        if _BY_PREFIX.match(text) and len(text.split()) <= 8 and (name[:1].isupper() or name.startswith("the ")):
            return text  # "by project" in a filter list is no byline
    return None


def meta_authors(metas: dict[str, list[str]]) -> list[str]:
    """The authors the <meta> tags name: a scholarly page's several citation_author tags, else the
    first byline tag (author, article:author, Parse.ly's, Dublin Core's, Yoast's "Written by")."""
    cited = cited_authors(metas)
    named = split_authors(_meta_byline(metas))
    return cited if len(cited) > 1 else named or cited


def _meta_byline(metas: dict[str, list[str]]) -> str | None:
    return _meta(metas, "author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl") or (
        _labelled_meta(metas, "written by")
    )


def cited_authors(metas: dict[str, list[str]]) -> list[str]:
    """The authors a scholarly page lists in citation_author tags, one a tag, "Last, First" as "First Last"."""
    names = []
    for content in metas.get("citation_author", []) + metas.get("citation_authors", []):
        last, comma, first = (_text(content) or "").partition(", ")
        name = f"{first} {last}" if comma and first and "," not in first else last
        if name and name not in names:
            names.append(name)
    return names


def _labelled_meta(metas: dict[str, list[str]], label: str) -> str | None:
    """The twitter:dataN value whose twitter:labelN is `label` ("Written by", as Yoast prints)."""
    for key, contents in metas.items():
        if key.startswith("twitter:label") and (contents[0] or "").strip().lower() == label:
            return _meta(metas, key.replace("label", "data"))
    return None


def _json_ld_authors(article: dict) -> list[str]:
    """The names of the article's JSON-LD authors; an Organization is a publisher, not a writer."""
    value = article.get("author") or article.get("creator")
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict) and "organization" in _types(item):
            continue
        for name in split_authors(_text(item)):
            if name not in names:
                names.append(name)
    return names


def _image(value) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value if isinstance(value, str) and value.startswith(("http", "/")) else None


def _tags(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [tag for tag in (_text(v) for v in value) if tag]


def _host(url: str | None) -> str:
    host = (urlsplit(url or "").hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _folded(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def names_site(part: str, site_name: str | None, url: str | None) -> bool:
    """True when a title part names the site (its name, or its host: "Example News", "example.com")."""
    folded = _folded(part)
    squashed = folded.replace(" ", "")
    site = _folded(site_name or "")
    host_words = set(_WORD.findall(_host(url).lower())) - {"com", "org", "net", "co", "uk", "www", "news"}
    return bool(folded) and (
        folded == site or (bool(site) and (folded in site or site in folded) and len(folded) < 40)
        or any(squashed == w or (len(w) > 3 and w in squashed and len(squashed) < 30) for w in host_words)
    )


def clean_title(
    title: str | None, site_name: str | None, url: str | None, h1: str | None = None, printed: bool = False
) -> str | None:
    """A headline without its site-name suffix or prefix ("Headline | Site", "Site - Headline").

    When the page's <h1> is one of the title's parts, that part is the headline; otherwise the
    parts naming the site (its name or its host) are dropped. A short last part is taken for the
    brand ("Headline | Brand"), but not one after a dash in the `printed` headline: there it is
    a subtitle ("How to replace brake pads – From a Mechanic").
    """
    if not title:
        return None
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) == 1:
        return _without_domain_word(title, site_name, url)
    if h1 and _folded(h1) in {_folded(p) for p in parts}:
        return h1
    kept = parts[:]
    while len(kept) > 1 and names_site(kept[-1], site_name, url):
        kept.pop()
    while len(kept) > 1 and names_site(kept[0], site_name, url):
        kept.pop(0)
    subtitled = printed and "|" not in title
    if not subtitled and len(kept) == len(parts) and len(parts[-1].split()) <= 4 and len(parts[0].split()) > 4:
        # "Headline | Short Brand": a short trailing part after a long one is the brand.
        kept = parts[:-1]
    return title if not kept else _join_parts(title, kept)


def _without_domain_word(title: str, site_name: str | None, url: str | None) -> str:
    """The title without the site's domain printed before or after it with no separator ("example.com Headline")."""
    words = title.split()
    if len(words) > 2 and _DOMAIN.fullmatch(words[0]) and names_site(words[0], site_name, url):
        return " ".join(words[1:])
    if len(words) > 2 and _DOMAIN.fullmatch(words[-1]) and names_site(words[-1], site_name, url):
        return " ".join(words[:-1])
    return title


def unlabelled(headline: str, titles: list[str]) -> str:
    """The headline without a label printed before it ("Blog: ...", "Title:..."), when a metadata
    title (or one of its parts) is the rest of it and none carries the label."""
    label = _HEADLINE_LABEL.match(headline)
    if not label or any(_folded(headline) in _folded(title) for title in titles):
        return headline  # no label, or one the titles carry too ("Opinion: ...")
    rest = headline[label.end():]
    known = {_folded(part) for title in titles for part in [title, *_TITLE_SEPARATORS.split(title)]}
    return rest if _folded(rest) in known else headline


def _join_parts(title: str, kept: list[str]) -> str:
    """The span of the original title from the first kept part to the last (separators kept)."""
    start = title.find(kept[0])
    end = title.rfind(kept[-1]) + len(kept[-1])
    return title[start:end].strip()


def visible_headline(h1s: list[str], titles: list[str], site_name: str | None, url: str | None) -> str | None:
    """The page's <h1> that is its headline, or None.

    Short <h1>s (one or two words) are logos and section names, and an <h1> that is the site's
    name (a blog's, which its <title> carries as its shorter part: "Jane's Blog: A Post") is not
    a headline either. Of several <h1>s (menus, widgets and related stories use them too), the
    one sharing most words with the page's metadata titles (`titles`: JSON-LD, og:title,
    <title>) is the headline.
    """
    parts = [_folded(part) for title in titles[-1:] for part in _TITLE_PARTS.split(title)]
    longest = max((len(part.split()) for part in parts), default=0)
    site = _folded(site_name or "")
    candidates = []
    for h1 in dict.fromkeys(h1s):
        folded = _folded(h1)
        if len(folded.split()) < 3 or "{{" in h1 or folded == site or (len(parts) > 1 and folded in parts and len(folded.split()) < longest):
            continue
        candidates.append(h1)
    if not candidates:
        return None
    title_words = set(_WORD.findall(" ".join(titles).lower()))

    def shared(h1: str) -> float:
        words = _WORD.findall(h1.lower())
        return sum(word in title_words for word in words) / len(words)

    if len(h1s) == 1:  # the page's one <h1>, unless it is about something else than its titles
        return candidates[0] if not titles or shared(candidates[0]) >= SOLE_H1_SHARED else None
    best = max(candidates, key=shared)
    return best if shared(best) >= 0.5 else None


@lru_cache(maxsize=4)  # the byline, the names and the dates of one page read the same pieces
def _near_headline(headline, axis: str = "following", chars: int = DATELINE_CHARS) -> tuple:
    """The text pieces and <time datetime> values either side of the headline, in document order.

    `axis` is "following" (the byline and the dateline are usually under the headline) or
    "preceding" (some pages print the date above it); the pieces stop `chars` characters of text
    away from the headline.
    """
    found = headline.xpath(
        f"({axis}::text()[normalize-space()][not(ancestor::script or ancestor::style or ancestor::head)]"
        f" | {axis}::time/@datetime)"
    )
    walk = found[:80] if axis == "following" else found[::-1][:80]
    pieces, seen_chars = [], 0
    for piece in walk:
        pieces.append(piece)
        seen_chars += 0 if piece.is_attribute else len(piece.strip())
        if seen_chars > chars:
            break
    return tuple(pieces if axis == "following" else pieces[::-1])


def dateline_dates(headline) -> list[tuple[datetime, bool]]:
    """The dates printed by the headline element, each with whether it is labelled an update.

    A <time datetime> counts, and so does a written date in the text ("Published March 4, 2025",
    "Updated: 04/03/2025"); a label within 40 characters before a date (or after a <time>) says
    whether it is an update. The dates under the headline count; without any, those just above it.
    """
    return _printed_dates(_near_headline(headline)) or _printed_dates(
        _near_headline(headline, "preceding", DATELINE_ABOVE_CHARS)
    )


def _printed_dates(pieces: list) -> list[tuple[datetime, bool]]:
    found, before = [], ""
    for index, piece in enumerate(pieces):
        if piece.is_attribute:  # a <time datetime>: its label is the text either side of it
            after = str(pieces[index + 1]) if index + 1 < len(pieces) else ""
            # Only a day in HTML's format counts: a month ("2026-02") parsed would take today's day,
            # and free text ("04.Apr.2019") is some other date the page keeps (its text is read anyway).
            dates = [(parse_date(str(piece)), f"{before[-40:]} {after[:30]}")] if _HTML_DAY.match(str(piece)) else []
            if dates and dates[0][0] and _prints_its_local_day(piece, dates[0][0], after):
                dates = []  # the element's own text, read next, is the day the reader sees
        else:
            text = str(piece)
            dates = [(parse_date(m.group(0)), f"{before[-40:]} {text[:m.start()][-40:]}")
                     for m in _PRINTED_DATE.finditer(text)]
            before = text
        found.extend((date, bool(_UPDATE_LABEL.search(label))) for date, label in dates if date)
    return found


def _prints_its_local_day(attribute, moment: datetime, after: str) -> bool:
    """True when a <time>'s own text prints a day ZONE_DAYS from its datetime, written in UTC
    (datetime="2026-02-24T04:13Z" printed "February 23, 2026")."""
    element = attribute.getparent()
    printed = [parse_date(m.group(0)) for m in _PRINTED_DATE.finditer(after)]
    return (" ".join(element.text_content().split()) == " ".join(after.split()) and len(printed) == 1
            and printed[0] is not None and 0 < _days_apart(printed[0], moment) <= ZONE_DAYS)


def dateline_byline(headline) -> str | None:
    """The byline printed just after the headline element ("By Jane Doe", "Written by: Jane Doe"), or None."""
    pieces = [piece for piece in _near_headline(headline) if not piece.is_attribute]
    texts = [" ".join(str(piece).split()) for piece in pieces]
    for index, text in enumerate(texts):
        if not _BY_PREFIX.match(text + " ") or (index and _CREDITED_BY.search(texts[index - 1])):
            continue  # no "By", or a reviewer's or a photographer's ("Medically reviewed | by | Jane Doe")
        if not _BY_PREFIX.sub("", text + " ").strip() and index + 1 < len(texts):
            if _links_to_a_tag(pieces[index + 1]):
                return None  # "By" and a category's link: no byline
            text = f"{text} {texts[index + 1]}"  # "By " and the linked name are two pieces
        name = _BY_PREFIX.sub("", text + " ").strip()
        # A name starts with a capital ("by printing one of ..." is prose), a desk with "the" ("By the Metro Team").
        return text if (name[:1].isupper() or re.match(r"the [A-Z]", name)) and len(text.split()) <= 12 else None
    return None


def dateline_name(headline, site_name: str | None = None, url: str | None = None) -> list[str]:
    """The names printed without "By" in the dateline under the headline, or [].

    A name is a piece of two to four capitalised words ("Jane Doe", "Ana de la Cruz") standing
    next to what marks a byline: a date, a role, a separator ("·", "|") or a label ("Reviewed
    by", "Contributors:"), which also may precede it as its own piece, or the site's name just
    after it ("Jane Doe, USA TODAY": the writer's employer, see `names_site`). A name printed as a link
    links to the writer's page (an /author/ path, not a section's). The dateline ends where the
    body starts (the first long piece of text).
    """
    pieces = []  # up to where the body starts (a long first piece is the standfirst)
    for index, piece in enumerate(_near_headline(headline)):
        if len(" ".join(str(piece).split())) > BODY_PIECE_CHARS:
            if index == 0:
                continue
            break
        pieces.append(piece)
    texts = [" ".join(str(piece).split()) for piece in pieces]
    for index, (piece, text) in enumerate(zip(pieces, texts)):
        neighbours = texts[max(index - 2, 0):index + 3]  # "Jane Doe | May 2" is its own neighbour
        labelled = index > 0 and _NAME_LABEL.fullmatch(texts[index - 1]) and not _PICTURE_CREDIT.search(texts[index - 1])
        # A name after its label may link anywhere (a doctor's page); otherwise only to a writer's.
        if piece.is_attribute or _NAME_LABEL.fullmatch(text) or not (labelled or _links_to_a_writer(piece)):
            continue
        following = [other for other in texts[index + 1:index + 3] if other][:1]
        employer = bool(following) and names_site(following[0], site_name, url)
        if labelled or employer or any(_marks_byline(other) for other in neighbours):
            names = split_authors(_TRAILING_WORDS.sub("", text))
            # "Jane Doe, MD": the name before its credential.
            if names and all(_PERSON_NAME.fullmatch(name.split(",")[0]) and not _marks_byline(name) for name in names):
                return names
    return []


def _is_a_date(text: str) -> bool:
    """True when a short text is a date, a time or a reading time ("Dec 17, 2025", "5 min read"), not a name."""
    return bool(_NOT_A_NAME.search(text)) and not split_authors(text)


def _links_to_a_writer(piece) -> bool:
    """False when a text piece is a link to anything but a writer's page (a section, another story)."""
    links = piece.getparent().xpath("ancestor-or-self::a[@href][1]/@href")
    return not links or bool(_WRITER_PATH.search(links[0]))


def _links_to_a_tag(piece) -> bool:
    """True when a text piece is a link marked a tag or a category (rel="tag", rel="category tag")."""
    rels = piece.getparent().xpath("ancestor-or-self::a[@rel][1]/@rel")
    return bool(rels) and bool({"tag", "category"} & set(rels[0].lower().split()))


def _marks_byline(text: str) -> bool:
    """True when a piece beside a name marks a byline: a date, a role, an update label or a separator."""
    return bool(_PRINTED_DATE.search(text) or ROLE_WORDS.search(text) or _UPDATE_LABEL.search(text)
                or text in {"·", "•", "|", "-", "–", "—"})


def read_dateline(meta: PageMeta, headline) -> None:
    """Dates from the dateline by the headline: the date a reader sees there.

    For a page whose metadata gives no date, the first date not labelled an update is the
    publication date (a page that prints only "Updated ..." was published then as far as a
    reader can tell). Over the metadata's date, the printed one wins when the dateline shows a
    single date not labelled an update, more than ZONE_DAYS from it: pages republished under a
    new date, and CMSs stamping their own, print the date they stand by.
    """
    printed = dateline_dates(headline)
    shown = [date for date, updated in printed if not updated]
    if meta.date_published is None and printed:
        meta.date_published, meta.date_source = (shown or [date for date, _ in printed])[0], "html"
        meta.date_modified = next((date for date, updated in printed if updated), None)
    elif len({date.date() for date in shown}) == 1 and _days_apart(shown[0], meta.date_published) > ZONE_DAYS:
        meta.date_published, meta.date_source = shown[0], "html"


def _days_apart(a: datetime, b: datetime) -> int:
    return abs((a.date() - b.date()).days)


def read_meta(tree, url: str | None) -> PageMeta:
    """The page's metadata from JSON-LD, then meta tags, then the HTML (its <h1> first for the title)."""
    meta = PageMeta()
    nodes = json_ld_nodes(tree)
    article = article_node(nodes) or {}
    metas = meta_tags(tree)
    meta.is_article = bool(article) or (_meta(metas, "og:type") or "").lower() == "article" or (
        _meta(metas, "article:published_time") is not None
    )
    meta.site_name = read_site_name(article, metas)
    headline = read_title(meta, tree, article, metas, url)
    read_authors(meta, tree, article, metas, url, headline)
    read_dates(meta, article, metas, headline, page_node(nodes), url)
    meta.description = _text(article.get("description")) or _meta(metas, "og:description", "description")
    meta.body = _body_text(article.get("articleBody"))
    meta.section = _text(article.get("articleSection")) or _meta(metas, "article:section")
    meta.tags = _tags(article.get("keywords")) or _tags(_meta(metas, "news_keywords", "keywords")) or [
        t for t in (_text(content) for content in metas.get("article:tag", ())) if t
    ]
    meta.image = _image(article.get("image")) or _meta(metas, "og:image", "twitter:image")
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    meta.canonical = (canonical[0].strip() if canonical else None) or _meta(metas, "og:url")
    meta.language = (tree.get("lang") or _text(article.get("inLanguage")) or "").split("-")[0].lower() or None
    return meta


def read_site_name(article: dict, metas: dict[str, list[str]]) -> str | None:
    """The site's name: og:site_name (or the app's or Twitter's name), else the JSON-LD publisher."""
    publisher = article.get("publisher")
    name = _meta(metas, "og:site_name", "application-name", "twitter:site") or (
        _text(publisher) if isinstance(publisher, dict) else None
    )
    return name[1:] if name and name.startswith("@") else name


def read_title(meta: PageMeta, tree, article: dict, metas: dict[str, list[str]], url: str | None):
    """Set the title and its source; return the headline's <h1> element, or None.

    The visible headline beats the SEO titles in JSON-LD and og:title, often rewrites of it; an
    <h1> that is not the headline (a logo, the blog's name) comes after the <title>.
    """
    h1_elements = tree.xpath("//h1")
    h1s = [visible_text(h) for h in h1_elements]
    meta.h1 = next((h for h in h1s if len(h) > 10), None)
    page_title = _text(tree.findtext(".//title"))
    titles = [t for t in (_text(article.get("headline")), _meta(metas, "og:title"), page_title) if t]
    headline = visible_headline(h1s, titles, meta.site_name, url)
    # The <h1> that tells the headline's part of a "Headline | Site" title: not the site's name.
    hint = headline or (meta.h1 if meta.h1 and not names_site(meta.h1, meta.site_name, url) else None)
    # A dash's subtitle stays in the printed headline (see clean_title), unless it repeats the <title>.
    for source, raw, printed in (
        ("html", headline and unlabelled(_HEADLINE_DATELINE.sub("", headline), titles), headline != page_title),
        ("json-ld", _text(article.get("headline") or article.get("name")), False),
        ("meta", _meta(metas, "og:title", "twitter:title", "title", "headline"), False),
        ("html", page_title, False),
        ("html", meta.h1, False),
    ):
        if raw:
            meta.title, meta.title_source = clean_title(raw, meta.site_name, url, hint, printed), source
            break
    if meta.title_source == "json-ld":
        read_whole_headline(meta, titles[1:], url)
    return h1_elements[h1s.index(headline)] if headline else None



def read_whole_headline(meta: PageMeta, titles: list[str], url: str | None) -> None:
    """Replace a JSON-LD headline cut at TRUNCATED_CHARS (as CMSs cut it for search engines) with
    the og:title or <title> that goes on where it stops."""
    if len(meta.title) < TRUNCATED_CHARS:
        return
    for title in titles:
        whole = clean_title(title, meta.site_name, url)
        if len(whole) > len(meta.title) and _folded(whole).startswith(_folded(meta.title)):
            meta.title, meta.title_source = whole, "meta"
            return


def read_authors(meta: PageMeta, tree, article: dict, metas: dict[str, list[str]], url: str | None, headline) -> None:
    """Set the authors and their source: JSON-LD, meta tags, the byline under the headline, marked-up authors.

    A source naming only the site ("Example News" as the JSON-LD author) gives way to one that
    names a writer; when none does, the site is the author as printed. A name printed in the
    dateline without "By", then a "By ..." line anywhere on the page (filters and widgets print
    them too), are the last resorts.
    """
    printed = split_authors(dateline_byline(headline) if headline is not None else None)
    found = [
        ("json-ld", _json_ld_authors(article)),
        ("meta", meta_authors(metas)),
        ("html", printed),
        ("html", marked_authors(tree)),
    ]
    found = [(source, names) for source, names in found if names]
    writers = [(source, names) for source, names in found if not _names_only_site(names, meta.site_name, url)]
    if found and not writers and headline is not None and not any(DESK_WORDS.search(n) for _, ns in found for n in ns):
        # The site named as the author ("Example News", not its "Example Team"): a writer printed in the dateline wins.
        printed = dateline_name(headline, meta.site_name, url)
        writers = [("html", printed)] if printed and not _names_only_site(printed, meta.site_name, url) else []
    meta.author_source, meta.authors = (writers or found or [("html", last_resort_authors(tree, headline))])[0]
    if names_other_people(printed, meta.authors):
        meta.author_source, meta.authors = "html", printed
    if not meta.authors:
        meta.authors = site_owner(tree, meta.site_name)
    # "Jane Doe, The Gazette": the site beside its writers is their employer, not an author.
    meta.authors = [name for name in meta.authors if not names_site(name, meta.site_name, url)] or meta.authors
    if headline is not None:
        meta.authors = [whole_name(name, headline) for name in meta.authors]
    meta.byline = printed_authors(meta.authors, printed_bylines(tree, article, metas, headline))


def names_other_people(printed: list[str], names: list[str]) -> bool:
    """True when the "By ..." line under the headline names people none of whom the metadata names.

    The metadata's author is then someone else than the writer the reader sees: the editor who
    uploaded the story, a template's default, the site's account.
    """
    if not printed or not all(_PERSON_NAME.fullmatch(name.split(",")[0]) for name in printed):
        return False  # no byline, or one that is a handle, a desk's sentence or a section's name
    given = [_folded(name) for name in names]
    return not any(_folded(name) in other or other in _folded(name) for name in printed for other in given)


def site_owner(tree, site_name: str | None) -> list[str]:
    """A personal site's writer, for a page that names no author: "Colin Watson's blog" as the
    site's name, the <title>'s suffix or the feed's title.

    A bare name is not enough: "Playful Tones" is as person-shaped as "Pierce Freeman".
    """
    title = _text(tree.findtext(".//title")) or ""
    feeds = tree.xpath('//link[@rel="alternate"][contains(@type, "rss") or contains(@type, "atom")]/@title')
    for named in [site_name, *_TITLE_SEPARATORS.split(title)[1:], *feeds[:1]]:
        owned = _OWNED_SITE.match(" ".join((named or "").split()))
        if owned and _PERSON_NAME.fullmatch(owned["name"].strip()) and not DESK_WORDS.search(owned["name"]):
            return [owned["name"].strip()]
    return []


def whole_name(name: str, headline) -> str:
    """A first name alone ("Juliette", as a profile or a "More by" link prints it) made whole by the
    full name the dateline prints ("Juliette Carreiro"); else the name as it is."""
    if " " in name:
        return name
    texts = (" ".join(str(piece).split()) for piece in _near_headline(headline) if not piece.is_attribute)
    return next((text for text in texts if text.startswith(f"{name} ") and _PERSON_NAME.fullmatch(text)
                 and not _marks_byline(text)), name)


def _names_only_site(names: list[str], site_name: str | None, url: str | None) -> bool:
    return all(names_site(name, site_name, url) for name in names)


def printed_bylines(tree, article: dict, metas: dict[str, list[str]], headline) -> Iterator[str | None]:
    """The page's bylines as printed, each read only when asked for: the visible ones first
    (under the headline, its text as a whole, then anywhere), then the JSON-LD author's and the meta tag's."""
    if headline is not None:
        yield dateline_byline(headline)
        # The dateline's pieces joined: "By <a>A</a>, <a>B</a>, and <a>C</a>" is pieces.
        yield " ".join(str(piece) for piece in _near_headline(headline) if not piece.is_attribute)
    yield byline_text(tree)
    author = article.get("author")
    yield None if isinstance(author, list) else _text(author)
    yield _meta_byline(metas)


def last_resort_authors(tree, headline) -> list[str]:
    """A name printed in the dateline without "By", else a "By ..." line anywhere on the page, else
    the name in an element the theme names for the author."""
    return (dateline_name(headline) if headline is not None else []) or split_authors(byline_text(tree)) or (
        classed_authors(tree)
    )


def classed_authors(tree) -> list[str]:
    """The names an author box or byline element prints first ("Jane Doe" over her bio), or [].

    The first text in the element after a label ("By", "Written by:") and a date or reading time
    is read, and only person's names count: a box that starts with a sentence or a lowercase
    handle names no one.
    """
    for node in tree.xpath(_AUTHOR_CLASS_XPATH):
        texts = (" ".join(text.split()) for text in node.xpath(
            ".//text()[normalize-space()][not(ancestor::script or ancestor::style)]"))
        text = next((text for text in texts if not (_AUTHOR_LABEL.fullmatch(text) or _is_a_date(text))), "")
        names = split_authors(text) if len(text) < 60 else []
        if names and all(_PERSON_NAME.fullmatch(name) for name in names):
            return names
    return []


def printed_authors(names: list[str], printed: Iterable[str | None]) -> str | None:
    """The authors joined as the page prints them ("A and B", "A, B, and C"), or None for none.

    The joins come from the first of the `printed` bylines that holds every name in order;
    ", " between names when none does.
    """
    if len(names) < 2:
        return names[0] if names else None
    for text in filter(None, printed):
        joins, end = [], None
        for name in names:
            start = text.find(name, end or 0)
            if start < 0 or (end is not None and not _PRINTED_JOIN.fullmatch(text[end:start])):
                break
            if end is not None:
                joins.append(" ".join(text[end:start].split()).replace(" ,", ","))
            end = start + len(name)
        else:
            return names[0] + "".join(f"{join if join[0] == ',' else ' ' + join} {name}"
                                      for join, name in zip(joins, names[1:]))
    return ", ".join(names)

def url_date(url: str | None) -> datetime | None:
    """The date a URL's path spells ("/2025/12/18/slug", "/2025-12-18-slug"), or None."""
    match = _URL_DATE.search(urlsplit(url or "").path)
    if not match:
        return None
    try:
        return datetime(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return None


def read_dates(
    meta: PageMeta, article: dict, metas: dict[str, list[str]], headline, page: dict, url: str | None
) -> None:
    """Set the publication and modification dates and their source: JSON-LD or meta tags, then the dateline.

    The article's JSON-LD dates come first, then the meta tags', then those of the JSON-LD
    WebPage (`page`). The dateline by the headline fills a page without date metadata, and
    overrides the metadata when it shows another date (see `read_dateline`); the URL's date fills
    a page without either, and corrects the metadata's day by one (see `read_url_day`).
    """
    for source, published, modified in (
        ("json-ld", parse_date(article.get("datePublished") or article.get("dateCreated")),
         parse_date(article.get("dateModified"))),
        ("meta", parse_date(_meta(metas, "article:published_time", "datePublished", "og:published_time",
                                  "pubdate", "publish-date", "parsely-pub-date", "sailthru.date", "date",
                                  "dc.date", "dc.date.issued", "citation_publication_date")),
         parse_date(_meta(metas, "article:modified_time", "dateModified", "og:updated_time"))),
        ("json-ld", parse_date(page.get("datePublished")), parse_date(page.get("dateModified"))),
    ):
        if published:
            meta.date_published, meta.date_source, meta.date_modified = published, source, modified
            break
    if headline is not None:
        read_dateline(meta, headline)
    if meta.date_published is None and (published := url_date(url)):
        meta.date_published, meta.date_source = published, "url"
    else:
        read_url_day(meta, url, headline)


def read_url_day(meta: PageMeta, url: str | None, headline) -> None:
    """The URL's day over the metadata's when they are ZONE_DAYS apart: the CMS spells the day the
    story went out where it was written ("/2025/12/18/"), and a late-evening timestamp written in
    UTC is already the next day. A date the dateline prints stands: it is the day the reader sees.
    """
    day = url_date(url)
    if not (day and meta.date_source in ("json-ld", "meta") and 0 < _days_apart(day, meta.date_published) <= ZONE_DAYS):
        return
    printed = {date.date() for date, _ in dateline_dates(headline)} if headline is not None else set()
    if meta.date_published.date() not in printed:
        meta.date_published, meta.date_source = day, "url"


def same_host(a: str | None, b: str | None) -> bool:
    """True when two URLs name the same host, ignoring "www."."""
    return bool(a and b) and _host(a) == _host(b)
