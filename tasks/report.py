"""Report: what a run did, published as Prefect artifacts so the UI alone tells if it was healthy.

Called from the flow body (not a task), so the artifacts belong to the flow run.
"""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from wirehouse.tasks.load import RunReport


def summary_rows(report: RunReport) -> list[dict]:
    """The run's counts as (metric, value) rows."""
    outcomes = ", ".join(f"{name} {count}" for name, count in report.outcomes.items()) or "none"
    rows = [
        ("pages fetched", report.pages_fetched),
        ("pages failed", report.pages_failed),
        ("pages skipped (landed already)", report.pages_skipped),
        ("outcomes", outcomes),
        ("articles new", report.articles_new),
        ("articles updated", report.articles_updated),
        ("articles unchanged", report.articles_unchanged),
        ("exact duplicates: same URL", report.url_variants),
        ("exact duplicates: same text", report.exact_duplicates),
        ("near duplicates", report.near_duplicates),
        ("entity mentions", report.entities),
        *[(f"stories {kind}", getattr(report, f"stories_{kind}")) for kind in ("new", "grown") if hasattr(report, f"stories_{kind}")],
        *[(f"seconds: {stage}", seconds) for stage, seconds in report.stage_seconds.items()],
    ]
    return [{"metric": name, "value": str(value)} for name, value in rows]


def status_markdown(report: RunReport, health: list[dict]) -> str:
    """One paragraph: healthy or not, and which sources need a look."""
    flagged = [row for row in health if row["state"].startswith("warning")]
    lines = [f"## wirehouse run `{report.run_id[:8]}`: {'attention needed' if flagged else 'healthy'}", ""]
    lines.append(
        f"{report.pages_fetched} pages fetched, {report.pages_failed} failed; {report.articles_new} new articles, "
        f"{report.near_duplicates} near and {report.exact_duplicates + report.url_variants} exact duplicates."
    )
    for row in flagged:
        lines.append(f"- **{row['source']}**: {row['state']} (yield {row['yield']}, baseline {row['baseline_yield']})")
    return "\n".join(lines)


def publish_run_report(report: RunReport, health: list[dict]) -> None:
    """Create the run's artifacts: a status note, the summary table and the source health table."""
    create_markdown_artifact(key="ingest-status", markdown=status_markdown(report, health), description="Run status")
    create_table_artifact(key="ingest-summary", table=summary_rows(report), description="What the run did")
    create_table_artifact(
        key="source-health",
        table=[{k: ("" if v is None else v) for k, v in row.items()} for row in health] or [{"source": "(no pages fetched)"}],
        description="Per source: yield against its recent baseline, failure rates",
    )

