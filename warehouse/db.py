"""The warehouse on disk: Parquet parts (the source of truth) and the DuckDB catalog over them.

Layout of a warehouse folder:

    <warehouse>/parquet/<table>/<run_id>.parquet   one immutable part per table per run
    <warehouse>/parquet/<table>/merged<tier>-<id>.parquet   committed runs' parts compacted (`compact`)
    <warehouse>/wirehouse.duckdb                   views over the parts (no data of its own)
    <warehouse>/.lock                              held by the one run that writes

A part is written to a hidden temporary name and renamed into place, so readers never see half
a file. A run's row in `runs` is written last: it is the commit marker, and every view keeps
only rows of committed runs. A run killed half-way leaves parts no view shows, removed by the
next writer. The catalog is built in a temporary file and renamed over the old one, so it is
never opened for writing in place and an analyst holding it open read-only blocks nothing.

On object storage (`warehouse.path = "s3://bucket/prefix"`) the parts live under
`s3://bucket/prefix/parquet/` and the catalog in a local cache folder (its views read the parts
through DuckDB's httpfs). S3 has no rename, so a part is written under its final name; that is
safe because parts are immutable and no view shows one before its run's `runs` part, written
last, commits it. Endpoint and credentials come from the AWS_* environment variables
(AWS_ENDPOINT_URL for a non-AWS server), never from the TOML. A file lock cannot span machines:
on object storage there is one writer per warehouse by convention, coordinated by the Prefect
global concurrency limit `wirehouse-warehouse-writer` that every ingest run holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from functools import lru_cache
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from wirehouse.warehouse.schema import TABLES, schema_of

CATALOG_NAME = "wirehouse.duckdb"
EMPTY_PART = "_empty.parquet"
_RUN_PART = re.compile(r"^(?P<run_id>[0-9a-f]{32})\.parquet$")
# A compacted part: the rows of many committed runs (tier 1 merges run parts, tier 2 tier-1
# parts, ...). The runs it holds are listed in its footer, under RUNS_KEY.
_MERGED_PART = re.compile(r"^merged(?P<tier>[1-9])-[0-9a-f]{32}\.parquet$")
RUNS_KEY = b"wirehouse.runs"
COMPACTING = ".compacting"  # a table's sub-folder for a compaction under way: no view's glob sees into it
_JOURNAL = "journal.json"


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's writer lock."""


def remote_url(warehouse: Path | str) -> str | None:
    """The s3:// URL of a warehouse on object storage, None for a local folder.

    Also recognised after a trip through Path (a flow parameter typed Path), which folds the
    scheme's "//" into "/".
    """
    text = str(warehouse)
    if not text.startswith("s3:/"):
        return None
    return "s3://" + text[len("s3:/"):].strip("/")


def parquet_root(warehouse: Path | str) -> Path | str:
    """The folder holding one sub-folder of parts per table (an s3:// URL on object storage)."""
    url = remote_url(warehouse)
    return f"{url}/parquet" if url else Path(warehouse).resolve() / "parquet"


def table_dir(warehouse: Path | str, table: str) -> Path | str:
    """The folder of one table's parts."""
    root = parquet_root(warehouse)
    return f"{root}/{table}" if isinstance(root, str) else root / table


def table_file(warehouse: Path | str, table: str, name: str) -> Path | str:
    """The file `name` in one table's folder: the only place a dataset path is built."""
    folder = table_dir(warehouse, table)
    return f"{folder}/{name}" if isinstance(folder, str) else folder / name


def part_path(warehouse: Path | str, table: str, run_id: str) -> Path | str:
    """Where one run's part of one table lives."""
    return table_file(warehouse, table, f"{run_id}.parquet")


def catalog_path(warehouse: Path | str) -> Path:
    """The DuckDB file analysts open: in the warehouse folder, or for one on object storage in
    the local cache ($XDG_CACHE_HOME or ~/.cache, then wirehouse/s3/<bucket>/<prefix>/)."""
    url = remote_url(warehouse)
    if url is None:
        return Path(warehouse).resolve() / CATALOG_NAME
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "wirehouse" / "s3" / url[len("s3://"):] / CATALOG_NAME


