-- article_entities: one row per named-entity mention, from the article's newest enrichment.
-- text/start_char/end_char are the raw span, raw_label the model's label; label is the article's
-- vote for the normalized name, name and entity_id the canonical entity (see `entities`).
-- Articles landed before enrichments were recorded keep the mentions of their current version.
create or replace view article_entities as
with current_versions as (
    select article_id, loaded_by_run from articles
),
enrichments as (
    select article_id, enriched_by_run from article_enrichments
),
chosen_runs as (
    select
        current_versions.article_id,
        coalesce(enrichments.enriched_by_run, current_versions.loaded_by_run) as run_id
    from current_versions
    left join enrichments using (article_id)
),
parts as (
    select * from read_parquet('{parquet}/article_entities/*.parquet', union_by_name = true)
),
final as (
    select parts.* exclude (_run_id, _loaded_at)
    from parts
    join chosen_runs
        on parts.article_id = chosen_runs.article_id
        and parts._run_id = chosen_runs.run_id
)
select * from final;
