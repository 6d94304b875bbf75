-- article_entities: one row per named-entity mention in an article's current version.
create or replace view article_entities as
with current_versions as (
    select article_id, loaded_by_run from articles
),
parts as (
    select * from read_parquet('{parquet}/article_entities/*.parquet', union_by_name = true)
),
final as (
    select parts.* exclude (_run_id, _loaded_at)
    from parts
    join current_versions
        on parts.article_id = current_versions.article_id
        and parts._run_id = current_versions.loaded_by_run
)
select * from final;
