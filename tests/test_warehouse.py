import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone

import pytest

from wirehouse.config.settings import load_settings
from wirehouse.tasks.load import count_label_votes, open_run
from wirehouse.warehouse import db

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


def _article_row(article_id, text):
    return {"article_id": article_id, "url": f"https://n.example/{article_id}", "canonical_url": f"https://n.example/{article_id}",
            "source": "t", "title": article_id, "text": text, "content_hash": text[:8], "fetched_at": NOW, "authors": ["A"]}


def _commit(warehouse, run_id, rows):
    db.write_part(warehouse, "articles", run_id, rows)
    db.write_part(warehouse, "runs", run_id, [{"run_id": run_id, "started_at": NOW, "status": "ok"}])


def _count(warehouse, sql="select count(*) from articles"):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql).fetchone()[0]


def test_parts_are_invisible_until_their_run_commits(tmp_path):
    db.init_warehouse(tmp_path)
    run = db.new_run_id()
    db.write_part(tmp_path, "articles", run, [_article_row("a", "first text")])
    assert _count(tmp_path) == 0
    db.write_part(tmp_path, "runs", run, [{"run_id": run, "started_at": NOW, "status": "ok"}])
    assert _count(tmp_path) == 1


def test_newest_version_of_an_article_wins(tmp_path):
    db.init_warehouse(tmp_path)
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "first text"), _article_row("b", "other")])
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "corrected text")])
    assert _count(tmp_path) == 2
    assert _count(tmp_path, "select text from articles where article_id = 'a'") == "corrected text"


def test_articles_among_gives_the_views_rows_of_the_ids_asked_only(tmp_path):
    db.init_warehouse(tmp_path)
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "first text"), _article_row("b", "other"), _article_row("c", "third")])
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "corrected text")])
    link = db.new_run_id()
    db.write_part(tmp_path, "duplicate_links", link, [{"article_id": "b", "duplicate_of": "c", "duplicate_kind": "near", "similarity": 0.9}])
    db.write_part(tmp_path, "runs", link, [{"run_id": link, "started_at": NOW, "status": "ok"}])
    some = "select article_id, text, duplicate_of from articles_among(['a', 'b', 'z']) order by 1"
    assert _count(tmp_path, f"select count(*) from ({some})") == 2
    with db.connect_catalog(tmp_path) as con:
        assert con.execute(some).fetchall() == [("a", "corrected text", None), ("b", "other", "c")]
        assert con.execute(some).fetchall() == con.execute(
            "select article_id, text, duplicate_of from articles where article_id in ('a', 'b', 'z') order by 1"
        ).fetchall()
        assert con.execute("select count(*) from articles_among([])").fetchone()[0] == 0


def test_a_part_is_written_a_row_group_at_a_time_from_a_generator(tmp_path):
    import pyarrow.parquet as pq

    db.init_warehouse(tmp_path)
    run = db.new_run_id()
    texts = [f"{i:04d} " + "word " * 20_000 for i in range(300)]  # 100 KB each: 30 MB in all
    made = []

    def rows():
        for i, text in enumerate(texts):
            made.append(i)
            yield _article_row(f"a{i}", text)

    db.write_part(tmp_path, "articles", run, rows())
    part = pq.ParquetFile(db.part_path(tmp_path, "articles", run))
    # About ROW_GROUP_BYTES of rows a group: the 30 MB came in several groups, not one table.
    assert part.metadata.num_row_groups >= 3
    assert max(part.metadata.row_group(g).num_rows for g in range(part.metadata.num_row_groups)) <= 100
    assert made == list(range(300))
    db.write_part(tmp_path, "runs", run, [{"run_id": run, "started_at": NOW, "status": "ok"}])
    with db.connect_catalog(tmp_path) as con:
        landed = con.execute("select article_id, text, loaded_by_run from articles order by text").fetchall()
    assert landed == [(f"a{i}", text, run) for i, text in enumerate(texts)]
    assert db.write_part(tmp_path, "articles", db.new_run_id(), iter([])) is None
    assert [p.name for p in db.table_dir(tmp_path, "articles").iterdir() if p.name.startswith(".")] == []


