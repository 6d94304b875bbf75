"""One page's extraction: everything an extraction worker process runs.

Pure functions from HTML to an Article or a Rejection. This module imports no Prefect, so the
forkserver that starts the extraction workers, and the workers themselves, stay light.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import SequenceMatcher

import trafilatura
from htmldate import find_date
from trafilatura.metadata import extract_author, extract_sitename, extract_title
from trafilatura.settings import set_date_params
from trafilatura.utils import load_html

from wirehouse.config.settings import ExtractSettings
from wirehouse.tasks.boilerplate import FAMILIES, MAX_WORDS, remove_boilerplate
from wirehouse.tasks.extract_meta import PageMeta, clean_title, parse_date, read_meta, same_host, split_authors
from wirehouse.tasks.records import Article, Page, Rejection
from wirehouse.tasks.urls import article_id, canonical_url, content_hash

_ERROR_TITLE = re.compile(
    r"\b(?:404|410|page not found|not found|page (?:does not|doesn'?t) exist|no longer available|"
    r"page (?:is )?unavailable|error page|(?:couldn'?t|could not|can'?t|cannot) find (?:that|the|this) page)\b",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\b(?:subscribe (?:now )?to (?:continue|read|unlock)|to continue reading|continue reading with|"
    r"this (?:article|content|story) is (?:only )?(?:for|available to) (?:subscribers|members)|"
    r"already a (?:subscriber|member)|subscribers? only|unlock (?:this|full) (?:article|story)|"
    r"start your (?:free )?trial|create a free account to (?:continue|read))\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
COOKIE_NOTICE = FAMILIES["cookie"]
# The precision extraction is whole when it holds this share of the page's <p> text ...
PARAGRAPH_RATIO = 0.8
# ... and cut short when it holds less than this share of the recall extraction.
RECALL_RATIO = 0.6
# The JSON-LD articleBody replaces an extraction it holds when it is this many times longer.
PUBLISHER_RATIO = 1.5
# A text is stopped at its first block when a broader reading of the page finds this many times more ...
BROADER_RATIO = 2.0
# ... and two broader readings agree on its length within this share ...
BROADER_AGREEMENT = 0.3
# ... and at least this share of what the broader reading adds is prose paragraphs.
BROADER_PROSE = 0.5
# A line that ends so announces what follows it ("The plan has three parts:"), a list item starts so.
ANNOUNCES = ":"
LIST_ITEM = "- "
# A paragraph of at least this many words is prose, not a caption, a label or a button.
PROSE_WORDS = 8
# A text under min_text_chars is still an article (a brief) when it holds this many prose sentences.
BRIEF_SENTENCES = 2
# The characters of a text its language is read from: py3langid's time grows with the length (a
# tenth of a page's extraction at 5,000), its answer on prose settles within a few hundred.
LANGUAGE_SAMPLE = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)\]]*\s+|(?<=[.!?])[\"'’”)\]]*$")
# A paragraph that ends a sentence; one cut off with an ellipsis does not.
_ENDS_SENTENCE = re.compile(r"(?<!\.\.)[.!?][\"'’”)\]]*$")


@dataclass
class TextChoice:
    """The body text kept for a page, which candidate it came from, and why."""

    text: str  # boilerplate lines removed
    raw: str  # as trafilatura returned it
    source: str  # "precision" or "recall"
    reason: str


def parse_html(html: str):
    """The page's lxml tree as trafilatura parses it (its parser's choices matter to its scores), or None."""
    if not html or not html.strip():
        return None
    return load_html(html)


def error_page_reason(meta: PageMeta, tree) -> str | None:
    """Why the page is an error page ("404 page: 'Page not found'"), or None."""
    if meta.is_article:
        return None
    for heading in (meta.h1, _first_text(tree, "//title")):
        if heading and _ERROR_TITLE.search(heading):
            return f"error page: {heading[:80]!r}"
    return None


def section_front_reason(text: str, tree, meta: PageMeta) -> str | None:
    """Why the page is a list of links rather than an article, or None.

    On a section front the extracted lines are the headlines of other pages: most of the text
    is the whole text of some link. Pages that declare themselves articles are never fronts.
    """
    if meta.is_article:
        return None
    links = tree.xpath("//a[@href]")
    if len(links) < 30:
        return None
    anchors = {" ".join(a.text_content().split()) for a in links}
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    linked = sum(len(line) for line in lines if line in anchors) / max(sum(len(line) for line in lines), 1)
    if linked >= 0.6:
        return f"section front: {len(links)} links, {linked:.0%} of the text is link headlines"
    return None


def wall_reason(raw_text: str, text: str, settings: ExtractSettings) -> str | None:
    """Why the page is a consent wall or a paywall teaser rather than an article, or None."""
    consent = sum(bool(COOKIE_NOTICE.search(line)) for line in raw_text.split("\n") if len(line.split()) <= MAX_WORDS)
    if consent and len(text) < settings.min_text_chars:
        return f"consent wall: {consent} cookie-consent lines, {len(text)} characters of text"
    paywall = _PAYWALL.search(raw_text)
    if paywall and len(text) < 4 * settings.min_text_chars:
        return f"paywall teaser: {paywall.group(0)!r} after {len(text)} characters"
    return None


def is_brief(text: str) -> bool:
    """True when a short text is prose: BRIEF_SENTENCES sentences of PROSE_WORDS words or more, and no error message.

    A news brief of two or three sentences is an article however short; a short text that is
    not sentences (a caption, a label, a "Read more" link, a placeholder) is not.
    """
    if _ERROR_TITLE.search(text):  # "The page you requested could not be found. Try the search."
        return False
    sentences = [part for part in _SENTENCE_END.split(text.strip()) if len(_WORDS.findall(part)) >= PROSE_WORDS]
    return len(sentences) >= BRIEF_SENTENCES and text.rstrip()[-1:] in ".!?\"'’”)"


def _first_text(tree, xpath: str) -> str | None:
    nodes = tree.xpath(xpath)
    return " ".join(nodes[0].text_content().split()) if nodes else None


def extracted_text(tree, url: str | None, *, precision: bool = False, recall: bool = False) -> str:
    """trafilatura's text of one tree (no comments, tables kept); "" when it finds none."""
    document = trafilatura.bare_extraction(
        tree, url=url, favor_precision=precision, favor_recall=recall, include_comments=False,
        include_tables=True, deduplicate=False,
    )
    return (document.text if document else "") or ""


