"""The warehouse on object storage: an S3 server (moto) on 127.0.0.1, parts written through
s3fs, the catalog local, its views reading s3:// through DuckDB's httpfs."""

from __future__ import annotations

import pytest

from wirehouse.config.sources import Source
from wirehouse.flows.ingest import ingest
from wirehouse.sample import load_catalog, serve_sample_site
from wirehouse.warehouse import db

pytestmark = [pytest.mark.s3, pytest.mark.flow]

BUCKET = "news"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server on a free 127.0.0.1 port, reached through the AWS_* environment; a bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "wirehouse", "AWS_SECRET_ACCESS_KEY": "wirehouse-secret",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache")),
        }.items():
            env.setenv(name, value)
        db._s3.cache_clear()
        db._s3().mkdir(BUCKET)
        yield db._s3()
        db._s3.cache_clear()
    server.stop()


def _snapshot(warehouse):
    """What an analyst sees through the catalog: articles, copies, entities, committed runs."""
    with db.connect_catalog(warehouse) as con:
        return (
            con.execute(
                "select article_id, canonical_url, title, text, content_hash, duplicate_of, duplicate_kind"
                " from articles order by article_id"
            ).fetchall(),
            con.execute("select article_id, start_char, end_char, text, label from article_entities order by all").fetchall(),
            con.execute("select count(*), sum(articles_new) from runs").fetchone(),
        )


@pytest.fixture(scope="module")
def warehouses(s3, prefect_harness, tmp_path_factory):
    """The sample ingested into s3://news/wh and into a local folder."""
    from wirehouse.config.settings import load_settings

    remote, local = f"s3://{BUCKET}/wh", tmp_path_factory.mktemp("local") / "warehouse"
    with serve_sample_site() as site:
        base = load_settings()
        settings = base.model_copy(update={"fetch": base.fetch.model_copy(update={"proxy": site.proxy_url})})
        sources = [Source(**spec) for spec in site.sources()]
        for warehouse in (remote, local):
            ingest(sources, warehouse, settings)
    return remote, local


def test_parts_are_objects_and_the_catalog_is_local(s3, warehouses, tmp_path_factory):
    remote, _ = warehouses
    runs = s3.ls(f"{BUCKET}/wh/parquet/runs", detail=False)
    assert len([key for key in runs if db._RUN_PART.match(key.rsplit("/", 1)[-1])]) == 1
    assert s3.ls(f"{BUCKET}/wh/parquet/articles", detail=False)
    catalog = db.catalog_path(remote)
    assert catalog.is_file() and catalog.parts[-4:] == ("s3", BUCKET, "wh", "wirehouse.duckdb")
    assert not s3.exists(f"{BUCKET}/wh/wirehouse.duckdb")


def test_queries_on_object_storage_return_what_a_local_warehouse_returns(warehouses):
    remote, local = warehouses
    articles, entities, runs = _snapshot(remote)
    assert len(articles) == len(load_catalog().articles)
    assert any(row[5] is not None for row in articles), "wire copies point at their canonical"
    assert len(entities) > 100 and runs == (1, len(articles))
    assert _snapshot(remote) == _snapshot(local)


def test_an_uncommitted_run_is_invisible_and_removed_by_the_next_writer(s3, warehouses):
    remote, _ = warehouses
    before = _snapshot(remote)
    orphan = db.new_run_id()
    db.write_part(remote, "articles", orphan, [{"article_id": "0" * 16, "canonical_url": "https://x.example/a"}])
    assert s3.exists(f"{BUCKET}/wh/parquet/articles/{orphan}.parquet")
    assert _snapshot(remote) == before
    removed = db.remove_uncommitted_parts(remote)
    assert [str(path) for path in removed] == [f"s3://{BUCKET}/wh/parquet/articles/{orphan}.parquet"]
    assert not s3.exists(f"{BUCKET}/wh/parquet/articles/{orphan}.parquet")


def test_compaction_on_object_storage_changes_no_view(s3, warehouses):
    remote, _ = warehouses
    run = db.new_run_id()  # a second committed run, so that each of these tables has two parts
    db.write_part(remote, "articles", run, [{"article_id": "1" * 16, "canonical_url": "https://x.example/b", "text": "later"}])
    db.write_part(remote, "runs", run, [{"run_id": run, "status": "ok"}])
    before = _snapshot(remote)
    # A merged part not yet moved into place (its writer died before its journal) is not read, then dropped.
    pending = f"{BUCKET}/wh/parquet/articles/{db.COMPACTING}/merged1-{'0' * 32}.parquet"
    s3.copy(f"{BUCKET}/wh/parquet/articles/{run}.parquet", pending)
    assert _snapshot(remote) == before
    assert db.compact(remote, min_parts=2) == {"runs": 2, "articles": 2}
    assert not s3.exists(pending)
    assert _snapshot(remote) == before
    for table in ("runs", "articles"):
        [merged] = db.part_files(remote, table)
        assert merged.startswith("merged1-") and s3.exists(f"{BUCKET}/wh/parquet/{table}/{merged}")
        assert not s3.exists(f"{BUCKET}/wh/parquet/{table}/{db.COMPACTING}/{db._JOURNAL}")
    assert run in db.committed_run_ids(remote)
