"""The Parquet schema of every warehouse table. Parquet is the source of truth; DuckDB views read it."""

from __future__ import annotations

import pyarrow as pa

# Every part file carries the run that wrote it and when: views keep only rows of committed
# runs, and for keyed tables the newest row per key.
_BOOKKEEPING = [("_run_id", pa.string()), ("_loaded_at", pa.timestamp("us", tz="UTC"))]

TABLES: dict[str, pa.Schema] = {
    "runs": pa.schema(
        [
            ("run_id", pa.string()),
            ("flow_run_id", pa.string()),
            ("started_at", pa.timestamp("us", tz="UTC")),
            ("finished_at", pa.timestamp("us", tz="UTC")),
            ("status", pa.string()),
            ("sources", pa.list_(pa.string())),
            ("pages_fetched", pa.int64()),
            ("pages_failed", pa.int64()),
            ("pages_skipped", pa.int64()),
            ("articles_new", pa.int64()),
            ("articles_updated", pa.int64()),
            ("articles_unchanged", pa.int64()),
            ("exact_duplicates", pa.int64()),
            ("near_duplicates", pa.int64()),
            ("entities", pa.int64()),
            ("stories_new", pa.int64()),
            ("stories_grown", pa.int64()),
            ("stage_seconds", pa.map_(pa.string(), pa.float64())),
        ]
    ),
    "fetches": pa.schema(
        [
            ("url", pa.string()),
            # article_id of the requested URL's canonical form: the frontier's key.
            ("url_id", pa.string()),
            ("source", pa.string()),
            ("kind", pa.string()),
            ("outcome", pa.string()),
            ("error", pa.string()),
            ("http_status", pa.int32()),
            ("content_type", pa.string()),
            ("final_url", pa.string()),
            ("discovered_via", pa.string()),
            ("etag", pa.string()),
            ("last_modified", pa.string()),
            ("elapsed_ms", pa.float64()),
            ("fetched_at", pa.timestamp("us", tz="UTC")),
            # Hash of the decoded body (as raw_pages.html_hash); a feed whose hash is unchanged is not parsed.
            ("content_hash", pa.string()),
            # A page read from a WARC file: the file and the byte offset of its record.
            ("warc_file", pa.string()),
            ("warc_offset", pa.int64()),
        ]
    ),
    "raw_pages": pa.schema(
        [
            ("url", pa.string()),
            ("final_url", pa.string()),
            ("source", pa.string()),
            ("html_hash", pa.string()),
            ("html", pa.large_string()),
            ("fetched_at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    "articles": pa.schema(
        [
            ("article_id", pa.string()),
            ("url", pa.string()),
            ("canonical_url", pa.string()),
            ("source", pa.string()),
            ("title", pa.string()),
            ("authors", pa.list_(pa.string())),
            ("date_published", pa.timestamp("us", tz="UTC")),
            ("date_modified", pa.timestamp("us", tz="UTC")),
            ("language", pa.string()),
            ("site_name", pa.string()),
            ("description", pa.string()),
            ("section", pa.string()),
            ("tags", pa.list_(pa.string())),
            ("image", pa.string()),
            ("title_source", pa.string()),
            ("author_source", pa.string()),
            ("date_source", pa.string()),
            ("text", pa.large_string()),
            ("word_count", pa.int32()),
            ("content_hash", pa.string()),
            ("duplicate_of", pa.string()),
            ("duplicate_kind", pa.string()),
            ("similarity", pa.float64()),
            # The story (one news event, any outlet, any words): its first article's id.
            ("story_id", pa.string()),
            ("fetched_at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    "article_entities": pa.schema(
        [
            ("article_id", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("start_char", pa.int32()),
            ("end_char", pa.int32()),
            ("model", pa.string()),
            # The model's label; `label` is the article's vote for the normalized name.
            ("raw_label", pa.string()),
            # The canonical entity the mention resolves to, and that entity's name.
            ("entity_id", pa.string()),
            ("name", pa.string()),
        ]
    ),
    # One row per enrichment of an article (a run that tagged it); the view keeps the newest.
    "article_enrichments": pa.schema(
        [
            ("article_id", pa.string()),
            ("language", pa.string()),
            ("keywords", pa.list_(pa.string())),
            ("keyword_scores", pa.list_(pa.float64())),
            ("tone", pa.float64()),
            ("entity_count", pa.int32()),
            ("acronyms", pa.map_(pa.string(), pa.string())),
            ("ner_model", pa.string()),
            ("keyword_model", pa.string()),
            ("tone_model", pa.string()),
        ]
    ),
    # Canonical entities, one row when first seen; `entities` view adds aliases and counts.
    "entities": pa.schema(
        [
            ("entity_id", pa.string()),
            ("name", pa.string()),
            ("label", pa.string()),
            ("key", pa.string()),
        ]
    ),
    # The label votes of a run's mentions, summed per entity and label: +1 a mention it wrote, -1
    # a mention it replaced (the current mentions of an article it enriched again). Summed over
    # committed runs they are the votes of the current mentions, so the pipeline's lookup of a
    # batch's entity labels (`entity_labels_among`) reads entities x runs rows, not every mention.
    "entity_label_votes": pa.schema(
        [
            ("entity_id", pa.string()),
            ("label", pa.string()),
            ("mentions", pa.int64()),
        ]
    ),
    # alias key (tasks.entities.match_key) -> entity; the first mapping of a key wins.
    "entity_aliases": pa.schema(
        [
            ("alias_key", pa.string()),
            ("alias", pa.string()),
            ("entity_id", pa.string()),
            ("kind", pa.string()),
        ]
    ),
    # Copies re-pointed after they landed: when a group's canonical turns out to be a teaser of a
    # later article, that article becomes the canonical and every landed member gets a row here
    # (not a new article version, whose entities and bands would have to be written again). The
    # `articles` view takes duplicate_of, duplicate_kind and similarity from an article's newest
    # link when it is newer than the article's version.
    "duplicate_links": pa.schema(
        [
            ("article_id", pa.string()),
            ("duplicate_of", pa.string()),
            ("duplicate_kind", pa.string()),
            ("similarity", pa.float64()),
        ]
    ),
    # The near-duplicate index: one row per LSH band of each article's MinHash signature, so a
    # new article's candidates are a join on (band, hash) against everything ever landed.
    "article_bands": pa.schema(
        [
            ("article_id", pa.string()),
            ("band", pa.int16()),
            ("hash", pa.int64()),
        ]
    ),
}

# Tables whose views keep only the newest row per key (loads merge); the others are logs.
KEYS: dict[str, str] = {
    "articles": "article_id", "runs": "run_id", "article_enrichments": "article_id", "duplicate_links": "article_id",
}
# Tables whose rows belong to one version of an article: the view keeps the rows written by the
# run that wrote the article's current version.
PER_ARTICLE_VERSION = ("article_bands",)
# Tables whose rows belong to one enrichment of an article: the view keeps the rows written by the
# run of the article's newest enrichment (`wirehouse enrich` re-enriches without a new version).
PER_ENRICHMENT = ("article_entities",)
# Tables where the first row per key wins, so ids handed out stay put.
FIRST_WINS: dict[str, str] = {"entities": "entity_id", "entity_aliases": "alias_key"}


def schema_of(table: str) -> pa.Schema:
    """The full Parquet schema of a table, bookkeeping columns included."""
    schema = TABLES[table]
    for name, kind in _BOOKKEEPING:
        schema = schema.append(pa.field(name, kind))
    return schema
