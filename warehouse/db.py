"""The warehouse on disk: Parquet parts (the source of truth) and the DuckDB catalog over them.

Layout of a warehouse folder:

    <warehouse>/parquet/<table>/<run_id>.parquet   one immutable part per table per run
    <warehouse>/wirehouse.duckdb                   views over the parts (no data of its own)
    <warehouse>/.lock                              held by the one run that writes

A part is written to a hidden temporary name and renamed into place, so readers never see half
a file. A run's row in `runs` is written last: it is the commit marker, and every view keeps
only rows of committed runs. A run killed half-way leaves parts no view shows, removed by the
next writer. The catalog is built in a temporary file and renamed over the old one, so it is
never opened for writing in place and an analyst holding it open read-only blocks nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from wirehouse.warehouse.schema import TABLES, schema_of

CATALOG_NAME = "wirehouse.duckdb"
EMPTY_PART = "_empty.parquet"
_RUN_PART = re.compile(r"^(?P<run_id>[0-9a-f]{32})\.parquet$")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's writer lock."""


def parquet_root(warehouse: Path) -> Path:
    """The folder holding one sub-folder of parts per table."""
    return Path(warehouse).resolve() / "parquet"


def part_path(warehouse: Path, table: str, run_id: str) -> Path:
    """Where one run's part of one table lives: the only place a dataset path is built."""
    return parquet_root(warehouse) / table / f"{run_id}.parquet"


def catalog_path(warehouse: Path) -> Path:
    """The DuckDB file analysts open."""
    return Path(warehouse).resolve() / CATALOG_NAME


def new_run_id() -> str:
    """A fresh run id (32 hex digits; parts are named after it)."""
    return uuid.uuid4().hex


def _view_files() -> list[tuple[str, str]]:
    sql_dir = resources.files("wirehouse.warehouse").joinpath("sql")
    files = sorted(entry for entry in sql_dir.iterdir() if entry.name.endswith(".sql"))
    return [(entry.name, entry.read_text(encoding="utf-8")) for entry in files]


def query_names() -> list[str]:
    """The names of the documented queries in warehouse/queries/."""
    folder = resources.files("wirehouse.warehouse").joinpath("queries")
    return sorted(entry.name[: -len(".sql")] for entry in folder.iterdir() if entry.name.endswith(".sql"))


def query_text(name: str) -> str:
    """The SQL of one documented query (warehouse/queries/<name>.sql); ValueError if unknown."""
    if name not in query_names():
        raise ValueError(f"no query named {name!r}; there are: {', '.join(query_names())}")
    return resources.files("wirehouse.warehouse").joinpath("queries", f"{name}.sql").read_text(encoding="utf-8")


def view_statements(warehouse: Path) -> list[str]:
    """The SQL that defines every view and macro, with the warehouse's Parquet root filled in."""
    root = parquet_root(warehouse).as_posix().replace("'", "''")
    return [text.replace("{parquet}", root) for _, text in _view_files()]


def catalog_version(warehouse: Path) -> str:
    """A digest of the view definitions and the Parquet root: a changed one means rebuild."""
    digest = hashlib.sha256()
    for statement in view_statements(warehouse):
        digest.update(statement.encode("utf-8"))
    return digest.hexdigest()[:16]


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def init_warehouse(warehouse: Path) -> None:
    """Create the folders and an empty part per table (so every view has a file to read),
    then build the catalog if it is missing or out of date.

    The empty part always has the table's current schema: views read the parts with
    union_by_name, so a column added since older parts were written reads as null in them.
    """
    for table in TABLES:
        empty = parquet_root(warehouse) / table / EMPTY_PART
        if not empty.exists() or not pq.read_schema(empty).equals(schema_of(table), check_metadata=False):
            _write_parquet(schema_of(table).empty_table(), empty)
    if _stored_catalog_version(warehouse) != catalog_version(warehouse):
        build_catalog(warehouse)


def _stored_catalog_version(warehouse: Path) -> str | None:
    path = catalog_path(warehouse)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("select version from _catalog").fetchone()[0]
    except duckdb.Error:
        return None


def build_catalog(warehouse: Path) -> Path:
    """(Re)build the DuckDB catalog from the view definitions, atomically.

    Returns:
        The path of the catalog file.
    """
    path = catalog_path(warehouse)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        for statement in view_statements(warehouse):
            con.execute(statement)
        con.execute("create table _catalog (version varchar, built_at timestamptz)")
        con.execute("insert into _catalog values (?, ?)", [catalog_version(warehouse), _now()])
    os.replace(tmp, path)
    return path


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse's views: the pipeline's own reads.

    It holds no lock on any file, so it never gets in an analyst's way.
    """
    con = duckdb.connect()
    for statement in view_statements(warehouse):
        con.execute(statement)
    return con


def connect_catalog(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse's DuckDB file, as an analyst opens it."""
    return duckdb.connect(str(catalog_path(warehouse)), read_only=True)


def write_part(warehouse: Path, table: str, run_id: str, rows: list[dict]) -> Path | None:
    """Write one run's rows of one table as an immutable Parquet part (nothing when no rows)."""
    if not rows:
        return None
    loaded_at = _now()
    stamped = [{**row, "_run_id": run_id, "_loaded_at": loaded_at} for row in rows]
    path = part_path(warehouse, table, run_id)
    _write_parquet(pa.Table.from_pylist(stamped, schema=schema_of(table)), path)
    return path


def committed_run_ids(warehouse: Path) -> set[str]:
    """The ids of runs whose commit marker is on disk."""
    runs_dir = parquet_root(warehouse) / "runs"
    return {match["run_id"] for p in runs_dir.glob("*.parquet") if (match := _RUN_PART.match(p.name))}


def remove_uncommitted_parts(warehouse: Path) -> list[Path]:
    """Delete parts left by runs that never committed (killed mid-load). Call under the lock."""
    committed = committed_run_ids(warehouse)
    removed = []
    for table in TABLES:
        for part in (parquet_root(warehouse) / table).glob("*"):
            match = _RUN_PART.match(part.name)
            stale_tmp = part.name.startswith(".") and part.name.endswith(".tmp")
            if stale_tmp or (match and match["run_id"] not in committed):
                part.unlink(missing_ok=True)
                removed.append(part)
    return removed


@contextmanager
def writer_lock(warehouse: Path, timeout: float, on_wait=None) -> Iterator[None]:
    """Hold the warehouse's single-writer lock.

    Args:
        warehouse: the warehouse folder.
        timeout: seconds to wait for another writer before raising WarehouseBusy.
        on_wait: called with a message once if the lock is held by someone else.
    """
    Path(warehouse).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(warehouse).resolve() / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(f"another run is writing to {warehouse}; waiting up to {timeout:.0f} s for it to finish")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise WarehouseBusy(
                f"another run has been writing to {warehouse} for over {timeout:.0f} s; try again later"
            ) from None
    try:
        yield
    finally:
        lock.release()


def _now() -> datetime:
    return datetime.now(timezone.utc)
