"""Runs that a newsroom leaves going: every URL's outcome, retries with backoff, lying feeds, WARC files.

Real flows over the misbehaving server of tests/badserver.py and a real warehouse.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from badserver import FRENCH, WESTERN, Reply, article
from test_discovery import write_warc
from wirehouse.cli import app
from wirehouse.config.sources import Source
from wirehouse.flows.ingest import ingest
from wirehouse.warehouse import db

pytestmark = pytest.mark.flow

# What the first run must record for each path of the misbehaving server.
OUTCOMES = {
    "/story/a": "ok",
    "/story/latin1": "ok",  # charset in <meta> only
    "/story/cp1252": "ok",  # says utf-8, is windows-1252
    "/story/retry-after": "ok",  # 429 with Retry-After, then the page
    "/always500": "http_5xx",
    "/slow": "timeout",
    "/truncated": "connect_error",  # the connection closes before Content-Length bytes
    "/big": "too_large",
    "/bomb": "too_large",
    "/loop-a": "redirect_loop",
    "/private/page": "robots_disallowed",
    "/forbidden": "blocked",
    "/report.pdf": "not_html",
    "/good": "extraction_empty",  # fetched, but too short to be an article
}
FAILING = {path for path, outcome in OUTCOMES.items() if outcome != "ok"}
FETCH_FAILING = FAILING - {"/good"}  # the report's pages_failed counts failed fetches only


def _query(warehouse, sql, *params):
    with db.connect_catalog(warehouse) as con:
        return con.execute(sql, list(params)).fetchall()


def _by_path(warehouse, sql):
    """{path: value} from rows of (url, value)."""
    return {re.sub(r"^http://[^/]+", "", url): value for url, value in _query(warehouse, sql)}


def _with_fetch(settings, fetch_settings, **fetch):
    return settings.model_copy(update={"fetch": fetch_settings.model_copy(update=fetch)})


@pytest.fixture(scope="module", autouse=True)
def story_routes(server):
    """Article pages, in UTF-8 and in legacy charsets, and one rate-limited on its first hit."""
    french = article("Genève", FRENCH, FRENCH, FRENCH, FRENCH)
    server.routes.update({
        "/story/a": lambda r: Reply(body=article("Harbour vote").encode()),
        "/story/b": lambda r: Reply(body=article("Bridge closes").encode()),
        "/story/c": lambda r: Reply(body=article("Ferry returns").encode()),
        "/story/latin1": lambda r: Reply(body=french.replace("utf-8", "iso-8859-1").encode("latin-1"), headers={"Content-Type": "text/html"}),
        "/story/cp1252": lambda r: Reply(body=article("Déjà vu", WESTERN, WESTERN, WESTERN).encode("cp1252")),
        "/story/retry-after": lambda r: (
            Reply(429, b"slow down", {"Retry-After": "1"}) if server.hits["/story/retry-after"] == 1
            else Reply(body=article("Rates rise").encode())
        ),
    })


def test_misbehaving_server_every_url_its_outcome_failures_retried_with_backoff(prefect_harness, server, settings, fetch_settings):
    source = Source(name="bad", urls=[server.url(path) for path in OUTCOMES], allow_private=True, per_host_delay=0.0)
    eager = _with_fetch(settings, fetch_settings, retry_backoff_hours=0.0, max_failed_attempts=2)
    warehouse = eager.warehouse.path

    first = ingest([source], warehouse, eager)
    assert _by_path(warehouse, "select url, outcome from fetches") == OUTCOMES
    assert first.pages_failed == len(FETCH_FAILING)
    assert first.by_source["bad"]["pages"] == len(OUTCOMES)
    assert first.by_source["bad"]["articles"] == len(OUTCOMES) - len(FAILING)
    assert first.by_source["bad"]["outcomes"]["too_large"] == 2
    texts = _by_path(warehouse, "select url, text from articles")
    assert FRENCH in texts["/story/latin1"] and WESTERN in texts["/story/cp1252"]
    assert server.hits["/private/page"] == 0

    # Second run: exactly the failures are fetched again (the landed pages are skipped).
    server.hits.clear()
    second = ingest([source], warehouse, eager)
    assert {path for path, hits in server.hits.items() if hits} - {"/robots.txt", "/loop-b"} == FAILING - {"/private/page"}
    assert second.pages_skipped == len(OUTCOMES) - len(FAILING)
    assert second.pages_failed == len(FETCH_FAILING)

    # Third run: every failure has failed max_failed_attempts (2) times: given up, not fetched,
    # but kept, and listed by `wirehouse sources`.
    server.hits.clear()
    third = ingest([source], warehouse, eager)
    assert third.pages_resting == len(FAILING) and third.pages_failed == 0
    assert sum(server.hits.values()) == 0
    assert _query(warehouse, "select count(*) from fetches where outcome <> 'ok'") == [(2 * len(FAILING),)]

    config = warehouse.parent / "wirehouse.toml"
    config.write_text("[fetch]\nmax_failed_attempts = 2\n")
    command = ["sources", "--warehouse", str(warehouse), "--config", str(config)]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if "│ bad" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    # The last run fetched nothing; the one before is not what `sources` shows, the failing URLs are.
    assert cells[0] == "bad" and cells[4:7] == ["0", "0", "0"]
    assert cells[-2:] == ["0", str(len(FAILING))]


def test_backoff_keeps_a_failed_url_resting_until_due(prefect_harness, server, settings, fetch_settings):
    source = Source(name="flaky", urls=[server.url("/always500")], allow_private=True, per_host_delay=0.0)
    patient = _with_fetch(settings, fetch_settings, retry_backoff_hours=1.0, retries=0)
    warehouse = patient.warehouse.path
    assert ingest([source], warehouse, patient).pages_failed == 1
    before = server.hits["/always500"]
    resting = ingest([source], warehouse, patient)  # due in an hour: listed again, not fetched
    assert (resting.pages_resting, resting.pages_failed, server.hits["/always500"]) == (1, 0, before)
    due = ingest([source], warehouse, _with_fetch(settings, fetch_settings, retry_backoff_hours=0.0, retries=0))
    assert (due.pages_resting, due.pages_failed, server.hits["/always500"]) == (0, 1, before + 1)


def test_a_feed_whose_etag_never_changes_still_yields_its_new_items(prefect_harness, server, settings, fetch_settings):
    source = Source(name="liar", feeds=[server.url("/liar.rss")], allow_private=True, per_host_delay=0.0)
    trusting = _with_fetch(settings, fetch_settings, feed_recheck_hours=24.0)
    warehouse = trusting.warehouse.path
    feed_rows = "select http_status, outcome from fetches where kind = 'feed' order by fetched_at"
    landed = "select url, title from articles"

    server.liar_items[:] = ["/story/a"]
    ingest([source], warehouse, trusting)
    server.liar_items.append("/story/b")
    # Within the recheck window the feed is asked conditionally, and lies: 304.
    ingest([source], warehouse, trusting)
    assert _query(warehouse, feed_rows) == [(200, "ok"), (304, "not_modified")]
    assert set(_by_path(warehouse, landed)) == {"/story/a"}
    # Past the window (0 h here) it is fetched unconditionally: the new item comes, and the
    # feed is caught serving a new body under its old ETag.
    ingest([source], warehouse, _with_fetch(settings, fetch_settings, feed_recheck_hours=0.0))
    assert set(_by_path(warehouse, landed)) == {"/story/a", "/story/b"}
    # From then on its ETag is never sent, even within the window; the body hash still decides.
    server.liar_items.append("/story/c")
    ingest([source], warehouse, trusting)
    assert set(_by_path(warehouse, landed)) == {"/story/a", "/story/b", "/story/c"}
    unchanged = ingest([source], warehouse, trusting)
    assert _query(warehouse, feed_rows)[-2:] == [(200, "ok"), (200, "not_modified")]
    assert unchanged.outcomes == {"not_modified": 1}


def test_warc_pages_go_through_the_flow_with_file_and_offset(prefect_harness, tmp_path, settings, fetch_settings):
    warc = write_warc(
        tmp_path / "cc-news.warc.gz",
        [
            ("https://news.example/harbour", "200 OK", article("Harbour vote").encode(), "text/html; charset=utf-8"),
            ("https://news.example/geneve", "200 OK", article("Genève", FRENCH, FRENCH, FRENCH).encode("latin-1"), "text/html; charset=iso-8859-1"),
            ("https://news.example/logo.png", "200 OK", b"\x89PNG", "image/png"),
        ],
    )
    source = Source(name="cc-news", warc_files=[warc])
    warehouse = settings.warehouse.path
    report = ingest([source], warehouse, _with_fetch(settings, fetch_settings, allow_private=False))
    rows = _query(warehouse, "select url, outcome, warc_file, warc_offset, discovered_via from fetches order by warc_offset")
    from wirehouse.tasks.fetch import warc_records

    assert [(url, offset) for url, _, _, offset, _ in rows] == list(warc_records(warc))
    assert [outcome for _, outcome, *_ in rows] == ["ok", "ok", "not_html"]
    assert {file for _, _, file, _, via in rows} == {str(warc)} == {via for *_, via in rows}
    assert report.articles_new == 2
    (text,) = _query(warehouse, "select text from articles where url = 'https://news.example/geneve'")[0]
    assert FRENCH in text
    # Landed pages are not read again from the archive.
    again = ingest([source], warehouse, _with_fetch(settings, fetch_settings))
    assert (again.pages_skipped, again.pages_fetched) == (2, 0)
