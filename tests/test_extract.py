"""The extraction stage on pages the project wrote itself (tests/pages/), one per boilerplate family."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from wirehouse.config.settings import load_settings
from wirehouse.tasks.boilerplate import boilerplate_family, remove_boilerplate
from wirehouse.tasks.extract import extract_article, extract_manifest, extract_pages, format_article
from wirehouse.tasks.extract_meta import (
    clean_title, dateline_dates, json_ld_article, marked_authors, read_meta, split_authors, visible_headline,
    visible_text,
)
from wirehouse.tasks.extract_page import (
    TextChoice, announces_missing_lines, broader_text, continued_body, default_over_narrow_recall, parse_html, prose_share,
    restore_announced,
)
from wirehouse.tasks.records import Article, Page, Rejection
from wirehouse.tasks.urls import article_id, canonical_url, content_hash

PAGES = Path(__file__).parent / "pages"
URL = "https://www.harbourgazette.example/news/2025/03/03/council-approves-flood-budget?utm_source=feed"
TITLE = "Council approves flood defence budget after months of debate"
# Sentences of the story every article page carries, first and last paragraph.
FIRST = "The city council voted 7-2 on Tuesday night to approve a new budget for the harbour district"
LAST = "which will publish a detailed schedule next month."


@pytest.fixture(scope="module")
def settings():
    return load_settings().extract


def extract(name: str, settings, url: str = URL) -> Article | Rejection:
    return extract_article((PAGES / name).read_text(encoding="utf-8"), url, settings)


def article(name: str, settings) -> Article:
    result = extract(name, settings)
    assert isinstance(result, Article), result
    assert FIRST in result.text and LAST in result.text
    assert result.title == TITLE
    assert result.language == "en"
    assert "All rights reserved" not in result.text
    return result


def test_share_bar_leaves_the_text(settings):
    result = article("share_bar.html", settings)
    for line in ("Share on Facebook", "Share on Twitter", "Facebook Twitter LinkedIn Email", "Share this article",
                 "Share on WhatsApp", "Copy link"):
        assert line not in result.text
    assert result.authors == ["Tom Baker"]


def test_byline_and_updated_lines_leave_the_text_and_fill_the_fields(settings):
    result = article("byline_updated.html", settings)
    assert "By Jane Doe" not in result.text
    assert "Updated:" not in result.text and "Published 3 hours ago" not in result.text
    assert result.authors == ["Jane Doe", "John Roe"]
    assert result.date_published == datetime.fromisoformat("2025-03-03T21:40:00-05:00")
    assert result.date_modified == datetime.fromisoformat("2025-03-04T10:15:00-05:00")
    # The page's one <h1> is its visible headline: it wins over og:title.
    assert (result.title_source, result.author_source, result.date_source) == ("html", "meta", "meta")


def test_also_read_lines_inside_the_body_leave_the_text(settings):
    result = article("also_read.html", settings)
    assert "Also read" not in result.text and "Storm damage bill" not in result.text
    assert "Related:" not in result.text and "READ MORE" not in result.text
    assert "Opponents argued that the marsh restoration was too slow" in result.text
    assert result.authors == ["Sam Lee"]  # "Sam Lee | Staff Writer"
    assert result.date_published.date() == date(2025, 3, 3)


def test_newsletter_prompt_leaves_the_text(settings):
    result = article("newsletter.html", settings)
    assert "Sign up for our daily newsletter" not in result.text
    assert "Enter your email address" not in result.text
    assert result.authors == ["Priya Natarajan"]  # "Priya Natarajan, Reuters"


def test_calls_to_action_leave_the_text(settings):
    result = article("calls_to_action.html", settings)
    for line in ("We may be compensated", "as a preferred source", "follow us on Facebook", "Book a demo",
                 "funded by readers", "Advertisement: Storm season sale!"):
        assert line not in result.text
    assert "Council member Maria Alvarez" in result.text


def test_cookie_banner_leaves_the_text(settings):
    result = article("cookie_banner.html", settings)
    assert "cookies" not in result.text.lower()
    assert "By continuing to browse" not in result.text


def test_image_captions_and_credits_leave_the_text(settings):
    result = article("image_credit.html", settings)
    assert "AP Photo" not in result.text and "Photo: Harbour Gazette" not in result.text
    assert "(Getty Images)" not in result.text


def test_comments_section_leaves_the_text(settings):
    result = article("comments.html", settings)
    assert "waste of money" not in result.text
    assert "Leave a comment" not in result.text and "3 comments" not in result.text


def test_json_ld_metadata_wins_and_names_its_source(settings):
    result = article("json_ld.html", settings)
    assert result.authors == ["Jane Doe", "John Roe"]
    assert result.date_published == datetime.fromisoformat("2025-03-03T21:40:00-05:00")
    assert result.date_modified == datetime.fromisoformat("2025-03-04T10:15:00-05:00")
    assert (result.author_source, result.date_source) == ("json-ld", "json-ld")
    assert result.site_name == "The Harbour Gazette"
    assert result.section == "Local news"
    assert result.tags == ["flooding", "budget", "harbour"]
    assert result.image == "https://www.harbourgazette.example/img/harbour.jpg"


def test_identity_follows_a_same_host_canonical(settings):
    result = article("json_ld.html", settings)
    expected = canonical_url("https://www.harbourgazette.example/news/2025/03/03/council-approves-flood-budget")
    assert result.canonical_url == expected
    assert result.article_id == article_id(expected)
    assert result.content_hash == content_hash(result.text)


def test_identity_ignores_a_canonical_on_another_host(settings):
    result = extract("json_ld.html", settings, url="https://syndicated.example/wire/flood-budget")
    assert result.canonical_url == "https://syndicated.example/wire/flood-budget"


@pytest.mark.parametrize(
    ("name", "outcome", "reason"),
    [
        ("section_front.html", "not_article", "section front"),
        ("not_found.html", "not_article", "error page"),
        ("consent_wall.html", "not_article", "consent wall"),
        ("paywall.html", "not_article", "paywall teaser"),
    ],
)
def test_pages_that_are_not_articles_are_rejected_with_a_reason(settings, name, outcome, reason):
    result = extract(name, settings)
    assert isinstance(result, Rejection)
    assert result.outcome == outcome
    assert result.reason.startswith(reason) and "\n" not in result.reason


def test_short_or_empty_pages_are_extraction_empty(settings):
    assert extract_article("", URL, settings).outcome == "extraction_empty"
    short = "<html><body><article><p>Just one short line of text here.</p></article></body></html>"
    result = extract_article(short, URL, settings)
    assert result.outcome == "extraction_empty" and str(settings.min_text_chars) in result.reason


def _short_page(*paragraphs: str) -> str:
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return f"<html><body><article><h1>Harbour road closed</h1>{body}</article></body></html>"


def test_a_brief_of_whole_sentences_is_an_article_however_short(settings):
    brief = ("The harbour road will be closed between the ferry terminal and the fish market on Saturday morning.",
             "Council crews are replacing a storm drain that collapsed during last week's heavy rain.")
    result = extract_article(_short_page(*brief), URL, settings)
    assert isinstance(result, Article), result
    assert len(result.text) < settings.min_text_chars and brief[1] in result.text
    # Short texts that are not sentences, or that say the page is gone, stay empty.
    for paragraphs in (("Photo gallery", "Read more", "Share"),
                       ("Sorry, the page you were looking for was not found on this website, or it was moved.",
                        "It may have been moved or deleted, so please try the search box at the top instead.")):
        assert extract_article(_short_page(*paragraphs), URL, settings).outcome == "extraction_empty"
    # A pipeline that wants no briefs says so.
    strict = settings.model_copy(update={"keep_briefs": False})
    assert extract_article(_short_page(*brief), URL, strict).outcome == "extraction_empty"


@pytest.mark.parametrize(
    "block",
    [
        '[{"@type": "NewsArticle", "headline": "Council approves budget"},]',
        '//<![CDATA[\n{"@type": ["NewsArticle"], "headline": "Council approves budget",}\n//]]>',
    ],
)
def test_json_ld_survives_trailing_commas_and_cdata(block):
    tree = parse_html(f'<html><head><script type="application/ld+json">{block}</script></head><body></body></html>')
    assert json_ld_article(tree)["headline"] == "Council approves budget"


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("Sam Lee | Staff Writer", ["Sam Lee"]),
        ("Priya Natarajan, Reuters", ["Priya Natarajan"]),
        ("Reuters", ["Reuters"]),
        ("BY ANA PÉREZ & LI WEI", ["ANA PÉREZ", "LI WEI"]),
        ("Staff Writer", ["Staff Writer"]),
        ("Metro Desk / harbourgazette.example / Updated: Mar 4, 2025", ["Metro Desk"]),
        ("Jane Doe Senior Harbour Reporter", ["Jane Doe"]),
        ("View all posts by Jane Doe", ["Jane Doe"]),
        ("https://www.facebook.com/janedoe", []),
        ("By Jane Doe December 2, 2025", ["Jane Doe"]),
        ("Author Isaiah Shelton", ["Isaiah Shelton"]),
        ("ServiceTitan November 3", ["ServiceTitan"]),
        ("Dec", []),
        ("Gary Marcus", ["Gary Marcus"]),
    ],
)
def test_split_authors(byline, names):
    assert split_authors(byline) == names


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Council approves budget | The Harbour Gazette", "The Harbour Gazette", "Council approves budget"),
        ("The Harbour Gazette - Council approves budget", "The Harbour Gazette", "Council approves budget"),
        ("Council approves budget - harbourgazette.example", None, "Council approves budget"),
        ("Budget: what the council approved and why it matters", None,
         "Budget: what the council approved and why it matters"),
    ],
)
def test_clean_title_strips_the_site_name(title, site, expected):
    assert clean_title(title, site, URL) == expected


def test_the_json_ld_body_wins_over_an_extraction_it_holds_twice_over(settings):
    paragraphs = [
        f"{FIRST}, ending months of debate over how to protect homes along the waterfront.",
        "The plan pays for raised walls, new pumps and a warning system along the river mouth.",
        "Residents who spoke at the meeting said the money was overdue after two winters of floods.",
        "The harbour authority will tender the first contracts in the spring, officials said, "
        f"{LAST}",
    ]
    body = "\n".join(paragraphs)
    # The page shows the first paragraph only (the rest waits for a script); JSON-LD has them all.
    html = f"""<html><head><title>{TITLE}</title><script type="application/ld+json">
    {json.dumps({"@type": "NewsArticle", "headline": TITLE, "articleBody": body})}</script></head>
    <body><article><h1>{TITLE}</h1><p>{paragraphs[0]}</p></article></body></html>"""
    result = extract_article(html, URL, settings)
    assert isinstance(result, Article), result
    assert result.text_source == "json-ld" and "articleBody" in result.text_reason
    assert result.text == body


def test_a_list_precision_dropped_after_the_line_announcing_it_is_restored(settings):
    # Outside a container trafilatura knows, its precision mode drops the body's lists.
    result = article("announced_list.html", settings)
    assert "The package pays for four projects over the next five years:\n- Raised sea walls" in result.text
    assert "- A text-message warning system for riverside streets\nOpponents argued" in result.text
    assert result.text_source == "precision" and "4 lines of recall's restored" in result.text_reason
    assert "Ferry timetable" not in result.text and "More from" not in result.text


def test_only_announced_lines_inside_the_body_are_restored():
    precision = TextChoice("Intro.\nIt has three parts:\nMiddle.\nEnd.", "", "precision", "whole")
    recall = TextChoice("Menu\nIntro.\nIt has three parts:\n- one\n- two\nMiddle.\nA teaser\nEnd.\nLatest news",
                        "", "recall", "")
    assert announces_missing_lines(precision.text) and not announces_missing_lines(recall.text)
    restored = restore_announced(precision, recall)
    # The list follows the announcing line; the teaser follows none, the menu and footer are outside.
    assert restored.text == "Intro.\nIt has three parts:\n- one\n- two\nMiddle.\nEnd."
    assert restored.reason == "whole; 2 lines of recall's restored after lines announcing them"
    assert restore_announced(precision, TextChoice("Other text.", "", "recall", "")) is precision


def test_a_body_split_over_sibling_containers_is_joined(settings):
    # trafilatura keeps the first of the "article-body" containers an ad and a picture separate.
    result = article("split_body.html", settings)
    assert "The package sets aside 42 million dollars" in result.text and "Residents of the lower town" in result.text
    assert "4 paragraphs added from the containers continuing its own" in result.text_reason
    assert "Advertisement" not in result.text and "Photo: Harbour Gazette" not in result.text
    assert "Sign up for our daily newsletter" not in result.text


def test_list_entries_of_one_class_are_not_a_split_body():
    entries = "".join(
        f'<li class="entry"><p>Product {n} is a note-taking app with tags, themes and offline sync for teams.</p></li>'
        for n in range(6)
    )
    tree = parse_html(f"<html><body><ul>{entries}</ul></body></html>")
    chosen = TextChoice("Product 0 is a note-taking app with tags, themes and offline sync for teams.", "", "precision", "")
    assert continued_body(tree, chosen) is None


def test_default_mode_decides_when_recall_reads_another_block():
    paragraphs = "".join(
        f"<p>Paragraph {n} of the report says the harbour wall needs repairs before the winter storms arrive.</p>"
        for n in range(6)
    )
    tree = parse_html(f"<html><body><article><h1>Harbour wall report</h1>{paragraphs}</article></body></html>")
    first = "Paragraph 0 of the report says the harbour wall needs repairs before the winter storms arrive."
    chosen = TextChoice(first, first, "precision", "precision kept 97 of recall's 20 chars")
    narrow = TextChoice("Contact the newsroom", "", "recall", "")
    result = default_over_narrow_recall(tree, URL, chosen, narrow)
    assert result.source == "default" and "Paragraph 5 of the report" in result.text
    # Recall holding as much as the chosen text leaves the choice alone.
    assert default_over_narrow_recall(tree, URL, chosen, TextChoice(first, first, "recall", "")) is None


def _story_page(extra: str) -> str:
    """A whole three-paragraph story, then `extra` after it in the same column."""
    story = "".join(
        f"<p>Paragraph {n} of the story says the harbour wall needs repairs before the winter storms arrive.</p>"
        for n in range(3)
    )
    return f"<html><body><h1>Harbour wall report</h1><div>{story}</div>{extra}</body></html>"


def test_a_stream_of_cut_off_teasers_is_not_the_rest_of_the_article():
    teasers = "".join(
        f'<div class="teaser"><h3>Other story {n}</h3><p>The ferry company said on Monday that timetable {n} for the '
        f"winter season would change again after the storms of last week, and a spokesperson added that the</p></div>"
        for n in range(12)
    )
    story = "\n".join(
        f"Paragraph {n} of the story says the harbour wall needs repairs before the winter storms arrive." for n in range(3)
    )
    chosen = TextChoice(story, story, "precision", "")
    tree = parse_html(_story_page(teasers))
    assert prose_share(story, story + "\nOther story 1\nThe ferry company said the timetable would change, and the") < 0.5
    assert broader_text(tree, URL, chosen) is None


def test_a_body_of_items_past_the_intro_is_the_rest_of_the_article():
    items = "".join(
        f"<section><h2>Step {n}</h2><p>Check the sea wall at marker {n} for cracks, and report any damage you find "
        f"to the harbour office before the end of the week.</p></section>"
        for n in range(12)
    )
    intro = "Paragraph 0 of the story says the harbour wall needs repairs before the winter storms arrive."
    tree = parse_html(_story_page(items))
    result = broader_text(tree, URL, TextChoice(intro, intro, "precision", ""))
    assert result.source == "default" and "Check the sea wall at marker 11" in result.text
    assert "of what it adds prose" in result.reason
    # A paragraph written over several lines of a div counts as one.
    assert prose_share("Intro.", "Intro.\nThe wall was checked on Monday and found to need\nrepairs before winter.") == 1.0


def test_the_dateline_under_the_headline_dates_a_page_without_date_metadata():
    html = """<html><body><nav>March 1, 2020</nav><h1>Council approves flood budget</h1>
    <p class="byline">By Jane Doe</p><p>Published <time datetime="2025-03-03T21:40:00-05:00">March 3</time>
    · Updated March 4, 2025</p><p>The council voted on Tuesday.</p></body></html>"""
    tree = parse_html(html)
    assert dateline_dates(tree.xpath("//h1")[0]) == [
        (datetime.fromisoformat("2025-03-03T21:40:00-05:00"), False), (datetime(2025, 3, 4), True)
    ]
    meta = read_meta(tree, URL)
    assert (meta.date_published.date(), meta.date_modified.date(), meta.date_source) == (
        date(2025, 3, 3), date(2025, 3, 4), "html"
    )


def test_the_byline_under_the_headline_beats_a_site_named_author_and_filter_labels():
    html = """<html><head><meta property="og:site_name" content="The Harbour Gazette">
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Council approves flood budget",
    "author": {"@type": "Person", "name": "The Harbour Gazette"}}</script></head>
    <body><form><span>By Role</span></form><h1>Council approves flood budget</h1>
    <p>By <a href="/staff/jane">Jane Doe</a></p><p>The council voted on Tuesday.</p></body></html>"""
    meta = read_meta(parse_html(html), URL)
    assert (meta.authors, meta.author_source) == (["Jane Doe"], "html")


def test_a_date_printed_above_the_headline_counts_when_none_is_under_it():
    html = """<html><body><div class="title-bar"><time datetime="2024-03-01">March 1, 2024</time></div>
    <h1>Council approves flood budget</h1><p>The council voted on Tuesday.</p></body></html>"""
    assert dateline_dates(parse_html(html).xpath("//h1")[0]) == [(datetime(2024, 3, 1), False), (datetime(2024, 3, 1), False)]


@pytest.mark.parametrize("h1", [
    "Dec 18, 2025 Council approves flood budget",
    "Council approves flood budget Posted on December 18, 2025 by harbourdesk",
])
def test_a_date_printed_in_the_h1_is_not_part_of_the_title(h1):
    html = f"<html><head><title>Council approves flood budget</title></head><body><h1>{h1}</h1></body></html>"
    assert read_meta(parse_html(html), URL).title == "Council approves flood budget"


def test_a_headline_reads_as_laid_out():
    h1 = parse_html("<html><body><h1>How AI Cuts the Planning C<span>ycle</span><br>to Two Days"
                    "<small>Updated</small></h1></body></html>").xpath("//h1")[0]
    assert visible_text(h1) == "How AI Cuts the Planning Cycle to Two Days Updated"


def test_marked_up_authors_count_unless_they_are_a_list_of_other_stories():
    one = '<html><body><span itemprop="author"><span itemprop="name">Jane Doe</span></span></body></html>'
    assert marked_authors(parse_html(one)) == ["Jane Doe"]
    links = "".join(f'<a rel="author" href="/a/{i}">Writer {name}</a>' for i, name in enumerate("ABCDEF"))
    assert marked_authors(parse_html(f"<html><body>{links}</body></html>")) == []


@pytest.mark.parametrize(
    ("h1s", "titles", "expected"),
    [
        # One headline-sized <h1>: it is the headline, whatever the SEO title says.
        (["Council approves flood budget"], ["Flood budget approved | Gazette"], "Council approves flood budget"),
        # Menus and widgets use <h1>s too: the one that shares the metadata title's words wins.
        (["Browse by category", "Council approves flood budget", "Most read today"],
         ["Council approves flood budget after debate"], "Council approves flood budget"),
        # A blog's <h1> is its own name, the <title>'s shorter part: no headline in the <h1>s.
        (["Jane Doe's Blog", "Notes"], ["Jane Doe's Blog: What I learned running a newsroom"], None),
        # Logos and section names are short.
        (["Gazette", "News"], ["Council approves flood budget"], None),
    ],
)
def test_visible_headline_is_the_h1_that_reads_as_the_headline(h1s, titles, expected):
    assert visible_headline(h1s, titles, "The Harbour Gazette", URL) == expected


@pytest.mark.parametrize(
    ("line", "family"),
    [
        ("Share on Facebook", "share"),
        ("Updated: Oct 31, 2025, 07:52 PM IST", "dateline"),
        ("Also read: Storm damage bill tops 10 million dollars", "also_read"),
        ("We use cookies to improve your experience", "cookie"),
        ("Advertisement - Continue Reading Below", "advert"),
        ("Posted by Jane Doe at March 4, 2025", "byline"),
        ("For daily wit & wisdom, sign up for the Almanac newsletter.", "newsletter"),
        ("Security insights & offers right into your inbox", "newsletter"),
        ("Catch up on our coverage, and follow us on Facebook, Instagram and TikTok", "follow"),
        ("Add The Harbour Gazette as a preferred source on Google", "follow"),
        ("Book a demo", "call_to_action"),
        ("This story is funded by readers like you", "call_to_action"),
        ("We may be compensated when you click on a link", "affiliate"),
        ("Advertisement: New AI Book!", "advert"),
        ("Get $10 off your first order with code: TRYHARBOUR", "call_to_action"),
        ("Was this article helpful?", "feedback"),
        ("Why Trust Us?", "feedback"),
        ("Also on rt.com Journalists threatened with arrest", "also_read"),
        ("copyright Inexhibit 2019 - ISSN: 2283-5474", "copyright"),
        ("Write to Al Root at allen.root@example.com", "contact"),
        ("Order Reprints", "navigation"),
        ("This copy is for your personal, non-commercial use only. To order copies, visit our site.", "legal"),
        ("Tuesday, March 4, 2025 at 10:15 a.m. EST", "dateline"),
        ("8 min read", "reading_time"),
        ("4 minute read time", "reading_time"),
        ("Join our newsletter", "newsletter"),
        ("Join Medium for free to get updates from this writer.", "newsletter"),
        ("Love The Harbour Letter? Tell your friends and get rewards.", "newsletter"),
        ("Please select which sections you would like to print:", "navigation"),
        ("Privacy Policy", "legal"),
        ("If you buy through our links, we may earn a commission.", "affiliate"),
        ("The company may earn a commission on each sale, analysts said.", None),
        ("Table of Contents", "navigation"),
        ("By Functionality", None),
        ("Share one thing you wish people knew about the harbour.", None),
        ("- Graphics: integrated", None),
        ("By the time the police arrived, the crowd had gone home.", None),
        ("Latest figures show the harbour flooded twice.", None),
        ("Bake the cookies for twelve minutes and let them cool.", None),
        ("Residents who subscribe to three council newsletters still missed the flood warning.", None),
        ("The mayor told experts to follow the rules on Facebook posts.", None),
        ("Copyright law changed in 2019, and publishers are still adapting to it, lawyers said.", None),
        ("Residents can write to the council at its harbour office before March 4.", None),
        ("Credit/debit cards are accepted at the harbour kiosk.", None),
        ("Photo/AP", "credit"),
        ("Many readers never unsubscribe from the mailing lists they join, the study found.", None),
        ("You can unsubscribe at any time.", "newsletter"),
        ("100% free, Unsubscribe any time!", "newsletter"),
        ("If you liked this article, please consider sharing it with a friend.", "call_to_action"),
        ("Help us spread the word about the harbour fund!", "call_to_action"),
        ("Share Your Story", "call_to_action"),
        ("Did you make this recipe? Leave a comment below.", "feedback"),
        ("Follow The Harbour Gazette’s newsroom on Facebook", "follow"),
        ("Terms apply to the offers below.", "legal"),
        ("It is reprinted here with permission.", "legal"),
        ("Message and data rates may apply.", "legal"),
        ("Visit our Privacy Policy.", "legal"),
        ("Featured image via the Harbour Trust", "credit"),
        ("If you liked this harbour, you will love the next one.", None),
        ("The mayor said the terms of the deal would apply to every berth.", None),
        ("The volunteers share your worry about the sea wall.", None),
    ],
)
def test_boilerplate_families_spare_prose(line, family):
    assert boilerplate_family(line) == family


def test_a_paragraph_of_notices_goes_but_prose_that_mentions_them_stays():
    disclosure = ("Disclosure: some of my posts contain affiliate links. If you purchase something through one of those "
                  "links I may receive a small commission, so thank you for supporting the Harbour Kitchen when you shop! "
                  "All opinions are my own.")
    cookies = ("We use cookies on our website to give you the most relevant experience by remembering your preferences "
               "and repeat visits. By clicking Accept, you consent to the use of all the cookies.")
    prose = ("Subscribe to the idea that the harbour will flood again and the budget looks small. The council's engineers "
             "said the walls were built for a storm surge of two metres, and the last one reached two and a half. "
             "Residents on the quay have asked for pumps before the winter.")
    story = ("Retailers earn a commission when readers buy through links, the consumer agency said on Tuesday, and "
             "most readers never notice the disclosure. It asked sites to print it before the first link.")
    kept = remove_boilerplate("\n".join([disclosure, prose, cookies, story]))
    assert kept.split("\n") == [prose, story]


def test_a_paragraph_that_closes_on_asks_goes_but_prose_that_closes_on_one_stays():
    asks = ("Harbour Notes is a production of the Harbour Gazette. If you liked this article, please consider sharing it "
            "and subscribing to the Harbour Letter. If you want to support the harbour desk's reporting on the tides, the "
            "quay and the council for another year, please consider a one-off donation to the Harbour Gazette fund.")
    prose = ("The council met on Tuesday to settle the budget for the harbour walls and pumps. The vote went 7-2 after "
             "months of debate about marshes and concrete barriers. If you liked this article, please share it.")
    assert remove_boilerplate("\n".join([prose, asks])) == prose


def test_format_article_prints_metadata_then_text(settings):
    printed = format_article(article("json_ld.html", settings))
    head, _, body = printed.partition("\n\n")
    assert head.splitlines()[:2] == [TITLE, "By Jane Doe, John Roe"]
    assert "2025-03-03" in head and "en" in head and "The Harbour Gazette" in head
    assert body.startswith(FIRST)


def _page(name: str, url: str = URL, outcome: str = "ok") -> Page:
    html = (PAGES / name).read_text(encoding="utf-8") if outcome == "ok" else None
    return Page(url=url, source="gazette", outcome=outcome, fetched_at=datetime(2025, 3, 4, tzinfo=UTC), html=html)


def test_extract_pages_runs_through_the_process_pool(settings):
    pool_settings = settings.model_copy(update={"workers": 2, "chunk_size": 2})
    pages = [
        _page("share_bar.html"),
        _page("json_ld.html", url="https://www.harbourgazette.example/other-url"),
        _page("section_front.html", url="https://www.harbourgazette.example/news"),
        _page("comments.html", outcome="timeout"),
        Page(url="https://www.harbourgazette.example/broken", source="gazette", outcome="ok",
             fetched_at=datetime(2025, 3, 4, tzinfo=UTC), html="\x00" * 10),
    ]
    articles, rejections = extract_pages(pages, pool_settings)
    assert [a.authors for a in articles] == [["Tom Baker"], ["Jane Doe", "John Roe"]]
    assert all(a.source == "gazette" and a.fetched_at == datetime(2025, 3, 4, tzinfo=UTC) for a in articles)
    assert all(FIRST in a.text and "Share on Facebook" not in a.text for a in articles)
    assert [(r.url, r.outcome) for r in rejections] == [
        ("https://www.harbourgazette.example/news", "not_article"),
        ("https://www.harbourgazette.example/broken", "extraction_empty"),
    ]
    # The pool is reused: a second batch gives the same articles.
    again, _ = extract_pages(pages[:1], pool_settings)
    assert again[0].text == articles[0].text


def test_extract_manifest_writes_one_line_a_page(settings, tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    rows = [
        {"id": "a", "path": str(PAGES / "json_ld.html"), "url": URL},
        {"id": "b", "path": str(PAGES / "not_found.html"), "url": "https://www.harbourgazette.example/missing"},
        {"id": "c", "path": str(PAGES / "byline_updated.html"), "url": None},
    ]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "output.jsonl"
    counts = extract_manifest(manifest, output, settings.model_copy(update={"workers": 1}))
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    assert counts == {"pages": 3, "articles": 2, "not_article": 1}
    first = lines[0]
    assert (first["title"], first["author"], first["date"]) == (TITLE, "Jane Doe, John Roe", "2025-03-03")
    assert first["authors"] == ["Jane Doe", "John Roe"] and first["language"] == "en"
    assert first["text"].startswith(FIRST)
    assert lines[1]["text"] is None and lines[1]["outcome"] == "not_article"
    assert lines[2]["url"].startswith("file://") and lines[2]["author"] == "Jane Doe and John Roe"  # as printed