def strip_headline(text: str, title: str | None) -> str:
    """The text without a first line that repeats the headline."""
    first, _, rest = text.partition("\n")
    if title and first.strip().lower() == title.strip().lower():
        return rest.lstrip("\n")
    return text


def choose_text(tree, url: str | None, settings: ExtractSettings) -> TextChoice:
    """The body text of the page, from trafilatura's precision or recall mode, and why.

    Precision mode leaves out boilerplate the other modes keep, but on some layouts it drops
    whole sections of the article. When it kept most of the page's paragraph text, nothing was
    dropped and it wins at once (most pages: one extraction), unless it announces lines it then
    left out (`announces_missing_lines`: recall mode runs to restore them). Otherwise recall mode
    runs too, and precision still wins (with what it announced restored) unless it kept less than
    RECALL_RATIO of what recall found; default mode decides when recall found much less
    (`default_over_narrow_recall`) and wins when both stopped at the page's first block
    (`broader_text`). With `favor_precision` off, recall mode alone runs.
    """
    def candidate(source: str, reason: str, **mode) -> TextChoice:
        raw = extracted_text(tree, url, **mode)
        return TextChoice(remove_boilerplate(raw).strip(), raw, source, reason)

    if not settings.favor_precision:
        return candidate("recall", "recall only: favor_precision is off", recall=True)
    paragraphs = sum(len(_paragraph_text(p)) for p in tree.iter("p"))
    precision = candidate("precision", f"precision kept the page's paragraphs ({paragraphs} chars)", precision=True)
    if len(precision.text) >= PARAGRAPH_RATIO * paragraphs:
        if announces_missing_lines(precision.text):
            return restore_announced(precision, candidate("recall", "", recall=True))
        return precision
    recall = candidate("recall", "", recall=True)
    kept = f"precision kept {len(precision.text)} of recall's {len(recall.text)} chars"
    if len(precision.text) < RECALL_RATIO * len(recall.text):
        recall.reason = kept
        return broader_text(tree, url, recall) or recall
    precision.reason = kept
    chosen = restore_announced(precision, recall)
    chosen = default_over_narrow_recall(tree, url, chosen, recall) or chosen
    return broader_text(tree, url, chosen) or chosen