@lru_cache(maxsize=1)
def _s3():
    """The fsspec S3 filesystem (s3fs, configured by the AWS_* environment), without listing
    caches: a run must see the parts committed by others."""
    import fsspec

    return fsspec.filesystem("s3", use_listings_cache=False)


def _s3_key(url: str) -> str:
    return url[len("s3://"):]


def _s3_secret() -> str:
    """DuckDB's CREATE SECRET for S3 from the AWS_* environment (a temporary secret, per database)."""
    options = {
        "key_id": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "session_token": os.environ.get("AWS_SESSION_TOKEN"),
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        # A server of one's own (MinIO, moto, Ceph) is addressed by path, often without TLS.
        options.update(endpoint=parts.netloc, url_style="path", use_ssl="true" if parts.scheme == "https" else "false")
    pairs = ", ".join(f"{key} '{value.replace(chr(39), chr(39) * 2)}'" for key, value in options.items() if value)
    return f"create or replace temporary secret wirehouse_s3 (type s3, {pairs})"


def _attach_storage(con: duckdb.DuckDBPyConnection, warehouse: Path | str) -> duckdb.DuckDBPyConnection:
    """Let `con` read a warehouse on object storage: httpfs loaded from its PyPI package (no
    download), and the S3 secret. Nothing for a local warehouse."""
    if remote_url(warehouse) is not None:
        import duckdb_extension_httpfs

        extension = next(Path(duckdb_extension_httpfs.__file__).parent.glob(f"extensions/v{duckdb.__version__}/httpfs.duckdb_extension"))
        con.execute(f"load '{extension.as_posix()}'")
        con.execute(_s3_secret())
    return con


def new_run_id() -> str:
    """A fresh run id (32 hex digits; parts are named after it)."""
    return uuid.uuid4().hex


@lru_cache(maxsize=1)
def _view_files() -> tuple[tuple[str, str], ...]:
    """The package's view files, read once a process: `connect` keys its kept database by them on every read."""
    sql_dir = resources.files("wirehouse.warehouse").joinpath("sql")
    files = sorted(entry for entry in sql_dir.iterdir() if entry.name.endswith(".sql"))
    return tuple((entry.name, entry.read_text(encoding="utf-8")) for entry in files)


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
    root = str(parquet_root(warehouse)).replace("'", "''")
    return [text.replace("{parquet}", root) for _, text in _view_files()]


def catalog_version(warehouse: Path) -> str:
    """A digest of the view definitions and the Parquet root: a changed one means rebuild."""
    digest = hashlib.sha256()
    for statement in view_statements(warehouse):
        digest.update(statement.encode("utf-8"))
    return digest.hexdigest()[:16]


def _write_parquet(table: pa.Table, path: Path | str) -> None:
    with _part_writer(path, table.schema) as writer:
        writer.write_table(table)


def init_warehouse(warehouse: Path) -> None:
    """Create the folders and an empty part per table (so every view has a file to read),
    then build the catalog if it is missing or out of date.

    The empty part always has the table's current schema: views read the parts with
    union_by_name, so a column added since older parts were written reads as null in them.
    """
    for table in TABLES:
        empty = table_file(warehouse, table, EMPTY_PART)
        if not _has_schema(empty, schema_of(table)):
            _write_parquet(schema_of(table).empty_table(), empty)
    if _stored_catalog_version(warehouse) != catalog_version(warehouse):
        build_catalog(warehouse)


def _has_schema(path: Path | str, schema: pa.Schema) -> bool:
    exists = _s3().exists(_s3_key(path)) if isinstance(path, str) else path.exists()
    return exists and _read_schema(path).equals(schema, check_metadata=False)


def _read_schema(path: Path | str) -> pa.Schema:
    """A part's schema, with its footer's metadata, from its footer alone."""
    return pq.read_schema(_s3_key(path), filesystem=_s3()) if isinstance(path, str) else pq.read_schema(path)


def _part_names(warehouse: Path | str, table: str) -> list[str]:
    """The file names in one table's folder."""
    folder = table_dir(warehouse, table)
    if isinstance(folder, str):
        key = _s3_key(folder)
        return [name.rsplit("/", 1)[-1] for name in _s3().ls(key, detail=False)] if _s3().exists(key) else []
    return [part.name for part in folder.glob("*")]


def _remove_part(warehouse: Path | str, table: str, name: str) -> None:
    path = table_file(warehouse, table, name)
    if isinstance(path, str):
        _s3().rm(_s3_key(path))  # S3's delete of a missing key succeeds: a compaction may be finished again
    else:
        path.unlink(missing_ok=True)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with _attach_storage(duckdb.connect(str(tmp)), warehouse) as con:
        for statement in view_statements(warehouse):
            con.execute(statement)
        con.execute("create table _catalog (version varchar, built_at timestamptz)")
        con.execute("insert into _catalog values (?, ?)", [catalog_version(warehouse), _now()])
    os.replace(tmp, path)
    return path


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A connection (a cursor) to this process's in-memory DuckDB database over the warehouse's
    views: the pipeline's own reads. Close it after use (`with db.connect(...) as con`).

    The database is made once per warehouse (and view version, and S3 settings) and kept for
    `READS_PER_DATABASE` reads: creating every view binds every Parquet part's schema, which cost
    0.6 s and 56 MiB a read at 100,000 articles (50 runs), for reads that themselves took a tenth
    of that. The views list the parts at each query, so a kept database sees every commit. A
    cursor's registered tables are its own, so threads read at once. It holds no lock on any
    file, so it never gets in an analyst's way.

    Then a new one takes over: DuckDB (1.5.5) keeps some memory of every query a database ran
    until the database closes, a few KiB for a join and more for the pipeline's reads (a slice's
    reads over a growing warehouse kept 0.6 MiB more of the C heap each round; README). A
    database that is let go closes once its last open cursor does.
    """
    key = database_key(warehouse)
    with _DATABASES_LOCK:
        if _READS.get(key, 0) >= READS_PER_DATABASE:
            _let_go(key)
        if key not in _DATABASES:
            if len(_DATABASES) >= _KEPT_DATABASES:  # the oldest goes
                _let_go(next(iter(_DATABASES)))
            _DATABASES[key] = _open_database(warehouse)
        _READS[key] = _READS.get(key, 0) + 1
        return _DATABASES[key].cursor()


def database_key(warehouse: Path) -> tuple[str, str, str]:
    """What a kept database is kept by: the Parquet root, the view version and the S3 settings."""
    return str(parquet_root(warehouse)), catalog_version(warehouse), _s3_secret() if remote_url(warehouse) else ""


def _let_go(key: tuple[str, str, str]) -> None:
    """Drop a kept database without closing it: closing would break the cursors other threads
    still read through; it closes itself when the last of them is closed."""
    _DATABASES.pop(key, None)
    _READS.pop(key, None)


_DATABASES: dict[tuple[str, str, str], duckdb.DuckDBPyConnection] = {}
_READS: dict[tuple[str, str, str], int] = {}
_DATABASES_LOCK = threading.Lock()
_KEPT_DATABASES = 4
READS_PER_DATABASE = 100  # about three slices of an ingest


def _open_database(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = _attach_storage(duckdb.connect(), warehouse)
    # A kept database would otherwise keep every block of Parquet it ever read (up to 80% of RAM).
    con.execute("set global enable_external_file_cache = false")
    # ... and up to 128 MiB its queries freed: flushed after a query that used 8 MiB (46 MiB less
    # after three rounds of a slice's reads at 100,000 articles, as fast).
    con.execute("set global allocator_flush_threshold = '8MB'")
    # The reads scan a table twice on purpose: the ids first, on narrow columns, then those ids'
    # rows (`articles_among`). DuckDB's common-subplan pass would share the two scans by
    # materializing one with every column: every landed text at once (+330 MiB at 100,000).
    con.execute("set global disabled_optimizers = 'common_subplan'")
    for statement in view_statements(warehouse):
        con.execute(statement)
    return con


def connect_catalog(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse's DuckDB file, as an analyst opens it."""
    return _attach_storage(duckdb.connect(str(catalog_path(warehouse)), read_only=True), warehouse)


