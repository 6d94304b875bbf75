"""One typed settings object, a section per stage: defaults < user TOML file < environment."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class FetchSettings(BaseModel):
    user_agent: str
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_bytes: int
    max_redirects: int
    retries: int
    backoff: float
    max_retry_after: float
    per_host_delay: float
    max_connections: int
    respect_robots: bool
    allow_private: bool
    proxy: str
    batch_size: int
    max_failed_attempts: int
    retry_backoff_hours: float
    retry_backoff_max_hours: float
    refetch_after_hours: float
    feed_recheck_hours: float
    sitemap_max_urls: int
    sitemap_max_age_hours: float
    sitemap_max_files: int
    sitemap_max_bytes: int


class ExtractSettings(BaseModel):
    workers: int
    max_tasks_per_child: int
    chunk_size: int
    min_text_chars: int
    keep_briefs: bool
    favor_precision: bool
    batch_size: int


class DedupSettings(BaseModel):
    shingle_size: int
    num_perm: int
    band_rows: int
    near_threshold: float
    seed: int
    teaser_containment: float
    teaser_min_words: int
    lede_words: int
    lede_num_perm: int
    lede_band_rows: int
    min_shared_bands: int


class StoriesSettings(BaseModel):
    window_days: float
    threshold: float
    entity_weight: float
    lookup_terms: int
    max_postings: int
    max_candidates: int
    max_window_articles: int


class EnrichSettings(BaseModel):
    model: str
    labels: list[str]
    batch_size: int
    max_chars: int
    workers: int
    parallel_min_articles: int
    chunk_size: int
    max_tasks_per_child: int
    keywords: int
    keyword_max_words: int
    tone: bool


class RunSettings(BaseModel):
    task_runner: Literal["threads", "dask"]
    max_workers: int
    dask_address: str
    dask_workers: int
    commit_every: int


class WarehouseSettings(BaseModel):
    path: Path
    lock_timeout: float
    compact_after_parts: int = Field(ge=2)


class ServeSettings(BaseModel):
    cron: str
    timezone: str
    health_baseline_runs: int
    health_yield_drop: float
    health_max_failure_rate: float


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Settings(BaseSettings):
    """All of wirehouse's settings; each stage reads only its own section."""

    model_config = SettingsConfigDict(env_prefix="WIREHOUSE_", env_nested_delimiter="__", extra="forbid")

    fetch: FetchSettings
    extract: ExtractSettings
    dedup: DedupSettings
    enrich: EnrichSettings
    stories: StoriesSettings
    run: RunSettings
    warehouse: WarehouseSettings
    serve: ServeSettings

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the (already merged) files passed as init arguments.
        return env_settings, init_settings


def default_config_text() -> str:
    """The commented defaults file shipped with the package."""
    return resources.files("wirehouse.config").joinpath("defaults.toml").read_text(encoding="utf-8")


def load_settings(path: Path | None = None) -> Settings:
    """Load the settings.

    Args:
        path: a user TOML file overriding any of the defaults; when None, `wirehouse.toml` in
            the working directory is used if it exists.

    Returns:
        The merged settings: packaged defaults, then the user file, then WIREHOUSE_* variables.
    """
    values = tomllib.loads(default_config_text())
    if path is None and Path("wirehouse.toml").is_file():
        path = Path("wirehouse.toml")
    if path is not None:
        values = _deep_merge(values, _read_toml(Path(path)))
    return Settings(**values)
