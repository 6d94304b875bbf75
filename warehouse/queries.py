"""The analysis queries shipped in warehouse/queries/: one documented question a file.

Each file starts with a header of `--` comment lines: the question, then one line per parameter,

    -- $since (default 1970-01-01): the earliest day counted
    -- $story_id: the story (required: no default)

then an example command. Parameters are DuckDB named parameters (`$since`), passed as strings
and cast in the SQL. Every `$name` in the SQL is a parameter; one without a default line is
required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from wirehouse.warehouse import db

_DEFAULT = re.compile(r"^--\s+\$(\w+)\s*\(default ([^)]*)\):")
_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Query:
    """One analysis query: its question, its parameters (name -> default, None when required), its SQL."""

    name: str
    question: str
    params: dict[str, str | None]
    sql: str


def parse_query(name: str, sql: str) -> Query:
    """A query's question and parameters, read from its header comment."""
    header = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    defaults = dict(match.groups() for line in header if (match := _DEFAULT.match(line)))
    params = {name: defaults.get(name) for name in dict.fromkeys(_PARAMETER.findall(sql))}
    question = header[0].removeprefix("--").strip() if header else name
    return Query(name, question, params, sql)


def load_query(name: str) -> Query:
    """The shipped query of that name (ValueError naming those that exist if there is none)."""
    name = name.removesuffix(".sql")
    return parse_query(name, db.query_text(name))


def bind(query: Query, given: dict[str, str]) -> dict[str, str]:
    """The parameter values to run a query with: those given, then the defaults.

    Raises:
        ValueError: a parameter is unknown, or a required one is missing.
    """
    unknown = sorted(set(given) - set(query.params))
    if unknown:
        raise ValueError(f"{query.name} has no parameter {', '.join(unknown)}; it takes: {', '.join(query.params) or 'none'}")
    values = {name: given.get(name, default) for name, default in query.params.items()}
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"{query.name} needs --param {missing[0]}=...")
    return values


def run_query(con: duckdb.DuckDBPyConnection, name: str, given: dict[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """Run a shipped query on a connection to the warehouse; returns the cursor."""
    query = load_query(name)
    return con.execute(query.sql, bind(query, given or {}))
