-- article_bands: the near-duplicate index, one row per LSH band hash of an article's MinHash
-- signature; candidates for a new article are a join on (band, hash).
create or replace view article_bands as
with current_versions as (
    select article_id, loaded_by_run from articles
),
parts as (
    select * from read_parquet('{parquet}/article_bands/*.parquet', union_by_name = true)
),
final as (
    select parts.* exclude (_run_id, _loaded_at)
    from parts
    join current_versions
        on parts.article_id = current_versions.article_id
        and parts._run_id = current_versions.loaded_by_run
)
select * from final;
