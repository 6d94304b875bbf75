"""The `wirehouse` command line."""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from wirehouse.runtime import DEFAULT_SERVER, configure_environment, prefect_home, server_api_url, use_running_server

T = TypeVar("T")
app = typer.Typer(help="wirehouse: news pages in, clean deduplicated entity-tagged articles out.", no_args_is_help=True)
warehouse_app = typer.Typer(help="Look after the warehouse files.")
app.add_typer(warehouse_app, name="warehouse")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]  # a day, or a time (UTC unless it says otherwise)
WarehouseOpt = Annotated[Optional[Path], typer.Option("--warehouse", "-w", help="Warehouse folder [default: settings]")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="A TOML file overriding the defaults")]


def _settings(config: Path | None):
    from wirehouse.config.settings import load_settings

    try:
        return load_settings(config)
    except (ValueError, OSError) as exc:
        _fail(str(exc).splitlines()[0])


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _warehouse(option: Path | None, settings) -> Path:
    from wirehouse.warehouse.db import remote_url

    target = option or settings.warehouse.path
    return target if remote_url(target) else target.resolve()


def _flow_command(warehouse: Path | None, config: Path | None):
    """The settings and warehouse of a command that runs a flow, with Prefect's environment set."""
    settings = _settings(config)
    target = _warehouse(warehouse, settings)
    configure_environment()
    use_running_server()
    return settings, target


