"""Article metadata (tasks/extract_meta.py) on small pages the project writes itself."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from wirehouse.tasks.extract_meta import byline_text, read_meta, split_authors
from wirehouse.tasks.extract_page import parse_html

URL = "https://www.harbourgazette.example/news/2025/03/03/council-approves-flood-budget"
HEADLINE = "Council approves flood defence budget"


def page(head: str = "", dateline: str = "", json_ld: dict | None = None) -> str:
    """An article page: optional head tags and JSON-LD, the headline, a dateline under it, a paragraph."""
    block = f'<script type="application/ld+json">{json.dumps(json_ld)}</script>' if json_ld else ""
    return (f"<html><head><title>{HEADLINE} | The Harbour Gazette</title>{head}{block}</head><body>"
            f"<article><h1>{HEADLINE}</h1>{dateline}<p>The city council voted 7-2 on Tuesday night.</p>"
            "</article></body></html>")


def meta_of(html: str):
    return read_meta(parse_html(html), URL)


ARTICLE = {"@type": "NewsArticle", "headline": HEADLINE, "datePublished": "2023-04-26T09:00:00Z",
           "dateModified": "2025-08-21T10:00:00Z"}


def test_the_dateline_date_wins_over_metadata_that_says_otherwise():
    # The CMS restamped the article; the page still prints the date it stands by.
    meta = meta_of(page(json_ld={**ARTICLE, "datePublished": "2025-08-21T10:00:00Z"},
                        dateline="<p>Published Apr 26, 2023</p>"))
    assert (meta.date_published.date(), meta.date_source) == (date(2023, 4, 26), "html")
    assert meta.date_modified.date() == date(2025, 8, 21)


def test_metadata_dates_stand_when_the_dateline_agrees_or_is_a_time_zone_apart():
    meta = meta_of(page(json_ld=ARTICLE, dateline="<p>Published April 26, 2023</p>"))
    assert (meta.date_published.date(), meta.date_source) == (date(2023, 4, 26), "json-ld")
    # 2023-04-26 09:00 UTC printed the evening before in the newsroom's zone: the metadata stays.
    meta = meta_of(page(json_ld=ARTICLE, dateline="<p>April 25, 2023</p>"))
    assert (meta.date_published.date(), meta.date_source) == (date(2023, 4, 26), "json-ld")


def test_an_update_line_or_a_list_of_dates_does_not_override_the_metadata():
    meta = meta_of(page(json_ld=ARTICLE, dateline="<p>Updated: August 21, 2025</p>"))
    assert (meta.date_published.date(), meta.date_source) == (date(2023, 4, 26), "json-ld")
    related = "<ul><li>Jan 5, 2024</li><li>Feb 9, 2024</li></ul>"  # other stories' dates, not a dateline
    meta = meta_of(page(json_ld=ARTICLE, dateline=related))
    assert meta.date_source == "json-ld"


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("Genevieve Carlton, Ph.D.", ["Genevieve Carlton, Ph.D"]),  # a credential stays with its name
        ("By Dylan Bailey, MS, RD, FAND", ["Dylan Bailey, MS, RD, FAND"]),
        ("Jane Doe, AP", ["Jane Doe"]),  # an agency is not a credential
        ("BY ANA PÉREZ, LI WEI", ["ANA PÉREZ", "LI WEI"]),  # nor is a second name in capitals
        ("98 Buck Social", ["98 Buck Social"]),  # digits in a name
        ("By Jane Doe | 5 min read", ["Jane Doe"]),
        ("Updated 3 hours ago", []),
        ("Written by Eliz - Product marketer", ["Eliz"]),
        ("Liz Kenny Former McKinsey Consultant", ["Liz Kenny"]),
        ("Rachel MacDonald Writer", ["Rachel MacDonald"]),  # a person's title after a full name goes
        ("Harbour Politics Team", ["Harbour Politics Team"]),  # a desk's name stays whole
        ("Yucy 3", ["Yucy"]),  # a count of comments
        ("Written By", []),
        ("Updated March", []),
        ("View more posts", []),
        ("Read more about The Upwork Team", []),
    ],
)
def test_split_authors_keeps_credentials_and_drops_roles_and_times(byline, names):
    assert split_authors(byline) == names


def test_scholarly_pages_list_every_cited_author_first_name_first():
    tags = "".join(f'<meta name="citation_author" content="{name}">' for name in ("Roy, Aniruddha", "Patel, Jyoti"))
    meta = meta_of(page(head=f'<meta name="DC.Creator" content="Aniruddha Roy">{tags}'))
    assert (meta.authors, meta.author_source) == (["Aniruddha Roy", "Jyoti Patel"], "meta")


def test_a_filter_menu_is_no_byline():
    menus = ('<header><nav><ul><li>By Company Size</li><li>By Industry</li></ul></nav></header>'
             '<p><a href="/c">by project</a></p>')
    html = page().replace("<body>", f"<body>{menus}").replace("</article>", "<p>By Jane Doe</p></article>")
    assert byline_text(parse_html(html)) == "By Jane Doe"


def test_a_json_ld_headline_cut_short_is_made_whole_from_og_title():
    whole = ("Fix It Friday: how four readers rearranged their living rooms with one trick that works in "
             "nine rooms out of ten")
    cut = whole[:100].rsplit(" ", 1)[0]
    html = page(head=f'<meta property="og:title" content="{whole} - The Harbour Gazette">',
                json_ld={"@type": "NewsArticle", "headline": cut}).replace(f"<h1>{HEADLINE}</h1>", "")
    meta = meta_of(html)
    assert (meta.title, meta.title_source) == (whole, "meta")


def test_a_sole_h1_about_something_else_is_not_the_headline():
    html = page().replace(f"<h1>{HEADLINE}</h1>", "<h1>A message from our editor-in-chief</h1>")
    assert (meta_of(html).title, meta_of(html).title_source) == (HEADLINE, "html")  # the <title>, site cut


def test_an_h1_naming_the_site_neither_titles_the_page_nor_picks_the_title_part():
    html = page(head='<meta property="og:site_name" content="Cory Dransfeldt">'
                     '<meta property="og:title" content="A brief intro to git • Cory Dransfeldt">'
                ).replace(f"<h1>{HEADLINE}</h1>", "<h1>Cory Dransfeldt</h1>")
    assert meta_of(html).title == "A brief intro to git"


def test_text_decoded_twice_is_mended():
    html = page(head='<meta property="og:title" content="The Investorâ\x80\x99s Guide">').replace(
        f"<h1>{HEADLINE}</h1>", "")
    assert meta_of(html).title == "The Investor’s Guide"


@pytest.mark.parametrize(
    ("dateline", "names"),
    [
        ("<p><span>Dec 26, 2025</span> • <span>Mahua Das</span> in <a href='/c/pm'>Project Management</a></p>",
         ["Mahua Das"]),
        ("<p>Aaron Ricadela | Senior Writer | July 2, 2025</p>", ["Aaron Ricadela"]),
        ("<div><strong>Contributors:</strong> <span>Janet Loughrey</span></div>", ["Janet Loughrey"]),
        ("<div><a href='/authors/ana-de-la-cruz'>Ana de la Cruz</a><span>Published on Oct 21, 2025</span></div>",
         ["Ana de la Cruz"]),
        # A section's link beside the date, and a name with nothing marking it a byline: no author.
        ("<p><a href='/smart-home'>Smart Home</a> · <span>Oct 21, 2025</span></p>", []),
        ("<p><span>Julia Gralberg</span></p><p><span>Hotel Travel Hacks</span></p>", []),
    ],
)
def test_a_name_printed_in_the_dateline_without_by_is_the_last_resort(dateline, names):
    meta = meta_of(page(dateline=dateline))
    assert meta.authors == names


def test_a_dateline_name_does_not_beat_the_metadata():
    meta = meta_of(page(head='<meta name="author" content="Sam Lee">', dateline="<p>Jane Doe · March 3, 2025</p>"))
    assert (meta.authors, meta.author_source) == (["Sam Lee"], "meta")


def test_a_json_ld_webpage_dates_a_page_whose_article_object_does_not():
    graph = {"@graph": [{"@type": "WebPage", "datePublished": "2021-01-27T10:00:00+00:00",
                         "dateModified": "2021-04-15T10:00:00+00:00"},
                        {"@type": "Article", "headline": HEADLINE}]}
    meta = meta_of(page(json_ld=graph))
    assert (meta.date_published.date(), meta.date_modified.date(), meta.date_source) == (
        date(2021, 1, 27), date(2021, 4, 15), "json-ld")


def test_meta_tag_names_are_read_in_any_case():
    meta = meta_of(page(head='<meta name="DC.Date" content="2019-06-25"><meta name="Author" content="Jane Doe">'))
    assert (meta.date_published.date(), meta.authors) == (date(2019, 6, 25), ["Jane Doe"])


def test_a_label_before_the_headline_and_a_bare_domain_are_not_the_title():
    labelled = page(head=f'<meta property="og:title" content="{HEADLINE} | The Harbour Gazette">').replace(
        f"<h1>{HEADLINE}</h1>", f"<h1>Blog: {HEADLINE}</h1>")
    assert meta_of(labelled).title == HEADLINE
    # A label the metadata titles carry too is the headline's own ("Opinion: ...").
    opinion = page(head=f'<meta property="og:title" content="Opinion: {HEADLINE}">').replace(
        f"<h1>{HEADLINE}</h1>", f"<h1>Opinion: {HEADLINE}</h1>")
    assert meta_of(opinion).title == f"Opinion: {HEADLINE}"
    bare = page().replace(f"<title>{HEADLINE} | The Harbour Gazette</title>",
                          f"<title>harbourgazette.example {HEADLINE}</title>").replace(f"<h1>{HEADLINE}</h1>", "")
    assert meta_of(bare).title == HEADLINE


@pytest.mark.parametrize(
    ("head", "dateline", "byline"),
    [
        # The visible byline's "and" over the meta tag's comma.
        ('<meta name="author" content="Jane Doe, John Roe">', "<p>By Jane Doe and John Roe</p>", "Jane Doe and John Roe"),
        ("", "<p>By Jane Doe, John Roe, and Ana Cruz</p>", "Jane Doe, John Roe, and Ana Cruz"),
        ('<meta name="author" content="Jane Doe with John Roe">', "", "Jane Doe with John Roe"),
        ("", "<p>By Jane Doe | John Roe</p>", "Jane Doe, John Roe"),  # a separator no byline joins names with
    ],
)
def test_the_byline_joins_the_authors_as_the_page_prints_them(head, dateline, byline):
    meta = meta_of(page(head=head, dateline=dateline))
    assert meta.byline == byline
    assert meta.authors == [name for name in ("Jane Doe", "John Roe", "Ana Cruz") if name in byline]


def test_the_manifest_author_is_the_printed_byline(tmp_path):
    from wirehouse.config.settings import load_settings
    from wirehouse.tasks.extract_page import extract_article
    from wirehouse.tasks.extract_pool import manifest_row

    body = "".join(f"<p>The city council voted on the harbour budget, paragraph {i} of the story.</p>" for i in range(12))
    html = page(dateline=f"<p>By Jane Doe and John Roe</p>{body}")
    result = extract_article(html, URL, load_settings().extract)
    row = manifest_row("1", URL, result)
    assert (row["author"], row["authors"]) == ("Jane Doe and John Roe", ["Jane Doe", "John Roe"])


def test_the_site_beside_its_writers_is_not_an_author():
    article = {"@type": "NewsArticle", "headline": HEADLINE,
               "author": {"@type": "Person", "name": "Jane Doe and John Roe, The Harbour Gazette"}}
    meta = meta_of(page(head='<meta property="og:site_name" content="The Harbour Gazette">', json_ld=article))
    assert (meta.authors, meta.byline) == (["Jane Doe", "John Roe"], "Jane Doe and John Roe")
    alone = {**article, "author": {"@type": "Person", "name": "The Harbour Gazette"}}
    assert meta_of(page(head='<meta property="og:site_name" content="The Harbour Gazette">', json_ld=alone)).authors == [
        "The Harbour Gazette"]


@pytest.mark.parametrize(
    ("title", "authors"),
    [
        ("Preparing a transition | Colin Watson's blog", ["Colin Watson"]),
        ("Preparing a transition - Colin Watson’s notes on Debian", ["Colin Watson"]),
        ("Preparing a transition | Playful Tones", []),  # a brand as person-shaped as a name
        ("Preparing a transition | The Team's blog", []),
    ],
)
def test_a_personal_blog_named_for_its_writer_gives_the_author_when_none_is_printed(title, authors):
    html = f"<html><head><title>{title}</title></head><body><article><h1>Preparing a transition</h1><p>Text.</p></article></body></html>"
    assert meta_of(html).authors == authors


def test_the_url_dates_a_page_with_no_other_date():
    meta = meta_of(page())  # URL: .../news/2025/03/03/council-approves-flood-budget
    assert (meta.date_published, meta.date_source) == (datetime(2025, 3, 3), "url")
    assert read_meta(parse_html(page()), "https://www.harbourgazette.example/news/council").date_published is None


def test_a_subtitle_after_a_dash_stays_in_the_printed_headline():
    subtitled = f"{HEADLINE} – What It Means"
    html = page().replace(f"<h1>{HEADLINE}</h1>", f"<h1>{subtitled}</h1>")
    assert meta_of(html).title == subtitled
    # In a <title>, the short part after the headline is the brand.
    assert meta_of(page().replace(f"<h1>{HEADLINE}</h1>", "").replace(
        "| The Harbour Gazette", "- Gazette Online")).title == HEADLINE


def test_a_writer_in_the_dateline_beats_the_site_named_as_the_author():
    dateline = "<p><span>Jane Doe</span> · <span>March 3, 2025</span></p>"
    site = '<meta property="og:site_name" content="The Harbour Gazette">'
    meta = meta_of(page(head=f'{site}<meta name="author" content="The Harbour Gazette">',
                        dateline=dateline))
    assert (meta.authors, meta.author_source) == (["Jane Doe"], "html")
    # A desk of the site is a byline of its own.
    meta = meta_of(page(head=f'{site}<meta name="author" content="The Harbour Gazette Team">',
                        dateline=dateline))
    assert (meta.authors, meta.author_source) == (["The Harbour Gazette Team"], "meta")


def test_a_byline_of_linked_names_keeps_its_printed_joins():
    links = ", ".join(f"<a href='/authors/{n}'>{n}</a>" for n in ("Jane Doe", "John Roe"))
    meta = meta_of(page(head='<meta name="author" content="Jane Doe, John Roe, Ana Cruz">',
                        dateline=f"<p>Written by {links}, and <a href='/authors/ac'>Ana Cruz</a></p>"))
    assert meta.byline == "Jane Doe, John Roe, and Ana Cruz"


def test_by_and_a_tag_link_is_no_byline():
    dateline = ("<div><span>By</span> <a rel='category tag' href='/c/budgets'>City Budgets</a></div>"
                "<p><a rel='author' href='/authors/jane-doe'>Jane Doe</a></p>")
    meta = meta_of(page(dateline=dateline))
    assert meta.authors == ["Jane Doe"]


def test_a_first_name_alone_is_made_whole_by_the_dateline():
    meta = meta_of(page(head='<meta name="author" content="Jane">',
                        dateline="<p><span>Jane Doe</span><span>Senior Reporter</span></p>"))
    assert meta.authors == ["Jane Doe"]
    meta = meta_of(page(head='<meta name="author" content="Jane">', dateline="<p>Jane wrote this on a train.</p>"))
    assert meta.authors == ["Jane"]


STANDFIRST = "<p>" + "The council's flood budget passed after a long night of debate over sea walls and pumps. " * 2 + "</p>"


@pytest.mark.parametrize(
    ("dateline", "names"),
    [
        # A long standfirst under the headline does not end the dateline.
        (f"{STANDFIRST}<p><span>Jane Doe</span><span>03.03.2025</span></p>", ["Jane Doe"]),
        # A labelled name may link to any page, and keeps its credential.
        ("<p><em>This post was written by</em> <a href='/doctors/jd'>Jane Doe, MD</a></p>", ["Jane Doe, MD"]),
        # A picture's credit is no byline.
        ("<p><span>March 3, 2025</span></p><p><span>Photo by</span> <a href='/p'>John Roe</a></p>", []),
    ],
)
def test_the_dateline_name_after_a_standfirst_a_label_or_a_picture_credit(dateline, names):
    assert meta_of(page(dateline=dateline)).authors == names


def test_a_desk_printed_with_the_is_a_byline_and_by_the_way_is_not():
    sidebar = "<aside><a rel='author' href='/authors/john-roe'>John Roe</a></aside>"  # another story's writer
    meta = meta_of(page(dateline=f"<p>By the Harbour Politics Team</p>{sidebar}"))
    assert (meta.authors, meta.author_source) == (["the Harbour Politics Team"], "html")
    assert meta_of(page(dateline="<p>By the time the vote came, the chamber was nearly empty.</p>")).authors == []


def test_a_writer_printed_beside_the_site_beats_the_site_as_the_author():
    article = {"@type": "NewsArticle", "headline": HEADLINE, "author": {"@type": "Person", "name": ", The Harbour Gazette"}}
    dateline = "<div><span>Jane Doe</span><span>The Harbour Gazette</span></div>"
    meta = meta_of(page(head='<meta property="og:site_name" content="The Harbour Gazette">', json_ld=article,
                        dateline=dateline))
    assert (meta.authors, meta.author_source) == (["Jane Doe"], "html")


@pytest.mark.parametrize("value", ["2025-08", "21.Aug.2025"])
def test_a_time_element_naming_no_day_in_html_format_does_not_override_the_metadata(value):
    # A month parsed would take today's day; free text is some other date the page keeps.
    meta = meta_of(page(json_ld=ARTICLE, dateline=f'<p><time datetime="{value}"></time></p>'))
    assert (meta.date_published.date(), meta.date_source) == (date(2023, 4, 26), "json-ld")
    meta = meta_of(page(json_ld=ARTICLE, dateline='<p><time datetime="2025-08-21T10:00:00Z"></time></p>'))
    assert (meta.date_published.date(), meta.date_source) == (date(2025, 8, 21), "html")


@pytest.mark.parametrize(
    "box, authors",
    [
        # An author box under the story: the name over the bio.
        ("<div class='blog-author'><img src='/jd.jpg' alt=''><h4>Jane Doe</h4>"
         "<p>Jane Doe covers the council and the harbour for the Gazette.</p></div>", ["Jane Doe"]),
        ("<div class='post__author'><span>Written by:</span> <a href='/about'>John Roe</a></div>", ["John Roe"]),
        # A date and a reading time printed before the name in the box.
        ("<div class='dateAndAuthor'><span>Dec 17, 2025</span><span>4 min read</span><span>Ana K. Lund</span></div>",
         ["Ana K. Lund"]),
        # A sign-in link, a card previewing another page, a comment form and a sentence name no one.
        ("<ul><li class='authorization-link'><a href='/login'>Sign In</a></li></ul>", []),
        ("<figure><a href='https://orbit.example/'><span class='bookmark-author'>Orbit Weekly</span></a></figure>", []),
        ("<form><label class='comment-form-author'>Name *</label><input></form>", []),
        ("<div class='author-box'><p>Thanks for reading, see you next week</p></div>", []),
    ],
)
def test_a_theme_s_author_box_names_the_writer_when_nothing_else_does(box, authors):
    meta = meta_of(page().replace("</article>", f"{box}</article>"))
    assert (meta.authors, meta.author_source if authors else None) == (authors, "html" if authors else None)


def test_a_written_by_heading_over_the_writer_s_bio_is_a_byline():
    # Far below the headline, after the story (not in the dateline).
    body = "<p>The budget funds the sea wall, the pumping stations and the new flood warning sirens.</p>" * 8
    bio = "<section><h3>Written by Jane Doe</h3><p>Jane Doe writes about money for the Gazette.</p></section>"
    meta = meta_of(page().replace("</article>", f"{body}</article>{bio}"))
    assert (meta.authors, meta.author_source) == (["Jane Doe"], "html")


@pytest.mark.parametrize(
    "published, dateline, day, source",
    [
        # Filed late in the evening where it was written: the UTC timestamp is already the next day.
        ("2025-03-04T01:30:00Z", "", date(2025, 3, 3), "url"),
        # Two days apart is another date, not a time zone; a printed date is what the reader sees.
        ("2025-03-05T09:00:00Z", "", date(2025, 3, 5), "json-ld"),
        ("2025-03-04T01:30:00Z", "<p>Published March 4, 2025</p>", date(2025, 3, 4), "json-ld"),
    ],
)
def test_the_url_s_day_corrects_a_metadata_day_one_off(published, dateline, day, source):
    meta = meta_of(page(json_ld={"@type": "NewsArticle", "headline": HEADLINE, "datePublished": published},
                        dateline=dateline))  # URL: .../news/2025/03/03/council-approves-flood-budget
    assert (meta.date_published.date(), meta.date_source) == (day, source)


WRITERS = {"@type": "NewsArticle", "headline": HEADLINE,
           "author": [{"@type": "Person", "name": "Luke Daly"}, {"@type": "Person", "name": "Mia Chen"}]}


@pytest.mark.parametrize(
    "dateline, authors, source",
    [
        # The byline the reader sees names someone else than the metadata (the editor who uploaded it).
        ("<p>By: Jane Doe</p>", ["Jane Doe"], "html"),
        ("<p><span>by</span> <a href='/authors/jane-doe'>Jane O'Hara</a> <span>Mar 3, 2025</span></p>",
         ["Jane O'Hara"], "html"),
        # A byline naming one of the metadata's writers, a reviewer's credit and a handle leave the metadata be.
        ("<p>By Mia Chen</p>", ["Luke Daly", "Mia Chen"], "json-ld"),
        ("<p><span>Medically reviewed</span> <span>by</span> <span>Ann Lee, MD</span></p>", ["Luke Daly", "Mia Chen"],
         "json-ld"),
        ("<p>By harbourjane</p>", ["Luke Daly", "Mia Chen"], "json-ld"),
    ],
)
def test_the_printed_byline_beats_metadata_naming_other_people(dateline, authors, source):
    meta = meta_of(page(json_ld=WRITERS, dateline=dateline))
    assert (meta.authors, meta.author_source) == (authors, source)


def test_a_time_element_printing_its_local_day_gives_that_day():
    # datetime in UTC after midnight; the element prints the day where the story was written.
    meta = meta_of(page(dateline='<p><time datetime="2025-03-04T03:00:00Z">March 3, 2025</time></p>'))
    assert (meta.date_published.date(), meta.date_source) == (date(2025, 3, 3), "html")
    meta = meta_of(page(dateline='<p><time datetime="2025-03-04T03:00:00Z">March 4, 2025</time></p>'))
    assert (meta.date_published.date(), meta.date_source) == (date(2025, 3, 4), "html")
