from datetime import datetime, timedelta, timezone

from wirehouse.tasks.load import RunReport, read_source_health
from wirehouse.tasks.report import status_markdown, summary_rows
from wirehouse.warehouse import db

START = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)


def _run(warehouse, hour, outcomes_by_source):
    """Commit a run whose page fetches had these outcomes, per source."""
    run_id = db.new_run_id()
    rows = [
        {"url": f"https://{source}.example/{hour}/{i}", "source": source, "kind": "page", "outcome": outcome,
         "fetched_at": START + timedelta(hours=hour)}
        for source, outcomes in outcomes_by_source.items()
        for i, outcome in enumerate(outcomes)
    ]
    db.write_part(warehouse, "fetches", run_id, rows)
    db.write_part(warehouse, "runs", run_id, [{"run_id": run_id, "started_at": START + timedelta(hours=hour), "status": "ok"}])
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