def test_a_part_whose_rows_fail_midway_leaves_no_file(tmp_path):
    db.init_warehouse(tmp_path)
    run = db.new_run_id()

    def rows():
        yield from (_article_row(f"a{i}", "text " * 30_000) for i in range(200))
        raise ValueError("a bad row")

    with pytest.raises(ValueError, match="a bad row"):
        db.write_part(tmp_path, "articles", run, rows())
    assert sorted(p.name for p in db.table_dir(tmp_path, "articles").iterdir()) == [db.EMPTY_PART]


def test_a_run_killed_during_the_load_leaves_the_previous_state(tmp_path):
    db.init_warehouse(tmp_path)
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "kept text")])
    # A real process writes a part, then dies (SIGKILL) before its commit marker.
    script = textwrap.dedent(f"""
        import time
        from datetime import datetime, timezone
        from wirehouse.warehouse import db
        run = db.new_run_id()
        rows = [{{"article_id": f"x{{i}}", "text": "half", "fetched_at": datetime.now(timezone.utc)}} for i in range(50)]
        db.write_part({str(tmp_path)!r}, "articles", run, rows)
        print("written", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _count(tmp_path) == 1
    assert _count(tmp_path, "select text from articles") == "kept text"
    removed = db.remove_uncommitted_parts(tmp_path)
    assert [p.parent.name for p in removed] == ["articles"]
    assert _count(tmp_path) == 1


def test_catalog_rebuild_does_not_disturb_an_open_reader(tmp_path):
    db.init_warehouse(tmp_path)
    _commit(tmp_path, db.new_run_id(), [_article_row("a", "one")])
    reader = db.connect_catalog(tmp_path)
    db.build_catalog(tmp_path)
    _commit(tmp_path, db.new_run_id(), [_article_row("b", "two")])
    assert reader.execute("select count(*) from articles").fetchone()[0] == 2
    reader.close()
    assert _count(tmp_path) == 2


def test_a_second_writer_waits_then_gives_up_with_a_clear_message(tmp_path):
    messages = []
    with db.writer_lock(tmp_path, timeout=1):
        result = {}

        def second():
            try:
                with db.writer_lock(tmp_path, timeout=0.5, on_wait=messages.append):
                    result["got"] = True
            except db.WarehouseBusy as exc:
                result["error"] = str(exc)

        thread = threading.Thread(target=second)
        start = time.monotonic()
        thread.start()
        thread.join()
    assert time.monotonic() - start >= 0.5
    assert "got" not in result
    assert "another run" in result["error"] and "try again later" in result["error"]
    assert messages and "waiting up to" in messages[0]


def test_empty_warehouse_has_every_table(tmp_path):
    db.init_warehouse(tmp_path)
    with db.connect_catalog(tmp_path) as con:
        names = {row[0] for row in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    assert {"runs", "fetches", "raw_pages", "articles", "article_entities", "article_bands"} <= names


def _mention(article_id, label, start):
    return {"article_id": article_id, "text": "Acme", "label": label, "start_char": start, "end_char": start + 4,
            "entity_id": "acme", "name": "Acme"}


def test_an_entity_label_tie_goes_to_the_preferred_label_every_time(tmp_path):
    db.init_warehouse(tmp_path)
    run = db.new_run_id()
    db.write_part(tmp_path, "entities", run, [{"entity_id": "acme", "name": "Acme", "label": "PRODUCT", "key": "acme"}])
    # Two mentions each: ORG comes before GPE and PRODUCT in LABEL_PREFERENCE.
    mentions = [_mention("a", "PRODUCT", 0), _mention("a", "GPE", 10), _mention("b", "ORG", 0), _mention("b", "PRODUCT", 10),
                _mention("b", "GPE", 20), _mention("b", "ORG", 30)]
    db.write_part(tmp_path, "article_entities", run, mentions)
    _commit(tmp_path, run, [_article_row("a", "Acme text"), _article_row("b", "Acme more")])
    sql = "select label from entity_labels where entity_id = 'acme'"
    assert {_count(tmp_path, sql) for _ in range(20)} == {"ORG"}
    assert _count(tmp_path, "select label from entities where entity_id = 'acme'") == "ORG"
    # The pipeline's lookup of a batch's entities sums the same votes (counted once here, as for
    # a warehouse whose mentions landed without them).
    assert count_label_votes(tmp_path)
    assert _count(tmp_path, "select label from entity_labels_among(['acme'])") == "ORG"
    assert _count(tmp_path, "select count(*) from article_entities_among(['acme'], by_entity := true)") == 6
    assert _count(tmp_path, "select count(*) from entity_labels_among(['other'])") == 0


def test_a_batch_lookup_counts_the_mentions_of_current_versions_only(tmp_path):
    db.init_warehouse(tmp_path)
    first, second = db.new_run_id(), db.new_run_id()
    db.write_part(tmp_path, "entities", first, [{"entity_id": "acme", "name": "Acme", "label": "ORG", "key": "acme"}])
    db.write_part(tmp_path, "article_entities", first, [_mention("a", "ORG", 0), _mention("a", "ORG", 10), _mention("b", "GPE", 0)])
    _commit(tmp_path, first, [_article_row("a", "Acme text"), _article_row("b", "Acme more")])
    # A new version of a: its one mention replaces the first version's two.
    db.write_part(tmp_path, "article_entities", second, [_mention("a", "PRODUCT", 0)])
    _commit(tmp_path, second, [_article_row("a", "Acme text, revised")])
    assert count_label_votes(tmp_path)
    assert _count(tmp_path, "select count(*) from article_entities_among(['acme'], by_entity := true)") == 2
    assert _count(tmp_path, "select label from entity_labels_among(['acme'])") == _count(
        tmp_path, "select label from entity_labels where entity_id = 'acme'"
    ) == "GPE"


def _summed_votes(warehouse):
    """The label votes summed over committed runs, and the votes of the current mentions counted."""
    root = db.table_dir(warehouse, "entity_label_votes")
    summed = _rows(
        warehouse,
        f"select entity_id, label, sum(mentions)::bigint from read_parquet('{root}/*.parquet') "
        "where _run_id in (select run_id from runs) group by all having sum(mentions) <> 0 order by all",
    )
    counted = _rows(warehouse, "select entity_id, label, count(*) from article_entities where entity_id is not null group by all order by all")
    return summed, counted


def _rows(warehouse, sql):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql).fetchall()


def _enriched(article_id, *labels):
    from wirehouse.tasks.records import ArticleEnrichment, EntityMention

    mentions = [EntityMention(article_id, "Acme", label, 10 * i, 10 * i + 4, name="Acme", entity_id="acme") for i, label in enumerate(labels)]
    return ArticleEnrichment(article_id, "en", mentions, {}, [], [], None, {"ner": "test"})


def _land_enrichments(warehouse, *enrichments):
    """One run that enriches (again) the articles of `enrichments`, committed."""
    from wirehouse.tasks.entities import Resolution
    from wirehouse.tasks.load import write_enrichment

    with open_run(warehouse, load_settings().warehouse) as run:
        mentions = [m for e in enrichments for m in e.mentions]
        write_enrichment(warehouse, run, list(enrichments), Resolution(mentions=mentions))
        _commit(warehouse, run, [])


def test_label_votes_summed_over_runs_are_the_votes_of_the_current_mentions(tmp_path):
    db.init_warehouse(tmp_path)
    first = db.new_run_id()
    db.write_part(tmp_path, "entities", first, [{"entity_id": "acme", "name": "Acme", "label": "ORG", "key": "acme"}])
    _commit(tmp_path, first, [_article_row("a", "Acme text"), _article_row("b", "Acme more")])
    _land_enrichments(tmp_path, _enriched("a", "ORG", "ORG"), _enriched("b", "GPE"))
    assert _summed_votes(tmp_path)[0] == [("acme", "GPE", 1), ("acme", "ORG", 2)]
    # a enriched again: its one PRODUCT mention replaces its two ORG ones (+1 PRODUCT, -2 ORG).
    _land_enrichments(tmp_path, _enriched("a", "PRODUCT"))
    summed, counted = _summed_votes(tmp_path)
    assert summed == counted == [("acme", "GPE", 1), ("acme", "PRODUCT", 1)]
    assert _count(tmp_path, "select label from entity_labels_among(['acme'])") == _count(
        tmp_path, "select label from entity_labels where entity_id = 'acme'"
    ) == "GPE"
    # Both enriched again, b with nothing: only a's mention is left.
    _land_enrichments(tmp_path, _enriched("a", "PRODUCT"), _enriched("b"))
    summed, counted = _summed_votes(tmp_path)
    assert summed == counted == [("acme", "PRODUCT", 1)]
    assert _count(tmp_path, "select label from entity_labels_among(['acme'])") == "PRODUCT"
    # A warehouse with votes is never counted again.
    assert not count_label_votes(tmp_path)


def test_a_run_landing_new_and_landed_articles_replaces_only_the_landed_ones_votes(tmp_path):
    from wirehouse.tasks.entities import Resolution
    from wirehouse.tasks.load import write_enrichment

    db.init_warehouse(tmp_path)
    first = db.new_run_id()
    db.write_part(tmp_path, "entities", first, [{"entity_id": "acme", "name": "Acme", "label": "ORG", "key": "acme"}])
    _commit(tmp_path, first, [_article_row("a", "Acme text")])
    _land_enrichments(tmp_path, _enriched("a", "ORG", "ORG"))
    # One run: a new article c with two GPE mentions, and a enriched again with one GPE.
    enrichments = [_enriched("c", "GPE", "GPE"), _enriched("a", "GPE")]
    with open_run(tmp_path, load_settings().warehouse) as run:
        write_enrichment(tmp_path, run, enrichments, Resolution(mentions=[m for e in enrichments for m in e.mentions]))
        _commit(tmp_path, run, [_article_row("c", "Acme news")])
    summed, counted = _summed_votes(tmp_path)
    assert summed == counted == [("acme", "GPE", 3)]


def test_a_run_that_never_committed_leaves_no_votes(tmp_path):
    db.init_warehouse(tmp_path)
    first = db.new_run_id()
    db.write_part(tmp_path, "entities", first, [{"entity_id": "acme", "name": "Acme", "label": "PRODUCT", "key": "acme"}])
    _commit(tmp_path, first, [_article_row("a", "Acme text")])
    _land_enrichments(tmp_path, _enriched("a", "ORG"))
    from wirehouse.tasks.entities import Resolution
    from wirehouse.tasks.load import write_enrichment

    dead = db.new_run_id()
    write_enrichment(tmp_path, dead, [_enriched("a", "GPE", "GPE")], Resolution(mentions=_enriched("a", "GPE", "GPE").mentions))
    assert _summed_votes(tmp_path)[0] == [("acme", "ORG", 1)]
    assert _count(tmp_path, "select label from entity_labels_among(['acme'])") == "ORG"


def test_the_label_tie_break_in_sql_follows_label_preference():
    from wirehouse.tasks.entities import LABEL_PREFERENCE

    sql = next(text for name, text in db._view_files() if name.endswith("entity_labels.sql"))
    assert str(list(LABEL_PREFERENCE)) in sql.replace('"', "'")


def test_kept_database_is_replaced_after_its_reads_and_open_cursors_still_read(tmp_path, monkeypatch):
    # DuckDB keeps memory of every query until its database closes: a kept one serves a bounded number of reads.
    monkeypatch.setattr(db, "READS_PER_DATABASE", 3)
    warehouse = tmp_path / "wh"
    db.init_warehouse(warehouse)
    _commit(warehouse, "r1", [_article_row("a1", "first text")])
    held = db.connect(warehouse)  # left open across the switch, as another thread's read would be
    for _ in range(2):
        with db.connect(warehouse) as con:
            assert con.execute("select count(*) from articles").fetchone()[0] == 1
    first = db._DATABASES[db.database_key(warehouse)]
    _commit(warehouse, "r2", [_article_row("a2", "second text")])
    with db.connect(warehouse) as con:  # the fourth read: a new database
        assert con.execute("select count(*) from articles").fetchone()[0] == 2
    assert db._DATABASES[db.database_key(warehouse)] is not first
    assert held.execute("select count(*) from articles").fetchone()[0] == 2
    held.close()


def every_view(warehouse):
    """Every row of every view of the catalog, its columns by name, sorted: all an analyst can see.

    By name: `union_by_name` orders a view's columns as the first part listed has them.
    """
    with db.connect_catalog(warehouse) as con:
        views = [name for (name,) in con.execute("select view_name from duckdb_views() where not internal order by 1").fetchall()]
        seen = {}
        for name in views:
            columns = sorted(d[0] for d in con.execute(f"select * from {name} limit 0").description)
            listed = ", ".join(f'"{column}"' for column in columns)
            seen[name] = (columns, con.execute(f"select {listed} from {name} order by all").fetchall())
        return seen


def _warehouse_of_runs(warehouse) -> list[str]:
    """Four committed runs: article versions, a copy link, enrichments with mentions and label
    votes, and an articles part written before `authors` existed, with a column since dropped.
    Returns the run ids, oldest first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    db.init_warehouse(warehouse)
    runs = [db.new_run_id()]
    db.write_part(warehouse, "entities", runs[0], [{"entity_id": "acme", "name": "Acme", "label": "ORG", "key": "acme"}])
    _commit(warehouse, runs[0], [_article_row("a", "Acme text"), _article_row("b", "Acme more")])
    old = db.new_run_id()
    columns = {"article_id": ["c"], "text": ["old layout"], "fetched_at": [NOW], "legacy_score": [0.5], "_run_id": [old], "_loaded_at": [NOW]}
    pq.write_table(pa.table(columns), db.part_path(warehouse, "articles", old))
    _commit(warehouse, old, [])
    runs.append(old)
    for enrichments in ([_enriched("a", "ORG", "ORG"), _enriched("b", "GPE")], [_enriched("a", "PRODUCT")]):
        _land_enrichments(warehouse, *enrichments)
        runs.append((db.committed_run_ids(warehouse) - set(runs)).pop())
    link = runs[-1]
    db.write_part(warehouse, "duplicate_links", link, [{"article_id": "b", "duplicate_of": "a", "duplicate_kind": "near", "similarity": 0.9}])
    return runs


def test_compacted_parts_show_every_view_as_the_run_parts_did(tmp_path):
    runs = _warehouse_of_runs(tmp_path)
    before = every_view(tmp_path)
    assert all(before[view][1] for view in ("articles", "article_entities", "entity_labels", "duplicate_links", "stories"))
    merged = db.compact(tmp_path, min_parts=2)
    assert merged["articles"] == 2 and merged["runs"] == 4
    assert every_view(tmp_path) == before
    names = db.part_files(tmp_path, "articles")
    assert len(names) == 1 and names[0].startswith("merged1-")
    assert db.runs_with_parts(tmp_path, "articles") == {runs[0], runs[1]}
    assert db.committed_run_ids(tmp_path) == set(runs)
    assert db.parts_of_runs(tmp_path, "articles", [runs[1]]) == [str(db.table_file(tmp_path, "articles", names[0]))]
    assert not count_label_votes(tmp_path), "the votes in a compacted part are found"
    # Two runs after compaction enrich a and b again; then the tier-1 parts of two rounds merge.
    _land_enrichments(tmp_path, _enriched("a", "GPE"))
    _land_enrichments(tmp_path, _enriched("b", "ORG"))
    after_more = every_view(tmp_path)
    assert db.compact(tmp_path, min_parts=2)["runs"] == 2 + 2  # two run parts, then two tier-1 parts
    assert [name[:7] for name in db.part_files(tmp_path, "runs")] == ["merged2"]
    assert every_view(tmp_path) == after_more
    summed, counted = _summed_votes(tmp_path)
    assert summed == counted == [("acme", "GPE", 1), ("acme", "ORG", 1)]
    assert db.compact(tmp_path, min_parts=2) == {}


def test_compaction_keeps_a_column_an_older_part_has_and_the_schema_has_not(tmp_path):
    _warehouse_of_runs(tmp_path)
    legacy = "select article_id, legacy_score from article_versions where legacy_score is not null"
    assert _rows(tmp_path, legacy) == [("c", 0.5)]
    db.compact(tmp_path, min_parts=2, full=True)
    assert _rows(tmp_path, legacy) == [("c", 0.5)]
    assert all(len(db.part_files(tmp_path, table)) <= 1 for table in db.TABLES)


def test_compaction_leaves_an_uncommitted_runs_part_alone(tmp_path):
    runs = _warehouse_of_runs(tmp_path)
    orphan = db.new_run_id()
    db.write_part(tmp_path, "articles", orphan, [_article_row("x", "never committed")])
    db.compact(tmp_path, min_parts=2)
    assert f"{orphan}.parquet" in db.part_files(tmp_path, "articles")
    assert _count(tmp_path, "select count(*) from articles where article_id = 'x'") == 0
    assert db.runs_with_parts(tmp_path, "articles") == {runs[0], runs[1], orphan}


class _Cut(Exception):
    """A writer dying at a chosen step."""


def _die(*args):
    raise _Cut()


@pytest.mark.parametrize("step", ["journal", "move", "removals"])
def test_a_compaction_cut_short_is_finished_or_dropped_by_the_next_writer(tmp_path, monkeypatch, step):
    _warehouse_of_runs(tmp_path)
    before = every_view(tmp_path)
    parts_before = {table: db.part_files(tmp_path, table) for table in db.TABLES}
    real_remove = db._remove_part
    if step == "journal":  # the merged part written, its journal not: dropped
        monkeypatch.setattr(db, "_write_text", _die)
    elif step == "move":  # the journal written, the merged part not moved into place: finished
        monkeypatch.setattr(db, "_finish_compaction", _die)
    else:  # moved into place, one replaced part removed, then death: finished

        def remove_once_then_die(warehouse, table, name, removed=[]):
            if removed:
                raise _Cut()
            removed.append(name)
            real_remove(warehouse, table, name)

        monkeypatch.setattr(db, "_remove_part", remove_once_then_die)
    with pytest.raises(_Cut):
        db.compact(tmp_path, min_parts=2)
    monkeypatch.undo()
    [cut] = [table for table in db.TABLES if db._part_names(tmp_path, f"{table}/{db.COMPACTING}")]
    if step != "removals":  # nothing moved: the views read the run parts as before
        assert every_view(tmp_path) == before
        assert {table: db.part_files(tmp_path, table) for table in db.TABLES} == parts_before
    with open_run(tmp_path, load_settings().warehouse):
        pass
    assert every_view(tmp_path) == before
    assert not db._part_names(tmp_path, f"{cut}/{db.COMPACTING}")
    after = db.part_files(tmp_path, cut)
    if step == "journal":
        assert after == parts_before[cut]
    else:
        assert len(after) == 1 and after[0].startswith("merged1-")


def test_parts_that_disagree_on_a_type_are_left_as_they_are_with_the_reason_logged(tmp_path, caplog):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from wirehouse.tasks.load import compact_parts

    runs = _warehouse_of_runs(tmp_path)
    odd = db.new_run_id()  # a part whose word_count is text: no one type holds both
    columns = {"article_id": ["d"], "word_count": ["many"], "_run_id": [odd], "_loaded_at": [NOW]}
    pq.write_table(pa.table(columns), db.part_path(tmp_path, "articles", odd))
    _commit(tmp_path, odd, [])
    parts, before = db.part_files(tmp_path, "articles"), every_view(tmp_path)
    with pytest.raises(ValueError, match="^articles: its parts disagree on a column's type, not compacted"):
        db.compact(tmp_path, min_parts=2)
    assert db.part_files(tmp_path, "articles") == parts
    assert not db._part_names(tmp_path, f"articles/{db.COMPACTING}")
    assert [name[:7] for name in db.part_files(tmp_path, "runs")] == ["merged1"], "the other tables are compacted"
    assert every_view(tmp_path) == before
    settings = load_settings().warehouse.model_copy(update={"compact_after_parts": 2})
    assert compact_parts(tmp_path, settings) == {}
    assert "left for a later run: articles: its parts disagree" in caplog.text
    assert db.runs_with_parts(tmp_path, "articles") == {runs[0], runs[1], odd}
