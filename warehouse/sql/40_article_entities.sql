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

-- article_entities_among(ids): the article_entities rows of the article ids in the list only
-- (of the entity ids with by_entity := true): the mentions are filtered first, then only their
-- articles' versions and enrichments are ranked. The pipeline reads a batch's mentions (the
-- story window's, the votes of its entities' labels) through it. The view above keeps its own
-- plan: as this macro over every id (an every := true flag) it ran 2-5 times slower.
create or replace macro article_entities_among(ids, by_entity := false) as table
with parts as not materialized (
    select * from read_parquet('{parquet}/article_entities/*.parquet', union_by_name = true)
    where if(by_entity, entity_id, article_id) in (select unnest(ids))
),
mentioned as (
    select coalesce(list(distinct article_id), []) as mentioned_ids from parts
),
chosen_runs as (
    select
        current_versions.article_id,
        coalesce(enrichments.enriched_by_run, current_versions.loaded_by_run) as run_id
    from articles_among((select mentioned_ids from mentioned)) as current_versions
    left join article_enrichments_among((select mentioned_ids from mentioned)) as enrichments using (article_id)
),
final as (
    select parts.* exclude (_run_id, _loaded_at)
    from parts
    join chosen_runs
        on parts.article_id = chosen_runs.article_id
        and parts._run_id = chosen_runs.run_id
)
select * from final;