def write_part(warehouse: Path, table: str, run_id: str, rows: Iterable[dict]) -> Path | None:
    """Write one run's rows of one table as an immutable Parquet part (nothing when no rows).

    `rows` may be a generator: they are turned into Arrow and written a row group at a time
    (about `ROW_GROUP_BYTES` each), so a slice's pages, texts and mentions are never all held
    twice more (as stamped dicts and as one Arrow table) while the part is written.
    """
    rows = iter(rows)
    first = list(islice(rows, _SIZING_ROWS))
    if not first:
        return None
    loaded_at, schema = _now(), schema_of(table)
    per_group = min(max(ROW_GROUP_BYTES // max(sum(map(_row_bytes, first)) // len(first), 1), _SIZING_ROWS), MAX_GROUP_ROWS)
    path = part_path(warehouse, table, run_id)
    with _part_writer(path, schema) as writer:
        group = first
        while group:
            stamped = [{**row, "_run_id": run_id, "_loaded_at": loaded_at} for row in group]
            writer.write_table(pa.Table.from_pylist(stamped, schema=schema))
            group = list(islice(rows, per_group))
    return path


ROW_GROUP_BYTES = 8 << 20  # about this much memory a row group's rows take as Python objects
MAX_GROUP_ROWS = 1 << 17
_SIZING_ROWS = 64  # a part's first rows: the mean row's size sets the rows a group
_VALUE_BYTES = 64  # what a value costs a dict row besides its characters (its slot, its object)


def _row_bytes(row: dict) -> int:
    """About the memory a row takes as a Python dict: each value's object and slot, and the text of its strings."""
    size = 0
    for value in row.values():
        size += _VALUE_BYTES
        if isinstance(value, (str, bytes)):
            size += len(value)
        elif isinstance(value, (list, tuple)):
            size += sum(_VALUE_BYTES + len(item) if isinstance(item, str) else _VALUE_BYTES for item in value)
    return size


@contextmanager
def _part_writer(path: Path | str, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A Parquet writer into a part: through a hidden temporary name renamed into place when
    done (removed if writing fails); on object storage under its final name (see above)."""
    if isinstance(path, str):
        with pq.ParquetWriter(_s3_key(path), schema, compression="zstd", filesystem=_s3()) as writer:
            yield writer
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            yield writer
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def committed_run_ids(warehouse: Path) -> set[str]:
    """The ids of runs whose commit marker is on disk."""
    return runs_with_parts(warehouse, "runs")


def runs_with_parts(warehouse: Path, table: str) -> set[str]:
    """The ids of the runs whose rows of `table` are on disk (committed or not): in a part of
    their own or in a compacted one."""
    runs = set()
    for name in _part_names(warehouse, table):
        if match := _RUN_PART.match(name):
            runs.add(match["run_id"])
        elif _MERGED_PART.match(name):
            runs.update(_merged_runs(table_file(warehouse, table, name)))
    return runs


def part_files(warehouse: Path, table: str) -> list[str]:
    """The names of a table's parts that hold rows: one a run, and the compacted ones."""
    return sorted(name for name in _part_names(warehouse, table) if _RUN_PART.match(name) or _MERGED_PART.match(name))


def parts_of_runs(warehouse: Path, table: str, run_ids: Iterable[str]) -> list[str]:
    """The part files that hold the rows of the given runs of `table`: their own parts, or the
    compacted parts that took them in."""
    wanted, files = set(run_ids), []
    for name in sorted(_part_names(warehouse, table)):
        match = _RUN_PART.match(name)
        if match and match["run_id"] in wanted:
            files.append(str(table_file(warehouse, table, name)))
        elif _MERGED_PART.match(name) and wanted & _merged_runs(table_file(warehouse, table, name)):
            files.append(str(table_file(warehouse, table, name)))
    return files


def remove_uncommitted_parts(warehouse: Path) -> list[Path]:
    """Delete parts left by runs that never committed (killed mid-load). Call under the lock."""
    finish_compactions(warehouse)
    committed = committed_run_ids(warehouse)
    removed = []
    for table in TABLES:
        for name in _part_names(warehouse, table):
            match = _RUN_PART.match(name)
            stale_tmp = name.startswith(".") and name.endswith(".tmp")
            if stale_tmp or (match and match["run_id"] not in committed):
                _remove_part(warehouse, table, name)
                removed.append(table_file(warehouse, table, name))
    return removed


def compact(warehouse: Path, min_parts: int, full: bool = False) -> dict[str, int]:
    """Merge a table's parts where they have piled up. Call under the lock.

    Every view reads every part of its table at each query, so a warehouse written by thousands
    of runs answers slower and slower. Compaction is tiered: when a table has `min_parts`
    committed run parts, they are merged into one tier-1 part; when it has `min_parts` tier-1
    parts, those into one tier-2 part, and so on. A row is so rewritten once a tier, and a table
    keeps fewer than `min_parts` parts a tier. With `full`, every part of a table is merged into
    one. Rows keep their `_run_id` and `_loaded_at`, so every view reads the same rows after.

    Returns:
        table -> the number of parts merged, for the tables compacted.

    Raises:
        ValueError: naming the tables left as they were (their parts disagree on a column's
            type), once the others are compacted.
    """
    min_parts = max(min_parts, 2)
    finish_compactions(warehouse)
    committed = committed_run_ids(warehouse)
    merged, problems = {}, []
    for table in TABLES:
        try:
            if count := _compact_table(warehouse, table, committed, min_parts, full):
                merged[table] = count
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return merged


def _compact_table(warehouse: Path, table: str, committed: set[str], min_parts: int, full: bool) -> int:
    """`compact` of one table: the number of parts merged."""
    tiers: dict[int, list[str]] = {}
    for name in sorted(_part_names(warehouse, table)):
        if (match := _RUN_PART.match(name)) and match["run_id"] in committed:
            tiers.setdefault(0, []).append(name)
        elif match := _MERGED_PART.match(name):
            tiers.setdefault(int(match["tier"]), []).append(name)
    if full:
        names = [name for tier in sorted(tiers) for name in tiers[tier]]
        if len(names) < 2:
            return 0
        _merge_parts(warehouse, table, names, min(max(tiers) + 1, 9))
        return len(names)
    merged = 0
    for tier in range(9):
        names = tiers.get(tier, [])
        if len(names) >= min_parts:
            tiers.setdefault(tier + 1, []).append(_merge_parts(warehouse, table, names, tier + 1))
            merged += len(names)
    return merged


def _merge_parts(warehouse: Path, table: str, names: list[str], tier: int) -> str:
    """Write the rows of `names` as one part of the given tier, then put it in their place.

    The merged part is written into the table's COMPACTING folder, then a journal naming it and
    the parts it replaces; then it is moved into the table's folder and they are removed. A
    compaction cut short is finished by the next writer (`finish_compactions`) if its journal
    was written, and forgotten if not: the views never see a row twice for longer than the moves
    take, and never miss one.
    """
    merged = f"merged{tier}-{uuid.uuid4().hex}.parquet"
    with ExitStack() as stack:
        files = [stack.enter_context(pq.ParquetFile(_open_part(stack, warehouse, table, name))) for name in names]
        runs: set[str] = set()
        for name, file in zip(names, files):
            match = _RUN_PART.match(name)
            runs.update([match["run_id"]] if match else _listed_runs(file.schema_arrow))
        try:  # the table's schema now, and any column of an older part it no longer has (nothing is lost)
            schema = pa.unify_schemas([schema_of(table)] + [file.schema_arrow.remove_metadata() for file in files], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"{table}: its parts disagree on a column's type, not compacted ({exc})") from None
        schema = schema.with_metadata({RUNS_KEY: json.dumps(sorted(runs)).encode()})
        with _part_writer(table_file(warehouse, table, f"{COMPACTING}/{merged}"), schema) as writer:
            held, held_bytes = [], 0
            for file in files:
                for group in range(file.num_row_groups):  # a row group at a time: a merged part can be GBs
                    held.append(_conform(file.read_row_group(group), schema))
                    held_bytes += held[-1].nbytes
                    if held_bytes >= MERGED_GROUP_BYTES:
                        writer.write_table(pa.concat_tables(held))
                        held, held_bytes = [], 0
            if held:
                writer.write_table(pa.concat_tables(held))
    _write_text(table_file(warehouse, table, f"{COMPACTING}/{_JOURNAL}"), json.dumps({"merged": merged, "replaces": names}))
    _finish_compaction(warehouse, table)
    return merged


MERGED_GROUP_BYTES = 32 << 20  # a compacted part's row groups, as Arrow (write_part's are smaller: small runs)


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """A part's rows in the merged schema: a column the part lacks reads as null."""
    columns = [
        rows.column(field.name).cast(field.type) if field.name in rows.column_names else pa.nulls(rows.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def finish_compactions(warehouse: Path) -> None:
    """Finish the compactions a writer left with a journal; drop the unfinished ones without. Call under the lock."""
    for table in TABLES:
        names = _part_names(warehouse, f"{table}/{COMPACTING}")
        if _JOURNAL in names:
            _finish_compaction(warehouse, table)
        else:
            for name in names:
                _remove_part(warehouse, f"{table}/{COMPACTING}", name)


def _finish_compaction(warehouse: Path, table: str) -> None:
    """Move a journaled merged part into place, remove the parts it replaces, then the journal (each step may be done again)."""
    journal_path = table_file(warehouse, table, f"{COMPACTING}/{_JOURNAL}")
    journal = json.loads(_read_text(journal_path))
    pending = table_file(warehouse, table, f"{COMPACTING}/{journal['merged']}")
    final = table_file(warehouse, table, journal["merged"])
    if isinstance(pending, str):
        if _s3().exists(_s3_key(pending)):
            _s3().mv(_s3_key(pending), _s3_key(final))
    elif pending.exists():
        os.replace(pending, final)
    for name in journal["replaces"]:
        _remove_part(warehouse, table, name)
    for name in _part_names(warehouse, f"{table}/{COMPACTING}"):
        if name != _JOURNAL:
            _remove_part(warehouse, f"{table}/{COMPACTING}", name)
    _remove_part(warehouse, f"{table}/{COMPACTING}", _JOURNAL)


def _merged_runs(path: Path | str) -> set[str]:
    """The runs whose rows a compacted part holds (from its footer)."""
    return _listed_runs(_read_schema(path))


def _listed_runs(schema: pa.Schema) -> set[str]:
    return set(json.loads(schema.metadata[RUNS_KEY]))


def _open_part(stack: ExitStack, warehouse: Path, table: str, name: str) -> Path | object:
    """A part to read: its path, or on object storage a file object that `stack` closes."""
    path = table_file(warehouse, table, name)
    return stack.enter_context(_s3().open(_s3_key(path), "rb")) if isinstance(path, str) else path


def _write_text(path: Path | str, text: str) -> None:
    """Write a small file whole: renamed into place locally, one PUT on object storage."""
    if isinstance(path, str):
        _s3().pipe(_s3_key(path), text.encode())
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_text(path: Path | str) -> str:
    return _s3().cat(_s3_key(path)).decode() if isinstance(path, str) else path.read_text(encoding="utf-8")


@contextmanager
def writer_lock(warehouse: Path, timeout: float, on_wait=None) -> Iterator[None]:
    """Hold the warehouse's single-writer lock.

    Args:
        warehouse: the warehouse folder.
        timeout: seconds to wait for another writer before raising WarehouseBusy.
        on_wait: called with a message once if the lock is held by someone else.

    On object storage there is no file to lock: the Prefect concurrency limit the ingest flow
    holds keeps writers to one (see the module's docstring).
    """
    if remote_url(warehouse) is not None:
        yield
        return
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
