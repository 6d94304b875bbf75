"""The sources file: which feeds, sitemaps, homepages, pages, URL lists and WARC files to read, one `[[source]]` table each."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

ADHOC_SOURCE = "adhoc"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")
_SOURCE_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")


def check_http_url(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL with a host; ValueError otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


HttpUrl = Annotated[str, AfterValidator(check_http_url)]


def check_cron(expression: str) -> str:
    """The cron expression, whitespace-normalised, if it has five valid fields; ValueError otherwise."""
    from cronsim import CronSim, CronSimError

    expression = " ".join(expression.split())
    if len(expression.split()) != 5:
        raise ValueError(f"a cron schedule has five fields (minute hour day month weekday): {expression!r}")
    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as exc:
        raise ValueError(f"bad cron schedule {expression!r}: {exc}") from None
    return expression


Cron = Annotated[str, AfterValidator(check_cron)]


class Source(BaseModel):
    """One outlet (or list) to fetch: its feeds, its pages and files of page URLs."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    feeds: list[HttpUrl] = []  # RSS, Atom or JSON Feed URLs; their item links become page targets
    sitemaps: list[HttpUrl] = []  # sitemaps, sitemap indexes, Google News sitemaps (.xml or .xml.gz)
    homepages: list[HttpUrl] = []  # pages whose advertised feeds (<link rel=alternate>) are read
    urls: list[HttpUrl] = []  # page URLs fetched as they are
    url_files: list[Path] = []  # text files of page URLs, one a line; "#" starts a comment
    warc_files: list[Path] = []  # WARC files (.warc or .warc.gz, e.g. CC-NEWS); pages read from them
    schedule: Cron | None = None  # when `wirehouse serve` runs this source, a cron expression
    per_host_delay: float | None = Field(default=None, ge=0)  # overrides fetch.per_host_delay
    allow_private: bool = False  # let this source reach loopback/private addresses
    language: str | None = None  # expected language, when known
    enabled: bool = True


def _line_of_source(lines: list[str], index: int, key: str | None) -> int:
    """The 1-based line of the `index`-th [[source]] table, or of `key` inside it when found."""
    headers = [number for number, line in enumerate(lines) if _SOURCE_HEADER.match(line)]
    if index >= len(headers):
        return 1
    start = headers[index]
    if key is not None:
        key_line = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, len(lines)):
            if _ANY_HEADER.match(lines[number]):
                break
            if key_line.match(lines[number]):
                return number + 1
    return start + 1


def _line_of_key(lines: list[str], key: str) -> int:
    """The 1-based line where a top-level key or table named `key` first appears."""
    pattern = re.compile(rf"^\s*\[*\s*[\"']?{re.escape(key)}[\"']?\s*[\].=]")
    return next((number + 1 for number, line in enumerate(lines) if pattern.match(line)), 1)


def _parse_sources(values: dict, lines: list[str], where: str, base: Path) -> list[Source]:
    """Validate the parsed TOML; every problem becomes a one-line ValueError with its line."""
    for key in values:
        if key != "source":
            raise ValueError(f"{where}:{_line_of_key(lines, key)}: unknown key {key!r} (expected [[source]] tables)")
    tables = values.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ValueError(f"{where}:{_line_of_key(lines, 'source')}: 'source' must be [[source]] tables")
    sources: list[Source] = []
    for index, table in enumerate(tables):
        label = f"source {table['name']!r}" if isinstance(table.get("name"), str) else f"source #{index + 1}"
        try:
            source = Source(**table)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else None
            line = _line_of_source(lines, index, field)
            path = ".".join(str(part) for part in error["loc"]) or "source"
            more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            message = error["msg"].removeprefix("Value error, ")
            raise ValueError(f"{where}:{line}: {label}: {path}: {message}{more}") from None
        if any(earlier.name == source.name for earlier in sources):
            raise ValueError(f"{where}:{_line_of_source(lines, index, 'name')}: {label}: name: used twice")
        # Files are relative to the sources file, so the file works from any directory.
        for key in ("url_files", "warc_files"):
            paths = [base / path for path in getattr(source, key)]
            setattr(source, key, paths)
            for number, path in enumerate(paths):
                if not path.is_file():
                    line = _line_of_source(lines, index, key)
                    raise ValueError(f"{where}:{line}: {label}: {key}.{number}: no such file: {path}")
        sources.append(source)
    return sources


def load_sources(path: Path | str) -> list[Source]:
    """Read a sources file.

    Args:
        path: a TOML file of `[[source]]` tables (see the commented `config/sources.toml`).
            Relative `url_files` are read relative to this file's folder.

    Returns:
        Every source in file order, disabled ones included (callers skip `enabled = false`).

    Raises:
        ValueError: one line naming the file, the line and the field, e.g.
            `sources.toml:12: source 'daily': feeds: Input should be a valid list`.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:
            line = "?"
        else:
            line = found.group(1) or str(len(text.splitlines()) or 1)
            message = message[: found.start()] + message[found.end():]
        raise ValueError(f"{path}:{line}: {message}") from None
    return _parse_sources(values, text.splitlines(), str(path), path.parent)


def adhoc_source(feeds: list[str], urls: list[str], allow_private: bool = False) -> Source:
    """The source of `wirehouse run --feed URL --url URL`: named "adhoc", nothing else set.

    Raises:
        ValueError: one line naming the bad option, e.g. `--feed: not an http(s) URL: 'x'`.
    """
    try:
        return Source(name=ADHOC_SOURCE, feeds=feeds, urls=urls, allow_private=allow_private)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = {"feeds": "--feed", "urls": "--url"}.get(str(error["loc"][0]), str(error["loc"][0]))
        raise ValueError(f"{option}: {error['msg'].removeprefix('Value error, ')}") from None
