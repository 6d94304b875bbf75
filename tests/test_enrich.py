"""Enrichment: spaCy mentions normalized per article, resolved across articles, keyphrases, tone;
and the two seed reports served over HTTP through the whole flow, then re-enriched."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from html import escape
from pathlib import Path

import pytest

from wirehouse.tasks.enrich import KEYPHRASE_METHOD, enrich_articles, model_label, shutdown_pool
from wirehouse.tasks.entities import KnownEntity, find_acronyms, match_key, normalize_mentions, resolve_entities
from wirehouse.tasks.records import Article, EntityMention, changed
from test_warehouse import _summed_votes

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def _article(article_id: str, text: str) -> Article:
    return Article(article_id, f"https://x.example/{article_id}", f"https://x.example/{article_id}", "t", "t", text,
                   datetime.now(timezone.utc), language="en")


def _by_text(mentions):
    return {m.text: m for m in mentions}


def test_entities_are_tagged_with_offsets_into_the_text(settings):
    text = (
        "The Ministry of External Affairs said on Thursday that Randhir Jaiswal would travel to Beijing. "
        "Prime Minister Narendra Modi met Xi Jinping in Kazan last October."
    )
    [enriched] = enrich_articles([_article("a1", text)], settings.enrich)
    found = {(m.name, m.label) for m in enriched.mentions}
    assert ("Narendra Modi", "PERSON") in found
    assert ("Xi Jinping", "PERSON") in found
    assert any(label == "GPE" and name in ("Beijing", "Kazan") for name, label in found)
    for mention in enriched.mentions:
        assert text[mention.start_char : mention.end_char] == mention.text
        assert mention.article_id == "a1"
    assert model_label(settings.enrich.model).startswith("en_core_web_sm")
    assert enriched.models["ner"] == model_label(settings.enrich.model)
    assert enriched.models["keywords"] == KEYPHRASE_METHOD and enriched.models["tone"].startswith("vaderSentiment-")


def test_titles_possessives_surnames_and_acronyms_normalize_inside_an_article():
    text = (
        "Prime Minister Narendra Modi's visit was confirmed by spokesperson Randhir Jaiswal along the "
        "Line of Actual Control (LAC). Jaiswal said the LAC was calm. Modi left."
    )
    spans = [
        ("Prime Minister Narendra Modi's", "PERSON"), ("Randhir Jaiswal", "ORG"), ("Line of Actual Control", "FAC"),
        ("LAC", "PRODUCT"), ("Jaiswal", "PRODUCT"), ("LAC", "PRODUCT"), ("Modi", "ORG"),
    ]
    raw, cursor = [], 0
    for span, label in spans:
        start = text.index(span, cursor)
        raw.append(EntityMention("a", span, label, start, start + len(span)))
        cursor = start + 1
    mentions = normalize_mentions(text, raw, find_acronyms(text))
    names = [(m.text, m.name, m.label) for m in mentions]
    assert names == [
        ("Prime Minister Narendra Modi's", "Narendra Modi", "PERSON"),
        # "spokesperson" right before the span settles that it is a person, whatever the model said.
        ("Randhir Jaiswal", "Randhir Jaiswal", "PERSON"),
        ("Line of Actual Control", "Line of Actual Control", "FAC"),
        ("LAC", "Line of Actual Control", "FAC"),
        ("Jaiswal", "Randhir Jaiswal", "PERSON"),
        ("LAC", "Line of Actual Control", "FAC"),
        ("Modi", "Narendra Modi", "PERSON"),
    ]
    assert [m.raw_label for m in mentions] == [label for _, label in spans]


def test_acronym_definitions_and_match_keys():
    text = "The Ministry of External Affairs (MEA) spoke. Officials of the ESA (European Space Agency) agreed."
    assert find_acronyms(text) == {"MEA": "Ministry of External Affairs", "ESA": "European Space Agency"}
    assert find_acronyms("He said (sic) it was (IMO) fine.") == {}
    assert match_key("Ministry of External Affairs") == match_key("external affairs ministry") == match_key("External Affairs Ministry")
    assert match_key("MEA") == "mea" != match_key("Ministry of External Affairs")


def _enrichment(article_id, mentions, acronyms=None):
    from wirehouse.tasks.records import ArticleEnrichment

    return ArticleEnrichment(article_id, "en", mentions, acronyms or {}, [], [], None, {"ner": "m"})


def test_names_resolve_to_one_entity_across_articles_and_later_runs():
    first = _enrichment("a", [
        EntityMention("a", "Ministry of External Affairs", "ORG", 0, 28, name="Ministry of External Affairs"),
        EntityMention("a", "MEA", "ORG", 30, 33, name="Ministry of External Affairs"),
    ], {"MEA": "Ministry of External Affairs"})
    second = _enrichment("b", [
        EntityMention("b", "the external affairs ministry", "ORG", 0, 29, name="external affairs ministry"),
        EntityMention("b", "MEA", "PRODUCT", 40, 43, name="MEA"),
    ])
    resolved = resolve_entities([first, second], {})
    ids = {m.entity_id for m in resolved.mentions}
    assert len(ids) == 1
    assert {m.name for m in resolved.mentions} == {"Ministry of External Affairs"}
    # Reached through the acronym, the mention takes the entity's label.
    assert [m.label for m in resolved.mentions] == ["ORG"] * 4
    assert {a["alias_key"]: a["kind"] for a in resolved.aliases} == {"affairs external ministry": "name", "mea": "acronym"}
    # A later run that only says "MEA" finds the entity through the stored alias; nothing new is made.
    known = {a["alias_key"]: KnownEntity(a["entity_id"], "Ministry of External Affairs", "ORG") for a in resolved.aliases}
    later = resolve_entities([_enrichment("c", [EntityMention("c", "MEA", "ORG", 0, 3, name="MEA")])], known)
    assert [m.entity_id for m in later.mentions] == list(ids)
    assert later.entities == [] and later.aliases == []


def test_keyphrases_and_tone_ride_with_the_mentions(settings):
    text = (
        "Flooding closed the harbour road on Monday. Residents said the council's flood barrier failed again. "
        "The council promised a new flood barrier by spring, and residents welcomed the plan warmly."
    )
    [enriched] = enrich_articles([_article("f", text)], settings.enrich)
    assert any("flood barrier" in k.lower() for k in enriched.keywords)
    assert len(enriched.keywords) == len(enriched.keyword_scores) <= settings.enrich.keywords
    assert -1 <= enriched.tone <= 1


def test_worker_processes_give_what_one_process_gives(settings):
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] * 2
    articles = [_article(f"s{i}", text) for i, text in enumerate(texts)]
    pooled = settings.enrich.model_copy(update={"parallel_min_articles": 1, "workers": 2, "chunk_size": 1})
    try:
        assert enrich_articles(articles, pooled) == enrich_articles(articles, settings.enrich)
    finally:
        shutdown_pool()


# -- the seed reports through the whole flow -------------------------------------------------------


class _Pages(BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self):
        body = self.pages.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        data = (body or "not found").encode("utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _as_page(text: str) -> str:
    """A seed report as a simple news page: its longest opening line as headline, paragraphs as <p>."""
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    title = max(paragraphs[:6], key=len)[:120]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"<html><head><title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>"


@pytest.fixture(scope="module")
def seeds_run(prefect_harness, tmp_path_factory):
    """The two seed reports served on 127.0.0.1 and ingested; the warehouse and the settings."""
    from wirehouse.config.settings import load_settings
    from wirehouse.config.sources import adhoc_source
    from wirehouse.flows.ingest import ingest

    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not beside the repository")
    handler = type("SeedPages", (_Pages,), {"pages": {f"/{p.stem}": _as_page(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = load_settings()
        warehouse = tmp_path_factory.mktemp("seeds") / "warehouse"
        settings = base.model_copy(update={"fetch": base.fetch.model_copy(update={"per_host_delay": 0.0})})
        urls = [f"http://127.0.0.1:{server.server_port}{path}" for path in handler.pages]
        ingest([adhoc_source([], urls, allow_private=True)], warehouse, settings)
        yield warehouse, settings
    finally:
        server.shutdown()


def _rows(warehouse, sql, *params):
    from wirehouse.warehouse import db

    with db.connect_catalog(warehouse) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.flow
def test_seed_reports_normalize_jaiswal_lac_and_mea(seeds_run):
    warehouse, _ = seeds_run
    assert _rows(warehouse, "select count(*) from articles") == [(2,)]
    surfaces = dict(_rows(warehouse, "select text, list(distinct name) from article_entities where text in ('Jaiswal', 'LAC', 'MEA') group by text"))
    assert surfaces == {"Jaiswal": ["Randhir Jaiswal"], "LAC": ["Line of Actual Control"], "MEA": ["Ministry of External Affairs"]}
    [(name, label, n_articles, aliases)] = _rows(
        warehouse, "select name, label, n_articles, aliases from entities where list_contains(aliases, 'MEA')"
    )
    assert (name, label, n_articles) == ("Ministry of External Affairs", "ORG", 2)
    assert {"MEA", "the external affairs ministry", "External Affairs Ministry"} <= set(aliases)
    assert _rows(warehouse, "select label, n_articles from entities where name = 'Randhir Jaiswal'") == [("PERSON", 2)]
    assert _rows(warehouse, "select n_articles from entities where name = 'Line of Actual Control'") == [(2,)]
    # Every enrichment row names its models; the keyphrases are about rare earths.
    rows = _rows(warehouse, "select keywords, tone, ner_model, keyword_model, tone_model, language from article_enrichments")
    assert len(rows) == 2
    for keywords, tone, *models, language in rows:
        assert any("rare earth" in k.lower() for k in keywords)
        assert tone is not None and all(models) and language == "en"


@pytest.mark.flow
def test_the_mea_query_counts_every_name_of_the_ministry(seeds_run):
    from wirehouse.warehouse import db
    from wirehouse.warehouse.queries import run_query

    warehouse, _ = seeds_run
    with db.connect_catalog(warehouse) as con:
        rows = run_query(con, "entity_articles", {"entity": "the external affairs ministry"}).fetchall()
    assert len(rows) == 2
    written = {form for row in rows for form in row[5]}
    assert {"MEA", "the external affairs ministry"} <= written


@pytest.mark.flow
def test_reenrich_since_writes_newer_enrichments_that_win(seeds_run):
    from wirehouse.flows.enrich import reenrich

    warehouse, settings = seeds_run
    before = _rows(warehouse, "select article_id, entity_id, start_char from article_entities order by all")
    ids_before = _rows(warehouse, "select entity_id, name from entities order by all")
    fewer = settings.model_copy(update={"enrich": settings.enrich.model_copy(update={"keywords": 3})})
    report = reenrich(warehouse, datetime(2000, 1, 1, tzinfo=timezone.utc), fewer)
    assert report.entities == len(before)
    assert _rows(warehouse, "select count(*), max(len(keywords)), count(distinct enriched_by_run) from article_enrichments") == [(2, 3, 1)]
    assert _rows(warehouse, "select distinct enriched_by_run from article_enrichments") == [(report.run_id,)]
    # The mentions are the new run's, not added to the old ones, and every entity kept its id.
    assert _rows(warehouse, "select article_id, entity_id, start_char from article_entities order by all") == before
    assert _rows(warehouse, "select entity_id, name from entities order by all") == ids_before
    # Its label votes replaced the first run's: summed, they are the current mentions' votes.
    summed, counted = _summed_votes(warehouse)
    assert summed == counted and len(counted) > 3
    assert _rows(warehouse, "select entity_id, label from entity_labels_among((select list(entity_id) from entities)) order by all") == _rows(
        warehouse, "select entity_id, label from entity_labels order by all"
    )
    # Nothing published since a far date: an empty run that changes nothing.
    empty = reenrich(warehouse, datetime(2999, 1, 1, tzinfo=timezone.utc), fewer)
    assert empty.entities == 0


def test_changed_copies_a_record_as_dataclasses_replace_does():
    mention = EntityMention("a1", "Kwame Eze", "PERSON", 4, 13, sentence=0, raw_label="ORG", name="Kwame Eze")
    copy = changed(mention, entity_id="e1", name="K. Eze", label="ORG")
    assert copy == dataclasses.replace(mention, entity_id="e1", name="K. Eze", label="ORG")
    assert type(copy) is EntityMention and copy is not mention
    assert (mention.entity_id, mention.name, mention.label) == (None, "Kwame Eze", "PERSON")  # the original untouched