def default_over_narrow_recall(tree, url: str | None, chosen: TextChoice, recall: TextChoice) -> TextChoice | None:
    """trafilatura's default mode when recall mode read less than RECALL_RATIO of precision's text, else None.

    Recall mode keeps more than precision mode on the same block; when it keeps much less, it
    settled on another block of the page, and the two disagree on where the body is. Default
    mode then decides, when it keeps at least as much as the chosen text.
    """
    if len(recall.text) >= RECALL_RATIO * len(chosen.text):
        return None
    raw = extracted_text(tree, url)
    default = remove_boilerplate(raw).strip()
    if len(default) < len(chosen.text):
        return None
    reason = f"{chosen.reason}; recall read another block, default mode kept {len(default)} chars"
    return TextChoice(default, raw, "default", reason)


def _lines(text: str) -> list[str]:
    """The text's lines that hold a word."""
    return [line for line in text.split("\n") if _WORDS.search(line)]


def _line_key(line: str) -> str:
    """A line's words, lowercased: two modes' copies of one paragraph compare equal."""
    return " ".join(_WORDS.findall(line.lower()))


def announces_missing_lines(text: str) -> bool:
    """True when a line of the text announces what follows it (ends with ':') and no list item follows.

    Precision mode drops most lists inside the body ("The plan has three parts:" then nothing);
    such a line is the cheap sign that running recall mode is worth it.
    """
    lines = _lines(text)
    return any(
        line.rstrip().endswith(ANNOUNCES) and not following.lstrip().startswith(LIST_ITEM)
        for line, following in zip(lines, lines[1:])
    )


def restore_announced(precision: TextChoice, recall: TextChoice) -> TextChoice:
    """Precision's text with the lines recall kept right after a line announcing them (ends with ':').

    The two texts are aligned line by line. Lines only recall kept are restored when they sit
    between two stretches both kept (inside the article, not the teasers and footers around it)
    and follow a precision line that announces them: the list, table or steps it introduced.
    Other lines only recall kept stay out: on the dev sets they hold boilerplate for every two
    words of body, and most of the leaked snippets.
    """
    lines, others = _lines(precision.text), _lines(recall.text)
    opcodes = SequenceMatcher(
        None, [_line_key(line) for line in lines], [_line_key(line) for line in others], autojunk=False
    ).get_opcodes()
    shared = [op for op in opcodes if op[0] == "equal"]
    if not shared:
        return precision
    body_start, body_end = shared[0][4], shared[-1][3]  # recall's lines between its first and last shared stretch
    kept, restored = [], 0
    for tag, i1, i2, j1, j2 in opcodes:
        kept += lines[i1:i2]
        inside = tag != "equal" and body_start <= j1 < j2 <= body_end
        if inside and i1 and lines[i1 - 1].rstrip().endswith(ANNOUNCES):
            kept += others[j1:j2]
            restored += j2 - j1
    if not restored:
        return precision
    reason = f"{precision.reason}; {restored} lines of recall's restored after lines announcing them"
    return TextChoice("\n".join(kept), precision.raw, precision.source, reason)


