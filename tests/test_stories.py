"""Stories: one event from several outlets shares a story_id, across runs; look-alike events do not."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from badserver import BadServer, Reply
from wirehouse.config.sources import Source, adhoc_source
from wirehouse.flows.ingest import ingest
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.tasks.stories import StoryArticle, StoryIndex, StoryWindow, assign_into, build_index, keywords, normalize_entity
from wirehouse.warehouse import db

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
DAY = datetime(2026, 11, 16, 6, tzinfo=timezone.utc)

QUAKE_JAPAN = (
    "A magnitude 6.8 earthquake struck eastern Hokkaido early on Monday, the Japan Meteorological Agency said. "
    "Buildings swayed in Kushiro and Obihiro and trains on the Nemuro line were halted for inspection. "
    "The agency said there was no tsunami threat. Hokkaido Electric reported power cuts to 20,000 homes."
)
QUAKE_JAPAN_REWRITE = (
    "Residents of Kushiro were shaken awake when a strong quake hit Hokkaido on Monday. The Japan Meteorological "
    "Agency put the magnitude at 6.8 and ruled out a tsunami. Hokkaido Electric said 20,000 homes lost power, "
    "and JR Hokkaido stopped the Nemuro line."
)
QUAKE_CHILE = (
    "A magnitude 7.0 earthquake shook the Atacama region of Chile on Wednesday, the national seismological "
    "centre said. Buildings swayed in Copiapo and Vallenar; the navy said there was no tsunami threat. "
    "President Gabriel Boric said the emergency office ONEMI was assessing damage to the Caldera port."
)
ENTITIES = {
    "jp": ["Hokkaido", "the Japan Meteorological Agency", "Kushiro", "Obihiro", "Nemuro", "Hokkaido Electric"],
    "jp2": ["Kushiro", "Hokkaido", "The Japan Meteorological Agency", "Hokkaido Electric", "JR Hokkaido", "Nemuro"],
    "cl": ["Atacama", "Chile", "Copiapo", "Vallenar", "Gabriel Boric", "ONEMI", "Caldera"],
}


def _story_article(article_id, text, entities, days=0.0, story_id=None, duplicate_of=None):
    return StoryArticle(article_id, DAY + timedelta(days=days), None, text, entities, story_id, duplicate_of)


def test_entities_and_keywords_fold_their_spellings():
    assert normalize_entity("The  Japan Meteorological Agency") == normalize_entity("Japan Meteorological Agency")
    assert normalize_entity("Hokkaido’s") == "hokkaido"
    assert keywords("The earthquakes shook Buildings in 2026") == ["earthquake", "shook", "building"]


def test_rewrite_joins_the_story_and_a_lookalike_event_does_not(settings):
    batch = [
        _story_article("jp", QUAKE_JAPAN, ENTITIES["jp"]),
        _story_article("cl", QUAKE_CHILE, ENTITIES["cl"], days=2),
        _story_article("jp2", QUAKE_JAPAN_REWRITE, ENTITIES["jp2"], days=0.2),
    ]
    result = assign_into(StoryIndex(settings.stories), batch)
    assert result.story_of == {"jp": "jp", "jp2": "jp", "cl": "cl"}
    assert (result.new, result.grown) == (2, 0)
    assert result.scores["jp2"] >= settings.stories.threshold


def test_a_landed_story_grows_within_the_window_only(settings):
    landed = [_story_article("jp", QUAKE_JAPAN, ENTITIES["jp"], story_id="jp")]
    tomorrow = _story_article("jp2", QUAKE_JAPAN_REWRITE, ENTITIES["jp2"], days=1)
    result = assign_into(build_index(landed, settings.stories), [tomorrow])
    assert result.story_of == {"jp2": "jp"} and (result.new, result.grown) == (0, 1)
    next_week = _story_article("jp3", QUAKE_JAPAN_REWRITE, ENTITIES["jp2"], days=settings.stories.window_days + 1)
    result = assign_into(build_index(landed, settings.stories), [next_week])
    assert result.story_of == {"jp3": "jp3"} and (result.new, result.grown) == (1, 0)


def test_copies_join_their_canonicals_story_and_updated_articles_keep_theirs(settings):
    # The canonical "a" landed long ago (outside the window): its story comes from the lookup.
    copy = _story_article("b", QUAKE_CHILE, ENTITIES["cl"], duplicate_of="a")
    updated = _story_article("jp", QUAKE_JAPAN, ENTITIES["jp"])
    result = assign_into(StoryIndex(settings.stories), [copy, updated], {"a": "s-old", "jp": "jp"})
    assert result.story_of == {"b": "s-old", "jp": "jp"}
    assert (result.new, result.grown) == (0, 1)


def test_a_teaser_published_before_its_canonical_waits_for_its_story(settings):
    # Dedup made the later full text the canonical: the teaser joins the story the full text
    # starts, in the same batch, whatever the vote would say.
    teaser = _story_article("t", QUAKE_JAPAN.split(". ")[0], ENTITIES["jp"][:1], duplicate_of="f")
    full = _story_article("f", QUAKE_JAPAN, ENTITIES["jp"], days=0.1)
    result = assign_into(StoryIndex(settings.stories), [teaser, full])
    assert result.story_of == {"t": "f", "f": "f"}
    assert (result.new, result.grown) == (1, 0)


def test_a_full_text_handed_a_landed_teasers_story_joins_it(settings):
    # Dedup handed the full text the group of a teaser landed earlier, and its story with it.
    full = _story_article("f", QUAKE_JAPAN, ENTITIES["jp"], story_id="s-teaser")
    result = assign_into(StoryIndex(settings.stories), [full], {})
    assert result.story_of == {"f": "s-teaser"}


def test_the_index_forgets_articles_that_leave_the_window(settings):
    index = build_index([_story_article("jp", QUAKE_JAPAN, ENTITIES["jp"])], settings.stories)
    assert index.evict_before(DAY + timedelta(days=1)) == 1
    assert not index.members and not index.postings and index.docs == 0 and not index.df



def test_a_full_window_lets_its_oldest_articles_go_first(settings):
    capped = settings.stories.model_copy(update={"max_window_articles": 2})
    index = build_index(
        [_story_article("jp", QUAKE_JAPAN, ENTITIES["jp"]), _story_article("cl", QUAKE_CHILE, ENTITIES["cl"], days=2)], capped
    )
    result = assign_into(index, [_story_article("jp2", QUAKE_JAPAN_REWRITE, ENTITIES["jp2"], days=0.2)])
    # jp2 met jp before the window overflowed; then the oldest went (jp, jp2) down to nine tenths of
    # the cap, and their counts with them.
    assert result.story_of == {"jp2": "jp"}
    assert set(index.members) == {"cl"} and index.docs == 1
    assert all(index.df[term_id] == 1 for term_id in index.members["cl"].terms.tolist())


def test_an_updated_article_replaces_its_earlier_version_in_the_counts(settings):
    index = build_index([_story_article("a", QUAKE_JAPAN, ENTITIES["jp"], story_id="s")], settings.stories)
    result = assign_into(index, [_story_article("a", QUAKE_CHILE, ENTITIES["cl"])], {"a": "s"})
    assert result.story_of == {"a": "s"}
    assert index.docs == 1 and set(index.members) == {"a"}
    terms = set(index.members["a"].terms.tolist())
    assert {term for term, n in index.df.items() if n > 0} == terms and all(index.df[term] == 1 for term in terms)
    assert index.postings and all(ids == ["a"] for ids in index.postings.values())

def test_the_vocabulary_is_the_windows_and_freed_term_numbers_serve_new_terms(settings):
    index = build_index([_story_article("old", QUAKE_CHILE, ENTITIES["cl"])], settings.stories)
    peak = len(index.term_ids)
    assert index.evict_before(DAY + timedelta(days=1)) == 1
    assert not index.term_ids and not index.entity_terms
    batch = [_story_article("jp", QUAKE_JAPAN, ENTITIES["jp"], days=1), _story_article("jp2", QUAKE_JAPAN_REWRITE, ENTITIES["jp2"], days=1.2)]
    result = assign_into(index, batch)
    assert result.story_of == {"jp": "jp", "jp2": "jp"}
    live = {term_id for member in index.members.values() for term_id in member.terms.tolist()}
    assert live == set(index.term_ids.values())
    assert max(live) < max(peak, len(live))  # the numbers "old" freed were used again, no gap

# The flow end to end: pages over real HTTP on 127.0.0.1.

def _page(title: str, paragraphs: list[str], site: str, published: datetime) -> bytes:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><meta property='og:site_name' content='{html.escape(site)}'>"
        f"<meta property='og:type' content='article'><meta property='article:published_time' content='{published.isoformat()}'>"
        f"</head><body><header><a href='/'>{html.escape(site)}</a></header>"
        f"<article><h1>{html.escape(title)}</h1>{body}</article>"
        "<footer>Copyright. All rights reserved.</footer></body></html>"
    ).encode("utf-8")


def _serve(server: BadServer, pages: dict[str, bytes]) -> list[str]:
    server.routes = {path: (lambda _request, body=body: Reply(body=body)) for path, body in pages.items()}
    return [server.url(path) for path in pages]


def _query(warehouse, sql, *params):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql, list(params)).fetchall()


def _seed_page(path: Path, site: str) -> bytes:
    paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    headline = next(p for p in paragraphs if len(p) > 60)
    return _page(" ".join(headline.split()[:14]), paragraphs, site, datetime(2025, 10, 31, 9, tzinfo=timezone.utc))


def _late_pages(catalog, whole_events: set[str]) -> dict[str, tuple[bytes, str]]:
    """Fresh pages about old sample events: edited copies of two wire stories and one rewrite.

    Returns:
        path -> (page, event_id) for each page.
    """
    pages = {}
    for wire_id, members in sorted(catalog.wire_groups().items())[:2]:
        first = min(members, key=lambda a: a.published)
        body = ["LONDON (Meridian) - " + first.body[0], *first.body[1:-1]]
        page = _page("Updated: " + first.title, body, "The Late Copy", first.published + timedelta(days=1))
        pages[f"/late-copy/{wire_id}"] = (page, first.event_id)
    # A rewrite: half of one outlet's report and half of another's, about an event with no wire copy.
    event_id, members = next(
        (e, m) for e, m in sorted(catalog.events().items()) if e in whole_events and len(m) >= 2 and all(a.wire_id is None for a in m)
    )
    one, two = members[:2]
    body = [*one.body[: len(one.body) // 2], *two.body[len(two.body) // 2 :]]
    pages["/late-copy/rewrite"] = (_page("What we know: " + two.title, body, "The Late Copy", one.published + timedelta(hours=20)), event_id)
    return pages


def _events_to_stories(warehouse, catalog) -> tuple[dict[str, tuple], dict[str, set[str]]]:
    by_path = {
        urlsplit(url).path: (article_id, duplicate_of, story_id)
        for url, article_id, duplicate_of, story_id in _query(warehouse, "select canonical_url, article_id, duplicate_of, story_id from articles")
    }
    event_stories: dict[str, set[str]] = {}
    for article in catalog.articles:
        event_stories.setdefault(article.event_id, set()).add(by_path[article.path][2])
    return by_path, event_stories


@pytest.fixture(scope="module")
def two_runs(prefect_harness, tmp_path_factory):
    """The sample site ingested, then a second run over late copies of its stories and the seeds.

    Returns:
        (warehouse, first report, second report, the first run's articles by path and stories
        by event, the second run's pages: path -> (page, event_id), the seed pages' paths).
    """
    from wirehouse.config.settings import load_settings

    warehouse, catalog, base = tmp_path_factory.mktemp("stories") / "warehouse", load_catalog(), load_settings()
    with serve_sample_site() as site:
        sample = base.model_copy(update={"fetch": base.fetch.model_copy(update={"proxy": site.proxy_url})})
        first = ingest([Source(**spec) for spec in site.sources()], warehouse, sample)
    by_path, event_stories = _events_to_stories(warehouse, catalog)
    whole = {event for event, stories in event_stories.items() if len(stories) == 1}
    late = _late_pages(catalog, whole)
    seeds = sorted(SEEDS.glob("*.txt"))
    assert len(seeds) == 2, f"expected the two seed reports in {SEEDS}"
    seed_pages = {f"/outlet{i}/rare-earths": _seed_page(path, f"Outlet {i}") for i, path in enumerate(seeds)}
    server = BadServer().start()
    try:
        urls = _serve(server, {**{path: page for path, (page, _) in late.items()}, **seed_pages})
        local = base.model_copy(update={"fetch": base.fetch.model_copy(update={"per_host_delay": 0.0})})
        second = ingest([adhoc_source([], urls, allow_private=True)], warehouse, local)
    finally:
        server.stop()
    yield warehouse, first, second, by_path, event_stories, late, sorted(seed_pages)


def _second_run_rows(warehouse) -> dict[str, tuple]:
    rows = _query(warehouse, "select url, duplicate_of, story_id, text from articles where url like 'http://127.0.0.1:%'")
    return {urlsplit(url).path: rest for url, *rest in rows}


@pytest.mark.flow
def test_sample_events_are_stories_and_lookalike_events_are_not_merged(two_runs):
    _, first, _, _, event_stories, _, _ = two_runs
    catalog = load_catalog()
    every_story = [story for stories in event_stories.values() for story in stories]
    assert len(every_story) == len(set(every_story)), "two events share a story"
    assert first.stories_new == len(every_story) and first.stories_grown == 0
    # Events told by several outlets in their own words are one story each (a national release
    # covered from two local angles may stay two).
    covered = [e for e, members in catalog.events().items() if len({a.outlet for a in members}) > 1]
    whole = [e for e in covered if len(event_stories[e]) == 1]
    assert len(whole) >= 12, {e: event_stories[e] for e in covered if e not in whole}
    for one, other in catalog.negative_pairs:
        assert not event_stories[one] & event_stories[other]


@pytest.mark.flow
def test_the_two_seed_reports_land_in_one_story_and_are_not_copies(two_runs):
    warehouse, _, _, _, _, _, seed_paths = two_runs
    rows = _second_run_rows(warehouse)
    (dup_a, story_a, text_a), (dup_b, story_b, text_b) = rows[seed_paths[0]], rows[seed_paths[1]]
    assert (dup_a, dup_b) == (None, None), "two outlets' own reports are not copies of each other"
    assert "Randhir Jaiswal" in text_a and "Randhir Jaiswal" in text_b
    assert story_a == story_b is not None
    story = _query(warehouse, "select n_articles, n_outlets, headline, top_entities from stories where story_id = ?", story_a)
    assert story[0][:2] == (2, 2)
    # The representative headline is the earliest article's title; the two were published at
    # the same minute, so either seed's may stand for the story.
    titles = {row[0] for row in _query(warehouse, "select title from articles where story_id = ?", story_a)}
    assert story[0][2] in titles and len(titles) == 2
    assert {"China", "India"} <= set(story[0][3])


@pytest.mark.flow
def test_a_second_run_over_new_copies_extends_the_old_groups_and_stories(two_runs):
    warehouse, first, second, by_path, event_stories, late, _ = two_runs
    catalog, rows = load_catalog(), _second_run_rows(warehouse)
    for path, (_, event_id) in late.items():
        duplicate_of, story_id, _ = rows[path]
        assert {story_id} == event_stories[event_id], f"{path} did not join the story of {event_id}"
        if path.endswith("rewrite"):
            assert duplicate_of is None
        else:
            members = catalog.wire_groups()[path.rsplit("/", 1)[1]]
            canonicals = {by_path[a.path][1] or by_path[a.path][0] for a in members}
            assert canonicals == {duplicate_of}, f"{path} did not join the landed group"
    # Three late pages grew three old stories; the two seeds started one new story.
    assert (second.articles_new, second.near_duplicates) == (5, 2)
    assert (second.stories_new, second.stories_grown) == (1, 3)
    sizes = dict(_query(warehouse, "select story_id, n_articles from stories"))
    assert len(sizes) == first.stories_new + 1
    assert sum(sizes.values()) == first.articles_new + 5


def test_a_carried_story_window_reads_only_the_spans_it_has_not_read():
    day = datetime(2026, 5, 4, tzinfo=timezone.utc)
    window = StoryWindow()
    assert window.unread((day, day + timedelta(days=6))) == [(day, day + timedelta(days=6))]
    window.mark_read((day + timedelta(days=1), day + timedelta(days=2)))
    window.mark_read((day + timedelta(days=4), day + timedelta(days=5)))
    assert window.unread((day, day + timedelta(days=6))) == [
        (day, day + timedelta(days=1)), (day + timedelta(days=2), day + timedelta(days=4)), (day + timedelta(days=5), day + timedelta(days=6)),
    ]
    assert window.unread((day + timedelta(days=1), day + timedelta(days=2))) == []
