from datetime import datetime, timedelta, timezone

from wirehouse.tasks.load import RunReport, merge_reports, read_source_health
from wirehouse.tasks.report import status_markdown, summary_rows
from wirehouse.warehouse import db

START = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)


def _run(warehouse, hour, outcomes_by_source, flow_run_id=None):
    """Commit a run whose page fetches had these outcomes, per source."""
    run_id = db.new_run_id()
    rows = [
        {"url": f"https://{source}.example/{hour}/{i}", "source": source, "kind": "page", "outcome": outcome,
         "fetched_at": START + timedelta(hours=hour)}
        for source, outcomes in outcomes_by_source.items()
        for i, outcome in enumerate(outcomes)
    ]
    db.write_part(warehouse, "fetches", run_id, rows)
    db.write_part(warehouse, "runs", run_id, [{"run_id": run_id, "flow_run_id": flow_run_id, "started_at": START + timedelta(hours=hour), "status": "ok"}])
    return run_id


def test_a_source_whose_yield_collapses_is_flagged_against_its_baseline(tmp_path, settings):
    db.init_warehouse(tmp_path)
    for hour in range(3):
        _run(tmp_path, hour, {"steady": ["ok"] * 10, "drifting": ["ok"] * 9 + ["not_article"]})
    last = _run(tmp_path, 3, {"steady": ["ok"] * 9 + ["http_5xx"], "drifting": ["ok"] * 2 + ["extraction_empty"] * 8,
                              "newcomer": ["ok"] * 4, "walled": ["blocked"] * 3 + ["ok"]})
    health = {row["source"]: row for row in read_source_health(tmp_path, last, settings.serve)}
    assert health["steady"]["state"] == "ok" and health["steady"]["http_5xx_rate"] == 0.1
    assert health["drifting"]["state"] == "warning: yield below baseline"
    assert (health["drifting"]["yield"], health["drifting"]["baseline_yield"], health["drifting"]["baseline_runs"]) == (0.2, 0.9, 3)
    assert health["drifting"]["empty_rate"] == 0.8
    assert health["newcomer"]["state"] == "new"
    assert health["walled"]["state"] == "warning: failures" and health["walled"]["blocked_rate"] == 0.75
    report = RunReport(last, str(tmp_path), START, pages_fetched=30, articles_new=12)
    status = status_markdown(report, list(health.values()))
    assert "attention needed" in status and "**drifting**" in status and "**walled**" in status
    assert "**steady**" not in status
    assert {"metric": "articles new", "value": "12"} in summary_rows(report)


def test_a_run_committed_in_slices_is_one_run_to_its_health_and_its_report(tmp_path, settings):
    db.init_warehouse(tmp_path)
    for ingest in range(3):  # each ingest committed in two slices of one flow run
        for part in range(2):
            _run(tmp_path, ingest * 2 + part, {"steady": ["ok"] * 5}, flow_run_id=f"flow-{ingest}")
    slices = [_run(tmp_path, 6 + part, {"steady": ["ok"] * 4 + ["http_5xx"] * part}, flow_run_id="flow-3") for part in range(2)]
    (health,) = read_source_health(tmp_path, slices[0], settings.serve)
    assert (health["pages"], health["yield"], health["baseline_runs"]) == (9, 0.889, 3)
    first = RunReport(slices[0], str(tmp_path), START, pages_fetched=5, outcomes={"ok": 5}, stage_seconds={"fetch": 1.0},
                      by_source={"steady": {"pages": 5, "articles": 5, "outcomes": {"ok": 5}}})
    second = RunReport(slices[1], str(tmp_path), START, pages_fetched=4, pages_failed=1, outcomes={"ok": 4, "http_5xx": 1},
                       stage_seconds={"fetch": 2.0, "load": 0.5}, by_source={"steady": {"pages": 5, "articles": 4, "outcomes": {"ok": 4, "http_5xx": 1}}})
    merged = merge_reports([first, second])
    assert (merged.run_id, merged.slice_runs, merged.pages_fetched, merged.pages_failed) == (slices[0], slices, 9, 1)
    assert merged.outcomes == {"ok": 9, "http_5xx": 1} and merged.stage_seconds == {"fetch": 3.0, "load": 0.5}
    assert merged.by_source == {"steady": {"pages": 10, "articles": 9, "outcomes": {"http_5xx": 1, "ok": 9}}}