def continued_body(tree, chosen: TextChoice) -> TextChoice | None:
    """The chosen text followed by the paragraphs of the containers that continue its own, or None.

    Pages split the body over sibling containers of one class (ads, pictures and newsletter
    boxes sit between them), and trafilatura keeps the first container only. The paragraphs of
    the later ones are added when the text's first paragraph sits in such a container (a div or
    a section: list items are records, not parts of one body), the text holds none of theirs, and
    trafilatura's baseline, a broader reading of the page, finds BROADER_RATIO times more text
    and holds them too.
    """
    box = _body_box(tree, chosen.text)
    if box is None:
        return None
    kept = {_line_key(line) for line in _lines(chosen.text)}
    later = [_paragraph_text(p) for sibling in _same_class_siblings(box) for p in sibling.iter("p")]
    if any(_line_key(text) in kept for text in later):
        return None
    baseline = trafilatura.baseline(tree)[1]
    if len(baseline) < BROADER_RATIO * len(chosen.text):
        return None
    broader = _line_key(baseline)
    paragraphs = [text for text in later if len(text.split()) >= PROSE_WORDS and _line_key(text) in broader]
    if not paragraphs:
        return None
    text = "\n".join([chosen.text, remove_boilerplate("\n".join(paragraphs))])
    reason = f"{chosen.reason}; {len(paragraphs)} paragraphs added from the containers continuing its own"
    return TextChoice(text, chosen.raw, chosen.source, reason)


def _paragraph_text(element) -> str:
    """An element's text with its whitespace folded."""
    return " ".join(element.text_content().split())


def _same_class_siblings(element) -> list:
    """The later siblings of an element with its tag and class."""
    return [sibling for sibling in element.itersiblings(element.tag) if sibling.get("class") == element.get("class")]


def _body_box(tree, text: str):
    """The div or section holding the text's first paragraph that later siblings of its class follow, or None."""
    kept = {_line_key(line) for line in _lines(text)}
    first = next(
        (p for p in tree.iter("p") if len(_paragraph_text(p).split()) >= PROSE_WORDS and _line_key(_paragraph_text(p)) in kept),
        None,
    )
    box = first.getparent() if first is not None else None
    while box is not None and box.tag in ("div", "section"):
        if box.get("class") and _same_class_siblings(box):
            return box
        box = box.getparent()
    return None


def broader_text(tree, url: str | None, chosen: TextChoice) -> TextChoice | None:
    """trafilatura's default mode, when the chosen text stopped at the page's first block, else None.

    On listicles, recipes and guides, precision and recall modes can both keep only the intro
    and drop the body (items in cards, lists or tables). Two broader readings then find several
    times more: trafilatura's baseline (every paragraph-like block of the page, cheap) and its
    default mode. When both are BROADER_RATIO times longer, agree on the length within
    BROADER_AGREEMENT, the default text holds most of the chosen one, and at least BROADER_PROSE
    of what it adds is prose (`prose_share`), the default text wins. A broader reading that only
    one of them makes is more likely boilerplate than body; one that adds mostly cut-off
    teasers of other stories, video-player labels or repeated captions is a stream around a
    whole article, not the rest of it.
    """
    wanted = BROADER_RATIO * len(chosen.text)
    baseline = remove_boilerplate(trafilatura.baseline(tree)[1]).strip()  # it works on a copy
    if len(baseline) < wanted:
        return None
    raw = extracted_text(tree, url)
    default = remove_boilerplate(raw).strip()
    agree = abs(len(default) - len(baseline)) <= BROADER_AGREEMENT * max(len(default), len(baseline))
    if len(default) < wanted or not agree or not _holds(default, chosen.text):
        return None
    prose = prose_share(chosen.text, default)
    if prose < BROADER_PROSE:
        return None
    reason = (f"{chosen.source} kept {len(chosen.text)} chars; default mode {len(default)}, baseline {len(baseline)}, "
              f"{prose:.0%} of what it adds prose")
    return TextChoice(default, raw, "default", reason)


def _paragraphs(text: str) -> list[str]:
    """The text's paragraphs: its lines, with a line that continues a sentence (lowercase start) joined to the one before.

    trafilatura keeps the line breaks of text written straight into a div, so one paragraph
    can come out as several lines.
    """
    paragraphs: list[str] = []
    for line in _lines(text):
        line = " ".join(line.split())
        if paragraphs and line[:1].islower() and not _ENDS_SENTENCE.search(paragraphs[-1]):
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
    return paragraphs