@app.command()
def run(
    sources: Annotated[Optional[Path], typer.Option("--sources", "-s", help="A sources TOML file")] = None,
    feed: Annotated[list[str], typer.Option("--feed", help="A feed URL (repeatable)")] = [],
    url: Annotated[list[str], typer.Option("--url", help="A page URL (repeatable)")] = [],
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run one ingest. With no sources given, ingest the bundled sample news site."""
    settings, target = _flow_command(warehouse, config)
    from wirehouse.config.sources import adhoc_source, load_sources
    from wirehouse.flows.runner import configured_ingest
    from wirehouse.flows.deployments import ensure_writer_limit
    from wirehouse.progress import showing_progress

    with ExitStack() as stack:
        try:
            chosen = load_sources(sources) if sources else []
            if feed or url:
                chosen.append(adhoc_source(feed, url, allow_private=settings.fetch.allow_private))
        except (ValueError, OSError) as exc:
            _fail(str(exc).splitlines()[0])
        if not chosen:
            chosen, settings = _sample_sources(stack, settings)
        ensure_writer_limit()
        with showing_progress(err) as on_progress:
            report = _run_flow(lambda: configured_ingest(settings)(chosen, target, settings, on_wait=say_waiting, on_progress=on_progress))
    print_report(report)


def _run_flow(call: Callable[[], T]) -> T:
    """Run a flow; a failure ends the command with one line (the flow has logged the traceback)."""
    try:
        return call()
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _utc(moment: datetime) -> datetime:
    """A command-line date or time, read as UTC when it names no zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _stage_seconds(report) -> str:
    return "  ".join(f"{stage} {seconds:.2f}" for stage, seconds in report.stage_seconds.items())


def say_waiting(message: str) -> None:
    """Tell the user the run waits for another writer (a module function: flow parameters are pickled for Dask)."""
    err.print(f"[yellow]{message}[/yellow]")


def _sample_sources(stack: ExitStack, settings):
    """Serve the sample site for the length of `stack`; its sources, and settings that reach it."""
    from wirehouse.config.sources import Source
    from wirehouse.sample import serve_sample_site

    site = stack.enter_context(serve_sample_site())
    console.print(f"No sources given: serving the bundled sample news site ({site.base_url} via {site.proxy_url})")
    fetch = settings.fetch.model_copy(update={"proxy": site.proxy_url})
    return [Source(**spec) for spec in site.sources()], settings.model_copy(update={"fetch": fetch})


def print_report(report) -> None:
    """The summary a run ends with."""
    table = Table(title=f"wirehouse run {report.run_id[:8]}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    failed = ", ".join(f"{k} {v}" for k, v in report.outcomes.items() if k not in ("ok", "not_modified"))
    rows = [
        ("pages fetched", str(report.pages_fetched)),
        ("pages failed", f"{report.pages_failed}" + (f"  ({failed})" if failed else "")),
        ("pages skipped (landed already)", str(report.pages_skipped)),
        ("pages resting (failed: backoff)", str(report.pages_resting)),
        ("articles new / updated / unchanged", f"{report.articles_new} / {report.articles_updated} / {report.articles_unchanged}"),
        ("exact duplicates: same URL", str(report.url_variants)),
        ("exact duplicates: same text", str(report.exact_duplicates)),
        ("near duplicates", str(report.near_duplicates)),
        ("entity mentions", str(report.entities)),
        ("stories new / grown", f"{report.stories_new} / {report.stories_grown}"),
        ("time per stage (s)", _stage_seconds(report)),
    ]
    if len(report.slice_runs) > 1:
        rows.append(("committed in slices (run.commit_every)", f"{len(report.slice_runs)} runs: {report.slice_runs[0][:8]}..{report.slice_runs[-1][:8]}"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if report.by_source:
        console.print(_source_table(report.by_source))
    from wirehouse.warehouse.db import catalog_path

    catalog = catalog_path(report.warehouse)
    console.print(f"warehouse: {catalog}")
    console.print('try: wirehouse sql "select source, count(*) as articles from articles group by source"', soft_wrap=True)


def _outcome_counts(outcomes: dict[str, int], skip=("ok", "not_modified")) -> str:
    """"http_5xx 2, timeout 1": the counts of the outcomes not in `skip`, largest first."""
    counted = sorted(((n, name) for name, n in outcomes.items() if name not in skip and n), key=lambda x: (-x[0], x[1]))
    return ", ".join(f"{name} {n}" for n, name in counted)


def _source_table(by_source: dict[str, dict]) -> Table:
    """The run's compact per-source table: pages, articles, yield, every other outcome."""
    table = Table("source", title="per source", title_justify="left")
    for column in ("pages", "articles", "yield", "unchanged"):
        table.add_column(column, justify="right")
    table.add_column("failed")
    for name, tally in by_source.items():
        pages, articles, outcomes = tally["pages"], tally["articles"], tally["outcomes"]
        table.add_row(
            name, str(pages), str(articles), f"{articles / pages:.2f}" if pages else "-",
            str(outcomes.get("not_modified", 0)), _outcome_counts(outcomes),
        )
    return table


@app.command()
def sources(
    sources: Annotated[Optional[Path], typer.Option("--sources", "-s", help="A sources TOML file")] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List the sources with their last run, yield and failures (from the warehouse).

    With --sources, every source of the file is listed, run or not; without, every source the
    warehouse has seen.
    """
    from wirehouse.config.sources import load_sources
    from wirehouse.tasks.load import read_source_summaries
    from wirehouse.warehouse import db

    settings = _settings(config)
    target = _warehouse(warehouse, settings)
    try:
        listed = load_sources(sources) if sources else []
    except (ValueError, OSError) as exc:
        _fail(str(exc).splitlines()[0])
    if not listed and not db.catalog_path(target).exists():
        _fail(f"no warehouse at {target} and no --sources file: nothing to list")
    stats = {row["source"]: row for row in read_source_summaries(target, settings.fetch)} if db.catalog_path(target).exists() else {}
    names = [source.name for source in listed] or list(stats)
    configured = {source.name: source for source in listed}
    table = Table(title=f"sources in {target}", title_justify="left")
    for column in ("source", "reads", "schedule", "last run", "pages", "articles", "new", "yield", "failed last run", "retrying", "given up"):
        numeric = column in ("pages", "articles", "new", "yield", "retrying", "given up")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column in ("source", "last run"))
    for name in names:
        row, source = stats.get(name), configured.get(name)
        reads = _source_reads(source) if source else ""
        schedule = (source.schedule or "") if source else ""
        if source is not None and not source.enabled:
            schedule = f"{schedule} (disabled)".strip()
        if row is None:
            table.add_row(name, reads, schedule, "never", *[""] * 7)
            continue
        table.add_row(
            name, reads, schedule, f"{row['last_run']:%Y-%m-%d %H:%M}", str(row["pages"]), str(row["articles"]),
            str(row["new_articles"]), "-" if row["yield"] is None else f"{row['yield']:.2f}",
            _outcome_counts(row["failures"]), str(row["retrying"]), str(row["given_up"]),
        )
    console.print(table)


def _source_reads(source) -> str:
    """"feeds 2, sitemaps 1": what a source reads, by kind."""
    kinds = ("feeds", "sitemaps", "homepages", "urls", "url_files", "warc_files")
    return ", ".join(f"{kind} {len(getattr(source, kind))}" for kind in kinds if getattr(source, kind))


@app.command()
def extract(
    path: Annotated[Optional[Path], typer.Argument(help="An HTML file")] = None,
    url: Annotated[Optional[str], typer.Option(help="The page's URL")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    input: Annotated[Optional[Path], typer.Option("--input", help="Manifest JSONL: {id, path, url} a line")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Output JSONL")] = None,
    config: ConfigOpt = None,
) -> None:
    """Extract one page (PATH), or a batch (--input MANIFEST --output OUT)."""
    from wirehouse.tasks.extract_page import extract_article, format_article
    from wirehouse.tasks.extract_pool import extract_manifest  # no Prefect: the batch command starts fast

    settings = _settings(config)
    if input is not None:
        if output is None:
            _fail("--input needs --output")
        counts = extract_manifest(input, output, settings.extract)
        err.print(f"extracted {counts}")
        return
    if path is None:
        _fail("give an HTML file, or --input and --output")
    try:
        html = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        _fail(f"{path}: {exc.strerror}")
    result = extract_article(html, url or path.resolve().as_uri(), settings.extract)
    from wirehouse.tasks.records import Rejection

    if isinstance(result, Rejection):
        _fail(f"{path}: {result.outcome}: {result.reason}")
    if as_json:
        from dataclasses import asdict

        console.print_json(json.dumps(asdict(result), default=str))
    else:
        print(format_article(result))


@app.command()
def sql(
    query: Annotated[Optional[str], typer.Argument(help="SQL to run")] = None,
    file: Annotated[Optional[str], typer.Option("--file", "-f", help="A documented query of warehouse/queries/ by name")] = None,
    param: Annotated[list[str], typer.Option("--param", "-p", help="A query parameter, key=value (repeatable)")] = [],
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most")] = 50,
) -> None:
    """Run a SQL query, or a documented one (--file NAME --param key=value), on the warehouse (read-only)."""
    import duckdb

    from wirehouse.warehouse import db
    from wirehouse.warehouse.queries import bind, load_query

    if bool(query) == bool(file):
        _fail('give a query, e.g. wirehouse sql "select count(*) from articles", or --file NAME; the files: ' + ", ".join(db.query_names()))
    values = {}
    if file:
        pairs = [p.split("=", 1) for p in param]
        if any(len(pair) != 2 for pair in pairs):
            _fail("--param takes key=value")
        try:
            chosen = load_query(file)
            values = bind(chosen, dict(pairs))
        except ValueError as exc:
            _fail(str(exc))
        query = chosen.sql
    target = _warehouse(warehouse, _settings(config))
    if not db.catalog_path(target).exists():
        _fail(f"no warehouse at {target}: run `wirehouse run` first")
    try:
        with db.connect_catalog(target) as con:
            cursor = con.execute(query, values or None)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            rows = cursor.fetchmany(limit + 1)
    except duckdb.Error as exc:
        _fail(str(exc).splitlines()[0])
    table = Table(*columns)
    for row in rows[:limit]:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(first {limit} rows; --limit to see more)")


@app.command()
def enrich(
    since: Annotated[datetime, typer.Option(help="Re-enrich the articles published (or, undated, fetched) on or after this date", formats=DATE_FORMATS)],
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Enrich landed articles again (entities, keyphrases, tone), e.g. after a model change."""
    settings, target = _flow_command(warehouse, config)
    from wirehouse.flows.enrich import reenrich

    since = _utc(since)
    report = _run_flow(lambda: reenrich(target, since, settings, on_wait=say_waiting))
    console.print(
        f"re-enriched articles since {since:%Y-%m-%d}: {report.entities} entity mentions "
        f"(run {report.run_id[:8]}; {_stage_seconds(report)})"
    )


@app.command()
def backfill(
    since: Annotated[datetime, typer.Option(help="First fetch day (or time) of the stored pages to process again", formats=DATE_FORMATS)],
    until: Annotated[Optional[datetime], typer.Option(help="Fetch day (or time) to stop before [default: now]", formats=DATE_FORMATS)] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Extract, dedup, enrich and group stored pages again (no refetching), e.g. after an extraction fix."""
    settings, target = _flow_command(warehouse, config)
    from wirehouse.flows.backfill import backfill as backfill_flow

    since, until = _utc(since), _utc(until) if until else datetime.now(timezone.utc)
    report = _run_flow(lambda: backfill_flow(target, since, until, settings, on_wait=say_waiting))
    console.print(
        f"backfilled {report.pages_fetched} stored pages fetched {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}: "
        f"articles new {report.articles_new}, updated {report.articles_updated}, unchanged {report.articles_unchanged} "
        f"(run {report.run_id[:8]}; {_stage_seconds(report)})"
    )


@warehouse_app.command("rebuild")
def warehouse_rebuild(warehouse: WarehouseOpt = None, config: ConfigOpt = None) -> None:
    """Rebuild the DuckDB catalog from the Parquet files (safe while analysts are connected)."""
    from wirehouse.warehouse import db

    target = _warehouse(warehouse, _settings(config))
    db.init_warehouse(target)
    console.print(f"rebuilt {db.build_catalog(target)}")


@warehouse_app.command("compact")
def warehouse_compact(
    full: Annotated[bool, typer.Option("--full", help="Merge each table into one part")] = False,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Merge the Parquet parts that have piled up (every query reads every part of its table).

    Takes the writer lock as a run does. Analysts' queries may read a table twice over, or fail
    on a part just removed, for the moment the merged parts are moved into place.
    """
    from wirehouse.tasks.load import open_run
    from wirehouse.warehouse import db

    settings = _settings(config)
    target = _warehouse(warehouse, settings)
    if db.remote_url(target):
        # No file lock spans machines: hold the ingest's Prefect slot instead (module docstring of db).
        from prefect.concurrency.sync import concurrency

        from wirehouse.flows.ingest import WRITER_LIMIT

        configure_environment()
        use_running_server()
        holding = concurrency(WRITER_LIMIT, strict=False)
    else:
        holding = ExitStack()
    try:
        # As a run opens: the lock, then what a writer cut short is finished or removed.
        with open_run(target, settings.warehouse, say_waiting), holding:
            merged = db.compact(target, settings.warehouse.compact_after_parts, full)
    except (db.WarehouseBusy, ValueError, OSError) as exc:
        _fail(str(exc).splitlines()[0])
    if not merged:
        why = "every table is one part" if full else f"no table has {settings.warehouse.compact_after_parts} parts of one tier"
        console.print(f"nothing to compact in {target} ({why})")
    for table, parts in merged.items():
        console.print(f"{table}: {parts} parts merged, {len(db.part_files(target, table))} left")


@app.command()
def server(address: Annotated[str, typer.Option(help="host:port to bind")] = DEFAULT_SERVER) -> None:
    """Start the Prefect server and UI on 127.0.0.1:4200, with the project's own PREFECT_HOME."""
    configure_environment()
    host, port = address.rsplit(":", 1)
    # The UI calls the API at this address; Prefect would otherwise assume port 4200.
    os.environ.setdefault("PREFECT_UI_API_URL", server_api_url(address))
    console.print(f"Prefect UI at http://{address} (PREFECT_HOME={prefect_home()})")
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", port]
    # Become the server process, so that its process id is this command's.
    os.execv(sys.executable, command)


@app.command()
def serve(
    sources: Annotated[Optional[Path], typer.Option("--sources", "-s", help="A sources TOML file")] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    cron: Annotated[Optional[str], typer.Option(help="Cron schedule [default: settings serve.cron]")] = None,
) -> None:
    """Serve the ingest flow on cron schedules until stopped (Ctrl-C): one deployment per group of
    sources sharing a `schedule` (else serve.cron); --cron sets one schedule for all."""
    settings = _settings(config)
    target = _warehouse(warehouse, settings)
    configure_environment()
    if not use_running_server():
        _fail(f"no Prefect server at {DEFAULT_SERVER}: start one with `wirehouse server` (or set PREFECT_API_URL)")
    from wirehouse.config.sources import load_sources
    from wirehouse.flows.deployments import serve_ingest

    with ExitStack() as stack:
        try:
            chosen, settings = (load_sources(sources), settings) if sources else _sample_sources(stack, settings)
        except (ValueError, OSError) as exc:
            _fail(str(exc).splitlines()[0])
        serve_ingest(chosen, target, settings, cron)


if __name__ == "__main__":
    # Run the commands of the imported module, not of __main__: the functions a flow takes as
    # parameters (say_waiting) are then pickled by name when Dask ships a task.
    from wirehouse.cli import app as imported_app

    imported_app()
