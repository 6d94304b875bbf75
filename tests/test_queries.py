"""The documented queries of warehouse/queries/, each run on one ingest of the sample site."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from wirehouse.cli import app
from wirehouse.config.sources import Source
from wirehouse.flows.ingest import ingest
from wirehouse.sample import serve_sample_site
from wirehouse.warehouse import db
from wirehouse.warehouse.queries import bind, load_query, run_query

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def warehouse(prefect_harness, tmp_path_factory):
    """One ingest of the sample site."""
    from wirehouse.config.settings import load_settings

    target = tmp_path_factory.mktemp("queries") / "warehouse"
    with serve_sample_site() as site:
        settings = load_settings()
        settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"proxy": site.proxy_url})})
        ingest([Source(**spec) for spec in site.sources()], target, settings)
    return target


def _run(warehouse, name, **params):
    with db.connect_catalog(warehouse) as con:
        cursor = run_query(con, name, {k: str(v) for k, v in params.items()})
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _one(warehouse, sql):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql).fetchall()


def _needs_stories(warehouse):
    columns = {row[0] for row in _one(warehouse, "describe articles")}
    if "story_id" not in columns:
        pytest.skip("articles.story_id does not exist yet (stories, issue 5)")


def test_every_query_documents_its_question_and_parameters():
    for name in ("top_entities_per_day", "rising_entities", "story_timeline", "outlet_copies", "entity_cooccurrence",
                 "story_articles", "entity_articles"):
        query = load_query(name)
        assert query.question.endswith("?"), name
        assert "example: wirehouse sql --file " + name in query.sql, name
    assert load_query("story_timeline").params == {"story_id": None}
    with pytest.raises(ValueError, match="needs --param story_id"):
        bind(load_query("story_timeline"), {})
    with pytest.raises(ValueError, match="no parameter"):
        bind(load_query("outlet_copies"), {"nope": "1"})


def test_top_entities_per_day_counts_copies_once(warehouse):
    rows = _run(warehouse, "top_entities_per_day", top=3)
    days = {row["day"] for row in rows}
    assert len(days) >= 5
    assert all(sum(1 for r in rows if r["day"] == day) <= 3 for day in days)
    assert all(1 <= row["reports"] <= row["articles"] for row in rows)
    # Wire copies make some entity appear in more articles than reports on its day.
    assert any(row["reports"] < row["articles"] for row in _run(warehouse, "top_entities_per_day", top=50))
    people = _run(warehouse, "top_entities_per_day", label="PERSON")
    assert people and {row["label"] for row in people} == {"PERSON"}


def test_rising_entities_beat_their_baseline(warehouse):
    rows = _run(warehouse, "rising_entities", recent_days=2, baseline_days=5, min_reports=2)
    assert rows
    assert all(row["recent"] >= 2 for row in rows)
    rises = [row["rise"] for row in rows]
    assert rises == sorted(rises, reverse=True)
    assert rises[0] > 1


def test_outlet_copies_match_the_duplicate_groups(warehouse):
    rows = _run(warehouse, "outlet_copies")
    copies = _one(warehouse, "select count(*) from articles where duplicate_of is not null")[0][0]
    assert copies > 0 and sum(row["copies"] for row in rows) == copies
    assert all(row["exact_copies"] + row["near_copies"] + row["teasers"] == row["copies"] for row in rows)
    assert all(row["copier"] != row["original"] for row in rows)


def test_entity_cooccurrence_pairs_and_partners(warehouse):
    pairs = _run(warehouse, "entity_cooccurrence", min_reports=2)
    assert pairs and all(row["reports"] >= 2 for row in pairs)
    assert len({frozenset((row["entity"], row["with_entity"])) for row in pairs}) == len(pairs)
    top = pairs[0]["entity"]
    partners = _run(warehouse, "entity_cooccurrence", entity=top.lower(), min_reports=1)
    assert {row["entity"] for row in partners} == {top}
    assert pairs[0]["with_entity"] in {row["with_entity"] for row in partners}


def test_entity_articles_finds_an_entity_under_its_acronym(warehouse):
    [(acronym, name)] = _one(
        warehouse,
        "select alias, entities.name from entity_aliases join entities using (entity_id) "
        "where kind = 'acronym' order by n_articles desc, alias limit 1",
    )
    rows = _run(warehouse, "entity_articles", entity=acronym)
    assert rows and {row["entity"] for row in rows} == {name}
    assert _run(warehouse, "entity_articles", entity=name) == rows


def _biggest_story(warehouse):
    _needs_stories(warehouse)
    return _one(warehouse, "select story_id, n_articles from stories order by n_outlets desc, n_articles desc, story_id limit 1")[0]


def test_story_timeline_orders_a_story_across_outlets(warehouse):
    story_id, n_articles = _biggest_story(warehouse)
    rows = _run(warehouse, "story_timeline", story_id=story_id)
    assert len(rows) == n_articles >= 2
    assert [row["seen_at"] for row in rows] == sorted(row["seen_at"] for row in rows)
    assert rows[0]["after_first"].total_seconds() == 0
    assert len({row["source"] for row in rows}) >= 2
    assert {row["kind"] for row in rows} <= {"original", "near copy", "exact copy"}


def test_story_articles_carry_tone_keywords_and_entities(warehouse):
    story_id, n_articles = _biggest_story(warehouse)
    rows = _run(warehouse, "story_articles", story_id=story_id)
    assert len(rows) == n_articles
    assert all(row["keywords"] and row["top_entities"] and row["tone"] is not None for row in rows)


def test_sql_file_runs_a_query_from_the_command_line(warehouse):
    result = CliRunner().invoke(app, ["sql", "--file", "outlet_copies", "--warehouse", str(warehouse), "--param", "since=2000-01-01"])
    assert result.exit_code == 0, result.output
    assert "copier" in result.output
    missing = CliRunner().invoke(app, ["sql", "--file", "story_timeline", "--warehouse", str(warehouse)])
    assert missing.exit_code == 2 and "story_id" in missing.output