def prose_share(text: str, broader: str) -> float:
    """The share of what `broader` adds to `text` (its paragraphs `text` lacks) that is prose, by characters.

    A prose paragraph has PROSE_WORDS words or more, ends a sentence and is not repeated. What
    a broader reading adds to an article's body is prose; what it adds around a whole article
    is mostly not: teasers of other stories cut mid-sentence, labels, captions printed twice.
    1.0 when it adds nothing.
    """
    kept = {_line_key(paragraph) for paragraph in _paragraphs(text)}
    broader_paragraphs = _paragraphs(broader)
    repeats = Counter(_line_key(paragraph) for paragraph in broader_paragraphs)
    added = [paragraph for paragraph in broader_paragraphs if _line_key(paragraph) not in kept]
    prose = [
        paragraph for paragraph in added
        if len(_WORDS.findall(paragraph)) >= PROSE_WORDS and _ENDS_SENTENCE.search(paragraph)
        and repeats[_line_key(paragraph)] == 1
    ]
    total = sum(len(paragraph) for paragraph in added)
    return sum(len(paragraph) for paragraph in prose) / total if total else 1.0


def publisher_body(body: str | None, chosen: TextChoice) -> TextChoice | None:
    """The page's JSON-LD articleBody, when the chosen text is only a fragment of it, else None.

    The publisher's own copy of the body is whole where an extraction can stop early (a body
    split over several containers, a paywall script hiding the rest). It wins when it is
    PUBLISHER_RATIO times longer and holds most of the chosen text's words; a shorter articleBody
    is usually a teaser, and a longer one that does not hold the chosen text another story's.
    """
    if not body or len(body) < PUBLISHER_RATIO * len(chosen.text) or not _holds(body, chosen.text):
        return None
    cleaned = remove_boilerplate(body).strip()
    reason = f"JSON-LD articleBody ({len(cleaned)} chars) holds {chosen.source}'s {len(chosen.text)} chars"
    return TextChoice(cleaned, body, "json-ld", reason)


def _holds(text: str, part: str, share: float = 0.8) -> bool:
    """True when `text` holds at least `share` of `part`'s words (counted with repeats)."""
    words, part_words = Counter(_WORDS.findall(text.lower())), Counter(_WORDS.findall(part.lower()))
    return sum((words & part_words).values()) >= share * sum(part_words.values())


def detect_language(text: str, declared: str | None) -> str | None:
    """The text's language (ISO 639-1) by py3langid; the page's declared language for scraps."""
    if len(text) < 40:
        return declared
    import py3langid  # its model loads on first use: keep it out of import time

    return py3langid.classify(text[:LANGUAGE_SAMPLE])[0]


def article_identity(url: str, rel_canonical: str | None) -> str:
    """The canonical URL an article is known by.

    The page's own rel=canonical (or og:url) names the article when it is on the host the page
    was fetched from: it folds syndication paths, AMP copies and tracking variants into one id.
    A canonical on another host is not trusted (a syndicated copy pointing at the original
    would merge two outlets' articles, and spammy pages point anywhere); the fetched URL is then
    the identity. Both go through `canonical_url`, so the id is `article_id(canonical_url(...))`.
    """
    if rel_canonical and same_host(rel_canonical, url):
        return canonical_url(rel_canonical)
    return canonical_url(url)


def extract_article(
    html: str, url: str, settings: ExtractSettings, *, source: str = "", fetched_at: datetime | None = None
) -> Article | Rejection:
    """Extract one news article from its HTML.

    Args:
        html: the page's HTML, decoded.
        url: the URL the page was fetched under (used to resolve links and to name the article).
        settings: the `extract` settings section.
        source: the source name recorded on the article.
        fetched_at: when the page was fetched; now when not given.

    Returns:
        An Article (clean text, title, authors, dates, language, site, canonical identity and
        where each field came from), or a Rejection with outcome "not_article" (a section
        front, an error page, a consent wall or a paywall teaser) or "extraction_empty" (no
        text, or less than `settings.min_text_chars` that is not a brief of whole sentences
        when `settings.keep_briefs`),
        with a one-line reason.
    """
    tree = parse_html(html)
    if tree is None:
        return Rejection(url, "extraction_empty", "empty or unparsable HTML")
    meta = read_meta(tree, url)
    reason = error_page_reason(meta, tree)
    if reason:
        return Rejection(url, "not_article", reason)

    choice = choose_text(tree, url, settings)
    choice = continued_body(tree, choice) or choice
    choice = publisher_body(meta.body, choice) or choice
    reason = wall_reason(choice.raw, choice.text, settings) or section_front_reason(choice.text, tree, meta)
    if reason:
        return Rejection(url, "not_article", reason)
    if len(choice.text) < settings.min_text_chars and not (settings.keep_briefs and is_brief(choice.text)):
        return Rejection(url, "extraction_empty", f"{len(choice.text)} characters of text < {settings.min_text_chars}")
    fill_missing_meta(meta, tree, url)
    choice.text = strip_headline(choice.text, meta.title)
    return build_article(url, meta, choice, source=source, fetched_at=fetched_at)


def fill_missing_meta(meta: PageMeta, tree, url: str) -> None:
    """Fill a missing title, author, date or site name with trafilatura's and htmldate's readings.

    Each runs only for a gap JSON-LD, meta tags, the headline and its byline and dateline left:
    the author and date searches each cost a sixth of an extraction. Run last: they may prune the tree.
    """
    if not meta.title and (title := extract_title(tree)):
        meta.title, meta.title_source = clean_title(title, meta.site_name, url, meta.h1), "html"
    if not meta.authors and (author := extract_author(tree)):
        meta.authors, meta.author_source = split_authors(author), "html"
    if not meta.date_published and (date := find_date(tree, url=url, **set_date_params(True))):
        meta.date_published, meta.date_source = parse_date(date), "html"
    meta.site_name = meta.site_name or extract_sitename(tree)


def build_article(url: str, meta: PageMeta, choice: TextChoice, *, source: str, fetched_at) -> Article:
    """The Article from the page's metadata and its chosen text."""
    canonical = article_identity(url, meta.canonical)
    return Article(
        article_id=article_id(canonical),
        url=url,
        canonical_url=canonical,
        source=source,
        title=meta.title,
        text=choice.text,
        fetched_at=fetched_at or datetime.now(UTC),
        authors=meta.authors,
        byline=meta.byline,
        date_published=meta.date_published,
        date_modified=meta.date_modified,
        language=detect_language(choice.text, meta.language),
        site_name=meta.site_name,
        description=meta.description,
        section=meta.section,
        tags=meta.tags,
        image=meta.image,
        title_source=meta.title_source if meta.title else None,
        author_source=meta.author_source if meta.authors else None,
        date_source=meta.date_source if meta.date_published else None,
        text_source=choice.source,
        text_reason=choice.reason,
        content_hash=content_hash(choice.text),
    )


def format_article(article: Article) -> str:
    """A human-readable print of one article: its metadata lines, a blank line, then the text."""
    date = article.date_published.isoformat() if article.date_published else "date unknown"
    lines = [
        article.title or "(untitled)",
        f"By {', '.join(article.authors)}" if article.authors else "Author unknown",
        " · ".join(filter(None, [date, article.language, article.site_name])),
        article.canonical_url,
        "",
        article.text,
    ]
    return "\n".join(lines)


def extract_page(page: Page, settings: ExtractSettings) -> Article | Rejection:
    """extract_article over one page; a failure becomes the page's Rejection, never an exception."""
    url = page.final_url or page.url
    try:
        return extract_article(page.html or "", url, settings, source=page.source, fetched_at=page.fetched_at)
    except Exception as exc:  # one bad page must not sink its batch
        return Rejection(url, "extraction_empty", f"extraction failed: {type(exc).__name__}: {exc}"[:300])


def extract_chunk(chunk: list[Page], settings: ExtractSettings) -> list[Article | Rejection]:
    """One job of the extraction pool: a chunk of pages, each to its Article or Rejection."""
    return [extract_page(page, settings) for page in chunk]
